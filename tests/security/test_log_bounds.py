"""An unauthenticated request costs one short log line, however big its body.

Bolt's ``RequestVerification`` logs a request whose signature fails with its
whole body at INFO: a 990,000-character form body with a bad signature wrote
about 1 MB of (billed) log per request. The router's log handler rewrites that
line, and the Lambda adapter's DEBUG "Incoming event" line, to method, path,
size and reason. Checked through the Lambda entry (``bot.handler.handler``)
with the router's own handler and formatter, and against ``python -m bot
serve`` by reading the log file it writes.
"""

from __future__ import annotations

import http.client
import io
import json
import logging
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from aws_lambda_powertools.logging.formatter import LambdaPowertoolsFormatter

import bot.handler
from bot.core.logs import log_handler
from tests.conftest import BotServer, start_server, stop_server
from tests.fakes.signing import FORM, SIGNING_SECRET, signed_headers
from tests.fakes.slack_api import FakeSlackApi
from tests.fakes.slack_client import LambdaContext, api_gateway_event
from tests.security.conftest import EVENTS, InProcess

#: A form body of 990,000 characters and more: under the router's 1 MB limit, so Bolt verifies it.
BODY = "text=" + "a" * 990_000
SIZE = f"{len(BODY):,} bytes"
#: The most log one rejected request may cost.
MAX_LOG_BYTES = 1024


def bad_signature(secret: str) -> dict[str, str]:
    return {"Content-Type": FORM, "X-Slack-Request-Timestamp": str(int(time.time())), "X-Slack-Signature": "v0=00"}


def replayed(secret: str) -> dict[str, str]:
    """Correctly signed with ``secret``, 10 minutes ago: Bolt refuses it through the same log line."""
    return {"Content-Type": FORM, **signed_headers(BODY, secret, timestamp=int(time.time()) - 600)}


@pytest.fixture
def captured(
    lambda_router: InProcess, monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest
) -> Iterator[io.StringIO]:
    """The Lambda entry over the in-process router, logging at ``request.param`` through the router's handler."""
    monkeypatch.setattr(bot.handler, "router", lambda: lambda_router.router)
    monkeypatch.setattr(bot.handler, "setup_logging", lambda *args, **kwargs: None)
    stream = io.StringIO()
    handler = log_handler(LambdaPowertoolsFormatter(service="router"), stream)
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(getattr(request, "param", "INFO"))
    yield stream
    root.removeHandler(handler)
    root.setLevel(level)


def lines(text: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def assert_named_not_quoted(log: str, reason: str) -> None:
    """One line names the request by method, path, size and reason; nothing quotes the body."""
    [line] = [line for line in lines(log) if line.get("reason") == reason]
    assert (line["method"], line["path"], line["size"]) == ("POST", EVENTS, len(BODY))
    assert f"POST {EVENTS} ({SIZE}" in line["message"] and reason in line["message"]
    assert "a" * 100 not in log


@pytest.mark.parametrize("headers", [bad_signature, replayed], ids=["bad-signature", "replayed"])
def test_a_rejected_request_costs_one_short_line(captured: io.StringIO, headers: Any) -> None:
    result = bot.handler.handler(api_gateway_event("POST", EVENTS, BODY, headers(SIGNING_SECRET)), LambdaContext())
    assert result["statusCode"] == 401
    log = captured.getvalue()
    assert len(log.encode()) < MAX_LOG_BYTES, log[:2000]
    assert_named_not_quoted(log, "invalid_signature")


@pytest.mark.parametrize("captured", ["DEBUG"], indirect=True)
def test_at_debug_no_line_quotes_the_request(captured: io.StringIO) -> None:
    """The Lambda adapter logs every incoming event at DEBUG; that line is bounded the same way."""
    bot.handler.handler(api_gateway_event("POST", EVENTS, BODY, bad_signature(SIGNING_SECRET)), LambdaContext())
    log = captured.getvalue()
    assert max(len(line) for line in log.splitlines()) < MAX_LOG_BYTES
    assert_named_not_quoted(log, "received")
    assert_named_not_quoted(log, "invalid_signature")


def test_other_lines_pass_through_unchanged(captured: io.StringIO) -> None:
    logging.getLogger("bot.test").info("Incoming: %s", "a note")
    assert lines(captured.getvalue())[-1]["message"] == "Incoming: a note"


@pytest.fixture(scope="module")
def own_server(tiny_registry: Path, fake_slack: FakeSlackApi, tmp_path_factory: pytest.TempPathFactory):
    """A server of its own, so nothing else writes to its log while a test measures it."""
    server = start_server(registry=tiny_registry, slack=fake_slack, workdir=tmp_path_factory.mktemp("log-bounds"))
    yield server
    stop_server(server)


def post(server: BotServer, body: str, headers: dict[str, str]) -> int:
    url = urlsplit(server.url)
    connection = http.client.HTTPConnection(url.hostname or "", url.port, timeout=30)
    try:
        connection.request("POST", EVENTS, body=body.encode(), headers=headers)
        response = connection.getresponse()
        response.read()
        return response.status
    finally:
        connection.close()


@pytest.mark.e2e
@pytest.mark.parametrize("headers", [bad_signature, replayed], ids=["bad-signature", "replayed"])
def test_bot_serve_logs_a_rejected_request_in_one_short_line(own_server: BotServer, headers: Any) -> None:
    before = len(own_server.log_path.read_bytes())
    assert post(own_server, BODY, headers(SIGNING_SECRET)) == 401
    written = own_server.log_path.read_bytes()[before:].decode()
    assert len(written.encode()) < MAX_LOG_BYTES, written[:2000]
    assert_named_not_quoted(written, "invalid_signature")
