"""Answers that stream, end to end through ``python -m bot serve``: partials grow one reply, the answer replaces it once.

The server runs a tiny chat model on onnxruntime-genai. A fault hook (a ``sitecustomize`` on the server's
``PYTHONPATH``, so every worker process loads it) slows each generated token down, so there is time for
partials, and fails a generation part-way when the prompt asks for it.
"""

from __future__ import annotations

import json
import threading
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bot.slack.streaming import STILL_WRITING
from inference.registry import load_registry
from tests.conftest import BOT_TOKEN, ROOT, BotServer, start_server, stop_server
from tests.e2e.test_slack import flat, mention, placeholder, thread_replies
from tests.fakes.slack_api import FakeSlackApi
from tests.genai_models import build_chat_models
from tests.tiny_models import warm, write_registry

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

#: Seconds each token takes under the hook, and how many the model writes: about 3 s of writing.
TOKEN_DELAY, TOKENS = 0.05, 60
FAIL_WORD = "fail-mid-stream"
HOOK = f'''
import os, time
if os.environ.get("STREAM_TEST_HOOK"):
    import inference.service as service
    _handle, _call, _state = service.handle, service.Partials.__call__, {{"text": "", "tokens": 0}}

    def handle(event, **options):
        _state.update(text=str(event.get("text", "")) if isinstance(event, dict) else "", tokens=0)
        return _handle(event, **options)

    def call(self, text):
        time.sleep({TOKEN_DELAY})
        _state["tokens"] += 1
        if "{FAIL_WORD}" in _state["text"] and _state["tokens"] > {TOKENS // 2}:
            raise RuntimeError("a fault injected part-way through the generation")
        return _call(self, text)

    service.handle, service.Partials.__call__ = handle, call
'''


@pytest.fixture(scope="module")
def streaming_server(tiny_registry: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[BotServer]:
    root = tmp_path_factory.mktemp("streaming")
    chat = load_registry(build_chat_models(root / "models", tiny_registry.parent / "chat")).get("genai-qwen")
    entry = {
        "name": "chat",
        "task": "text-generation",
        "model": str(chat.local_path),
        "backend": "onnxruntime-genai",
        "quantize": "none",
        "memory": 512,
        "title": "Tiny chat",
        "example": "Where is the tower?",
        "parameters": {"max_new_tokens": TOKENS, "min_new_tokens": TOKENS, "do_sample": False},
    }
    registry = write_registry(root / "models.yaml", [entry])
    warm(load_registry(registry))
    hook = root / "hook"
    hook.mkdir()
    (hook / "sitecustomize.py").write_text(HOOK, encoding="utf-8")
    environment = {"PYTHONPATH": f"{hook}:{ROOT}", "STREAM_TEST_HOOK": "1", "PARTIAL_INTERVAL_SECONDS": "0.4"}
    with FakeSlackApi(expect_token=BOT_TOKEN) as slack:
        server = start_server(
            registry=registry, slack=slack, workdir=tmp_path_factory.mktemp("streaming-server"), extra_env=environment
        )
        yield server
        stop_server(server)


def _streamed_updates(server: BotServer, channel: str) -> list[dict[str, Any]]:
    """Every message the bot posted or updated with the text so far, in order."""
    return [
        call.params
        for call in server.slack.calls()
        if call.method in {"chat.postMessage", "chat.update"}
        and call.params.get("channel") == channel
        and STILL_WRITING in json.dumps(call.params.get("blocks", []), ensure_ascii=False)
    ]


def _answers(server: BotServer, channel: str, thread_ts: str) -> list[dict[str, Any]]:
    """The thread's replies but the placeholder (a mention's placeholder is the thread's first reply)."""
    return [
        m
        for m in thread_replies(server, channel, thread_ts)
        if "Working on it" not in flat(m) and "asked" not in m["text"]
    ]


def _final(message: dict[str, Any]) -> bool:
    """An answer (its feedback buttons) or an error, no longer being written."""
    text = flat(message)
    done = "feedback" in text or "could not answer" in text
    return done and STILL_WRITING not in text and not message.get("streaming")


def _answer(server: BotServer, channel: str, thread_ts: str, *, timeout: float = 90) -> dict[str, Any]:
    """The thread's one answer once it is no longer being written."""

    def done() -> bool:
        answers = _answers(server, channel, thread_ts)
        return bool(answers) and all(_final(m) for m in answers)

    assert server.slack.wait_for(done, timeout)
    [reply] = _answers(server, channel, thread_ts)
    return reply


def test_a_mention_grows_one_reply_and_the_answer_replaces_it_once(streaming_server: BotServer) -> None:
    server, channel = streaming_server, "CSTREAM1"
    ts = f"{int(time.time())}.000100"
    server.sender.event(mention(channel, "chat Where is the tower?", ts=ts))
    answer = _answer(server, channel, ts)
    partials = _streamed_updates(server, channel)
    assert len(partials) >= 2, (partials, flat(answer))
    assert "feedback" in flat(answer) and STILL_WRITING not in flat(answer)
    finals = [
        c
        for c in server.slack.calls()
        if c.method in {"chat.update", "chat.postMessage"}
        and c.params.get("ts", c.params.get("thread_ts")) in {answer["ts"], ts}
        and "actions" in json.dumps(c.params.get("blocks", []))
    ]
    assert len(finals) == 1, "the final answer is posted exactly once"
    server.wait_idle()
    assert len(_answers(server, channel, ts)) == 1


def test_a_failure_part_way_ends_the_reply_with_the_error(streaming_server: BotServer) -> None:
    server, channel = streaming_server, "CSTREAM2"
    ts = f"{int(time.time())}.000200"
    server.sender.event(mention(channel, f"chat {FAIL_WORD} please", ts=ts))
    answer = _answer(server, channel, ts)
    assert _streamed_updates(server, channel), "no partial came before the failure"
    assert "could not answer" in flat(answer) and "request `" in flat(answer)


def test_a_slash_command_streams_through_slacks_streaming_methods(streaming_server: BotServer) -> None:
    server, channel = streaming_server, "CSTREAM3"
    server.slack.allow_streaming()
    try:
        server.sender.command("/chat", "Where is the tower?", channel_id=channel)
        parent = placeholder(server, channel)
        answer = _answer(server, channel, parent["ts"])
    finally:
        server.slack.allow_streaming(False)
    here = [c.method for c in server.slack.calls() if c.params.get("channel") == channel]
    assert here.count("chat.startStream") == 1 and here.count("chat.stopStream") == 1, here
    assert here.count("chat.appendStream") >= 1
    assert "feedback" in flat(answer) and not answer.get("streaming")


def test_the_form_shows_the_text_as_it_arrives(streaming_server: BotServer) -> None:
    """The form's run, and its poll for the text so far (``POST /go/partial``) while it waits."""

    stream_id = "a" * 32
    seen: list[str] = []
    finished: dict[str, Any] = {}

    def run() -> None:
        body = json.dumps({"model": "chat", "text": "Where is the tower?", "stream": stream_id}).encode()
        request = urllib.request.Request(f"{streaming_server.url}/go", body, {"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=60) as response:
            finished.update(json.load(response))

    worker = threading.Thread(target=run)
    worker.start()
    while worker.is_alive():
        body = json.dumps({"stream": stream_id}).encode()
        request = urllib.request.Request(
            f"{streaming_server.url}/go/partial", body, {"Content-Type": "application/json"}
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            text = json.load(response).get("text", "")
        if text and (not seen or seen[-1] != text):
            seen.append(text)
        time.sleep(0.2)
    worker.join()
    assert len(seen) >= 2, seen
    assert finished["result"]["text"].startswith(seen[0][:5])
