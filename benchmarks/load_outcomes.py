"""What each load request got back, read from the fake Slack API's records.

An *outcome* is the message that closes a request: the model's answer or a
plain-words error. Both end with the request id (``request `…```), which a
placeholder never shows, so outcomes can be told apart by content whichever
route carried them: a reply in the thread, the placeholder edited into the
answer, or a post to the command's ``response_url``.

A chat model's answer streams first: *partials* (the text so far) start a
message with ``chat.startStream`` and grow it with ``chat.appendStream``, or
start it with ``chat.postMessage`` and grow it with ``chat.update``, saying
:data:`~bot.slack.streaming.STILL_WRITING` under the text; then the final
answer (with its feedback buttons) replaces that text once. A partial never
carries the request id, so it is never an outcome; each request's partials are
counted apart: how many Slack accepted, how many arrived after the final
answer's call (none may: the final answer is the last word), and how many
messages still show a partial at the end (a frozen half answer).
"""

from __future__ import annotations

import json
import time
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from benchmarks.load_traffic import LoadRequest
from bot.slack.streaming import STILL_WRITING
from bot.slack.ui import FEEDBACK_BLOCK
from tests.fakes.slack_api import FakeSlackApi

OUTCOME_MARK = "request `"
ERROR_MARK = "could not answer"
_POSTING = ("chat.postMessage", "chat.update")
#: The streaming methods that show a partial (``chat.stopStream`` only ends one).
_STREAMING = ("chat.startStream", "chat.appendStream")
_POLL_SECONDS = 0.5


@dataclass
class Outcome:
    """The outcomes one request received, and when (``time.monotonic`` on the fake's side)."""

    delivered: int = 0
    errors: int = 0
    placeholder_at: float | None = None
    answered_at: float | None = None
    #: Outcomes that carry the feedback buttons (an answer; an error has none).
    with_feedback: int = 0
    #: Partials Slack accepted (Web API calls that showed the text so far), and when the first arrived.
    partials: int = 0
    #: Of those, the ones shown by the streaming methods (the rest by ``chat.postMessage`` and ``chat.update``).
    streamed_partials: int = 0
    first_partial_at: float | None = None
    #: Partials whose call arrived after the first call that carried the final answer.
    partials_after_final: int = 0
    #: Messages that still show a partial once the run is over.
    frozen_partials: int = 0


def _flat(message: Any) -> str:
    if not isinstance(message, dict):
        return str(message)
    return str(message.get("text", "")) + json.dumps(message.get("blocks") or [], ensure_ascii=False)


def is_outcome(message: Any) -> bool:
    """True for an answer or error message (as posted, as stored, or as sent to a response URL)."""
    return OUTCOME_MARK in _flat(message)


def has_feedback(message: Any) -> bool:
    """True for a message with the feedback buttons: the final answer."""
    blocks = message.get("blocks") if isinstance(message, dict) else None
    return any(isinstance(b, dict) and str(b.get("block_id", "")).startswith(FEEDBACK_BLOCK) for b in blocks or [])


def is_partial(method: str, message: Any) -> bool:
    """True for a call (or a stored message, ``method`` "") that shows the text so far of an answer being written."""
    if method in _STREAMING:
        return True
    if isinstance(message, dict) and message.get("streaming"):
        return True
    return method in ("", *_POSTING) and STILL_WRITING in _flat(message) and not is_outcome(message)


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
        if index is None:
            continue
        if is_outcome(message):
            found[index].delivered += 1
            found[index].errors += ERROR_MARK in _flat(message)
            found[index].with_feedback += has_feedback(message)
        elif is_partial("", message):
            found[index].frozen_partials += 1
    for post in slack.response_posts():
        index = by_url.get(post.url)
        if index is None or post.fault is not None:
            continue
        if is_outcome(post.body):
            found[index].delivered += 1
            found[index].errors += ERROR_MARK in _flat(post.body)
            found[index].with_feedback += has_feedback(post.body)
            found[index].answered_at = _earliest(found[index].answered_at, post.at)
        else:
            found[index].placeholder_at = _earliest(found[index].placeholder_at, post.at)
    calls: dict[int, list[Any]] = defaultdict(list)
    for call in slack.calls():
        index = by_channel.get(str(call.params.get("channel", "")))
        if index is not None and call.method in (*_POSTING, *_STREAMING) and call.fault is None:
            calls[index].append(call)
    for index, made in calls.items():
        outcome, partial_times = found[index], []
        for call in made:
            if call.method in _POSTING and is_outcome(call.params):
                outcome.answered_at = _earliest(outcome.answered_at, call.at)
            elif is_partial(call.method, call.params):
                partial_times.append(call.at)
            elif call.method == "chat.postMessage":
                outcome.placeholder_at = _earliest(outcome.placeholder_at, call.at)
        outcome.partials = len(partial_times)
        outcome.streamed_partials = sum(1 for call in made if call.method in _STREAMING)
        outcome.first_partial_at = min(partial_times, default=None)
        if outcome.answered_at is not None:
            outcome.partials_after_final = sum(1 for at in partial_times if at > outcome.answered_at)
    return found


def wait_for_outcomes(slack: FakeSlackApi, requests: Sequence[LoadRequest], *, timeout: float) -> dict[int, Outcome]:
    """Poll until every request has at least one outcome or ``timeout`` seconds pass; the last tally."""
    deadline = time.monotonic() + timeout
    while True:
        found = collect(slack, requests)
        if all(o.delivered for o in found.values()) or time.monotonic() >= deadline:
            return found
        time.sleep(_POLL_SECONDS)
