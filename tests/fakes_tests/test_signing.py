"""Our signatures agree with slack_sdk's verifier, byte for byte."""

from __future__ import annotations

import time

from slack_sdk.signature import SignatureVerifier

from tests.fakes.signing import JSON, signature, signed_headers

SECRET = "8f742231b10e8888abcd99yyyzzz85a5"


def test_signed_headers_verify() -> None:
    body = "token=x&command=%2Fsentiment&text=I+love+it"
    headers = signed_headers(body, SECRET)
    assert headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert SignatureVerifier(SECRET).is_valid_request(body, headers)


def test_known_vector() -> None:
    # computed independently: printf 'v0:1531420618:hello' | openssl dgst -sha256 -hmac "$SECRET"
    assert signature("hello", SECRET, 1531420618) == (
        "v0=e8beca64fdd1a137bebe4f274bd47abcbee4e63c101f4bc8461b7e9398109030"
    )


def test_bytes_and_json_bodies_verify() -> None:
    body = '{"type": "event_callback", "text": "caf\u00e9 \u2615"}'
    headers = signed_headers(body.encode(), SECRET, content_type=JSON)
    assert headers["Content-Type"] == JSON
    assert SignatureVerifier(SECRET).is_valid(body, headers["X-Slack-Request-Timestamp"], headers["X-Slack-Signature"])


def test_tampering_wrong_secret_and_old_timestamps_fail() -> None:
    body = "text=hello"
    verifier = SignatureVerifier(SECRET)
    headers = signed_headers(body, SECRET)
    stale = signed_headers(body, SECRET, timestamp=int(time.time()) - 6 * 60)

    assert not verifier.is_valid_request(body + "&x=1", headers)
    assert not verifier.is_valid_request(body, signed_headers(body, "another-secret"))
    assert not verifier.is_valid_request(body, stale)
