"""Slack's Block Kit limits, checked on every payload the bot sends to Slack.

slack_sdk's own models come first: ``Block.parse`` must know every block and
``View(**view)`` must accept the view. Their ``validate_json()`` checks one object
only: an actions block passes it with a 76-character button inside. So each block
is checked with ``to_dict()``, which runs ``validate_json()`` on the block and on
every element nested in it, and the view with ``validate_json()`` (its blocks are
checked one by one). A select keeps its options as plain dicts, so each goes
through slack_sdk's ``Option`` too. :data:`LIMITS` adds the documented limits
slack_sdk (3.48) does not check, and for rich text, which Slack gives no length,
a section's. Lengths count code points, as slack_sdk and Python do.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from slack_sdk.errors import SlackObjectFormationError
from slack_sdk.models.blocks import Block, Option
from slack_sdk.models.views import View

#: What slack_sdk raises on a payload it cannot build a model from.
_PARSE_ERRORS = (SlackObjectFormationError, TypeError, ValueError, KeyError, AttributeError)


@dataclass(frozen=True)
class Limit:
    """A documented bound on a length or a count, and where Slack documents it."""

    what: str
    low: int
    high: int
    source: str

    def problem(self, size: int) -> str | None:
        """Why ``size`` breaks this limit, or None when it fits."""
        if self.low <= size <= self.high:
            return None
        return f"{self.what} is {size:,}; Slack allows {self.low:,} to {self.high:,}"


#: The limits slack_sdk's models leave unchecked (section 3,000, header 150, button 75 and
#: 2,000, 100 blocks per view, private_metadata 3,000, view title 24 are slack_sdk's own).
LIMITS = {
    "message_blocks": Limit(
        "the number of blocks in a message",
        0,
        50,
        "https://docs.slack.dev/reference/methods/chat.postMessage",
    ),
    "message_text": Limit(
        "the length of a message's text (Slack truncates beyond)",
        0,
        40_000,
        "https://docs.slack.dev/reference/methods/chat.postMessage",
    ),
    "text_object": Limit(
        "the length of a text object's text",
        1,
        3000,
        "https://docs.slack.dev/reference/block-kit/composition-objects/text-object",
    ),
    # Slack documents no length for rich text. An empty text or block is refused: slack_sdk's
    # to_dict() drops the empty field and Slack answers invalid_blocks, "missing required field".
    "rich_text_element": Limit(
        "the length of a rich_text text element's text",
        1,
        3000,
        "https://docs.slack.dev/reference/block-kit/block-elements/text-element",
    ),
    "rich_text_block": Limit(
        "the characters in a rich_text block (Slack documents no bound; held to a section's 3,000)",
        1,
        3000,
        "https://docs.slack.dev/reference/block-kit/blocks/rich-text-block",
    ),
}


def message_problems(message: Mapping[str, Any]) -> list[str]:
    """What is wrong with a message body (``chat.*`` params, a ``response_url`` post, an ack)."""
    problems = []
    text = message.get("text")
    if isinstance(text, str):
        problems.append(LIMITS["message_text"].problem(len(text)))
    if "blocks" in message and message["blocks"] is not None:
        blocks = message["blocks"]
        if not isinstance(blocks, list):
            return [*filter(None, problems), f"blocks is a {type(blocks).__name__}, not a list"]
        problems.append(LIMITS["message_blocks"].problem(len(blocks)))
        problems += _blocks_problems(blocks)
    return [p for p in problems if p]


def view_problems(view: Any) -> list[str]:
    """What is wrong with a view (``views.*``, or a view submission's ``update``/``push`` ack)."""
    if not isinstance(view, dict):
        return [f"view is a {type(view).__name__}, not an object"]
    try:
        View(**view).validate_json()
    except _PARSE_ERRORS as exc:
        problems = [f"view: {exc}"]
    else:
        problems = []
    blocks = view.get("blocks")
    if not isinstance(blocks, list):
        return [*problems, "view: blocks must be a list"]
    return problems + _blocks_problems(blocks)


def ack_problems(body: Any) -> list[str]:
    """What is wrong with the JSON body the bot answered Slack's HTTP request with."""
    if not isinstance(body, dict):
        return []
    problems = view_problems(body["view"]) if "view" in body else []
    if "blocks" in body or "text" in body:
        problems += message_problems(body)
    return problems


def _blocks_problems(blocks: list[Any]) -> list[str]:
    problems = []
    for index, raw in enumerate(blocks):
        where = f"blocks[{index}]"
        if not isinstance(raw, dict):
            problems.append(f"{where} is a {type(raw).__name__}, not an object")
            continue
        where += f" ({raw.get('type')})"
        try:
            block = Block.parse(raw)
            built = block.to_dict() if block is not None else None
        except _PARSE_ERRORS as exc:
            problems.append(f"{where}: {exc}")
            continue
        if built is None:
            problems.append(f"{where}: slack_sdk knows no block of this type")
            continue
        problems += [f"{where}: slack_sdk knows no element {name}" for name in _dropped(built)]
        for number, option in enumerate(_options(raw)):
            try:
                Option(**option).validate_json()
            except _PARSE_ERRORS as exc:
                problems.append(f"{where}: option {number}: {exc}")
        for text in _text_objects(raw):
            problem = LIMITS["text_object"].problem(len(text))
            if problem:
                problems.append(f"{where}: {problem}")
        if raw.get("type") == "rich_text":
            parts = raw.get("elements") or []
            texts = [e.get("text") for p in parts for e in p.get("elements") or [] if e.get("type") == "text"]
            sizes = [len(t) if isinstance(t, str) else 0 for t in texts]
            found = [LIMITS["rich_text_element"].problem(size) for size in sizes]
            found.append(LIMITS["rich_text_block"].problem(sum(sizes)))
            problems += [f"{where}: {problem}" for problem in found if problem]
    return problems


def _dropped(built: Any, path: str = "") -> Iterator[str]:
    """Where slack_sdk's ``to_dict()`` left None in a list: an element type it does not know."""
    if isinstance(built, dict):
        for key, value in built.items():
            yield from _dropped(value, f"{path}.{key}" if path else key)
    elif isinstance(built, list):
        for index, value in enumerate(built):
            if value is None:
                yield f"{path}[{index}]"
            yield from _dropped(value, f"{path}[{index}]")


def _options(node: Any) -> Iterator[dict[str, Any]]:
    """Every option object (an item of an ``options`` list) in a block, at any depth."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "options" and isinstance(value, list):
                yield from (o for o in value if isinstance(o, dict))
            yield from _options(value)
    elif isinstance(node, list):
        for value in node:
            yield from _options(value)


def _text_objects(node: Any) -> Iterator[str]:
    """The text of every ``plain_text`` and ``mrkdwn`` object in a block, at any depth."""
    if isinstance(node, dict):
        if node.get("type") in ("plain_text", "mrkdwn") and isinstance(node.get("text"), str):
            yield node["text"]
        for value in node.values():
            yield from _text_objects(value)
    elif isinstance(node, list):
        for value in node:
            yield from _text_objects(value)


@dataclass(frozen=True)
class Violation:
    """One thing the bot sent that Slack would refuse or cut: where it went, and why."""

    where: str
    problem: str

    def __str__(self) -> str:
        return f"{self.where}: {self.problem}"


class Violations:
    """The violations found so far, kept (thread-safe) until a test takes them."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._found: list[Violation] = []

    def record(self, where: str, problems: list[str]) -> None:
        with self._lock:
            self._found += [Violation(where, p) for p in problems]

    def take(self) -> list[Violation]:
        """Every violation recorded since the last call, oldest first."""
        with self._lock:
            found, self._found = self._found, []
        return found
