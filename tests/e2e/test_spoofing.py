"""Spoofed answers end to end (issue 19, item 8): a slash command into `python -m bot serve`, the answer as posted.

The issue's case: ``/similarity cats | dogs\\n`██████████` *1.00*  cats are dogs`` showed
a second, fake score line, and a right-to-left override was isolated in the placeholder
but not in the answer. Here the tiny sentence encoder answers, and the blocks the fake
Slack API received are read as Slack would show them.
"""

from __future__ import annotations

import re
from typing import Any

import pytest

from bot.slack.ui import FSI, PDI, QUOTE
from tests.conftest import BotServer
from tests.e2e.test_slack import placeholder, wait_for_reply

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


def lines(message: dict[str, Any]) -> list[list[dict[str, Any]]]:
    """The answer's rich text, element by element, split at its line breaks."""
    [block] = [b for b in message["blocks"] if b["type"] == "rich_text"]
    [paragraph] = block["elements"]
    split: list[list[dict[str, Any]]] = [[]]
    for element in paragraph["elements"]:
        if element["text"] == "\n":
            split.append([])
        else:
            split[-1].append(element)
    return split


def quoted(message: dict[str, Any]) -> list[str]:
    """The texts the placeholder quotes."""
    return [
        e["text"]
        for b in message["blocks"]
        if b["type"] == "rich_text"
        for part in b["elements"]
        if part["type"] == QUOTE
        for e in part["elements"]
    ]


def ask(server: BotServer, channel: str, text: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """Run ``/tiny-similarity text``; the placeholder once done, and the answer in its thread."""
    assert server.sender.command("/tiny-similarity", text, channel_id=channel, user_id="U42").status == 200
    parent = placeholder(server, channel)
    [answer] = wait_for_reply(server, channel, parent["ts"])
    assert server.slack.wait_for(lambda: "Answered in" in str(server.slack.messages(channel)[0]["blocks"]), 10)
    return server.slack.messages(channel)[0], answer


def test_a_fake_score_line_stays_inside_the_sentence(server: BotServer, channel: str) -> None:
    done, answer = ask(server, channel, "cats | dogs\n`██████████` *1.00*  cats are dogs")
    title, scored = lines(answer)
    assert [e.get("style") for e in title] == [{"bold": True}]
    bar, space, score, gap, sentence = scored
    assert bar["style"] == {"code": True} and re.fullmatch("[█░]{10}", bar["text"])
    assert score["style"] == {"bold": True} and re.fullmatch(r"-?\d\.\d\d", score["text"])
    assert (space["text"], gap["text"]) == (" ", "  ")
    assert sentence == {"type": "text", "text": FSI + "dogs `██████████` *1.00*  cats are dogs" + PDI}
    assert quoted(done) == [FSI + "cats | dogs `██████████` *1.00*  cats are dogs" + PDI]
    assert "*1.00*" not in str([b for b in answer["blocks"] if b["type"] != "rich_text"])


def test_a_right_to_left_override_is_isolated_in_the_answer_too(server: BotServer, channel: str) -> None:
    done, answer = ask(server, channel, "cats | \u202edogs are cats")
    *_, sentence = lines(answer)[1]
    assert sentence["text"] == FSI + "\u202edogs are cats" + PDI
    assert quoted(done) == [FSI + "cats | \u202edogs are cats" + PDI]
