"""A model's answer in Slack: one renderer per task, every task rendered, the answer messages within Slack's limits."""

from __future__ import annotations

import json
from typing import Any

import pytest

from bot.slack.answers import RENDERERS, answer_message, answer_parts
from bot.slack.ui import FSI, PDI, PREFORMATTED, QUOTE, TEXT_LIMIT, rich_text
from inference.registry import load_registry
from inference.tasks import TASKS
from tests.fakes.block_kit import message_problems

REGISTRY = load_registry()


def i(text: str) -> str:
    """``text`` as an echo shows it: isolated."""
    return FSI + text + PDI


def marked(block: dict[str, Any]) -> str:
    """A rich_text block written out with mrkdwn's marks for its styles and ``> `` before a quote."""
    marks = {"bold": "*", "italic": "_", "code": "`"}

    def run(element: dict[str, Any]) -> str:
        mark = "".join(marks[name] for name in element.get("style", {}))
        return mark + element["text"] + mark[::-1]

    return "\n".join(
        ("> " if part["type"] == QUOTE else "") + "".join(map(run, part["elements"])) for part in block["elements"]
    )


@pytest.mark.parametrize(
    ("task", "result", "expected"),
    [
        (
            "text-classification",
            {"labels": [{"label": "POSITIVE", "score": 0.9}]},
            f"`█████████░` *{i('POSITIVE')}* 90.0%",
        ),
        (
            "zero-shot-classification",
            {"labels": [{"label": "a", "score": 0.7}, {"label": "b", "score": 0.3}]},
            f"`███████░░░` *{i('a')}* 70.0%\n`███░░░░░░░` *{i('b')}* 30.0%",
        ),
        ("text-classification", {"labels": []}, "_No labels._"),
        ("summarization", {"summary": "Short.\nTwo lines.", "chunks": 1}, f"> {i('Short.')}\n{i('Two lines.')}"),
        ("translation", {"translation": "Bonjour", "chunks": 1}, f"> {i('Bonjour')}"),
        ("text-generation", {"text": "Hello there"}, f"> {i('Hello there')}"),
        ("text-generation", {"text": " \n"}, "_(no text)_"),
        ("question-answering", {"answer": "Paris", "score": 0.5}, f"*{i('Paris')}*  (50.0% confident)"),
        ("question-answering", {"answer": "", "score": 0.0}, "_(no answer found)_  (0.0% confident)"),
        ("sentence-similarity", {"scores": [{"sentence": "b", "score": 0.75}]}, f"`████████░░` *0.75*  {i('b')}"),
        ("sentence-similarity", {"scores": [{"sentence": "b", "score": -0.5}]}, f"`░░░░░░░░░░` *-0.50*  {i('b')}"),
        (
            "fill-mask",
            {"predictions": [{"token": " capital", "score": 0.8, "sequence": "Paris is the capital"}]},
            f"`████████░░` *{i('capital')}* 80.0%: {i('Paris is the capital')}",
        ),
        (
            "feature-extraction",
            {"dimensions": 384, "embedding": [0.1, 0.2]},
            f"A vector of *{i('384')}* dimensions: `[0.100, 0.200, …]`",
        ),
        (
            "image-classification",
            {"labels": [{"label": "tabby cat", "score": 0.8}]},
            f"`████████░░` *{i('tabby cat')}* 80.0%",
        ),
        (
            "zero-shot-image-classification",
            {"labels": [{"label": "dog", "score": 0.6}, {"label": "cat", "score": 0.4}]},
            f"`██████░░░░` *{i('dog')}* 60.0%\n`████░░░░░░` *{i('cat')}* 40.0%",
        ),
        (
            "object-detection",
            {"objects": [{"label": "cat", "score": 0.5, "box": {}}, {"label": "*person*", "score": 0.9, "box": {}}]},
            f"`█████████░` *{i('*person*')}* 90.0%\n`█████░░░░░` *{i('cat')}* 50.0%",
        ),
        ("object-detection", {"objects": [], "width": 1, "height": 1}, "_No objects found._"),
        ("image-to-text", {"caption": "a cat on a <b>mat</b>"}, f"> {i('a cat on a <b>mat</b>')}"),
        ("image-to-text", {"caption": ""}, "_(no caption)_"),
        (
            "automatic-speech-recognition",
            {
                "text": "Hello. Bye.",
                "chunks": [{"start": 0, "end": 30, "text": " Hello."}, {"start": 65.5, "end": 71, "text": "Bye."}],
            },
            f"`[0:00\u20130:30]` {i('Hello.')}\n`[1:05\u20131:11]` {i('Bye.')}",
        ),
        ("automatic-speech-recognition", {"text": "", "chunks": [], "duration": 3.0}, "_(no speech found)_"),
        ("no-such-task", {"x": "<y>"}, i('{"x": "<y>"}')),
    ],
)
def test_answer_parts_per_task(task: str, result: dict, expected: str) -> None:
    assert marked(rich_text(*answer_parts(task, result, "source"))) == expected


def test_entities_are_highlighted_inline_and_shown_as_typed() -> None:
    source = "<b>Ada</b> met Bob in London"
    entities = [
        {"label": "PER", "word": "Bob", "start": 15, "end": 18, "score": 0.9},
        {"label": "LOC", "word": "London", "start": 22, "end": 28, "score": 0.9},
    ]
    block = rich_text(*answer_parts("token-classification", {"entities": entities}, source))
    assert marked(block) == f"{i('<b>Ada</b> met ')}*{i('Bob')}* `{i('PER')}`{i(' in ')}*{i('London')}* `{i('LOC')}`"


def test_an_answer_is_titled_and_its_text_is_one_escaped_line() -> None:
    spec = REGISTRY.get("ask")
    message = answer_message(spec, {"text": "Hi <b> & *you*\nbye"}, source="q", elapsed_ms=1, request_id="r")
    assert marked(message["blocks"][0]) == f"*{spec.title}*\n> {i('Hi <b> & *you*')}\n{i('bye')}"
    assert message["text"] == f"{spec.title}: {i('Hi &lt;b&gt; &amp; *you*')} {i('bye')}"


def test_long_answers_fit_slack_limits() -> None:
    message = answer_message(REGISTRY.get("ask"), {"text": "word " * 5000}, source="q", elapsed_ms=1, request_id="r")
    assert message_problems(message) == []
    assert len(message["text"]) <= TEXT_LIMIT


def test_truncation_and_chunk_notes() -> None:
    spec = REGISTRY.get("summarize")
    text = json.dumps(
        answer_message(
            spec, {"summary": "s", "chunks": 3, "truncated": True}, source="x", elapsed_ms=1, request_id="r"
        ),
        ensure_ascii=False,
    )
    assert "3 parts" in text and "only its beginning" in text


def test_every_task_has_a_slack_renderer_and_every_renderer_a_task() -> None:
    """A task added to inference/tasks.py without a renderer in bot/slack/answers.py would show raw JSON."""
    assert set(RENDERERS) == set(TASKS), (
        f"no Slack renderer for {sorted(set(TASKS) - set(RENDERERS))}; "
        f"a renderer for no task: {sorted(set(RENDERERS) - set(TASKS))}"
    )


@pytest.mark.parametrize("task", sorted(TASKS))
def test_no_task_shows_its_answer_as_raw_json_even_when_empty(task: str) -> None:
    parts = answer_parts(task, {}, "source")
    assert parts and all(kind != PREFORMATTED for kind, _ in parts)


def test_a_long_transcript_is_cut_to_one_message_with_a_note_saying_from_when() -> None:
    chunks = [{"start": 30 * n, "end": 30 * (n + 1), "text": f"segment {n} " + "words " * 20} for n in range(20)]
    spec = next(s for s in REGISTRY if s.task == "automatic-speech-recognition")
    message = answer_message(
        spec, {"text": "", "chunks": chunks, "duration": 600.0}, source="", elapsed_ms=1.0, request_id="r1"
    )
    assert message_problems(message) == []
    shown = marked(message["blocks"][0])
    assert "segment 0" in shown and "segment 19" not in shown
    kept = shown.count("`[")
    assert 0 < kept < 20
    assert f"from {chunks[kept]['start'] // 60}:{chunks[kept]['start'] % 60:02d} on, it is left out" in shown


def test_a_transcript_s_chunks_are_not_counted_as_parts() -> None:
    spec = next(s for s in REGISTRY if s.task == "automatic-speech-recognition")
    chunks = [{"start": 0, "end": 30, "text": "a"}, {"start": 30, "end": 60, "text": "b"}]
    message = answer_message(
        spec, {"text": "a b", "chunks": chunks, "duration": 60.0}, source="", elapsed_ms=1.0, request_id="r1"
    )
    assert "processed in" not in json.dumps(message)
