"""Block Kit builders and views: echoed text shown literally, Slack's size limits (answers per task: test_answers)."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.slack.answers import answer_message, compare_message, error_message
from bot.slack.ui import (
    FSI,
    PDI,
    SECTION,
    echo,
    help_message,
    home_view,
    how_to_run,
    isolate,
    model_picker_modal,
    own,
    placeholder_done,
    placeholder_message,
    rich_text,
    usage_message,
    warning_message,
)
from inference.registry import load_registry
from inference.tasks import media_kind
from tests.fakes.block_kit import message_problems, view_problems

REGISTRY = load_registry()
HOSTILE = "<!channel> <!here> <@U999> <https://evil.example|click me> & <script> *bold* _it_ ~no~ `code`"
#: Hypothesis runs the same examples every time and keeps no database, as everywhere in the suite.
FIXED = settings(deadline=None, database=None, derandomize=True, suppress_health_check=list(HealthCheck))
#: The characters that start, end or pop a bidi isolate.
BIDI = "\u2066\u2067\u2068\u2069\u202a\u202b\u202c\u202d\u202e"


def all_text(message: dict) -> str:
    return json.dumps(message, ensure_ascii=False)


def i(text: str) -> str:
    """``text`` as an echo shows it: isolated."""
    return FSI + text + PDI


def mrkdwn_texts(message: dict[str, Any]) -> list[str]:
    """What Slack parses as mrkdwn in a message: its ``text`` and every mrkdwn object in its blocks."""
    found = [message.get("text", "")]

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if node.get("type") == "mrkdwn":
                found.append(node["text"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(message.get("blocks", []))
    return found


def test_person_and_model_text_never_reaches_mrkdwn() -> None:
    """Markup echoed from a person or a model is rich text in the blocks, shown literally and never parsed.

    The message's ``text`` (notifications) carries it on one line, escaped, so it cannot ping or link there.
    """
    spec = REGISTRY.get("ask")
    messages = [
        placeholder_message(spec, user="U1", text=HOSTILE),
        answer_message(spec, {"text": HOSTILE}, source=HOSTILE, elapsed_ms=10, request_id="r1"),
        answer_message(
            REGISTRY.get("ner"),
            {"entities": [{"label": HOSTILE, "start": 0, "end": 10}]},
            source=HOSTILE,
            elapsed_ms=1,
            request_id="r",
        ),
    ]
    for message in messages:
        assert i(HOSTILE) in all_text(message["blocks"])
        text, *blocks = mrkdwn_texts(message)
        assert not any(markup in t for t in blocks for markup in ("<!", "<@U9", "<https", "<script>", "*bold*", "_it_"))
        assert not any(markup in text for markup in ("<!", "<@U9", "<https", "<script>"))


@FIXED
@given(text=st.text(alphabet=st.sampled_from(BIDI + "ab"), max_size=30))
def test_nothing_inside_an_isolate_can_close_it_or_leave_it_open(text: str) -> None:
    """The isolate around an echo ends exactly at its end, whatever pops or openers the echo holds."""
    shown = isolate(text)
    depth = 0
    for position, char in enumerate(shown):
        depth += (char in "\u2066\u2067\u2068") - (char == PDI)
        assert depth > 0 or position == len(shown) - 1, shown
    assert depth == 0 and text in shown


def test_a_clipped_echo_keeps_its_isolate() -> None:
    block = rich_text((SECTION, [own("x" * 10), echo("\u202e" + "y" * 5000)]), limit=100)
    [part] = block["elements"]
    last = part["elements"][-1]["text"]
    assert sum(len(e["text"]) for e in part["elements"]) <= 100
    assert last.startswith(FSI + "\u202e") and last.endswith("…" + PDI)


@pytest.mark.parametrize(
    ("elements", "problem"),
    [
        ([], "rich_text block (Slack documents no bound; held to a section's 3,000) is 0"),
        ([{"type": "rich_text_section", "elements": [{"type": "text", "text": ""}]}], "text element's text is 0"),
        ([{"type": "rich_text_section", "elements": [{"type": "text", "text": "x" * 3001}]}], "is 3,001"),
    ],
)
def test_block_kit_check_refuses_empty_and_oversized_rich_text(elements: list, problem: str) -> None:
    found = message_problems({"text": "t", "blocks": [{"type": "rich_text", "elements": elements}]})
    assert any(problem in p for p in found), found


def test_help_and_home_list_every_model() -> None:
    help_text, home = all_text(help_message(REGISTRY)), all_text(home_view(REGISTRY, {"sentiment": 3}))
    for spec in REGISTRY:
        assert how_to_run(spec) in help_text and how_to_run(spec) in home and spec.title in home
    assert "used 3 times" in home


def test_help_and_home_offer_a_file_model_by_mention_never_by_a_command_it_does_not_have() -> None:
    files = [spec for spec in REGISTRY if media_kind(spec.task) is not None]
    assert files, "the default registry has file models"
    usages = "".join(all_text(usage_message(spec)) for spec in files)
    shown = all_text(help_message(REGISTRY)) + all_text(home_view(REGISTRY, {})) + usages
    assert any(spec.example for spec in files)  # an example, written with its mention
    for spec in files:
        assert f"`@bot {spec.name}`" in shown and f"`{spec.command}`" not in shown
        assert f"{spec.command} " not in shown  # nor in an example


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
