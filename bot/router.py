"""The router: one entry for HTTP (Slack, the form) and for model results.

``Router.handle`` takes whatever Lambda hands the function: an API Gateway
proxy event, a Bolt lazy-listener re-invocation (also a proxy event), or a
Lambda Destinations record carrying a model's answer.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qsl

from slack_bolt import App
from slack_bolt.adapter.aws_lambda.lazy_listener_runner import LambdaLazyListenerRunner
from slack_bolt.request import BoltRequest

from bot.core.http import BadRequest, Request, Response
from bot.core.multipart import MAX_UPLOAD_BODY_BYTES, is_upload
from bot.core.services import Services
from bot.slack.delivery import deliver_record, is_destination_record
from bot.slack.streaming import deliver_partial, is_partial_record
from bot.slack.ui import COMMENT_MODAL_CALLBACK

logger = logging.getLogger(__name__)

SLACK_PATH = "/slack/events"
FORM_PATH = "/go"
STATS_PATH = "/go/stats"
#: Slack's payloads are small; anything this big is not from Slack.
MAX_BODY_BYTES = 1_000_000


def body_limit(request: Request) -> int:
    """The largest body the router reads for ``request``: a file upload to the form's, else Slack's."""
    return (
        MAX_UPLOAD_BODY_BYTES
        if is_upload(request.method, request.path, request.header("content-type"))
        else MAX_BODY_BYTES
    )


class Router:
    """Routes requests; in ``lambda_mode`` a lazy listener re-invokes the function (locally: a thread)."""

    def __init__(self, services: Services, app: App, *, lambda_mode: bool) -> None:
        self.services = services
        self.app = app
        self.lambda_mode = lambda_mode
        if lambda_mode:  # as Bolt's Lambda adapter sets it up; the router hands Bolt its requests itself
            app.listener_runner.lazy_listener_runner = LambdaLazyListenerRunner(logging.getLogger("bot.bolt"))

    def handle(self, event: dict[str, Any], context: Any = None) -> dict[str, Any]:
        """The Lambda entry's whole job."""
        if is_destination_record(event):
            deliver_record(self.services, event)
            return {"delivered": True}
        if is_partial_record(event):  # a model's text so far, sent while it generates (bot.slack.streaming)
            if event["reply"].get("source") == "form":
                from bot.form.routes import keep_partial  # the form's modules load on its first use, as for /go

                keep_partial(self.services.store, event)
            else:
                deliver_partial(self.services, event)
            return {"delivered": True}
        try:
            request = Request.from_event(event)
        except BadRequest as exc:
            return Response.error(str(exc), status=exc.status, type=exc.type).to_event()
        return self.handle_http(request, context).to_event()

    def handle_http(self, request: Request, context: Any = None) -> Response:
        """Route one request; every error answer, Bolt's and the form's included, carries the security headers."""
        response = self._route(request, context)
        return response.with_security_headers() if response.status >= 400 else response

    def _route(self, request: Request, context: Any) -> Response:
        try:
            if len(request.body) > body_limit(request):
                raise BadRequest("The request body is too large.", status=413, type="too_large")
            if request.path == SLACK_PATH:
                if request.method != "POST":
                    return Response(status=405, body="", headers={"Allow": "POST"})
                body: dict[str, Any] = {}  # the request's one parse, by _slack; the entry point is read from it
                return self._timed(request, lambda: self._slack(request, context, body), slack_body=body)
            if request.path.rstrip("/") == STATS_PATH:
                return self._stats(request)
            if request.path == FORM_PATH or request.path.startswith(FORM_PATH + "/"):
                # The form's modules are imported on its first request: a Slack cold start never pays for them.
                from bot.form.routes import handle_form

                s = self.services
                return self._timed(
                    request,
                    lambda: handle_form(
                        request,
                        registry=s.registry,
                        invoker=s.invoker,
                        settings=s.settings,
                        feedback=s.feedback,
                        store=s.store,
                        media=s.media,
                    ),
                )
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

    def _stats(self, request: Request) -> Response:
        # As the form's: imported on the page's first request, never on a Slack cold start.
        from bot.form.routes import handle_stats

        s = self.services
        return handle_stats(request, registry=s.registry, settings=s.settings, stats=s.stats, feedback=s.feedback)

    def _timed(
        self, request: Request, respond: Callable[[], Response], *, slack_body: dict[str, Any] | None = None
    ) -> Response:
        """Answer, then record the entry point's request and how long the answer took."""
        started = time.perf_counter()
        response = respond()
        entry = entry_point(request, response.status, slack_body)
        if entry:
            self.services.metrics.entry(entry, (time.perf_counter() - started) * 1000)
        return response

    def _slack(self, request: Request, context: Any, parsed: dict[str, Any]) -> Response:
        """Check the request, parse its body once (into ``parsed``) and hand both to Bolt."""
        if not self.services.settings.secrets.signing_secret:
            # Never verify signatures against an empty secret: anyone could forge them.
            return Response.error(
                "Slack is not configured: the signing secret is missing.", status=503, type="not_configured"
            )
        check_slack_headers(request)
        parsed.update(check_slack_body(request))
        # The DEBUG line Bolt's Lambda adapter wrote for each request; the log handler bounds it to
        # method, path and size (bot.core.logs.BoundRequestLines), and nothing here quotes the body.
        logger.debug("Incoming event: %s %s", request.method, request.path)
        bolt_request = ParsedBoltRequest(
            raw_body=request.text(), body=parsed, query=request.query, headers=dict(request.headers)
        )
        if self.lambda_mode:
            # What Bolt's Lambda adapter puts in the context: its lazy listener runner
            # re-invokes this function with the same event (and two x-slack-bolt-lazy-* headers).
            bolt_request.context["aws_lambda_function_name"] = context.function_name
            bolt_request.context["aws_lambda_invoked_function_arn"] = context.invoked_function_arn
            bolt_request.context["lambda_request"] = request.event
        bolt_response = self.app.dispatch(bolt_request)
        return Response(
            status=bolt_response.status, body=bolt_response.body or "", headers=bolt_response.first_headers()
        )


class ParsedBoltRequest(BoltRequest):
    """A Bolt request over a body the router has already parsed: Bolt's own constructor would parse it again.

    ``raw_body`` is the text as received: Bolt verifies Slack's signature over it, as for any
    HTTP request. ``body`` is :func:`check_slack_body`'s parse, which reads a body as Bolt's
    parser does, except that a form body mentioning "payload" in a field other than ``payload``
    (``/sentiment the payload is late``) stays that form; Bolt's parser reads it as empty.
    """

    def __init__(
        self,
        *,
        raw_body: str,
        body: dict[str, Any],
        query: dict[str, Any],
        headers: dict[str, Any],
        context: dict[str, Any] | None = None,
    ) -> None:
        # Socket Mode is the constructor's one way to take a parsed body; the request is then
        # made an HTTP one again, so the signature is checked over the body as received.
        super().__init__(body=body, query=query, headers=headers, context=context, mode="socket_mode")
        self.raw_body, self.mode = raw_body, "http"

    def to_copyable(self) -> ParsedBoltRequest:
        """The copy a lazy listener runs with (locally, in a thread): the same parse, not a new one."""
        return ParsedBoltRequest(
            raw_body=self.raw_body,
            body=self.body,
            query=dict(self.query),
            headers=dict(self.headers),
            context=self.context.to_copyable(),
        )


def entry_point(request: Any, status: int, slack_body: dict[str, Any] | None = None) -> str | None:
    """Which entry point an answered request was, or None for what is not counted.

    Bolt's lazy re-invocations, Slack's retries, refused requests and page loads are not requests
    of a person; a slash command, a mention, a shortcut (or its modal), a vote and a form run are.
    ``slack_body`` is a Slack request's body as :func:`check_slack_body` parsed it.
    """
    if status >= 400 or request.header("x-slack-bolt-lazy-only") or request.header("x-slack-retry-num"):
        return None
    path = request.path.rstrip("/")
    if path.endswith("/go/feedback"):
        return "feedback" if request.method == "POST" else None
    if path.endswith("/go"):
        return "form" if request.method == "POST" else None
    if slack_body is None:
        return None
    try:
        return _slack_entry_point(slack_body)
    except AttributeError:  # a body Bolt accepted but that is no person's request
        return None


def _slack_entry_point(body: dict[str, Any]) -> str | None:
    if "command" in body:
        return "slash_command"
    if (body.get("event") or {}).get("type") == "app_mention":
        return "mention"
    kind = body.get("type")
    if kind == "block_actions" or (body.get("view") or {}).get("callback_id") == COMMENT_MODAL_CALLBACK:
        return "feedback"
    if kind in ("message_action", "view_submission"):
        return "shortcut"
    return None


def check_slack_headers(request: Request) -> None:
    """Refuse signature headers that Bolt's verifier would crash on instead of rejecting.

    slack_sdk turns the timestamp into an ``int`` and compares signatures as ASCII
    strings, so either header in another form would become a 500.

    Raises:
        BadRequest: 401, the timestamp is not a whole number or the signature is not ASCII.
    """
    timestamp, signature = request.headers.get("x-slack-request-timestamp"), request.header("x-slack-signature")
    try:
        if timestamp is not None:  # a missing one Bolt refuses by itself
            int(timestamp)
    except ValueError as exc:
        raise BadRequest("The Slack request timestamp is invalid.", status=401, type="invalid_signature") from exc
    if not signature.isascii():
        raise BadRequest("The Slack signature is invalid.", status=401, type="invalid_signature")


def check_slack_body(request: Request) -> dict[str, Any]:
    """The body, parsed once for the whole request (Bolt, the listeners, the entry point), if Slack could send it.

    Slack only sends UTF-8 JSON or form bodies, in Slack's shapes; what Bolt would choke on is refused.
    A form body is its fields, or the JSON object in its ``payload`` field (a shortcut, an action, a view).

    Raises:
        BadRequest: a body that is not UTF-8, not JSON where it says JSON, a form whose
            ``payload`` field is not a JSON object, or a field in a shape Slack never sends.
    """
    text = request.text()
    content_type = request.header("content-type").split(";")[0].strip().lower()
    if content_type not in ("application/json", "application/x-www-form-urlencoded"):
        raise BadRequest("Slack sends JSON or form bodies.", status=415, type="unsupported_media_type")
    # Parsed as Bolt parses it (a form body that starts with "{" is JSON to Bolt too).
    if content_type == "application/json" or text.startswith("{"):
        body = request.json()
        if not isinstance(body, dict):
            raise BadRequest("The JSON body must be an object.")
    else:
        body = dict(parse_qsl(text, keep_blank_values=True))
        if "payload" in body:
            try:
                body = json.loads(body["payload"])
            except (json.JSONDecodeError, RecursionError) as exc:
                raise BadRequest("The payload field is not valid JSON.") from exc
            if not isinstance(body, dict):
                raise BadRequest("The payload field must be a JSON object.")
    problem = slack_shape_problem(body)
    if problem:
        raise BadRequest(f"This is not a request Slack would send: {problem}.")
    return body


#: The JSON types Slack always uses for these fields; Bolt reads them without checking.
_FIELD_TYPES: dict[str, tuple[type, ...]] = {
    **dict.fromkeys(("event", "view", "function"), (dict,)),
    **dict.fromkeys(("message", "previous_message"), (dict, type(None))),
    **dict.fromkeys(("enterprise", "team", "user", "channel"), (str, dict, type(None))),
    **dict.fromkeys(("command", "callback_id", "action_id"), (str,)),
    **dict.fromkeys(("authorizations", "actions", "response_urls"), (list,)),
}
_TYPE_NAMES = {dict: "an object", list: "a list", str: "a string", type(None): "null"}
#: Objects Bolt looks into for ids and types, and lists whose items it reads as objects.
_WALKED_OBJECTS = ("event", "message", "previous_message", "item", "assistant_thread")
_WALKED_LISTS = ("authorizations", "actions", "response_urls")
#: Slack nests these objects a few levels deep at most; Bolt follows them by recursion.
MAX_SLACK_DEPTH = 8


def slack_shape_problem(body: dict[str, Any]) -> str:
    """What in ``body`` Bolt would crash on rather than route, or "" if nothing.

    Only the fields Bolt itself reads are checked, without recursion, so a
    deeply nested body costs no stack here and is refused before Bolt recurses.
    """
    kind, view = body.get("type"), body.get("view")
    if kind in ("block_actions", "interactive_message") and not body.get("actions"):
        return f"a {kind} payload needs actions"
    if kind == "view_submission" and isinstance(view, dict) and "type" not in view:
        return "a submitted view needs a type"
    step_view = kind == "view_submission" and isinstance(view, dict) and view.get("type") == "workflow_step"
    if (kind == "workflow_step_edit" or step_view) and "workflow_step" not in body:
        return "a workflow step payload needs its workflow_step"
    urls = body.get("response_urls")
    if "response_url" not in body and isinstance(urls, list) and len(urls) > 1:
        return "this app's modals have one response URL at most"  # Bolt fails to log about several
    pending: list[tuple[str, dict[str, Any], int]] = [("body", body, 0)]
    while pending:
        where, node, depth = pending.pop()
        if depth > MAX_SLACK_DEPTH:
            return f"{where} is nested deeper than Slack nests"
        for name, allowed in _FIELD_TYPES.items():
            if name in node and not isinstance(node[name], allowed):
                return f"{where}.{name} must be {' or '.join(_TYPE_NAMES[t] for t in allowed)}"
        if kind == "block_actions" and where == "body.actions" and "action_id" not in node:
            return "every block action needs an action_id"
        for name in _WALKED_OBJECTS:
            if isinstance(node.get(name), dict):
                pending.append((f"{where}.{name}", node[name], depth + 1))
        for name in _WALKED_LISTS:
            for item in node.get(name) or ():
                if not isinstance(item, dict):
                    return f"{where}.{name} must hold objects"
                pending.append((f"{where}.{name}", item, depth + 1))
    return ""
