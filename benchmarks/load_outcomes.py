"""What each load request got back, read from the fake Slack API's records.

An *outcome* is the message that closes a request: the model's answer or a
plain-words error. Both end with the request id (``request `…```), which a
placeholder never shows, so outcomes can be told apart by content whichever
route carried them: a reply in the thread, the placeholder edited into the
answer, or a post to the command's ``response_url``.
"""

from __future__ import annotations

import json
import time
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from benchmarks.load_traffic import LoadRequest
from tests.fakes.slack_api import FakeSlackApi

OUTCOME_MARK = "request `"
ERROR_MARK = "could not answer"
_POSTING = ("chat.postMessage", "chat.update")
_POLL_SECONDS = 0.5


@dataclass
class Outcome:
    """The outcomes one request received, and when (``time.monotonic`` on the fake's side)."""

    delivered: int = 0
    errors: int = 0
    placeholder_at: float | None = None
    answered_at: float | None = None


def _flat(message: Any) -> str:
    if not isinstance(message, dict):
        return str(message)
    return str(message.get("text", "")) + json.dumps(message.get("blocks") or [], ensure_ascii=False)


def is_outcome(message: Any) -> bool:
    """True for an answer or error message (as posted, as stored, or as sent to a response URL)."""
    return OUTCOME_MARK in _flat(message)


def _earliest(current: float | None, at: float) -> float:
    return at if current is None else min(current, at)


def collect(slack: FakeSlackApi, requests: Sequence[LoadRequest]) -> dict[int, Outcome]:
    """Tally every request's outcomes from what the fake holds now, keyed by request index.

    Counted once per message as it stands (a placeholder edited into the answer
    is one outcome), plus each accepted post to the request's ``response_url``.
    Times are those of the first accepted Web API call that carried each kind of message.
    """
    by_channel = {r.channel: r.index for r in requests}
    by_url = {r.response_url: r.index for r in requests if r.response_url}
    found = {r.index: Outcome() for r in requests}
    for message in slack.messages():
        index = by_channel.get(message["channel"])
        if index is not None and is_outcome(message):
            found[index].delivered += 1
            found[index].errors += ERROR_MARK in _flat(message)
    for post in slack.response_posts():
        index = by_url.get(post.url)
        if index is None or post.fault is not None:
            continue
        if is_outcome(post.body):
            found[index].delivered += 1
            found[index].errors += ERROR_MARK in _flat(post.body)
            found[index].answered_at = _earliest(found[index].answered_at, post.at)
        else:
            found[index].placeholder_at = _earliest(found[index].placeholder_at, post.at)
    calls: dict[int, list[Any]] = defaultdict(list)
    for call in slack.calls():
        index = by_channel.get(str(call.params.get("channel", "")))
        if index is not None and call.method in _POSTING and call.fault is None:
            calls[index].append(call)
    for index, made in calls.items():
        for call in made:
            if is_outcome(call.params):
                found[index].answered_at = _earliest(found[index].answered_at, call.at)
            elif call.method == "chat.postMessage":
                found[index].placeholder_at = _earliest(found[index].placeholder_at, call.at)
    return found


def wait_for_outcomes(slack: FakeSlackApi, requests: Sequence[LoadRequest], *, timeout: float) -> dict[int, Outcome]:
    """Poll until every request has at least one outcome or ``timeout`` seconds pass; the last tally."""
    deadline = time.monotonic() + timeout
    while True:
        found = collect(slack, requests)
        if all(o.delivered for o in found.values()) or time.monotonic() >= deadline:
            return found
        time.sleep(_POLL_SECONDS)
