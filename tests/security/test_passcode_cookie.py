"""The form's passcode through the whole router: the cookie it sets and the limit on guessing.

tests/bot/form covers ``handle_form`` itself; these go through ``Router.handle`` as
API Gateway's call does, so they also check what reaches the browser (the
proxy result's ``Set-Cookie``) and which address the limit counts.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import bot.form.routes
from bot.core.config import Secrets, Settings
from bot.form.passcode import (
    COOKIE_NAME,
    FAILURE_WINDOW_SECONDS,
    MAX_AGE_SECONDS,
    MAX_FAILURES,
    FailureLimiter,
    session_cookie,
)
from tests.fakes.signing import SIGNING_SECRET
from tests.fakes.slack_api import FakeSlackApi
from tests.fakes.slack_client import api_gateway_event
from tests.security.conftest import BOT_TOKEN, InProcess, header, in_process

PASSCODE = "a long and private passcode 7"


@pytest.fixture
def locked(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[InProcess]:
    """The router in AWS mode with a passcode, and a fresh wrong-guess limiter."""
    monkeypatch.setattr(bot.form.routes, "LOGIN_LIMITER", FailureLimiter())
    with FakeSlackApi(expect_token=BOT_TOKEN) as slack:
        yield in_process(slack, tmp_path, passcode=PASSCODE)


def login(env: InProcess, passcode: str, *, source_ip: str = "203.0.113.7", forwarded: str = "") -> dict[str, Any]:
    """Log in from API Gateway's ``source_ip``; ``forwarded`` is what the client claims in X-Forwarded-For."""
    headers = {"Content-Type": "application/json", **({"X-Forwarded-For": forwarded} if forwarded else {})}
    event = api_gateway_event("POST", "/go/login", json.dumps({"passcode": passcode}), headers, source_ip=source_ip)
    return env.handle(event)


def run(env: InProcess, cookie: str = "") -> dict[str, Any]:
    headers = {"Content-Type": "application/json", **({"Cookie": cookie} if cookie else {})}
    return env.handle(api_gateway_event("POST", "/go", json.dumps({"model": "sentiment", "text": "hi"}), headers))


def set_cookie(result: dict[str, Any]) -> list[str]:
    [cookie] = result["multiValueHeaders"]["Set-Cookie"]
    return [part.strip() for part in cookie.split(";")]


def test_the_login_cookie_is_signed_http_only_secure_strict_and_expires(locked: InProcess) -> None:
    before = int(time.time())
    result = login(locked, PASSCODE)

    assert result["statusCode"] == 204
    assert header(result, "cache-control") == "no-store"
    pair, *attributes = set_cookie(result)
    name, _, value = pair.partition("=")
    version, expires, signature = value.split(".")
    assert name == COOKIE_NAME and version == "v1" and len(signature) >= 43  # an HMAC-SHA256, base64
    assert before + MAX_AGE_SECONDS <= int(expires) <= int(time.time()) + MAX_AGE_SECONDS
    assert set(attributes) == {"Path=/", f"Max-Age={MAX_AGE_SECONDS}", "HttpOnly", "SameSite=Strict", "Secure"}
    assert PASSCODE not in json.dumps(result)


def test_local_mode_drops_only_secure(tmp_path: Path) -> None:
    with FakeSlackApi(expect_token=BOT_TOKEN) as slack:
        env = in_process(slack, tmp_path, passcode=PASSCODE, local=True)
        attributes = set_cookie(login(env, PASSCODE))[1:]
    assert set(attributes) == {"Path=/", f"Max-Age={MAX_AGE_SECONDS}", "HttpOnly", "SameSite=Strict"}


def test_only_an_untampered_unexpired_cookie_from_this_deployment_unlocks_the_form(locked: InProcess) -> None:
    pair = set_cookie(login(locked, PASSCODE))[0]
    name, _, value = pair.partition("=")
    version, expires, signature = value.split(".")
    settings = locked.router.services.settings
    other_deployment = Settings(secrets=Secrets(signing_secret="another-" + SIGNING_SECRET, passcode=PASSCODE))
    expired = session_cookie(settings, now=time.time() - MAX_AGE_SECONDS - 1).split(";")[0]

    assert run(locked, pair)["statusCode"] == 200
    assert run(locked)["statusCode"] == 401
    assert run(locked, f"{name}={version}.{int(expires) + 86_400}.{signature}")["statusCode"] == 401
    assert run(locked, f"{name}={version}.{expires}.{signature[::-1]}")["statusCode"] == 401
    assert run(locked, session_cookie(other_deployment).split(";")[0])["statusCode"] == 401
    assert run(locked, expired)["statusCode"] == 401
    assert run(locked, f"{name}=v1.{'9' * 40}.{signature}")["statusCode"] == 401


def test_wrong_passcodes_are_limited_per_client_address(locked: InProcess) -> None:
    """API Gateway's source address counts, so a forged X-Forwarded-For does not buy more guesses."""
    for attempt in range(MAX_FAILURES):
        assert login(locked, f"guess {attempt}", forwarded=f"198.51.100.{attempt}")["statusCode"] == 401

    blocked = login(locked, "one more", forwarded="198.51.100.200")
    assert blocked["statusCode"] == 429
    assert 0 < int(header(blocked, "retry-after")) <= FAILURE_WINDOW_SECONDS
    assert json.loads(blocked["body"])["error"]["type"] == "too_many_attempts"
    assert login(locked, PASSCODE)["statusCode"] == 429, "not even the right passcode while blocked"
    assert login(locked, "guess", source_ip="192.0.2.50")["statusCode"] == 401, "other clients are not blocked"
    assert login(locked, PASSCODE, source_ip="192.0.2.50")["statusCode"] == 204
