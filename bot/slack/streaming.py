"""Answers that grow in place: partial records from a generating model, shown in Slack (and kept for the form).

While a model generates, its function sends the router *partial records*
(``{"partial": {"model", "sequence", "text"}, "reply"}``, made by
``inference.service.partial_record``): the text so far, numbered from 1, at most
about once a second. They arrive at least once and in any order (an ``Event``
invoke in AWS, the worker's pipe and a thread pool locally), and may arrive after
the final answer. :func:`deliver_partial` shows one only if it is newer than what
is shown and the final answer has not begun; the state store keeps, per request
(``stream:<request_id>``), the highest sequence shown, the streamed message's ts,
its mode, and ``final`` once delivery of the answer began. A short claim on
``stream-lock:<request_id>`` lets one partial at a time touch Slack; a partial
that finds it taken is dropped, which loses nothing, since each partial carries
the whole text so far.

In Slack the first partial starts a message in the thread: through Slack's
streaming methods (``chat.startStream``, then ``chat.appendStream`` with what is
new), where the conversation allows them, else a ``chat.postMessage`` that later
partials ``chat.update``. A conversation that refused the streaming methods is
remembered for :data:`STREAM_REFUSAL_TTL` so later answers there go straight to
updates. Partials use a client without rate-limit retries: a 429's ``Retry-After``
holds later partials back (``not_before``) instead of queueing them, so updates
slow down and merge rather than pile up, and the final answer is never behind them.

The final answer (:mod:`bot.slack.delivery`) takes the lock after setting
``final`` (:func:`begin_final`), so no partial can land after it, then replaces
the streamed text with the answer and its feedback buttons (:func:`finish`), or
with the error in plain words when the model failed part-way: never a frozen half
answer. An answer longer than one message is split (:func:`split_text`): the
answer message holds the first part, and the rest follow in the thread.
"""

from __future__ import annotations

import logging
import time
import weakref
from dataclasses import dataclass
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.http_retry.builtin_handlers import ConnectionErrorRetryHandler

from bot.core.mrkdwn import escape
from bot.core.services import Services
from bot.core.slack_ops import CANNOT_POST, CannotPost, SlackError, SlackUnavailable
from bot.slack.reply import RESPONSE_URL, ReplyTarget
from bot.slack.ui import QUOTE, TEXT_LIMIT, context, echo_lines, plain, rich_text

logger = logging.getLogger(__name__)

#: How long one partial may hold a request's Slack message (a call without retries takes at most ``PARTIAL_TIMEOUT``).
LOCK_LEASE = 15
PARTIAL_TIMEOUT = 5
#: How long the final answer waits for a partial still being shown before it goes ahead regardless.
FINAL_WAIT_SECONDS = LOCK_LEASE + 1
#: How long a conversation that refused Slack's streaming methods gets updates instead.
STREAM_REFUSAL_TTL = 3600
#: The streaming methods' ``markdown_text`` takes at most 12,000 characters per call.
MARKDOWN_LIMIT = 12_000
#: Each part of a split answer stays within one section's worth, with room for the isolates each line gets.
PART_LIMIT = TEXT_LIMIT - 200
#: What a streamed message says under the text while the model is still writing.
STILL_WRITING = "✍️ still writing…"
#: The tasks whose models send partials (``inference.runners``' ``streams``; infra/models.py has the same set).
STREAMING_TASKS = frozenset({"text-generation"})
#: The modes of a streamed message.
STREAM, UPDATE = "stream", "update"


def is_partial_record(event: Any) -> bool:
    """True for a model's partial record (not an HTTP event, not a destination record)."""
    return (
        isinstance(event, dict)
        and isinstance(event.get("partial"), dict)
        and isinstance(event.get("reply"), dict)
        and "requestContext" not in event
        and "httpMethod" not in event
    )


def stream_key(request_id: str) -> str:
    return f"stream:{request_id}"


def _lock_key(request_id: str) -> str:
    return f"stream-lock:{request_id}"


class RateLimited(SlackUnavailable):
    """Slack answered 429; ``retry_after`` is how many seconds it asked for."""

    def __init__(self, method: str, retry_after: float) -> None:
        super().__init__(method, "ratelimited")
        self.retry_after = retry_after


class PartialOps:
    """The Slack calls a partial makes: no rate-limit retries (a 429 is :class:`RateLimited` at once), same contract.

    Built over the bot's own client (its token and API address) and kept per :class:`bot.core.slack_ops.SlackOps`.
    """

    def __init__(self, client: WebClient) -> None:
        self.client = WebClient(
            token=client.token,
            base_url=client.base_url,
            timeout=PARTIAL_TIMEOUT,
            retry_handlers=[ConnectionErrorRetryHandler(max_retry_count=1)],
        )

    def call(self, method: str, **arguments: Any) -> Any:
        try:
            return self.client.api_call(method, json=arguments)
        except SlackApiError as exc:
            if exc.response.status_code == 429:
                raise RateLimited(method, float(exc.response.headers.get("Retry-After", 1) or 1)) from exc
            error = str(exc.response.get("error") or f"HTTP {exc.response.status_code}")
            raise (CannotPost if error in CANNOT_POST else SlackUnavailable)(method, error) from exc
        except (SlackClientError, OSError) as exc:
            raise SlackUnavailable(method, type(exc).__name__) from exc


_ops: weakref.WeakKeyDictionary[Any, PartialOps] = weakref.WeakKeyDictionary()


def partial_ops(services: Services) -> PartialOps | None:
    """The partials' client for this router's Slack; None when its Slack has no Web API client (nothing to stream to)."""
    client = getattr(services.slack, "client", None)
    if not isinstance(client, WebClient):
        return None
    if services.slack not in _ops:
        _ops[services.slack] = PartialOps(client)
    return _ops[services.slack]


# --- the text ------------------------------------------------------------------------------


def split_text(text: str, limit: int = PART_LIMIT) -> list[str]:
    """``text`` in parts that each fit one message: cut at a paragraph, else a line, else a space, else anywhere.

    A part's cost counts each line's two isolate characters and its break, as the answer shows them.
    """
    parts: list[str] = []
    rest = text.strip()
    while rest:
        if _cost(rest) <= limit:
            parts.append(rest)
            break
        cut = _fitting_prefix(rest, limit)
        for sep in ("\n\n", "\n", " "):
            at = rest.rfind(sep, 0, cut)
            if at > cut // 2:
                cut = at
                break
        parts.append(rest[:cut].rstrip())
        rest = rest[cut:].lstrip()
    return parts or [""]


def _cost(text: str) -> int:
    return len(text) + 3 * (text.count("\n") + 1)


def _fitting_prefix(text: str, limit: int) -> int:
    """The longest prefix length whose cost is within ``limit``."""
    low, high = 1, len(text)
    while low < high:
        middle = (low + high + 1) // 2
        if _cost(text[:middle]) <= limit:
            low = middle
        else:
            high = middle - 1
    return low


def partial_message(text: str) -> dict[str, Any]:
    """The text so far, as the answer will show it (a quote of plain-text runs: nothing in it is markup)."""
    shown = split_text(text)[0]
    more = "…" if len(shown) < len(text.strip()) else ""
    return {
        "text": plain((QUOTE, echo_lines(shown + more))),
        "blocks": [rich_text((QUOTE, echo_lines(shown + more))), context(STILL_WRITING)],
    }


def markdown_escape(text: str) -> str:
    """``text`` for ``markdown_text``: Slack's three entities, and a backslash before each markdown character."""
    escaped = escape(text)
    return "".join(f"\\{c}" if c in "\\`*_~[]()#|!" else c for c in escaped)


def continuation_message(part: str, number: int, count: int) -> dict[str, Any]:
    """One more part of a long answer, after the answer message."""
    note = f"(continued, part {number} of {count})"
    return {"text": plain((QUOTE, echo_lines(part))), "blocks": [rich_text((QUOTE, echo_lines(part))), context(note)]}


# --- partials ------------------------------------------------------------------------------


@dataclass
class Stream:
    """A request's streamed message, as the state store has it: where it is and how it grows."""

    ts: str = ""
    mode: str = ""
    sent: int = 0

    @classmethod
    def read(cls, state: dict[str, str]) -> Stream:
        return cls(ts=state.get("ts", ""), mode=state.get("mode", ""), sent=int(state.get("sent", "0") or 0))


def deliver_partial(services: Services, record: dict[str, Any]) -> None:
    """Show one partial record, unless a newer one is shown, the answer has begun, or Slack asked us to wait.

    Never raises for Slack: a partial that cannot be shown is dropped (the next carries its text, and the
    final answer all of it).
    """
    partial, reply = record["partial"], record["reply"]
    try:
        sequence, text = int(partial.get("sequence", 0)), str(partial.get("text", ""))
    except (TypeError, ValueError):
        logger.info("partial record without a sequence: ignored")
        return
    request_id = str(reply.get("request_id") or "")
    if not request_id or not text.strip():
        return
    if reply.get("source") == "form":
        return  # the form's: the router hands those to bot.form.routes.keep_partial
    target = ReplyTarget.from_dict(reply)
    if target.compare or target.mode == RESPONSE_URL or not target.channel or not target.thread_ts:
        return  # a comparison's column, or a conversation the bot cannot post in: the final answer only
    ops = partial_ops(services)
    if ops is None or not services.store.claim(_lock_key(request_id), lease=LOCK_LEASE):
        return  # another partial is being shown; the next one carries this one's text
    try:
        state = services.store.fields(stream_key(request_id))
        if state.get("final") or sequence <= int(state.get("sequence", "0") or 0):
            return
        if time.time() < float(state.get("not_before", "0") or 0):
            return
        try:
            _show(services, ops, target, Stream.read(state), text)
        except RateLimited as exc:
            services.store.set_field(stream_key(request_id), "not_before", str(time.time() + exc.retry_after))
            logger.info("partial held back %.0f s by Slack's rate limit", exc.retry_after)
            return
        except SlackError as exc:
            logger.info("partial not shown: %s", exc, extra={"request_id": request_id})
            return
        services.store.set_field(stream_key(request_id), "sequence", str(sequence))
    finally:
        services.store.release(_lock_key(request_id))


def _show(services: Services, ops: PartialOps, target: ReplyTarget, stream: Stream, text: str) -> None:
    """Start the streamed message, or bring it up to ``text``."""
    key = stream_key(target.request_id)
    if stream.mode == STREAM:
        new = text[stream.sent :]  # partials only grow: what is new is what follows what was sent
        if new and stream.sent < MARKDOWN_LIMIT:
            ops.call("chat.appendStream", channel=target.channel, ts=stream.ts, markdown_text=_markdown(new))
            services.store.set_field(key, "sent", str(len(text)))
        return
    if stream.mode == UPDATE:
        ops.call("chat.update", channel=target.channel, ts=stream.ts, **partial_message(text))
        return
    started = _start_stream(services, ops, target, text)
    if started:
        stream_ts, mode, sent = started, STREAM, len(text)
    else:
        response = ops.call(
            "chat.postMessage", channel=target.channel, thread_ts=target.thread_ts, **partial_message(text)
        )
        stream_ts, mode, sent = str(response["ts"]), UPDATE, 0
    services.store.set_field(key, "ts", stream_ts)
    services.store.set_field(key, "mode", mode)
    services.store.set_field(key, "sent", str(sent))


def _markdown(text: str) -> str:
    return markdown_escape(text)[:MARKDOWN_LIMIT]


def _start_stream(services: Services, ops: PartialOps, target: ReplyTarget, text: str) -> str:
    """The ts of a message started with ``chat.startStream``, or "" where this conversation refuses the method."""
    refusals = f"stream-refused:{target.channel}"
    if services.store.fields(refusals).get("refused"):
        return ""
    arguments: dict[str, Any] = {"channel": target.channel, "thread_ts": target.thread_ts}
    team = _team(ops)
    if target.user and team:
        arguments.update(recipient_user_id=target.user, recipient_team_id=team)
    try:
        response = ops.call("chat.startStream", markdown_text=_markdown(text), **arguments)
    except RateLimited:
        raise
    except SlackError as exc:
        logger.info("streaming methods refused here (%s): updating a message instead", exc.error)
        services.store.set_field(refusals, "refused", exc.error, ttl=STREAM_REFUSAL_TTL)
        return ""
    return str(response["ts"])


_teams: weakref.WeakKeyDictionary[PartialOps, str] = weakref.WeakKeyDictionary()


def _team(ops: PartialOps) -> str:
    """The bot's workspace (``auth.test``, once per client): the streaming methods name the recipient's team."""
    if ops not in _teams:
        try:
            _teams[ops] = str(ops.call("auth.test").get("team_id") or "")
        except SlackError:
            return ""
    return _teams[ops]


# --- the final answer ----------------------------------------------------------------------


def begin_final(
    services: Services, target: ReplyTarget, *, spec_task: str | None = None, wait: float = FINAL_WAIT_SECONDS
) -> Stream | None:
    """Stop partials for good and wait until none is being shown; the streamed message, if one was started.

    Call it once the answer's claim is held. ``final`` is set first, so a partial that takes the lock
    afterwards stands down; then the lock is taken, so one already showing has finished (or its lease
    ran out). :func:`end_final` gives the lock back.
    """
    if target.compare or target.mode == RESPONSE_URL or not target.request_id:
        return None
    if spec_task is not None and spec_task not in STREAMING_TASKS:
        return None  # its model never streams: no partial to stop, and four fewer state-table calls
    key = stream_key(target.request_id)
    services.store.set_field(key, "final", "1")
    deadline = time.monotonic() + wait
    while not services.store.claim(_lock_key(target.request_id), lease=LOCK_LEASE):
        if time.monotonic() > deadline:
            logger.warning("a partial held the message past its lease", extra={"request_id": target.request_id})
            break
        time.sleep(0.05)
    stream = Stream.read(services.store.fields(key))
    return stream if stream.ts else None


def end_final(services: Services, target: ReplyTarget) -> None:
    """Give back the lock :func:`begin_final` took (``final`` stays: later partials are still ignored)."""
    if target.request_id:
        services.store.release(_lock_key(target.request_id))


def finish(services: Services, target: ReplyTarget, stream: Stream, message: dict[str, Any]) -> None:
    """Replace the streamed text with ``message`` (the answer with its buttons, or the error).

    A stream is stopped first (a failure there is only logged: the update that follows is what shows).

    Raises:
        SlackError: the streamed message could not be replaced; the caller posts the answer another way.
    """
    ops = partial_ops(services)
    if stream.mode == STREAM and ops is not None:
        try:
            ops.call("chat.stopStream", channel=target.channel, ts=stream.ts)
        except SlackError as exc:  # the update below still replaces the text
            logger.info("stream not stopped: %s", exc, extra={"request_id": target.request_id})
    services.slack.update(target.channel, stream.ts, message)


def post_continuations(services: Services, target: ReplyTarget, parts: list[str]) -> None:
    """Post the parts of a long answer after its first, in the thread; a part Slack refuses is logged."""
    for number, part in enumerate(parts[1:], start=2):
        try:
            services.slack.post(
                target.channel, continuation_message(part, number, len(parts)), thread_ts=target.thread_ts or None
            )
        except SlackError as exc:
            logger.warning("part %d of the answer not posted: %s", number, exc, extra={"request_id": target.request_id})


#: Each text task's field of prose, which a long answer is split on.
TEXT_FIELDS = {"text-generation": "text", "summarization": "summary", "translation": "translation"}


def split_result(task: str, result: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """The result the answer message shows (its text cut to the first part) and every part, for a long text answer."""
    field = TEXT_FIELDS.get(task, "")
    text = result.get(field)
    if not isinstance(text, str):
        return result, []
    parts = split_text(text)
    if len(parts) < 2:
        return result, []
    return {**result, field: parts[0]}, parts
