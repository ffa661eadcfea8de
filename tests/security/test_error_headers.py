"""Every error the router answers carries the same security headers as the form's answers
(``bot.core.http.json_headers``): Bolt's refusals, the router's own and the form's alike."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import pytest

from bot.core.config import Secrets
from bot.core.http import json_headers
from tests.fakes.signing import JSON
from tests.fakes.slack_client import api_gateway_event, slash_command_body
from tests.security.conftest import EVENTS, InProcess, header, signed_event

COMMAND = slash_command_body("/sentiment", "hello")


def _broken(router: InProcess, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    def fail(*args: Any) -> None:
        raise RuntimeError("a bug")

    monkeypatch.setattr(router.router, "_slack", fail)
    return signed_event(COMMAND)


def _unconfigured(router: InProcess, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    settings = dataclasses.replace(router.router.services.settings, secrets=Secrets())
    monkeypatch.setattr(router.router.services, "settings", settings)
    return signed_event(COMMAND)


def _plain(event: dict[str, Any]) -> Callable[[InProcess, pytest.MonkeyPatch], dict[str, Any]]:
    return lambda router, monkeypatch: event


#: (the status, how the request earns it)
CASES = {
    "malformed event": (400, _plain({**api_gateway_event("POST", EVENTS, "x", {}), "isBase64Encoded": True})),
    "not Slack's shape": (400, _plain(signed_event("[]", JSON))),
    "bad signature": (401, _plain(signed_event(COMMAND, secret="not-the-signing-secret"))),
    "stale signature": (401, _plain(signed_event(COMMAND, timestamp=1_000_000_000))),
    "unreadable timestamp": (401, _plain(signed_event(COMMAND, headers={"X-Slack-Request-Timestamp": "soon"}))),
    "unknown path": (404, _plain(api_gateway_event("GET", "/nowhere", None, {}))),
    "wrong method": (405, _plain(api_gateway_event("GET", EVENTS, None, {}))),
    "form's wrong method": (405, _plain(api_gateway_event("POST", "/go/stats", "{}", {"Content-Type": JSON}))),
    "too large": (413, _plain(signed_event("x" * 1_000_001))),
    "not JSON or a form": (415, _plain(signed_event("hello", "text/plain"))),
    "a bug": (500, _broken),
    "no signing secret": (503, _unconfigured),
}


@pytest.mark.parametrize("case", list(CASES))
def test_every_router_error_carries_the_forms_security_headers(
    case: str, lambda_router: InProcess, monkeypatch: pytest.MonkeyPatch
) -> None:
    status, make = CASES[case]
    result = lambda_router.handle(make(lambda_router, monkeypatch))
    assert result["statusCode"] == status
    assert {name: header(result, name) for name in json_headers()} == json_headers()
