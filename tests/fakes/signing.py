"""Sign request bodies exactly as Slack does (signing secret, version ``v0``).

Slack sends ``X-Slack-Request-Timestamp`` and ``X-Slack-Signature:
v0=<hex HMAC-SHA256 of "v0:{timestamp}:{raw body}">``. Written from Slack's
description rather than by calling slack_sdk, so a test can check the bot's
verification against an independent implementation.

:data:`SIGNING_SECRET` is the one secret every test signs with and every router under test
verifies with (``SLACK_SIGNING_SECRET`` of ``bot serve``, ``Secrets.signing_secret`` in process);
a test that needs a request to fail verification signs with another one, spelled out where it does.
"""

from __future__ import annotations

import hashlib
import hmac
import time

FORM = "application/x-www-form-urlencoded"
JSON = "application/json"
#: The deployment's signing secret, for every test.
SIGNING_SECRET = "test-signing-secret-0123456789abcdef"


def signature(body: str | bytes, secret: str, timestamp: int | str) -> str:
    """The ``X-Slack-Signature`` value for ``body`` sent at ``timestamp``."""
    raw = body.encode("utf-8") if isinstance(body, str) else body
    base = f"v0:{timestamp}:".encode() + raw
    return "v0=" + hmac.new(secret.encode("utf-8"), base, hashlib.sha256).hexdigest()


def signed_headers(
    body: str | bytes,
    secret: str,
    *,
    timestamp: int | None = None,
    content_type: str = FORM,
) -> dict[str, str]:
    """Headers Slack would send with ``body``: content type, timestamp (default: now) and signature."""
    ts = int(time.time()) if timestamp is None else timestamp
    return {
        "Content-Type": content_type,
        "X-Slack-Request-Timestamp": str(ts),
        "X-Slack-Signature": signature(body, secret, ts),
    }
