"""Block Kit builders: escaped user text, one format per task, Slack's size limits."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.slack_text import strip_leading_mention, to_plain
from bot.slack_ui import (
    SECTION_LIMIT,
    answer_message,
    answer_text,
    compare_message,
    error_message,
    escape,
    help_message,
    home_view,
    model_picker_modal,
    placeholder_done,
    placeholder_message,
    usage_message,
    warning_message,
)
from inference.registry import load_registry
from tests.fakes.block_kit import message_problems, view_problems

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


def test_help_with_a_usage_line_longer_than_a_section_has_no_empty_section() -> None:
    wordy = dataclasses.replace(REGISTRY.get("ask"), description="A long description. " * 160)
    message = help_message(dataclasses.replace(REGISTRY, models=(wordy, *REGISTRY.models)))
    assert message_problems(message) == []


def test_placeholder_text_fits_whatever_the_titles() -> None:
    specs = [dataclasses.replace(spec, title="T" * 15_000) for spec in list(REGISTRY)[:3]]
    asked = placeholder_message(specs[0], user="U1", text="hi", compare=specs)
    done = placeholder_done(specs[0], user="U1", text="hi", elapsed_ms=1.0, failed=False, compare=specs)
    assert message_problems(asked) == [] and message_problems(done) == []


#: Long, empty, escaping-heavy and astral-plane texts: what pushes a builder past a limit.
TEXTS = st.text(max_size=4000) | st.sampled_from(["", "&" * 3000, "<!channel>" * 400, "🎉" * 3001, "\n" * 3000])
RESULTS = st.fixed_dictionaries(
    {},
    optional={
        "labels": st.lists(st.fixed_dictionaries({"label": TEXTS, "score": st.floats(0, 1)}), max_size=8),
        "summary": TEXTS,
        "text": TEXTS,
        "answer": TEXTS,
        "score": st.floats(0, 1),
        "scores": st.lists(st.fixed_dictionaries({"sentence": TEXTS, "score": st.floats(-1, 1)}), max_size=5),
        "entities": st.lists(
            st.fixed_dictionaries({"label": TEXTS, "start": st.integers(0, 99), "end": st.integers(0, 99)}), max_size=5
        ),
        "truncated": st.booleans(),
        "chunks": st.integers(1, 50),
    },
)


@settings(max_examples=150, deadline=None, database=None, derandomize=True, suppress_health_check=list(HealthCheck))
@given(spec=st.sampled_from(list(REGISTRY)), result=RESULTS, text=TEXTS, title=TEXTS, request_id=st.text(max_size=40))
def test_every_builder_stays_within_block_kit_limits(
    spec: Any, result: dict[str, Any], text: str, title: str, request_id: str
) -> None:
    """Whatever people type and models answer, Slack would take the message or view as built."""
    spec = dataclasses.replace(spec, title=title or "t", description=text)
    registry = dataclasses.replace(REGISTRY, models=(spec, *REGISTRY.models))
    columns = {spec.name: {"result": result, "request_id": request_id}, "sentiment": {"error": text}}
    messages = [
        answer_message(spec, result, source=text, elapsed_ms=1.0, request_id=request_id),
        error_message(spec, text, request_id=request_id),
        placeholder_message(spec, user=text, text=text),
        placeholder_done(spec, user=text, text=text, elapsed_ms=1.0, failed=True),
        warning_message(text, then=usage_message(spec)),
        help_message(registry, note=text),
        compare_message([spec, REGISTRY.get("sentiment")], text, columns),
    ]
    for message in messages:
        assert message_problems(message) == []
    assert view_problems(home_view(registry, {})) == []
    assert view_problems(model_picker_modal(registry, private_metadata="{}")) == []
