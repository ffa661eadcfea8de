"""Structured JSON logs (Powertools' formatter) with a correlation id, and no secrets.

Every log line of the router is one JSON object. The secret values (bot token,
signing secret, passcode) are replaced by ``***`` in every record, whatever
logged them, as a last line of defence: nothing is meant to log them at all.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from contextvars import ContextVar
from typing import Any, TextIO

from aws_lambda_powertools.logging.formatter import LambdaPowertoolsFormatter

from bot.core.config import DEFAULT_LOG_LEVEL, DEFAULT_SERVICE_NAME
from bot.core.http import BadRequest, Request
from inference import redaction

_formatter: LambdaPowertoolsFormatter | None = None
#: The proxy event being handled in this thread, so a log line can name its request without quoting it.
_current_event: ContextVar[dict[str, Any] | None] = ContextVar("current_event", default=None)
#: Bolt's log lines that quote a whole request (body included, before anything is verified), by the
#: start of their message, with the reason each stands for.
BOLT_LINES_WITH_BODIES = {
    "Invalid request signature detected": "invalid_signature",  # RequestVerification, INFO
    "Incoming event:": "received",  # the Lambda adapter's SlackRequestHandler, DEBUG
}


class BoundRequestLines(logging.Filter):
    """Turns Bolt's log lines that quote a request into one line naming method, path, size and reason.

    Bolt logs every request that fails signature verification with its whole body at INFO, so
    anyone could write a megabyte of (billed) log per unauthenticated request. The rewritten line
    keeps Bolt's logger and level and never holds the body, nor the signature or timestamp headers.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.msg if isinstance(record.msg, str) else ""
        reason = next((why for start, why in BOLT_LINES_WITH_BODIES.items() if message.startswith(start)), None)
        if reason is None:
            return True
        method, path, size = _request_summary(_current_event.get())
        record.msg, record.args = "%s %s (%s bytes, body not logged): %s", (method, path, f"{size:,}", reason)
        record.method, record.path, record.size, record.reason = method, path, size, reason
        return True


def _request_summary(event: dict[str, Any] | None) -> tuple[str, str, int]:
    """Method, path (clipped) and body size of a proxy event, parsed as the router parses it."""
    try:
        request = Request.from_event(event) if event is not None else None
    except BadRequest:
        request = None
    if request is None:
        return "?", "?", 0
    return request.method, request.path[:200], len(request.body)


def set_request(event: dict[str, Any]) -> None:
    """Remember the event this thread handles, for :class:`BoundRequestLines`."""
    _current_event.set(event)


def log_handler(formatter: logging.Formatter, stream: TextIO | None = None) -> logging.Handler:
    """The router's handler (to stderr by default), on which no Bolt line quotes a request."""
    handler = logging.StreamHandler(stream)
    handler.setFormatter(formatter)
    handler.addFilter(BoundRequestLines())
    return handler


def setup_logging(secrets: Iterable[str] = (), *, level: str | None = None, service: str | None = None) -> None:
    """Send every logger's records, as JSON, to stderr; idempotent.

    ``level`` and ``service`` are the settings' (``LOG_LEVEL``, ``POWERTOOLS_SERVICE_NAME``); given
    after the first call, they apply from then on.
    """
    global _formatter
    root = logging.getLogger()
    if _formatter is None:
        _formatter = LambdaPowertoolsFormatter(service=service or DEFAULT_SERVICE_NAME)
        handler = log_handler(_formatter)
        for old in list(root.handlers):
            root.removeHandler(old)  # Lambda's runtime installs its own plain-text handler
        root.addHandler(handler)
        root.setLevel(level or DEFAULT_LOG_LEVEL)
    else:
        if level:
            root.setLevel(level)
        if service:
            _formatter.append_keys(service=service)
    secrets = [s for s in secrets if s]
    if secrets:
        redaction.install(root.handlers, secrets)


def set_correlation_id(value: str | None) -> None:
    """Tag every following log line with the request it belongs to."""
    if _formatter is not None:
        _formatter.append_keys(correlation_id=value)
