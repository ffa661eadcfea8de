"""Talk to the bot the way Slack and API Gateway do.

Body builders produce exactly what Slack posts to ``POST /slack/events``
(form-encoded slash commands and interactions, JSON event callbacks);
:class:`SlackSender` signs and posts them to a running server, and checks
the bot's JSON answers (acks) against Block Kit's limits; and
:func:`api_gateway_event` wraps any request in the REST API (v1) proxy event
that reaches the Lambda handler. Standard library only.
"""

from __future__ import annotations

import base64 as b64
import http.client
import json
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode, urlsplit

from tests.events import load_event
from tests.fakes.block_kit import Violation, Violations, ack_problems
from tests.fakes.signing import FORM, JSON, signed_headers

EVENTS_PATH = "/slack/events"
#: Nothing listens there: a bot that posts to a default response URL fails fast and stays on loopback.
UNUSED_RESPONSE_URL = "http://127.0.0.1:9/response/unused"


def _fresh_trigger_id() -> str:
    return f"{int(time.time() * 1000)}.1.{uuid.uuid4().hex}"


def slash_command_body(
    command: str,
    text: str,
    *,
    user_id: str = "U123",
    channel_id: str = "C123",
    team_id: str = "T0001",
    response_url: str = UNUSED_RESPONSE_URL,
    trigger_id: str | None = None,
    **fields: str,
) -> str:
    """A slash command's form body; ``fields`` adds or replaces others (``channel_name``, ``user_name``...)."""
    payload = load_event(
        "slash_command",
        command=command,
        text=text,
        user_id=user_id,
        channel_id=channel_id,
        team_id=team_id,
        response_url=response_url,
        trigger_id=trigger_id or _fresh_trigger_id(),
        **fields,
    )
    return urlencode(payload)


def event_callback_body(
    event: dict[str, Any],
    *,
    event_id: str | None = None,
    team_id: str = "T0001",
    api_app_id: str = "A0001",
    event_time: int | None = None,
) -> str:
    """An Events API envelope around ``event``; a fresh ``event_id`` unless one is given (for retries)."""
    envelope = {
        "token": "fake-verification-token",
        "team_id": team_id,
        "api_app_id": api_app_id,
        "event": event,
        "type": "event_callback",
        "event_id": event_id or f"Ev{uuid.uuid4().hex[:10].upper()}",
        "event_time": int(time.time()) if event_time is None else event_time,
        "authorizations": [
            {
                "enterprise_id": None,
                "team_id": team_id,
                "user_id": "UBOT",
                "is_bot": True,
                "is_enterprise_install": False,
            }
        ],
        "is_ext_shared_channel": False,
    }
    return json.dumps(envelope)


def interaction_body(payload: dict[str, Any]) -> str:
    """Shortcuts, block actions and view submissions: ``payload=<json>``, form-encoded."""
    return urlencode({"payload": json.dumps(payload)})


def url_verification_body(challenge: str) -> str:
    """The handshake Slack sends when the request URL is saved."""
    return json.dumps({"token": "fake-verification-token", "challenge": challenge, "type": "url_verification"})


@dataclass(frozen=True)
class HttpResult:
    """One HTTP answer; ``headers`` has lower-case names, ``elapsed`` is in seconds."""

    status: int
    headers: dict[str, str]
    body: str
    elapsed: float

    def json(self) -> Any:
        return json.loads(self.body)


class SlackSender:
    """Signs and posts requests to a bot served at ``base_url`` (e.g. ``http://127.0.0.1:3000``).

    ``response_urls`` (e.g. ``fake.new_response_url``) makes a fresh response URL
    for each :meth:`command`, so the fake Slack API records what the bot sends there.
    Requests go through :mod:`http.client`, which keeps header names exactly as
    given (urllib would rewrite their case). Every JSON answer is an ack Slack
    would render (a message, a view, errors): what breaks Block Kit's limits is
    kept for :meth:`take_violations`.
    """

    def __init__(
        self,
        base_url: str,
        signing_secret: str,
        *,
        response_urls: Callable[[], str] | None = None,
        path: str = EVENTS_PATH,
        timeout: float = 10.0,
    ) -> None:
        parts = urlsplit(base_url)
        if parts.scheme != "http" or parts.hostname is None:
            raise ValueError(f"SlackSender needs an http:// URL, not {base_url!r}")
        self.host = parts.hostname
        self.port = parts.port or 80
        self.path = parts.path.rstrip("/") + path
        self.signing_secret = signing_secret
        self.response_urls = response_urls
        self.timeout = timeout
        self._violations = Violations()

    def take_violations(self) -> list[Violation]:
        """What the bot's acks broke of Block Kit's limits since the last call."""
        return self._violations.take()

    def post(
        self,
        body: str | bytes,
        content_type: str,
        *,
        retry_num: int | None = None,
        retry_reason: str | None = None,
        timestamp: int | None = None,
        extra_headers: dict[str, str | None] | None = None,
    ) -> HttpResult:
        """Sign ``body`` (at ``timestamp``, default now) and post it.

        ``retry_num`` adds Slack's ``X-Slack-Retry-Num`` and ``X-Slack-Retry-Reason``
        (default ``http_timeout``). ``extra_headers`` adds or replaces headers, matching
        names without regard to case; a ``None`` value removes that header.
        """
        raw = body.encode("utf-8") if isinstance(body, str) else body
        headers = signed_headers(raw, self.signing_secret, timestamp=timestamp, content_type=content_type)
        if retry_num is not None:
            headers["X-Slack-Retry-Num"] = str(retry_num)
            headers["X-Slack-Retry-Reason"] = retry_reason or "http_timeout"
        for name, value in (extra_headers or {}).items():
            headers = {k: v for k, v in headers.items() if k.lower() != name.lower()}
            if value is not None:
                headers[name] = value
        headers.setdefault("User-Agent", "Slackbot 1.0 (+https://api.slack.com/robots)")
        return self._send(raw, headers)

    def _send(self, raw: bytes, headers: dict[str, str]) -> HttpResult:
        connection = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)
        started = time.perf_counter()
        try:
            connection.request("POST", self.path, body=raw, headers=headers)
            response = connection.getresponse()
            text = response.read().decode("utf-8", "replace")
            elapsed = time.perf_counter() - started
            answer = {k.lower(): v for k, v in response.getheaders()}
        finally:
            connection.close()
        result = HttpResult(status=response.status, headers=answer, body=text, elapsed=elapsed)
        if result.status == 200 and answer.get("content-type", "").startswith("application/json"):
            try:
                problems = ack_problems(result.json())
            except ValueError:
                problems = ["the JSON answer does not parse"]
            self._violations.record("ack", problems)
        return result

    def command(self, command: str, text: str, **fields: Any) -> HttpResult:
        """Post a slash command (see :func:`slash_command_body` for ``fields``)."""
        if "response_url" not in fields and self.response_urls is not None:
            fields["response_url"] = self.response_urls()
        return self.post(slash_command_body(command, text, **fields), FORM)

    def event(
        self,
        event: dict[str, Any],
        *,
        event_id: str | None = None,
        retry_num: int | None = None,
        retry_reason: str | None = None,
    ) -> HttpResult:
        """Post an Events API callback around ``event`` (pass ``event_id`` to redeliver one)."""
        body = event_callback_body(event, event_id=event_id)
        return self.post(body, JSON, retry_num=retry_num, retry_reason=retry_reason)

    def interaction(self, payload: dict[str, Any]) -> HttpResult:
        """Post a shortcut, block action or view submission payload."""
        return self.post(interaction_body(payload), FORM)


@dataclass
class LambdaContext:
    """The parts of Lambda's context object that handlers read (Bolt's adapter needs the first two)."""

    function_name: str = "hf-slack-router"
    invoked_function_arn: str = "arn:aws:lambda:us-east-1:123456789012:function:hf-slack-router"
    aws_request_id: str = "11111111-2222-4333-8444-555555555555"
    memory_limit_in_mb: int = 512
    function_version: str = "$LATEST"
    log_group_name: str = "/aws/lambda/hf-slack-router"
    log_stream_name: str = "2023/11/14/[$LATEST]0123456789abcdef0123456789abcdef"
    deadline: float = float("inf")  #: ``time.monotonic()`` at which the invocation times out

    def get_remaining_time_in_millis(self) -> int:
        return int(min(max(self.deadline - time.monotonic(), 0.0), 900.0) * 1000)


def api_gateway_event(
    method: str,
    path: str,
    body: str | bytes | None,
    headers: dict[str, str],
    *,
    base64: bool = False,
    query: dict[str, str] | None = None,
    source_ip: str = "203.0.113.10",
    stage: str = "prod",
) -> dict[str, Any]:
    """A REST API (v1) Lambda proxy event for one request, shaped like the ``api_gateway_get_go`` sample.

    API Gateway adds ``Host`` and ``X-Forwarded-*`` headers; ``headers`` come on top.
    With ``base64`` the body is sent base64-encoded, as API Gateway does for binary media types.
    """
    template = load_event("api_gateway_get_go")
    context = template["requestContext"]
    request_id = str(uuid.uuid4())
    now = time.time()
    all_headers = {
        "Host": context["domainName"],
        "X-Forwarded-For": source_ip,
        "X-Forwarded-Port": "443",
        "X-Forwarded-Proto": "https",
        "X-Amzn-Trace-Id": f"Root=1-{int(now):08x}-{uuid.uuid4().hex[:24]}",
        **headers,
    }
    raw = body.encode("utf-8") if isinstance(body, str) else body
    if raw is None:
        event_body = None
    elif base64:
        event_body = b64.b64encode(raw).decode("ascii")
    else:
        event_body = raw.decode("utf-8")
    context.update(
        resourcePath=path,
        httpMethod=method,
        path=f"/{stage}{path}",
        stage=stage,
        requestId=request_id,
        extendedRequestId=b64.b64encode(uuid.uuid4().bytes[:12]).decode("ascii"),
        requestTime=time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(now)),
        requestTimeEpoch=int(now * 1000),
    )
    context["identity"].update(sourceIp=source_ip, userAgent=all_headers.get("User-Agent"))
    return {
        **template,
        "resource": path,
        "path": path,
        "httpMethod": method,
        "headers": all_headers,
        "multiValueHeaders": {k: [v] for k, v in all_headers.items()},
        "queryStringParameters": dict(query) if query else None,
        "multiValueQueryStringParameters": {k: [v] for k, v in query.items()} if query else None,
        "requestContext": context,
        "body": event_body,
        "isBase64Encoded": base64,
    }
