"""Faults end to end: a worker killed mid-request, Slack dropping connections, the invoke CLI."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from tests.conftest import ROOT, BotServer
from tests.e2e.test_slack import flat, mention, placeholder, wait_for_reply

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


def test_killed_worker_gives_an_error_and_the_next_request_a_fresh_worker(server: BotServer, channel: str) -> None:
    before = server.worker_pids()
    server.sender.command("/tiny-crash", "first", channel_id=channel)
    parent = placeholder(server, channel)
    deadline = time.monotonic() + 20
    while not (new := server.worker_pids() - before) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert new, "no worker process started"
    for pid in new:
        os.kill(pid, signal.SIGKILL)  # mid-request: the model is still loading
    [reply] = wait_for_reply(server, channel, parent["ts"])
    assert "stopped with an error" in flat(reply) and "request `" in flat(reply)

    server.sender.command("/tiny-crash", "second", channel_id=channel)
    assert server.slack.wait_for(
        lambda: len([m for m in server.slack.messages(channel) if "thread_ts" not in m]) == 2, 20
    )
    second = [m for m in server.slack.messages(channel) if "thread_ts" not in m][1]
    [reply] = wait_for_reply(server, channel, second["ts"])
    assert "POSITIVE" in flat(reply) or "NEGATIVE" in flat(reply)


def test_dropped_connections_and_server_errors_are_retried(server: BotServer, channel: str) -> None:
    server.slack.fail("chat.postMessage", drop=True, times=1)
    server.slack.fail("chat.postMessage", status=500, times=1)
    server.sender.command("/tiny-sentiment", "flaky slack", channel_id=channel)
    parent = placeholder(server, channel)
    [reply] = wait_for_reply(server, channel, parent["ts"])
    assert "POSITIVE" in flat(reply) or "NEGATIVE" in flat(reply)
    assert len([m for m in server.slack.messages(channel) if "thread_ts" not in m]) == 1


def invoke(server: BotServer, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bot", "invoke", *args, "--url", server.url],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_invoke_cli_calls_the_form_endpoint(server: BotServer) -> None:
    done = invoke(server, "tiny-sentiment", "I love it")
    assert done.returncode == 0, done.stderr
    body = json.loads(done.stdout)
    assert body["model"] == "tiny-sentiment" and body["result"]["labels"]
    failed = invoke(server, "nope", "text")
    assert failed.returncode == 1
    assert "tiny-sentiment" in json.loads(failed.stdout)["error"]["message"]


def test_a_failing_listener_still_answers_with_an_error(server: BotServer, channel: str) -> None:
    """The thread cannot be read: the lazy listener raises, and the person still gets one clear reply."""
    server.slack.fail("conversations.replies", error="missing_scope", times=1)
    parent_ts = f"{int(time.time())}.000700"
    ts = f"{int(time.time())}.000800"
    event = mention(channel, "tiny-summarize", ts=ts, thread_ts=parent_ts)
    server.sender.event(event)
    [reply] = wait_for_reply(server, channel, parent_ts)
    assert "could not be started" in flat(reply) and "request `" in flat(reply)
