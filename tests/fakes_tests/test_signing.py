"""Our signatures agree with slack_sdk's verifier, byte for byte."""

from __future__ import annotations

import time

from slack_sdk.signature import SignatureVerifier

from tests.fakes.signing import JSON, SIGNING_SECRET, signature, signed_headers


def test_signed_headers_verify() -> None:
    body = "token=x&command=%2Fsentiment&text=I+love+it"
    headers = signed_headers(body, SIGNING_SECRET)
    assert headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert SignatureVerifier(SIGNING_SECRET).is_valid_request(body, headers)


def test_known_vector() -> None:
    # computed independently: printf 'v0:1531420618:hello' | openssl dgst -sha256 -hmac "test-signing-secret-0123456789abcdef"
    assert signature("hello", SIGNING_SECRET, 1531420618) == (
        "v0=9e3670d39481ea280f880c4d64d7847afa92f3abe1e2a7db799955ac3411be29"
    )


def test_bytes_and_json_bodies_verify() -> None:
    body = '{"type": "event_callback", "text": "caf\u00e9 \u2615"}'
    headers = signed_headers(body.encode(), SIGNING_SECRET, content_type=JSON)
    assert headers["Content-Type"] == JSON
    assert SignatureVerifier(SIGNING_SECRET).is_valid(
        body, headers["X-Slack-Request-Timestamp"], headers["X-Slack-Signature"]
    )


def test_tampering_wrong_secret_and_old_timestamps_fail() -> None:
    body = "text=hello"
    verifier = SignatureVerifier(SIGNING_SECRET)
    headers = signed_headers(body, SIGNING_SECRET)
    stale = signed_headers(body, SIGNING_SECRET, timestamp=int(time.time()) - 6 * 60)

    assert not verifier.is_valid_request(body + "&x=1", headers)
    assert not verifier.is_valid_request(body, signed_headers(body, "another-secret"))
    assert not verifier.is_valid_request(body, stale)
