"""Partial text while a model generates: the throttle, the handler's sink, and the runners that stream."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from inference.genai_convert import convert
from inference.registry import ModelSpec, load_registry
from inference.runners.genai import TextGenerationGenai
from inference.service import Partials, handle, partial_record
from tests.fakes.specs import model_spec
from tests.genai_models import build_chat_models


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_partials_send_the_first_words_half_an_interval_in_then_at_most_once_per_interval() -> None:
    sent: list[tuple[int, str]] = []
    clock = Clock()
    partials = Partials(lambda seq, text: sent.append((seq, text)), interval=1.0, clock=clock)
    partials(lambda: "Hi")  # too soon: a quick answer sends no partial at all
    clock.now += 0.5
    partials(lambda: "  ")  # blank: nothing to show yet
    partials(lambda: "Hello")
    clock.now += 0.5
    partials(lambda: "Hello there")  # too soon: merged into the next one
    clock.now += 0.6
    partials(lambda: "Hello there, friend")
    clock.now += 2
    partials(lambda: "Hello there, friend")  # unchanged: not sent again
    assert sent == [(1, "Hello"), (2, "Hello there, friend")]


def test_text_is_decoded_only_when_a_partial_is_due() -> None:
    decoded: list[int] = []
    clock = Clock()
    partials = Partials(lambda seq, text: None, interval=1.0, clock=clock)
    clock.now += 0.5
    for step in range(10):
        partials(lambda step=step: decoded.append(step) or f"word {step}")
    assert decoded == [0]


def test_a_failing_sink_costs_only_its_partial() -> None:
    def sink(seq: int, text: str) -> None:
        raise ConnectionError("router unreachable")

    Partials(sink, interval=0.0)(lambda: "words")  # no exception


def test_an_unfinished_character_is_not_sent() -> None:
    sent: list[str] = []
    Partials(lambda seq, text: sent.append(text), interval=0.0)(lambda: "caf\ufffd")
    assert sent == ["caf"]


class StreamingRunner:
    streams = True

    def run(self, text: str, parameters: dict[str, Any], *, on_text: Callable[..., None] | None = None) -> dict:
        words: list[str] = []
        for word in text.split():
            words.append(word)
            if on_text is not None:
                on_text(lambda: " ".join(words))
        return {"text": " ".join(words)}


def test_handle_passes_partials_to_the_sink_and_returns_the_same_result(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PARTIAL_INTERVAL_SECONDS", "0")
    spec = model_spec("chat", task="text-generation")
    sent: list[tuple[int, str]] = []
    event = {"text": "one two three", "reply": {"request_id": "r1"}}
    streamed = handle(event, spec=spec, get_runner=StreamingRunner, on_partial=lambda s, t: sent.append((s, t)))
    plain = handle(event, spec=spec, get_runner=StreamingRunner)
    assert sent == [(1, "one"), (2, "one two"), (3, "one two three")]
    assert streamed["result"] == plain["result"] == {"text": "one two three"}


def test_a_partial_record_names_the_request_the_partial_and_the_text() -> None:
    event = {"text": "hi", "reply": {"request_id": "r1", "source": "slack"}}
    record = partial_record(event, model="chat", sequence=2, text="Hello")
    assert record == {"partial": {"model": "chat", "sequence": 2, "text": "Hello"}, "reply": event["reply"]}


@pytest.fixture(scope="module")
def qwen(tmp_path_factory: pytest.TempPathFactory, tiny_registry: Path) -> tuple[ModelSpec, Path]:
    registry = load_registry(build_chat_models(tmp_path_factory.mktemp("stream-models"), tiny_registry.parent / "chat"))
    spec = registry.get("genai-qwen")
    target = tmp_path_factory.mktemp("stream-qwen")
    convert(spec, spec.local_path, target, quantize=spec.quantize)
    return spec, target


@pytest.mark.slow
def test_the_genai_runner_passes_the_growing_reply_and_its_final_text_is_unchanged(
    qwen: tuple[ModelSpec, Path],
) -> None:
    spec, folder = qwen
    runner = TextGenerationGenai(spec, folder)
    settings = {"max_new_tokens": 12, "min_new_tokens": 12, "do_sample": False}
    seen: list[str] = []
    streamed = runner.run("Where is the tower?", settings, on_text=lambda text: seen.append(text()))
    assert streamed == runner.run("Where is the tower?", settings)
    assert len(seen) == 12
    assert seen[-1] == streamed["text"]


@pytest.mark.slow
def test_the_torch_runner_streams_too(tiny_registry: Path) -> None:
    from inference.runners import load_runner

    spec = load_registry(tiny_registry).get("tiny-ask")
    runner = load_runner(spec)
    seen: list[str] = []
    streamed = runner.run(
        "Where is the tower?", {"max_new_tokens": 6, "do_sample": False}, on_text=lambda text: seen.append(text())
    )
    assert streamed == runner.run("Where is the tower?", {"max_new_tokens": 6, "do_sample": False})
    assert seen and seen[-1] == streamed["text"]


def test_a_sender_that_fails_once_gets_no_more_partials_of_that_request(monkeypatch: pytest.MonkeyPatch) -> None:
    from inference import handler

    calls: list[int] = []

    def sender(record: dict[str, Any]) -> None:
        calls.append(record["partial"]["sequence"])
        raise TimeoutError("the router's endpoint did not answer")

    monkeypatch.setattr(handler, "_partial_senders", [sender])
    monkeypatch.setattr(handler, "_spec", lambda: model_spec("chat", task="text-generation"))
    sink = handler.partial_sink({"text": "hi", "reply": {"request_id": "r1"}})
    assert sink is not None
    partials = Partials(sink, interval=0.0)
    partials(lambda: "one")
    partials(lambda: "one two")
    assert calls == [1]
    assert handler.partial_sink({"text": "hi"}) is None  # not from the router: nowhere to send
