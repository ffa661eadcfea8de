"""``python -m bot invoke`` logs in with ``DEMO_PASSCODE`` and sends the session cookie back, as a browser does."""

from __future__ import annotations

from typing import Any

import pytest

import bot.__main__ as cli
from bot.core.http import set_cookie


def test_invoke_logs_in_with_the_passcode_and_sends_its_cookie_back(monkeypatch: pytest.MonkeyPatch) -> None:
    sent: list[tuple[str, dict[str, Any], str]] = []

    def post(server: str, path: str, body: dict[str, Any], cookie: str = "") -> tuple[int, dict[str, Any], str]:
        sent.append((path, body, cookie))
        if path == "/go/login":
            return 204, {}, set_cookie("go_session", "v1.2.sig", max_age=60, secure=True)
        return 200, {"result": "ok"}, ""

    monkeypatch.setenv("DEMO_PASSCODE", "open sesame")
    monkeypatch.setattr(cli, "_post", post)
    assert cli.invoke("http://127.0.0.1:3000", "sentiment", "hi") == 0
    assert sent == [
        ("/go/login", {"passcode": "open sesame"}, ""),
        ("/go", {"model": "sentiment", "text": "hi"}, "go_session=v1.2.sig"),
    ]
