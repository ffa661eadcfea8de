"""Structured JSON logs (Powertools' formatter) with a correlation id, and no secrets.

Every log line of the router is one JSON object. The secret values (bot token,
signing secret, passcode) are replaced by ``***`` in every record, whatever
logged them, as a last line of defence: nothing is meant to log them at all.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable

from aws_lambda_powertools.logging.formatter import LambdaPowertoolsFormatter

SERVICE = os.environ.get("POWERTOOLS_SERVICE_NAME", "router")
_formatter: LambdaPowertoolsFormatter | None = None


class RedactSecrets(logging.Filter):
    """Replaces each secret value in a record's message and arguments with ``***``."""

    def __init__(self, secrets: Iterable[str]) -> None:
        super().__init__()
        self.secrets = [s for s in secrets if s and len(s) >= 6]

    def filter(self, record: logging.LogRecord) -> bool:
        if not self.secrets:
            return True
        message = record.getMessage()
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        for secret in self.secrets:
            message = message.replace(secret, "***")
            if record.exc_text:
                record.exc_text = record.exc_text.replace(secret, "***")
        record.msg, record.args = message, None
        return True


def setup_logging(secrets: Iterable[str] = (), *, level: str | None = None) -> None:
    """Send every logger's records, as JSON, to stderr; idempotent."""
    global _formatter
    root = logging.getLogger()
    if _formatter is None:
        _formatter = LambdaPowertoolsFormatter(service=SERVICE)
        handler = logging.StreamHandler()
        handler.setFormatter(_formatter)
        for old in list(root.handlers):
            root.removeHandler(old)  # Lambda's runtime installs its own plain-text handler
        root.addHandler(handler)
        root.setLevel(level or os.environ.get("LOG_LEVEL", "INFO"))
    secrets = [s for s in secrets if s]
    if secrets:
        for handler in root.handlers:
            for old in [f for f in handler.filters if isinstance(f, RedactSecrets)]:
                handler.removeFilter(old)
            handler.addFilter(RedactSecrets(secrets))


def set_correlation_id(value: str | None) -> None:
    """Tag every following log line with the request it belongs to."""
    if _formatter is not None:
        _formatter.append_keys(correlation_id=value)
