"""Conversations end to end: signed Slack events into ``python -m bot serve``, the model worker's own
requests read back (tests/e2e/request_log), so a turn is checked by what the model received, not by
what a random-weight model says; and the app's own chat surface answered (status, prompts, title).
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bot.slack.conversation import quoted_text
from tests.conftest import BOT_TOKEN, BotServer, start_server, stop_server
from tests.e2e.conftest import assert_within_limits
from tests.fakes.slack_api import BOT_USER_ID, FakeSlackApi

pytestmark = [pytest.mark.e2e, pytest.mark.slow]
ANSWER_WAIT = 90.0  # the first request starts the chat model's worker
HOOK = Path(__file__).parent / "request_log"


@pytest.fixture(scope="module")
def chat_server(e2e_registry: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[BotServer, Path]]:
    workdir = tmp_path_factory.mktemp("chat-e2e")
    log = workdir / "requests.jsonl"
    env = {
        "E2E_REQUEST_LOG": str(log),
        "PYTHONPATH": os.pathsep.join(p for p in (str(HOOK), os.environ.get("PYTHONPATH", "")) if p),
    }
    with FakeSlackApi(expect_token=BOT_TOKEN) as slack:
        running = start_server(registry=e2e_registry, slack=slack, workdir=workdir, extra_env=env)
        yield running, log
        stop_server(running)
        assert_within_limits(running)


def requests_received(log: Path) -> list[dict[str, Any]]:
    if not log.exists():
        return []
    return [json.loads(line)["event"] for line in log.read_text(encoding="utf-8").splitlines() if line]


def in_thread(server: BotServer, channel: str, thread_ts: str) -> list[dict[str, Any]]:
    return [m for m in server.slack.messages(channel) if m.get("thread_ts") == thread_ts and m["ts"] != thread_ts]


def answers(server: BotServer, channel: str, thread_ts: str) -> list[dict[str, Any]]:
    return [m for m in in_thread(server, channel, thread_ts) if "feedback:" in json.dumps(m.get("blocks", []))]


def test_two_turns_in_an_ask_thread_and_the_second_request_carries_the_first(
    chat_server: tuple[BotServer, Path], channel: str
) -> None:
    server, log = chat_server
    assert server.sender.command("/tiny-ask", "Where is the tower?", channel_id=channel, user_id="U7").status == 200
    assert server.slack.wait_for(lambda: any("thread_ts" not in m for m in server.slack.messages(channel)), 20)
    parent = next(m for m in server.slack.messages(channel) if "thread_ts" not in m)
    assert server.slack.wait_for(lambda: answers(server, channel, parent["ts"]), ANSWER_WAIT)
    [first] = [r for r in requests_received(log) if r["reply"]["channel"] == channel]
    assert first["text"] == "Where is the tower?" and "messages" not in first

    reply_ts = f"{float(parent['ts']) + 50:.6f}"
    event = {
        "type": "message",
        "channel_type": "channel",
        "channel": channel,
        "user": "U7",
        "text": "And how &lt;tall&gt; is it?",
        "ts": reply_ts,
        "event_ts": reply_ts,
        "thread_ts": parent["ts"],
        "parent_user_id": BOT_USER_ID,
    }
    server.slack.set_thread(channel, parent["ts"], [parent, {"user": "U7", "text": event["text"], "ts": reply_ts}])
    assert server.sender.event(event).status == 200
    assert server.slack.wait_for(lambda: len(answers(server, channel, parent["ts"])) == 2, ANSWER_WAIT)
    second = [r for r in requests_received(log) if r["reply"]["channel"] == channel][1]
    first_answer = answers(server, channel, parent["ts"])[0]
    assert second["text"] == "And how <tall> is it?"
    said = quoted_text(first_answer["blocks"])  # the model's words as the thread shows them
    expected = [{"role": "user", "content": "Where is the tower?"}]
    expected += [{"role": "assistant", "content": said}] if said else []  # a model that said nothing: no turn
    assert second["messages"] == expected
    server.wait_idle()
    assert len(answers(server, channel, parent["ts"])) == 2  # exactly one answer per turn


def test_the_apps_chat_surface_is_answered_with_status_prompts_and_title(chat_server: tuple[BotServer, Path]) -> None:
    server, log = chat_server
    dm, thread_ts = "D0CHAT0001", "1700000500.000100"
    started = {
        "type": "assistant_thread_started",
        "assistant_thread": {"user_id": "U8", "channel_id": dm, "thread_ts": thread_ts, "context": {}},
        "event_ts": "1700000500.000200",
    }
    assert server.sender.event(started).status == 200
    assert server.slack.wait_for(lambda: server.slack.calls("assistant.threads.setSuggestedPrompts"), 20)
    [prompts] = server.slack.calls("assistant.threads.setSuggestedPrompts")
    assert prompts.params["prompts"][0]["message"] == "Where is the tower?"

    server.slack.set_thread(dm, thread_ts, [{"user": BOT_USER_ID, "bot_id": "BBOT", "text": "Hi!"}])
    message = {
        "type": "message",
        "channel_type": "im",
        "channel": dm,
        "user": "U8",
        "text": "What is a cold start?",
        "ts": "1700000500.000300",
        "event_ts": "1700000500.000300",
        "thread_ts": thread_ts,
    }
    assert server.sender.event(message).status == 200
    assert server.slack.wait_for(lambda: answers(server, dm, thread_ts), ANSWER_WAIT)
    [status] = server.slack.calls("assistant.threads.setStatus")
    assert status.params["thread_ts"] == thread_ts and "thinking" in status.params["status"]
    [title] = server.slack.calls("assistant.threads.setTitle")
    assert title.params["title"] == "What is a cold start?"
    [request] = [r for r in requests_received(log) if r["reply"]["channel"] == dm]
    assert request["text"] == "What is a cold start?" and request["messages"] == []
    assert request["reply"]["placeholder_ts"] == ""
