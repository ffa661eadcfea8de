"""A logging filter that keeps secret values out of every log line, for the router and the warm step.

It lives in ``inference`` because both sides may import it: the model images hold only this
package, and the router ships this module in its bundle (infra/bundling.py).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any

#: Shorter values are not redacted: replacing two or three characters everywhere would garble the logs.
MIN_SECRET_LENGTH = 6
#: Attributes every LogRecord has; anything else on a record came in through ``extra=``.
_RECORD_ATTRIBUTES = frozenset(vars(logging.makeLogRecord({}))) | {"message", "asctime"}


class RedactSecrets(logging.Filter):
    """Replaces each secret value with ``***`` in a record's message, arguments, extras and exception.

    The exception is rendered to text here and its live object dropped from the
    record, because formatters (Powertools' among them) render it again from
    the exception itself, which would bring the secret back. Powertools prints
    the redacted text under its usual ``exception`` and ``exception_name`` keys.
    """

    def __init__(self, secrets: Iterable[str]) -> None:
        super().__init__()
        self.secrets = [s for s in secrets if s and len(s) >= MIN_SECRET_LENGTH]

    def redact(self, value: Any) -> Any:
        """``value`` with every secret replaced, looking inside lists, tuples and dicts."""
        if isinstance(value, str):
            for secret in self.secrets:
                value = value.replace(secret, "***")
            return value
        if isinstance(value, list | tuple):
            return type(value)(self.redact(item) for item in value)
        if isinstance(value, dict):
            return {self.redact(k): self.redact(v) for k, v in value.items()}
        return value

    def filter(self, record: logging.LogRecord) -> bool:
        if not self.secrets:
            return True
        record.msg, record.args = self.redact(record.getMessage()), None
        if record.exc_info and record.exc_info[0] is not None:
            record.exc_text = record.exc_text or logging.Formatter().formatException(record.exc_info)
            record.exception_name = record.exc_info[0].__name__
            record.exc_info = None
        if record.exc_text:
            record.exc_text = record.exception = self.redact(record.exc_text)
        for key, value in list(vars(record).items()):
            if key not in _RECORD_ATTRIBUTES:
                setattr(record, key, self.redact(value))
        return True


def install(handlers: Iterable[logging.Handler], secrets: Iterable[str]) -> None:
    """Redact ``secrets`` on each handler from now on, in place of any filter an earlier call installed."""
    secrets = list(secrets)
    for handler in handlers:
        for old in [f for f in handler.filters if isinstance(f, RedactSecrets)]:
            handler.removeFilter(old)
        if any(secrets):
            handler.addFilter(RedactSecrets(secrets))
