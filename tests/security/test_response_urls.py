"""Where the bot posts a command's ``response_url`` (issue 19, item 10).

The check used to compare ``urlsplit``'s host with Slack's but not the port (in
local mode the bot posted to its own ``/go/login``), and ``urlsplit`` and urllib
(which slack_sdk's ``WebhookClient`` sends with) read ``a\\@b`` as different hosts.
Now the URL is read once, as urllib reads it, held to what ``urlsplit`` reads, and
its scheme, host and port must all be Slack's (or, in local mode and tests, the
Slack API's stand-in).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from bot.core.slack_ops import SLACK_HOOKS, CannotPost, SlackOps, make_client, url_origin
from tests.conftest import BotServer, start_server, stop_server
from tests.fakes.slack_api import FakeSlackApi

#: Hostile response URLs, by the id docs/security.md gives them; none is ever posted to.
HOSTILE = [
    pytest.param("https://evil.example\\@hooks.slack.com/commands/T/1/x", id="backslash-at"),
    pytest.param("https://hooks.slack.com\\evil.example/x", id="backslash"),
    pytest.param("https://user@hooks.slack.com/commands/T/1/x", id="userinfo"),
    pytest.param("https://hooks.slack.com:x@evil.example/x", id="userinfo-with-colon"),
    pytest.param("https://%68ooks.slack.com/commands/T/1/x", id="percent-escaped-host"),
    pytest.param("https://hooks.slack.com%2f@evil.example/x", id="percent-escaped-slash"),
    pytest.param("https://hooks.sl\tack.com/x", id="tab-in-host"),
    pytest.param(" https://hooks.slack.com/x", id="leading-space"),
    pytest.param("<URL:https://hooks.slack.com/x>", id="url-wrapper"),
    pytest.param("https://hooks.slack.com:0x1bb/x", id="hex-port"),
    pytest.param("https://h\u03bfoks.slack.com/x", id="greek-omicron"),
    pytest.param("hooks.slack.com/commands/T/1/x", id="no-scheme"),
    pytest.param("ftp://hooks.slack.com/x", id="ftp"),
]
#: Addresses that parse cleanly but are not Slack's: refused by scheme, host or port.
NOT_SLACK = [
    pytest.param("http://hooks.slack.com/commands/T/1/x", ("http", "hooks.slack.com", 80), id="plain-http"),
    pytest.param("https://hooks.slack.com:8443/x", ("https", "hooks.slack.com", 8443), id="other-port"),
    pytest.param("https://hooks.slack.com.evil.example/x", ("https", "hooks.slack.com.evil.example", 443), id="suffix"),
    pytest.param("https://evilslack.com/x", ("https", "evilslack.com", 443), id="look-alike"),
    pytest.param("http://169.254.169.254/latest/meta-data", ("http", "169.254.169.254", 80), id="metadata-service"),
]
SLACKS = [
    pytest.param("https://hooks.slack.com/commands/T0001/1/abc", id="slack"),
    pytest.param("https://HOOKS.slack.com:443/commands/T0001/1/abc", id="slack-written-otherwise"),
]


def ops(api_url: str = "https://slack.com/api/") -> SlackOps:
    return SlackOps(make_client("xoxb-unused", api_url), api_url=api_url)


@pytest.mark.parametrize("url", HOSTILE)
def test_a_url_that_parsers_could_read_apart_has_no_origin(url: str) -> None:
    assert url_origin(url) is None
    with pytest.raises(CannotPost, match="refused"):
        ops().respond(url, {"text": "x"})


@pytest.mark.parametrize(("url", "origin"), NOT_SLACK)
def test_an_address_that_is_not_slacks_is_refused(url: str, origin: tuple[str, str, int]) -> None:
    assert url_origin(url) == origin
    assert origin not in ops().response_url_origins
    with pytest.raises(CannotPost, match="refused"):
        ops().respond(url, {"text": "x"})


@pytest.mark.parametrize("url", SLACKS)
def test_slacks_hooks_are_accepted(url: str) -> None:
    assert url_origin(url) == SLACK_HOOKS
    assert SLACK_HOOKS in ops().response_url_origins


def test_a_stand_in_for_the_slack_api_is_accepted_on_its_own_port_only() -> None:
    origins = ops("http://127.0.0.1:8000/api/").response_url_origins
    assert origins == {SLACK_HOOKS, ("http", "127.0.0.1", 8000)}


@pytest.fixture(scope="module")
def server(tiny_registry: Path, fake_slack: FakeSlackApi, tmp_path_factory: pytest.TempPathFactory):
    """A server of its own: the answers it cannot deliver are retried for minutes, in its log alone."""
    running = start_server(registry=tiny_registry, slack=fake_slack, workdir=tmp_path_factory.mktemp("response-urls"))
    yield running
    stop_server(running)


@pytest.fixture
def recorder() -> Iterator[tuple[str, list[str]]]:
    """Another server on 127.0.0.1, where nothing must ever be posted: its origin and what it received."""
    received: list[str] = []

    class Record(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            received.append(self.path)
            self.send_response(200)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Record)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", received
    finally:
        server.shutdown()
        server.server_close()


#: Response URLs and what the log says of them: ``{bot}``, ``{fake}`` and ``{recorder}`` are the origins of
#: the bot, the fake Slack API and the recorder, ``{..._hostport}`` the same without the scheme.
THROUGH_THE_SERVER = [
    pytest.param("{bot}/go/login", "{bot} is not Slack", id="server-own-port"),
    pytest.param("{recorder}/hook", "{recorder} is not Slack", id="server-another-port"),
    pytest.param(
        "http://{recorder_hostport}\\@{fake_hostport}/response/x", "different addresses", id="server-backslash-at"
    ),
    pytest.param("http://evil@{fake_hostport}/response/x", "different addresses", id="server-userinfo"),
]


@pytest.mark.e2e
@pytest.mark.parametrize(("template", "logged"), THROUGH_THE_SERVER)
def test_the_server_never_posts_to_a_response_url_that_is_not_slacks(
    server: BotServer, recorder: tuple[str, list[str]], template: str, logged: str
) -> None:
    """A command in a channel the bot is not in is answered through its response_url, if that is Slack's."""
    origin, received = recorder
    origins = {"bot": server.url, "fake": server.slack.origin, "recorder": origin}
    hostports = {f"{name}_hostport": urlsplit(url).netloc for name, url in origins.items()}
    url = template.format(**origins, **hostports)
    refusals = refusal_counter(server, logged.format(**origins))

    server.slack.fail("chat.postMessage", error="not_in_channel", times=1)
    assert server.sender.command("/tiny-sentiment", "private", channel_id="CPRIVATE", response_url=url).status == 200

    # The placeholder is refused and the refusal logged; with no route left to the person, no model runs.
    assert server.slack.wait_for(lambda: refusals() >= 1, 30), server.logs()[-2000:]
    server.wait_idle()
    assert refusals() == 1
    assert received == []


@pytest.mark.e2e
def test_the_server_posts_to_a_response_url_of_the_slack_api_it_talks_to(server: BotServer) -> None:
    """The same path with a response URL of the Slack API's stand-in: both posts arrive."""
    url = server.slack.new_response_url()
    server.slack.fail("chat.postMessage", error="not_in_channel", times=1)
    server.sender.command("/tiny-sentiment", "private", channel_id="CPRIVATE", response_url=url)
    assert server.slack.wait_for(lambda: len(server.slack.response_posts(url)) >= 2, 30)


def refusal_counter(server: BotServer, words: str) -> Callable[[], int]:
    """How many refusals of a response_url saying ``words`` the server logged since this call."""
    start = len(server.logs())

    def count() -> int:
        return sum("response_url refused" in line and words in line for line in server.logs()[start:].splitlines())

    return count


def test_docs_list_every_case() -> None:
    """docs/security.md gives each case a row."""
    doc = (Path(__file__).resolve().parents[2] / "docs" / "security.md").read_text(encoding="utf-8")
    ids = [p.id for p in [*HOSTILE, *NOT_SLACK, *SLACKS, *THROUGH_THE_SERVER]]
    assert [i for i in ids if f"`{i}`" not in doc] == []
