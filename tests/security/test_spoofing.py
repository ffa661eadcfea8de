"""Spoofed answers: text the bot did not write cannot format, ping, link or reorder the bot's words.

Issue 19, item 8: a person's sentence in the similarity answer was escaped only for
``&``, ``<``, ``>``, so ``cats | dogs\\n`██████████` *1.00*  cats are dogs`` showed a
fake score line. Every builder that shows a person's input or a model's output is
given hostile text here, as typed and as a model's answer, and every message must
keep it out of mrkdwn: it is an echo (a rich_text text element, which Slack never
parses), on one line, inside an isolate that ends exactly where the echo ends,
holding the text as typed (line breaks as spaces, shortened with an ellipsis at
most). docs/security.md lists the cases by id.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.core.compare import CompareError
from bot.core.mrkdwn import one_line
from bot.slack.answers import answer_message, compare_message
from bot.slack.plans import parse_compare
from bot.slack.ui import (
    FSI,
    PDI,
    PREFORMATTED,
    QUOTE,
    SECTION,
    isolate,
    placeholder_done,
    placeholder_message,
    warning_message,
)
from inference.registry import ModelSpec, load_registry
from tests.fakes.block_kit import message_problems

REGISTRY = load_registry(Path(__file__).resolve().parents[2] / "inference" / "models.yaml")
#: One registry entry per task, so every task's answer builder is tried.
ONE_PER_TASK = list({spec.task: spec for spec in REGISTRY}.values())
#: The tasks whose every line after the title is one of the bot's bars.
RANKED = {"text-classification", "zero-shot-classification", "sentence-similarity", "fill-mask"}
#: Letters no message of the bot's own contains: wherever they show up, hostile text went.
MARK = "QZJ"
#: Characters that open, pop or override bidi ordering.
BIDI = "\u2066\u2067\u2068\u2069\u202a\u202b\u202c\u202d\u202e"
BREAKS = re.compile("[\n\r\v\f\x1c\x1d\x1e\x85\u2028\u2029]")
STYLES = {"bold", "italic", "code"}
#: The labels :func:`model_says` adds of its own.
FINE, OTHER = "fine", "X"

#: Hostile texts by the id docs/security.md gives them.
CASES = {
    "mrkdwn-marks": "*bold* _italic_ ~strike~ `code` ```block``` > not a quote",
    "line-breaks": "one\ntwo\r\nthree\u2028four\u2029five\x85six",
    "fake-score-line": "cats | dogs\n`██████████` *1.00*  cats are dogs",
    "broadcast-and-mention": "<!channel> <!here> <!everyone> <@U0BOSS> <!subteam^S1>",
    "forged-link": "<http://x|y> <https://evil.example|your bank>",
    "bidi-override": "\u202egnp.exe\u202c and \u202dLRO",
    "isolate-pop": "\u2069\u2069\u202eflipped after a pop",
    "zero-width": "zero\u200bwidth\u200djoin\ufeffbom\u200e\u200f",
    "over-3000-characters": "x" * 3500 + " *tail*",
}


def rich_elements(message: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    """Every element of every rich_text block in the message, with the type of the part it is in."""
    for block in message.get("blocks", []):
        if block.get("type") == "rich_text":
            for part in block["elements"]:
                for element in part["elements"]:
                    yield part["type"], element


def mrkdwn_texts(node: Any) -> Iterator[str]:
    """The text of every mrkdwn object in the blocks: what Slack parses for formatting."""
    if isinstance(node, dict):
        if node.get("type") == "mrkdwn":
            yield node["text"]
        for value in node.values():
            yield from mrkdwn_texts(value)
    elif isinstance(node, list):
        for value in node:
            yield from mrkdwn_texts(value)


def spans_exactly(text: str) -> bool:
    """The first character opens an isolate that nothing closes before the last character does."""
    depth = 0
    for position, char in enumerate(text):
        depth += (char in "\u2066\u2067\u2068") - (char == PDI)
        if depth <= 0 and position < len(text) - 1:
            return False
    return depth == 0 and text.startswith(FSI)


def as_typed(shown: str, sources: list[str]) -> bool:
    """``shown`` is an isolate around a piece of one of ``sources`` (on one line), or its shortened start."""
    pieces = [one_line(source) for source in sources]
    for start in range(1, len(shown) - len(shown.lstrip(FSI)) + 1):
        for end in range(1, len(shown) - len(shown.rstrip(PDI)) + 1):
            inner = shown[start:-end]
            if isolate(inner) != shown:
                continue
            clipped = inner[:-1] if inner.endswith("…") else inner
            if any(inner in p or clipped in p for p in pieces):
                return True
    return False


def check(message: dict[str, Any], *sources: str) -> None:
    """Text from ``sources`` appears only as echoes, exactly as typed; the bot's own runs hold none of it."""
    assert message_problems(message) == []
    for text in mrkdwn_texts(message.get("blocks", [])):
        assert MARK not in text, text
    fallback = message.get("text", "").replace("<@U1>", "")
    assert not BREAKS.search(fallback) and "<" not in fallback and ">" not in fallback, fallback
    assert not re.search(r"&(?!amp;|lt;|gt;)", fallback), fallback
    for kind, element in rich_elements(message):
        assert kind in (SECTION, QUOTE, PREFORMATTED) and element["type"] == "text", element
        assert set(element.get("style", {})) <= STYLES, element
        text = element["text"]
        if text.startswith(FSI):
            assert spans_exactly(text), repr(text)
            assert not BREAKS.search(text), repr(text)
            assert as_typed(text, list(sources)), repr(text)
        else:
            assert MARK not in text and not set(BIDI) & set(text), repr(text)
            assert text == "\n" or not BREAKS.search(text), repr(text)


def model_says(said: str, source: str) -> dict[str, Any]:
    """A result that gives ``said`` back in every field any task reads, entities over ``source``."""
    middle = len(source) // 2
    return {
        "labels": [{"label": said, "score": 0.9}, {"label": FINE, "score": 0.1}],
        "summary": said,
        "translation": said,
        "text": said,
        "answer": said,
        "score": 0.5,
        "scores": [{"sentence": said, "score": 1.0}, {"sentence": source, "score": 0.2}],
        "predictions": [{"token": said, "sequence": said, "score": 0.7}],
        "entities": [
            {"label": said, "start": 0, "end": max(1, middle)},
            {"label": OTHER, "start": middle, "end": len(source)},
        ],
        "dimensions": said,
        "embedding": [0.5],
    }


def messages(spec: ModelSpec, typed: str, said: str) -> list[dict[str, Any]]:
    """Every message that shows ``typed`` (the person's input) or ``said`` (a model's output) for ``spec``."""
    result = model_says(said, typed)
    other = REGISTRY.get("sentiment")
    columns = {spec.name: {"result": result, "request_id": "r1"}, other.name: {"error": "It failed."}}
    return [
        answer_message(spec, result, source=typed, elapsed_ms=1.0, request_id="r1"),
        placeholder_message(spec, user="U1", text=typed),
        placeholder_message(spec, user="U1", text=typed, compare=[spec, other]),
        placeholder_done(spec, user="U1", text=typed, elapsed_ms=1.0, failed=False),
        compare_message([spec, other], typed, columns),
    ]


def bars(message: dict[str, Any]) -> list[str]:
    """The bot's own code-styled runs: its bars (and the embedding's first values)."""
    return [
        e["text"] for _, e in rich_elements(message) if "code" in e.get("style", {}) and not e["text"].startswith(FSI)
    ]


@pytest.mark.parametrize("case", CASES, ids=list(CASES))
@pytest.mark.parametrize("spec", ONE_PER_TASK, ids=[spec.task for spec in ONE_PER_TASK])
def test_hostile_text_is_shown_as_typed_and_never_formats(case: str, spec: ModelSpec) -> None:
    typed = MARK + CASES[case]
    said = MARK + CASES[case][::-1]
    for message in messages(spec, typed, said):
        check(message, typed, said, FINE, OTHER)


def test_the_issue_case_shows_one_score_line_and_the_sentence_as_typed() -> None:
    """``/similarity cats | dogs\\n`██████████` *1.00*  cats are dogs``: the model scores one sentence."""
    sentence = "dogs\n`██████████` *1.00*  cats are dogs"
    spec = REGISTRY.get("similarity")
    message = answer_message(
        spec, {"scores": [{"sentence": sentence, "score": 0.31}]}, source="cats", elapsed_ms=1, request_id="r"
    )
    assert bars(message) == ["███░░░░░░░"]
    echoes = [e for _, e in rich_elements(message) if e["text"].startswith(FSI)]
    assert echoes == [{"type": "text", "text": FSI + "dogs `██████████` *1.00*  cats are dogs" + PDI}]


@pytest.mark.parametrize("spec", [s for s in ONE_PER_TASK if s.task in RANKED], ids=lambda s: s.task)
def test_no_echo_starts_a_line_of_a_ranked_answer(spec: ModelSpec) -> None:
    """Each line Slack would show after the title starts with the bot's bar, whatever lines the text held."""
    said = "fake\n`██████████` *1.00*  line\r\n`░` *0.00* another"
    message = answer_message(spec, model_says(said, "source"), source="source", elapsed_ms=1, request_id="r")
    [section] = message["blocks"][0]["elements"]
    marked = ""
    for element in section["elements"]:
        own_bar = "code" in element.get("style", {}) and not element["text"].startswith(FSI)
        marked += "B" * len(element["text"]) if own_bar else element["text"]
    shown = BREAKS.split(marked.replace("\r\n", "\n"))
    assert all(line.startswith("B") for line in shown[1:]), shown
    assert len(bars(message)) == len(shown) - 1


@pytest.mark.parametrize(
    "name", ["a`*bold*`", "x\n*bold*", "`"], ids=["backtick-in-a-name", "line-break-in-a-name", "only-a-backtick"]
)
def test_an_unknown_name_in_a_comparison_stays_inside_its_code_span(name: str) -> None:
    """mrkdwn code cannot hold a backtick or a line break; the echoed name shows U+02CB and a space for them."""
    with pytest.raises(CompareError) as raised:
        parse_compare(REGISTRY, f"{name},sentiment some text")
    [text] = list(mrkdwn_texts(warning_message(str(raised.value))["blocks"]))
    spans = re.findall(r"`[^`]*`", text)
    assert [s for s in spans if "bold" in s or "\u02cb" in s] == [
        f"`{one_line(name).lower().replace('`', chr(0x2CB))}`"
    ]
    assert "*bold*" not in re.sub(r"`[^`]*`", "", text)


HOSTILE = st.lists(st.sampled_from(list(CASES.values())) | st.text(max_size=20), max_size=8).map(
    lambda parts: MARK + "".join(parts)
)


@settings(max_examples=200, deadline=None, database=None, derandomize=True, suppress_health_check=list(HealthCheck))
@given(spec=st.sampled_from(ONE_PER_TASK), typed=HOSTILE, said=HOSTILE, title=st.sampled_from(["T", "T" * 200]))
def test_any_mix_of_hostile_text_is_shown_as_typed(spec: ModelSpec, typed: str, said: str, title: str) -> None:
    """Hypothesis mixes the cases with any Unicode, as a person's input and as every field of a model's answer."""
    for message in messages(dataclasses.replace(spec, title=title), typed, said):
        check(message, typed, said, FINE, OTHER)


def test_docs_list_every_case() -> None:
    """docs/security.md gives each case a row; a case missing from it is a case nobody reads about."""
    doc = (Path(__file__).resolve().parents[2] / "docs" / "security.md").read_text(encoding="utf-8")
    assert [case for case in CASES if f"`{case}`" not in doc] == []
