"""Local mode's wiring: proxy events like API Gateway's, Socket Mode when an app token is set."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

import bot.local.server as local_server
from bot.core.http import Request
from tests.fakes.signing import SIGNING_SECRET


def test_proxy_event_round_trips_into_a_request() -> None:
    event = local_server.proxy_event(
        "POST", "/go?x=1", {"content-type": "application/json"}, b'{"a": 1}', source_ip="127.0.0.1"
    )
    request = Request.from_event(event)
    assert (request.method, request.path, request.query, request.json()) == ("POST", "/go", {"x": "1"}, {"a": 1})
    assert event["requestContext"]["identity"]["sourceIp"] == "127.0.0.1"


def test_socket_mode_connects_with_the_app_token(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    connected: list[tuple[Any, str]] = []

    class FakeHandler:
        def __init__(self, app: Any, app_token: str) -> None:
            self.app, self.token = app, app_token

        def connect(self) -> None:
            connected.append((self.app, self.token))

    import slack_bolt.adapter.socket_mode as socket_mode

    monkeypatch.setattr(socket_mode, "SocketModeHandler", FakeHandler)
    monkeypatch.setattr(local_server.LocalServer, "serve", lambda self, host, port, ready=None: None)
    monkeypatch.setenv("SLACK_APP_TOKEN", "xapp-test")
    monkeypatch.setenv("SLACK_SIGNING_SECRET", SIGNING_SECRET)
    monkeypatch.setenv("DATA_DIR", str(tmp_path))
    local_server.serve("127.0.0.1", 0)
    [(app, token)] = connected
    assert token == "xapp-test" and app.__class__.__name__ == "App"


def test_no_socket_mode_without_app_token(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("SLACK_APP_TOKEN", raising=False)
    monkeypatch.delenv("SLACK_SIGNING_SECRET", raising=False)
    monkeypatch.setenv("DATA_DIR", str(tmp_path))
    monkeypatch.setattr(local_server, "start_socket_mode", lambda *a: pytest.fail("socket mode started"))
    monkeypatch.setattr(local_server.LocalServer, "serve", lambda self, host, port, ready=None: None)
    local_server.serve("127.0.0.1", 0)
    assert "Slack requests will be refused" in capsys.readouterr().out


def test_model_workers_do_not_keep_the_routers_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    import multiprocessing

    from bot.local.workers import SECRET_VARIABLES, _serve

    for name in SECRET_VARIABLES:
        monkeypatch.setenv(name, "secret-value-123")
    monkeypatch.setenv("MODEL_NAME", "x")  # restored after the test, like the secrets
    monkeypatch.setenv("MODELS_FILE", "x")
    parent, child = multiprocessing.Pipe()
    parent.close()  # the worker finds the pipe closed and returns at once
    _serve(child, "sentiment", "inference/models.yaml")
    assert not [name for name in SECRET_VARIABLES if name in os.environ]
