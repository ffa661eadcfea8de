"""Slow clients against `python -m bot serve` (issue 19, item 6): none may hold a thread for long.

A socket timeout restarts on every read, so a client sending one header line every
few seconds used to keep its thread forever (100 of 100 such sockets were still open
after 50 s). Each request now has a deadline for its headers and one for its body,
an idle keep-alive connection is closed, and one address may hold only so many
connections. Every socket here is on loopback and every wait is bounded.
"""

from __future__ import annotations

import http.client
import json
import select
import socket
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from bot.local.server import (
    BODY_BYTES_PER_SECOND,
    CONNECTIONS_RETRY_AFTER_SECONDS,
    HEAD_SECONDS,
    IDLE_SECONDS,
    LINGER_SECONDS,
)
from tests.conftest import BotServer, start_server, stop_server
from tests.fakes.slack_api import FakeSlackApi

pytestmark = pytest.mark.e2e

#: How late past its deadline a refusal may come (thread scheduling on a busy machine).
SLACK_SECONDS = 3.0
TRICKLE_EVERY_SECONDS = 1.0
CONNECTIONS_PER_CLIENT = 4


def address(server: BotServer) -> tuple[str, int]:
    url = urlsplit(server.url)
    return str(url.hostname), int(url.port or 80)


@dataclass
class Trickler:
    """A client that sends ``head`` and then one more byte of ``drip`` every second."""

    sock: socket.socket
    drip: bytes
    received: bytes = b""
    closed_after: float | None = None
    sent: int = 0
    answers: list[bytes] = field(default_factory=list)

    def status(self) -> int:
        return int(self.received.split(b" ", 2)[1])

    def message(self) -> str:
        return json.loads(self.received.partition(b"\r\n\r\n")[2])["error"]["message"]


def trickle(server: BotServer, heads: list[tuple[bytes, bytes]], seconds: float) -> list[Trickler]:
    """Open one connection per ``(head, drip)``, send its head, then a byte of its drip a second,
    until the server has closed every one or ``seconds`` have passed; meanwhile ask for ``/go`` normally."""
    clients = []
    for head, drip in heads:
        sock = socket.create_connection(address(server), timeout=5)
        sock.sendall(head)
        clients.append(Trickler(sock, drip))
    started = time.monotonic()
    next_drip = started + TRICKLE_EVERY_SECONDS
    served_meanwhile = False
    try:
        while any(c.closed_after is None for c in clients) and time.monotonic() - started < seconds:
            open_ones = [c for c in clients if c.closed_after is None]
            readable, _, _ = select.select([c.sock for c in open_ones], [], [], 0.2)
            for client in open_ones:
                if client.sock in readable:
                    try:
                        chunk = client.sock.recv(65536)
                    except ConnectionResetError:
                        chunk = b""
                    client.received += chunk
                    if not chunk:
                        client.closed_after = time.monotonic() - started
            if time.monotonic() >= next_drip:
                next_drip += TRICKLE_EVERY_SECONDS
                for client in open_ones:
                    if client.closed_after is None and client.sent < len(client.drip):
                        client.sock.send(client.drip[client.sent : client.sent + 1])
                        client.sent += 1
            if not served_meanwhile and time.monotonic() - started > HEAD_SECONDS / 2:
                with urllib.request.urlopen(server.url + "/go", timeout=5) as response:
                    served_meanwhile = response.status == 200
    finally:
        for client in clients:
            client.sock.close()
    assert served_meanwhile, "a normal request was not answered while the slow clients were connected"
    return clients


@pytest.mark.slow
def test_clients_trickling_their_headers_or_body_get_a_408_at_the_deadline(bot_server: BotServer) -> None:
    """100 clients send a header line a second (the issue's case), 10 more a byte of their body a second."""
    header_head = b"GET /go HTTP/1.1\r\nHost: 127.0.0.1\r\n"
    body_head = (
        b"POST /go HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n"
    )
    heads = [(header_head, b"X-Slow: 1\r\n" * 30)] * 100 + [(body_head, b"{" * 1000)] * 10
    body_seconds = HEAD_SECONDS + 1000 / BODY_BYTES_PER_SECOND
    clients = trickle(bot_server, heads, body_seconds + LINGER_SECONDS + SLACK_SECONDS * 2)

    still_open = [c for c in clients if c.closed_after is None]
    assert not still_open, f"{len(still_open)} of {len(clients)} slow clients still hold a connection"
    for client, deadline, what in [(c, HEAD_SECONDS, "headers") for c in clients[:100]] + [
        (c, body_seconds, "body") for c in clients[100:]
    ]:
        assert client.status() == 408
        assert client.message() == f"The request's {what} did not arrive within {deadline:.0f} s."
        assert client.closed_after is not None
        assert deadline - 1 <= client.closed_after <= deadline + LINGER_SECONDS + SLACK_SECONDS


@pytest.mark.slow
def test_keep_alive_serves_one_connection_many_times_and_an_idle_one_is_closed(bot_server: BotServer) -> None:
    """A browser's kept-alive connection keeps working across requests; one left idle is closed, without a word."""
    host, port = address(bot_server)
    connection = http.client.HTTPConnection(host, port, timeout=5)
    try:
        sockets = set()
        for turn in range(3):
            time.sleep(IDLE_SECONDS / 4 if turn else 0)
            connection.request("GET", "/go")
            response = connection.getresponse()
            response.read()
            assert response.status == 200 and response.getheader("Connection") != "close"
            sockets.add(connection.sock)
        assert len(sockets) == 1, "each request needed a new connection"

        idle_since = time.monotonic()
        sock = connection.sock
        assert sock is not None
        sock.settimeout(IDLE_SECONDS + SLACK_SECONDS * 2)
        assert sock.recv(1) == b"", "the server sent something on an idle connection"
        idle = time.monotonic() - idle_since
        assert IDLE_SECONDS - 1 <= idle <= IDLE_SECONDS + SLACK_SECONDS
    finally:
        connection.close()


@pytest.fixture(scope="module")
def capped_server(tiny_registry: Path, fake_slack: FakeSlackApi, tmp_path_factory: pytest.TempPathFactory):
    """A server that lets one address hold only four connections."""
    server = start_server(
        registry=tiny_registry,
        slack=fake_slack,
        workdir=tmp_path_factory.mktemp("capped"),
        extra_env={"CONNECTIONS_PER_CLIENT": str(CONNECTIONS_PER_CLIENT)},
    )
    yield server
    stop_server(server)


def get_go(server: BotServer, *, source: str = "127.0.0.1") -> tuple[int, dict[str, str], bytes]:
    """``GET /go`` on a new connection from ``source``."""
    host, port = address(server)
    connection = http.client.HTTPConnection(host, port, timeout=5, source_address=(source, 0))
    try:
        connection.request("GET", "/go")
        response = connection.getresponse()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()
    finally:
        connection.close()


@pytest.fixture
def kept_alive(capped_server: BotServer) -> Iterator[list[http.client.HTTPConnection]]:
    """Four connections from 127.0.0.1, each kept alive after one answer: the address's whole allowance."""
    host, port = address(capped_server)
    connections = [http.client.HTTPConnection(host, port, timeout=5) for _ in range(CONNECTIONS_PER_CLIENT)]
    for connection in connections:
        connection.request("GET", "/go")
        response = connection.getresponse()
        response.read()
        assert response.status == 200
    yield connections
    for connection in connections:
        connection.close()


def test_an_address_over_its_connections_gets_a_429_and_others_still_connect(
    capped_server: BotServer, kept_alive: list[http.client.HTTPConnection]
) -> None:
    status, headers, body = get_go(capped_server)
    assert status == 429
    assert headers["retry-after"] == str(CONNECTIONS_RETRY_AFTER_SECONDS)
    assert headers["connection"] == "close"
    message = json.loads(body)["error"]["message"]
    assert message == (
        f"Too many connections from your address at once (at most {CONNECTIONS_PER_CLIENT}, "
        "CONNECTIONS_PER_CLIENT). Try again in a few seconds."
    )
    assert get_go(capped_server, source="127.0.0.2")[0] == 200, "another address was refused too"

    kept_alive.pop().close()
    deadline = time.monotonic() + 5
    while get_go(capped_server)[0] != 200:
        assert time.monotonic() < deadline, "a closed connection was not given back to its address"
        time.sleep(0.1)
