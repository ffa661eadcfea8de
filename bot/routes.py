"""The router: one entry for HTTP (Slack, the form) and for model results.

``Router.handle`` takes whatever Lambda hands the function: an API Gateway
proxy event, a Bolt lazy-listener re-invocation (also a proxy event), or a
Lambda Destinations record carrying a model's answer.
"""

from __future__ import annotations

import json
import logging
from typing import Any
from urllib.parse import parse_qs

from slack_bolt import App
from slack_bolt.adapter.aws_lambda.handler import SlackRequestHandler
from slack_bolt.request import BoltRequest

from bot.delivery import deliver_record, is_destination_record
from bot.http import BadRequest, Request, Response
from bot.services import Services

logger = logging.getLogger(__name__)

SLACK_PATH = "/slack/events"
FORM_PATH = "/go"
#: Slack's payloads are small; anything this big is not from Slack.
MAX_BODY_BYTES = 1_000_000


class Router:
    """Routes requests; ``lambda_mode`` picks Bolt's Lambda adapter (lazy work re-invokes the function)."""

    def __init__(self, services: Services, app: App, *, lambda_mode: bool) -> None:
        self.services = services
        self.app = app
        self.lambda_adapter = SlackRequestHandler(app) if lambda_mode else None

    def handle(self, event: dict[str, Any], context: Any = None) -> dict[str, Any]:
        """The Lambda entry's whole job."""
        if is_destination_record(event):
            deliver_record(self.services, event)
            return {"delivered": True}
        try:
            request = Request.from_event(event)
        except BadRequest as exc:
            return Response.error(str(exc), status=exc.status, type=exc.type).to_event()
        return self.handle_http(request, context).to_event()

    def handle_http(self, request: Request, context: Any = None) -> Response:
        try:
            if len(request.body) > MAX_BODY_BYTES:
                raise BadRequest("The request body is too large.", status=413, type="too_large")
            if request.path == SLACK_PATH:
                if request.method != "POST":
                    return Response(status=405, body="", headers={"Allow": "POST"})
                return self._slack(request, context)
            if request.path == FORM_PATH or request.path.startswith(FORM_PATH + "/"):
                from bot.form import handle_form

                s = self.services
                return handle_form(request, registry=s.registry, invoker=s.invoker, settings=s.settings)
            if request.path == "/" and request.method == "GET":
                return Response(status=302, headers={"Location": "go"})
            return Response.error(
                "Not found. The form is at /go; Slack posts to /slack/events.", status=404, type="not_found"
            )
        except BadRequest as exc:
            return Response.error(str(exc), status=exc.status, type=exc.type)
        except Exception:
            logger.exception("unhandled error in %s %s", request.method, request.path)
            return Response.error("Something went wrong on our side.", status=500, type="internal_error")

    def _slack(self, request: Request, context: Any) -> Response:
        if not self.services.settings.secrets.signing_secret:
            # Never verify signatures against an empty secret: anyone could forge them.
            return Response.error(
                "Slack is not configured: the signing secret is missing.", status=503, type="not_configured"
            )
        check_slack_body(request)
        if self.lambda_adapter is not None:
            result = self.lambda_adapter.handle(request.event, context)
            return Response(
                status=result["statusCode"], body=result.get("body") or "", headers=result.get("headers") or {}
            )
        bolt_response = self.app.dispatch(
            BoltRequest(body=request.text(), query=request.query, headers=dict(request.headers))
        )
        return Response(
            status=bolt_response.status, body=bolt_response.body or "", headers=bolt_response.first_headers()
        )


def check_slack_body(request: Request) -> None:
    """Refuse what Bolt would choke on: Slack only sends UTF-8 JSON or form bodies.

    Raises:
        BadRequest: a body that is not UTF-8, not JSON where it says JSON, or a form
            whose ``payload`` field is not a JSON object.
    """
    text = request.text()
    content_type = request.header("content-type").split(";")[0].strip().lower()
    if content_type == "application/json":
        if not isinstance(request.json(), dict):
            raise BadRequest("The JSON body must be an object.")
    elif content_type == "application/x-www-form-urlencoded":
        payload = parse_qs(text).get("payload")
        if payload:
            try:
                parsed = json.loads(payload[0])
            except (json.JSONDecodeError, RecursionError) as exc:
                raise BadRequest("The payload field is not valid JSON.") from exc
            if not isinstance(parsed, dict):
                raise BadRequest("The payload field must be a JSON object.")
    else:
        raise BadRequest("Slack sends JSON or form bodies.", status=415, type="unsupported_media_type")
