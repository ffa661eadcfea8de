"""DNS rebinding and cross-site posts against `python -m bot serve` (issue 19, item 7).

A page on rebind.evil.example whose name then resolves to 127.0.0.1 talks to the
local server as if it were its own site: its requests carry ``Host:
rebind.evil.example:3222``. The server answers only for loopback's names, the
address it listens on and ``ALLOWED_HOSTS``; and a request that would change
something must not come from another site (``Sec-Fetch-Site``, else ``Origin``).
Either refusal comes before the router, so it cannot count as a wrong passcode:
five of those from a hostile page used to lock every local user out (all share
127.0.0.1).
"""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.core.config import ALLOWED_HOSTS, load_settings
from bot.form.passcode import MAX_FAILURES
from bot.local.server import LOOPBACK_HOSTS, accepted_hosts
from tests.conftest import PASSCODE, BotServer, start_server, stop_server
from tests.fakes.slack_api import FakeSlackApi
from tests.security.test_http_layer import exchange

pytestmark = pytest.mark.e2e

CONFIGURED = "devbox.example"
#: What the ``Host`` header says: the cases' ids are docs/security.md's.
REFUSED_HOSTS = [
    pytest.param("rebind.evil.example:3222", 421, id="host-rebinding"),
    pytest.param("127.0.0.1.nip.io:{port}", 421, id="host-resolving-to-loopback"),
    pytest.param("192.0.2.1:{port}", 421, id="host-another-address"),
    pytest.param(None, 400, id="host-missing"),
    pytest.param("", 400, id="host-empty"),
    pytest.param("evil.example@127.0.0.1:{port}", 400, id="host-userinfo"),
    pytest.param("127.0.0.1:{port}\r\nHost: rebind.evil.example", 400, id="host-twice"),
]
ACCEPTED_HOSTS = [
    pytest.param("127.0.0.1:{port}", id="host-loopback-address"),
    pytest.param("LOCALHOST.:{port}", id="host-localhost"),
    pytest.param("[::1]:{port}", id="host-ipv6-loopback"),
    pytest.param(CONFIGURED, id="host-configured"),
    pytest.param("localhost:8080", id="host-forwarded-port"),
]
#: Headers a browser adds to a request that changes something; each refused with 403.
CROSS_SITE = [
    pytest.param({"Origin": "http://evil.example"}, id="origin-other-site"),
    pytest.param({"Origin": "http://127.0.0.1:1"}, id="origin-other-port"),
    pytest.param({"Origin": "http://127.0.0.1:{port}/go"}, id="origin-malformed"),
    pytest.param({"Origin": "http://127.0.0.1:{port}", "Sec-Fetch-Site": "cross-site"}, id="fetch-cross-site"),
    pytest.param({"Sec-Fetch-Site": "same-site"}, id="fetch-same-site"),
]
SAME_SITE = [
    pytest.param({"Origin": "http://127.0.0.1:{port}", "Sec-Fetch-Site": "same-origin"}, id="origin-same"),
    pytest.param({"Origin": "null"}, id="origin-null"),
    pytest.param({}, id="no-origin"),
]


@pytest.fixture(scope="module")
def locked_server(
    tiny_registry: Path, fake_slack: FakeSlackApi, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[BotServer]:
    """A server with a passcode, which also answers for ``devbox.example``."""
    server = start_server(
        registry=tiny_registry,
        slack=fake_slack,
        workdir=tmp_path_factory.mktemp("hosts"),
        extra_env={"DEMO_PASSCODE": PASSCODE, ALLOWED_HOSTS: CONFIGURED},
    )
    yield server
    stop_server(server)


def port(server: BotServer) -> int:
    return int(server.url.rsplit(":", 1)[1])


def request(
    server: BotServer, method: str, path: str, host: str | None, body: bytes = b"", **headers: str
) -> tuple[int, dict[str, str], bytes]:
    """One request with ``Host: host`` (none when None), written as is."""
    lines = [f"{method} {path} HTTP/1.1"]
    if host is not None:
        lines.append(f"Host: {host.format(port=port(server))}")
    fields = {"Content-Type": "application/json", "Content-Length": str(len(body)), "Connection": "close", **headers}
    lines += [f"{k}: {v.format(port=port(server))}" for k, v in fields.items()]
    return exchange(server, ("\r\n".join(lines) + "\r\n\r\n").encode() + body)


def login(server: BotServer, passcode: str, host: str | None = "127.0.0.1:{port}", **headers: str) -> int:
    return request(server, "POST", "/go/login", host, json.dumps({"passcode": passcode}).encode(), **headers)[0]


@pytest.mark.parametrize(("host", "status"), REFUSED_HOSTS)
@pytest.mark.parametrize(("method", "path"), [("GET", "/go"), ("POST", "/go/login"), ("POST", "/slack/events")])
def test_a_request_for_another_host_is_refused(
    locked_server: BotServer, host: str | None, status: int, method: str, path: str
) -> None:
    got, headers, body = request(locked_server, method, path, host, b'{"passcode": "guess"}')
    assert got == status
    assert headers["connection"] == "close"
    message = json.loads(body)["error"]["message"]
    if status == 421:
        assert message == (
            "This server does not answer for the host this request names (its Host header). "
            "To reach it by that name, add the name to ALLOWED_HOSTS and start it again."
        )
    else:
        assert message == "Send one Host header naming this server."


@pytest.mark.parametrize("host", ACCEPTED_HOSTS)
def test_loopback_the_listening_address_and_configured_names_are_served(locked_server: BotServer, host: str) -> None:
    """Names, not ports, are compared: a forwarded port (``ssh -L 8080:localhost:3000``) still works."""
    status, _, body = request(locked_server, "GET", "/go", host)
    assert status == 200
    assert b"passcode" in body


def test_wrong_passcodes_from_a_rebinding_page_lock_nobody_out(locked_server: BotServer) -> None:
    for _ in range(MAX_FAILURES + 3):
        assert login(locked_server, "guess", "rebind.evil.example:3222") == 421
    assert login(locked_server, PASSCODE) == 204


@pytest.mark.parametrize("headers", CROSS_SITE)
def test_a_post_from_another_site_is_refused_and_counts_no_guess(
    locked_server: BotServer, headers: dict[str, str]
) -> None:
    for _ in range(MAX_FAILURES + 1):
        got, _, body = request(
            locked_server, "POST", "/go/login", "127.0.0.1:{port}", b'{"passcode": "guess"}', **headers
        )
        assert got == 403
        assert json.loads(body)["error"]["message"] == (
            "Requests from other sites are refused: use the page this server serves."
        )
    assert login(locked_server, PASSCODE) == 204


@pytest.mark.parametrize("headers", SAME_SITE)
def test_the_forms_own_posts_and_non_browsers_get_through(locked_server: BotServer, headers: dict[str, str]) -> None:
    """``Origin: null`` alone passes: the page's ``Referrer-Policy: no-referrer`` makes browsers without fetch
    metadata send it on the form's own posts."""
    assert login(locked_server, PASSCODE, **headers) == 204


def test_a_link_from_another_site_opens_the_form(locked_server: BotServer) -> None:
    """Reading is not refused by site: a link in Slack to the local form is a cross-site navigation."""
    status, _, _ = request(locked_server, "GET", "/go", "127.0.0.1:{port}", **{"Sec-Fetch-Site": "cross-site"})
    assert status == 200


@pytest.mark.parametrize("bound", ["0.0.0.0", "::", ""])
def test_listening_on_every_address_answers_for_this_machines_names(bound: str) -> None:
    hosts = accepted_hosts(bound, ("devbox.example",))
    assert {*LOOPBACK_HOSTS, "devbox.example", socket.gethostname().lower()} <= hosts
    assert "rebind.evil.example" not in hosts


def test_listening_on_one_address_answers_for_it_and_loopback_only() -> None:
    assert accepted_hosts("192.0.2.7", ()) == {*LOOPBACK_HOSTS, "192.0.2.7"}
    assert accepted_hosts("LocalHost", ()) == set(LOOPBACK_HOSTS)


@pytest.mark.parametrize("entry", ["http://devbox.example", "devbox.example:3000", "user@devbox", "a b"])
def test_allowed_hosts_names_hosts_only(entry: str) -> None:
    with pytest.raises(
        ValueError, match=f"ALLOWED_HOSTS lists host names or addresses without scheme or port, got {entry!r}"
    ):
        load_settings({ALLOWED_HOSTS: f"devbox.example,{entry}"})


def test_allowed_hosts_are_written_one_way() -> None:
    assert load_settings({ALLOWED_HOSTS: " DevBox.Example., ::1 ,[fe80:0::1],"}).allowed_hosts == (
        "devbox.example",
        "[::1]",
        "[fe80::1]",
    )


def test_docs_list_every_case() -> None:
    """docs/security.md gives each case a row."""
    doc = (Path(__file__).resolve().parents[2] / "docs" / "security.md").read_text(encoding="utf-8")
    ids = [p.id for p in [*REFUSED_HOSTS, *ACCEPTED_HOSTS, *CROSS_SITE, *SAME_SITE]]
    assert [i for i in ids if f"`{i}`" not in doc] == []
