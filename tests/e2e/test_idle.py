"""The local server's idle signal (``GET /local/activity``), which tests wait on instead of sleeping.

A server of its own, so that its one model worker can be stopped (SIGSTOP) without holding up
the other end-to-end tests' models.
"""

from __future__ import annotations

import http.client
import os
import signal
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from bot.local.server import ACTIVITY_PATH
from tests.conftest import BOT_TOKEN, BotServer, start_server, stop_server
from tests.e2e.test_slack import flat, placeholder, thread_replies, wait_for_reply
from tests.fakes.slack_api import FakeSlackApi

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


@pytest.fixture(scope="module")
def server(tiny_registry: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[BotServer]:
    with FakeSlackApi(expect_token=BOT_TOKEN) as slack:
        running = start_server(registry=tiny_registry, slack=slack, workdir=tmp_path_factory.mktemp("idle"))
        yield running
        stop_server(running)


def answer(server: BotServer, channel: str, text: str) -> dict:
    """Run ``/tiny-sentiment`` and wait for its answer; the placeholder."""
    server.sender.command("/tiny-sentiment", text, channel_id=channel)
    parent = placeholder(server, channel)
    wait_for_reply(server, channel, parent["ts"])
    return parent


def test_a_model_run_keeps_the_server_busy_until_its_answer_is_posted(server: BotServer) -> None:
    answer(server, "CWARM", "warm the model up")
    server.wait_idle()
    assert server.activity() == {"lazy": 0, "models": 0, "deliveries": 0, "idle": True}

    (worker,) = server.worker_pids()
    os.kill(worker, signal.SIGSTOP)  # the model now holds whatever it is given
    try:
        server.sender.command("/tiny-sentiment", "held", channel_id="CHELD")
        parent = placeholder(server, "CHELD")
        assert server.slack.wait_for(lambda: server.activity()["models"] == 1, 10), server.activity()
        assert not server.activity()["idle"]
        with pytest.raises(AssertionError, match="still busy"):
            server.wait_idle(timeout=1)
    finally:
        os.kill(worker, signal.SIGCONT)
    server.wait_idle()
    # Idle means delivered: the answer is in the thread at once, without waiting for it.
    [reply] = thread_replies(server, "CHELD", parent["ts"])
    assert "POSITIVE" in flat(reply) or "NEGATIVE" in flat(reply)


def test_lazy_work_counts_from_the_ack_until_it_ends(server: BotServer) -> None:
    server.slack.set_latency(2.0, ["chat.postMessage"])  # the lazy half's placeholder takes 2 s
    try:
        response = server.sender.command("/tiny-sentiment", "slow Slack", channel_id="CLAZY")
        assert response.status == 200
        assert server.activity()["lazy"] >= 1, "the ack returned, its lazy half is still posting"
    finally:
        server.slack.heal()
    server.wait_idle()
    assert len(server.slack.messages("CLAZY")) == 2  # the placeholder and the answer in its thread


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE"])
def test_the_activity_is_only_read(server: BotServer, method: str) -> None:
    """Anything but GET or HEAD on the path goes to the router, which has no such route."""
    url = urlsplit(server.url)
    connection = http.client.HTTPConnection(url.hostname, url.port, timeout=10)
    try:
        connection.request(method, ACTIVITY_PATH, body=b"", headers={"Content-Length": "0"})
        response = connection.getresponse()
        assert response.status == 404 and b"idle" not in response.read()
    finally:
        connection.close()
