"""Block Kit builders: escaped user text, one format per task, Slack's size limits."""

from __future__ import annotations

import json

import pytest

from bot.slack_text import strip_leading_mention, to_plain
from bot.slack_ui import (
    SECTION_LIMIT,
    answer_message,
    answer_text,
    escape,
    help_message,
    home_view,
    placeholder_message,
)
from inference.registry import load_registry

REGISTRY = load_registry()
HOSTILE = "<!channel> <!here> <@U999> <https://evil.example|click me> & <script>"


def all_text(message: dict) -> str:
    return json.dumps(message, ensure_ascii=False)


def test_escape() -> None:
    assert escape("<!channel> & <@U1>") == "&lt;!channel&gt; &amp; &lt;@U1&gt;"


@pytest.mark.parametrize(
    ("task", "result", "expected"),
    [
        ("text-classification", {"labels": [{"label": "POSITIVE", "score": 0.9}]}, "*POSITIVE* 90.0%"),
        (
            "zero-shot-classification",
            {"labels": [{"label": "a", "score": 0.7}, {"label": "b", "score": 0.3}]},
            "*a* 70.0%",
        ),
        ("summarization", {"summary": "Short.", "chunks": 1}, "Short."),
        ("translation", {"translation": "Bonjour", "chunks": 1}, "Bonjour"),
        ("text-generation", {"text": "Hello there"}, "Hello there"),
        ("question-answering", {"answer": "Paris", "score": 0.5, "start": 0, "end": 5}, "*Paris*  (50.0% confident)"),
        ("sentence-similarity", {"source": "a", "scores": [{"sentence": "b", "score": 0.75}]}, "*0.75*"),
        (
            "fill-mask",
            {"predictions": [{"token": "capital", "score": 0.8, "sequence": "Paris is the capital"}]},
            "*capital* 80.0%",
        ),
        ("feature-extraction", {"dimensions": 384, "embedding": [0.1, 0.2]}, "*384* dimensions"),
    ],
)
def test_answer_text_per_task(task: str, result: dict, expected: str) -> None:
    assert expected in answer_text(task, result, "source")


def test_entities_are_highlighted_inline_and_escaped() -> None:
    source = "<b>Ada</b> met Bob in London"
    entities = [
        {"label": "PER", "word": "Bob", "start": 15, "end": 18, "score": 0.9},
        {"label": "LOC", "word": "London", "start": 22, "end": 28, "score": 0.9},
    ]
    text = answer_text("token-classification", {"entities": entities}, source)
    assert text == "&lt;b&gt;Ada&lt;/b&gt; met *Bob* `PER` in *London* `LOC`"


def test_hostile_text_never_reaches_slack_unescaped() -> None:
    spec = REGISTRY.get("ask")
    messages = [
        placeholder_message(spec, user="U1", text=HOSTILE),
        answer_message(spec, {"text": HOSTILE}, source=HOSTILE, elapsed_ms=10, request_id="r1"),
        answer_message(
            REGISTRY.get("ner"),
            {"entities": [{"label": "<!channel>", "start": 0, "end": 10}]},
            source=HOSTILE,
            elapsed_ms=1,
            request_id="r",
        ),
    ]
    for message in messages:
        text = all_text(message)
        for forbidden in ("<!channel>", "<!here>", "<@U999>", "<https://evil", "<script>"):
            assert forbidden not in text


def test_long_answers_fit_slack_limits() -> None:
    message = answer_message(REGISTRY.get("ask"), {"text": "word " * 5000}, source="q", elapsed_ms=1, request_id="r")
    for block in message["blocks"]:
        if block["type"] == "section":
            assert len(block["text"]["text"]) <= SECTION_LIMIT
    assert len(message["text"]) <= 3000


def test_truncation_and_chunk_notes() -> None:
    spec = REGISTRY.get("summarize")
    text = all_text(
        answer_message(spec, {"summary": "s", "chunks": 3, "truncated": True}, source="x", elapsed_ms=1, request_id="r")
    )
    assert "3 parts" in text and "only its beginning" in text


def test_help_and_home_list_every_model() -> None:
    help_text, home = all_text(help_message(REGISTRY)), all_text(home_view(REGISTRY, {"sentiment": 3}))
    for spec in REGISTRY:
        assert spec.command in help_text and spec.title in home
    assert "used 3 times" in home


def test_slack_markup_to_plain_text() -> None:
    assert to_plain("hi <@U1> see <https://a.example|the doc> &amp; <https://b.example> <!here>") == (
        "hi @U1 see the doc & https://b.example @here"
    )
    assert strip_leading_mention("<@UBOT> summarize this") == "summarize this"
