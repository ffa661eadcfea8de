"""Hostile requests at the HTTP layer of `python -m bot serve`: framing, methods, headers.

These need the real server (the in-process cases never see a Content-Length).
Requests are written byte by byte on a socket, so nothing a well-behaved client
library would fix up gets fixed. After every case the server must still answer
a normal request.
"""

from __future__ import annotations

import json
import socket
import time
import urllib.request
from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest

from tests.conftest import BotServer
from tests.fakes.signing import FORM, JSON, SIGNING_SECRET, signature
from tests.fakes.slack_client import slash_command_body

pytestmark = pytest.mark.e2e

READ_SECONDS = 10.0
#: What the log shows when a request crashed the server's code: socketserver's own report, or ours.
CRASH_SIGNS = ("Exception occurred during processing of request", "unhandled error")


def exchange(server: BotServer, raw: bytes, *, close_write: bool = False) -> tuple[int, dict[str, str], bytes]:
    """Send ``raw`` as is and read one response (status, lower-case headers, body)."""
    url = urlsplit(server.url)
    with socket.create_connection((url.hostname, url.port), timeout=READ_SECONDS) as sock:
        sock.sendall(raw)
        if close_write:
            sock.shutdown(socket.SHUT_WR)
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = sock.recv(65536)
            assert chunk, f"connection closed without a response: {data!r}"
            data += chunk
        head, _, body = data.partition(b"\r\n\r\n")
        status_line, *lines = head.decode("latin-1").split("\r\n")
        headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines)}
        length = int(headers.get("content-length", "0"))
        while len(body) < length:
            chunk = sock.recv(65536)
            if not chunk:
                break
            body += chunk
    return int(status_line.split()[1]), headers, body


def http(method: str, path: str, body: bytes = b"", **headers: str) -> bytes:
    """A request with a correct Content-Length unless ``headers`` overrides it."""
    fields = {"Host": "127.0.0.1", "Content-Length": str(len(body)), "Connection": "close"}
    fields.update({k.replace("_", "-"): v for k, v in headers.items()})
    lines = [f"{method} {path} HTTP/1.1", *(f"{k}: {v}" for k, v in fields.items() if v is not None)]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("utf-8") + body


def signed_command(text: str, *, timestamp: str | None = None) -> tuple[bytes, dict[str, str]]:
    body = slash_command_body("/hf", text).encode()
    ts = str(int(time.time())) if timestamp is None else timestamp
    return body, {"X-Slack-Request-Timestamp": ts, "X-Slack-Signature": signature(body, SIGNING_SECRET, ts)}


@pytest.fixture(autouse=True)
def still_serving(bot_server: BotServer) -> Iterator[None]:
    yield
    with urllib.request.urlopen(bot_server.url + "/go", timeout=READ_SECONDS) as response:
        assert response.status == 200, "the server stopped answering after the previous case"
    assert bot_server.process.poll() is None


GO_JSON = {"Content_Type": "application/json"}
CASES = [
    pytest.param(http("POST", "/go", b"{}", Content_Length="abc", **GO_JSON), 400, id="content-length-not-a-number"),
    pytest.param(http("POST", "/go", b"{}", Content_Length="-5", **GO_JSON), 400, id="content-length-negative"),
    pytest.param(
        http("POST", "/go", b"{}", Content_Length="\uff12", **GO_JSON), 400, id="content-length-unicode-digit"
    ),
    pytest.param(
        http("POST", "/go", b"{}", **GO_JSON).replace(b"Content-Length: 2", b"Content-Length: 2\r\nContent-Length: 3"),
        400,
        id="content-length-twice",
    ),
    pytest.param(
        http("POST", "/go", b"{}", Content_Length="0" * 4399 + "2", **GO_JSON), 400, id="content-length-4400-digits"
    ),
    pytest.param(
        http("POST", "/go", b"2\r\n{}\r\n0\r\n\r\n", Content_Length=None, Transfer_Encoding="chunked", **GO_JSON),
        411,
        id="chunked-body",
    ),
    pytest.param(
        http("POST", "/go", b"{}", Content_Length=None, Transfer_Encoding="gzip", **GO_JSON),
        411,
        id="transfer-encoding-unknown",
    ),
    pytest.param(
        http("POST", "/go", b"2\r\n{}\r\n0\r\n\r\n", Transfer_Encoding="chunked", **GO_JSON),
        400,
        id="transfer-encoding-and-content-length",
    ),
    pytest.param(http("POST", "/slack/events", b"", Content_Length="2000000"), 413, id="content-length-over-1mb"),
    pytest.param(http("POST", "/go", b"\xff\xfe{}", **GO_JSON), 400, id="body-not-utf8"),
    pytest.param(http("FROB", "/go"), 405, id="method-unknown"),
    pytest.param(http("OPTIONS", "/slack/events"), 405, id="method-options"),
    pytest.param(http("TRACE", "/go"), 405, id="method-trace"),
    pytest.param(http("DELETE", "/slack/events"), 405, id="method-delete"),
    pytest.param(http("GET", "/../../etc/passwd"), 404, id="path-traversal"),
    pytest.param(http("GET", "/go/%2e%2e/%2e%2e/etc/passwd"), 404, id="path-encoded-traversal"),
    pytest.param(http("GET", "http://evil.example/admin"), 404, id="path-absolute-url"),
    pytest.param(http("GET", "/go", X_Long="x" * 70_000), 431, id="header-too-long"),
    pytest.param(b"GARBAGE\r\n\r\n", 400, id="request-line-garbage"),
    pytest.param(http("GET", "/go").replace(b"HTTP/1.1", b"HTTP/2.0", 1), 400, id="http-version-2"),
]


@pytest.mark.parametrize(("raw", "status"), CASES)
def test_malformed_http_gets_a_4xx(bot_server: BotServer, raw: bytes, status: int) -> None:
    log_before = len(bot_server.logs())
    got, headers, body = exchange(bot_server, raw)
    assert got == status, body[:300]
    if headers.get("content-type", "").startswith("application/json"):
        json.loads(body)
    logged = bot_server.logs()[log_before:]
    assert not [sign for sign in CRASH_SIGNS if sign in logged], logged[-2000:]


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        pytest.param(http("GET", "/go", X_Long="x" * 70_000), "Line too long.", id="header-too-long"),
        pytest.param(b"GARBAGE\r\n\r\n", "Bad request syntax ('GARBAGE').", id="request-line-garbage"),
        pytest.param(
            http("GET", "/go").replace(b"HTTP/1.1", b"HTTP/2.0", 1),
            "Invalid HTTP version (2.0).",
            id="http-version-2",
        ),
    ],
)
def test_the_standard_librarys_refusals_are_json_errors(bot_server: BotServer, raw: bytes, message: str) -> None:
    """What http.server refuses itself gets the router's JSON error, not its HTML page."""
    _, headers, body = exchange(bot_server, raw)
    assert headers["content-type"].startswith("application/json")
    assert json.loads(body)["error"]["message"] == message


def test_a_body_shorter_than_its_content_length_is_a_400(bot_server: BotServer) -> None:
    raw = http("POST", "/go", b'{"model": "tiny-sentiment", "te', Content_Length="100", **GO_JSON)
    status, _, body = exchange(bot_server, raw, close_write=True)
    assert status == 400, body
    assert json.loads(body)["error"]["message"] == "The body ended after 31 of its 100 bytes (Content-Length)."


def test_the_server_header_names_no_version(bot_server: BotServer) -> None:
    """The standard library's ``Server`` header names the Python version, which helps only an attacker."""
    for raw in (http("GET", "/go"), http("GET", "/go", X_Long="x" * 70_000)):
        _, headers, _ = exchange(bot_server, raw)
        assert headers["server"] == "hf-slack-bot"


@pytest.mark.parametrize(
    "names",
    [
        pytest.param(("x-slack-request-timestamp", "x-slack-signature"), id="lower-case"),
        pytest.param(("X-SLACK-REQUEST-TIMESTAMP", "X-SLACK-SIGNATURE"), id="upper-case"),
        pytest.param(("x-Slack-request-TIMESTAMP", "X-slack-SIGNATURE"), id="mixed-case"),
    ],
)
def test_signature_headers_verify_in_any_case(bot_server: BotServer, names: tuple[str, str]) -> None:
    body, signed = signed_command("help")
    headers = {names[0]: signed["X-Slack-Request-Timestamp"], names[1]: signed["X-Slack-Signature"]}
    status, _, answer = exchange(bot_server, http("POST", "/slack/events", body, Content_Type=FORM, **headers))
    assert status == 200
    assert json.loads(answer)["response_type"] == "ephemeral"


@pytest.mark.parametrize("timestamp", ["yesterday", "1.7e9", "9" * 5000, ""])
def test_a_timestamp_that_is_not_a_number_is_a_401(bot_server: BotServer, timestamp: str) -> None:
    body, headers = signed_command("help", timestamp=timestamp)
    status, _, _ = exchange(bot_server, http("POST", "/slack/events", body, Content_Type=FORM, **headers))
    assert status == 401


def test_slack_json_that_is_not_an_object_is_a_400(bot_server: BotServer) -> None:
    assert bot_server.sender.post("[1, 2, 3]", JSON).status == 400
    assert bot_server.sender.post("[" * 100_000 + "]" * 100_000, JSON).status == 400
