"""The load run's traffic: signed slash commands, mentions and thread replies, each traceable to its answer.

Every request gets a channel of its own (and a mention its own thread), so
whatever the bot posts there, or through the request's own ``response_url``,
belongs to that request and to no other.

A chat model (task ``text-generation``) is asked as people chat with it: its
own command (``/tiny-ask text``, which starts a thread), a mention inside a
thread someone started (its earlier message becomes the history), and, in the
slot ``/hf`` has for the other models, a reply without a mention in a thread
the bot's chat answer started, which continues that conversation. The threads
those two read are seeded on the fake Slack API (:func:`seed_threads`).
"""

from __future__ import annotations

import http.client
import time
import uuid
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from bot.slack.ui import FEEDBACK_BLOCK, QUOTE, context, echo_lines, rich_text
from inference.registry import ModelSpec
from tests.fakes.slack_api import BOT_ID, BOT_USER_ID, FakeSlackApi
from tests.fakes.slack_client import HttpResult, SlackSender

#: The three ways people ask: a model's own command, ``/hf <model>``, a mention.
KINDS = ("command", "hf", "mention")
#: The task whose models are chatted with, and what each slot of ``KINDS`` becomes for them.
CHAT_TASK = "text-generation"
CHAT_KINDS = {"command": "command", "hf": "reply", "mention": "thread-mention"}
#: The kinds that arrive as Events API events (and are redelivered like them); the rest are slash commands.
EVENT_KINDS = frozenset({"mention", "thread-mention", "reply"})
#: What the person said earlier in a seeded thread, and the bot's earlier answer there.
EARLIER_QUESTION = "Where is the tower?"
EARLIER_ANSWER = "The tower is in Paris."
HF_COMMAND = "/hf"
#: Slack's deadline for the HTTP acknowledgement, and how many times it redelivers an event.
ACK_LIMIT_SECONDS = 3.0
SLACK_RETRIES = 3


@dataclass
class LoadRequest:
    """One request and how its ack went.

    ``sent_at`` is ``time.monotonic()`` when it was first sent; ``ack_*`` describe
    that first delivery (``ack_status`` None: the connection failed).
    """

    index: int
    kind: str
    model: str
    command: str
    text: str
    channel: str
    user: str
    ts: str = ""
    #: The thread a ``thread-mention`` or ``reply`` is posted in (seeded by :func:`seed_threads`).
    thread_ts: str = ""
    response_url: str = ""
    sent_at: float | None = None
    ack_status: int | None = None
    ack_seconds: float | None = None
    ack_error: str = ""
    #: Some delivery (the first, or a redelivery) was answered with HTTP 200.
    acked: bool = False
    redeliveries: int = 0
    event_id: str = field(default_factory=lambda: f"Ev{uuid.uuid4().hex[:12].upper()}")


def plan_requests(
    count: int,
    models: Sequence[ModelSpec],
    *,
    run: str,
    new_response_url: Callable[[], str],
    kinds: Sequence[str] = KINDS,
) -> list[LoadRequest]:
    """``count`` requests cycling through ``kinds`` and ``models``, each with its registry example.

    ``run`` goes into every channel id, so two runs against one fake never mix.
    """
    if not models:
        raise ValueError("the load needs at least one model")
    epoch = int(time.time())
    planned = []
    for index in range(count):
        kind = kinds[index % len(kinds)]
        spec = models[(index // len(kinds)) % len(models)]
        if spec.task == CHAT_TASK:
            kind = CHAT_KINDS.get(kind, kind)
        request = LoadRequest(
            index=index,
            kind=kind,
            model=spec.name,
            command=HF_COMMAND if kind == "hf" else spec.command,
            text=f"{spec.name} {spec.example}" if kind == "hf" else spec.example,
            channel=f"CL{run}{index:05d}",
            user=f"UL{index:05d}",
        )
        if kind in EVENT_KINDS:
            request.ts = f"{epoch}.{index + 1:06d}"
            request.text = f"<@{BOT_USER_ID}> {spec.name} {spec.example}"
        if kind in ("thread-mention", "reply"):
            request.thread_ts = f"{epoch - 600}.{index + 1:06d}"
            request.text = "And how tall is it?" if kind == "reply" else request.text
        if kind not in EVENT_KINDS:
            request.response_url = new_response_url()
        planned.append(request)
    return planned


def seed_threads(slack: FakeSlackApi, requests: Sequence[LoadRequest]) -> None:
    """Make the threads the chat requests are posted in: the person's question for a mention in a thread;
    for a reply, the thread ``/tiny-ask`` would have left (the bot's placeholder, then its answer, with the
    feedback buttons and the model in its footer). Neither carries a request id, so neither is an outcome."""
    for request in requests:
        if request.kind == "thread-mention":
            slack.set_thread(request.channel, request.thread_ts, [{"user": request.user, "text": EARLIER_QUESTION}])
        elif request.kind == "reply":
            bot = {"user": BOT_USER_ID, "bot_id": BOT_ID}
            placeholder = {
                **bot,
                "text": f"<@{request.user}> asked `{request.model}`",
                "blocks": [rich_text((QUOTE, echo_lines(EARLIER_QUESTION)))],
            }
            answer = {
                **bot,
                "text": EARLIER_ANSWER,
                "blocks": [
                    rich_text((QUOTE, echo_lines(EARLIER_ANSWER))),
                    context(f"`{request.model}` · seeded earlier turn"),
                    {"type": "actions", "block_id": f"{FEEDBACK_BLOCK}seed{request.index:05d}", "elements": []},
                ],
            }
            slack.set_thread(request.channel, request.thread_ts, [placeholder, answer])


def _event(request: LoadRequest) -> dict[str, Any]:
    """The Events API event of a mention (in its own thread, or in a seeded one) or of a thread reply."""
    event: dict[str, Any] = {
        "type": "message" if request.kind == "reply" else "app_mention",
        "user": request.user,
        "text": request.text,
        "ts": request.ts,
        "channel": request.channel,
        "event_ts": request.ts,
    }
    if request.thread_ts:
        event["thread_ts"] = request.thread_ts
    if request.kind == "reply":
        event.update(channel_type="channel", parent_user_id=BOT_USER_ID)
    return event


def _post(sender: SlackSender, request: LoadRequest, retry_num: int | None) -> HttpResult:
    if request.kind in EVENT_KINDS:
        event = _event(request)
        reason = None if retry_num is None else "http_timeout"
        return sender.event(event, event_id=request.event_id, retry_num=retry_num, retry_reason=reason)
    return sender.command(
        request.command,
        request.text,
        channel_id=request.channel,
        user_id=request.user,
        response_url=request.response_url,
    )


def _attempt(sender: SlackSender, request: LoadRequest, retry_num: int | None) -> tuple[int | None, float, str]:
    """One delivery: its HTTP status (None when the connection failed), seconds taken, and what went wrong."""
    started = time.monotonic()
    try:
        result = _post(sender, request, retry_num)
    except (OSError, http.client.HTTPException) as exc:  # refused, reset or timed out
        return None, time.monotonic() - started, f"{type(exc).__name__}: {exc}"
    return result.status, result.elapsed, "" if result.status == 200 else result.body[:200]


def send(sender: SlackSender, request: LoadRequest) -> None:
    """Sign and post one request as Slack would; record the first ack's status and latency.

    Like Slack, an event (a mention or a thread reply) whose ack failed or came after 3 seconds is delivered
    again at once with the same ``event_id`` and ``X-Slack-Retry-Num`` (Slack's
    later retries, after 1 and 5 minutes, are left out to keep the run short).
    A slash command is never redelivered: Slack shows the person an error instead.
    """
    request.sent_at = time.monotonic()
    status, seconds, error = _attempt(sender, request, None)
    request.ack_status, request.ack_seconds, request.ack_error = status, seconds, error
    request.acked = status == 200
    while request.kind in EVENT_KINDS and request.redeliveries < SLACK_RETRIES:
        if status == 200 and seconds < ACK_LIMIT_SECONDS:
            return
        request.redeliveries += 1
        status, seconds, _ = _attempt(sender, request, request.redeliveries)
        request.acked = request.acked or status == 200


def send_all(sender: SlackSender, requests: Sequence[LoadRequest], *, concurrency: int) -> None:
    """Send every request from ``concurrency`` threads at once; returns when all are acked or failed."""
    with ThreadPoolExecutor(max_workers=max(1, concurrency), thread_name_prefix="load") as pool:
        list(pool.map(lambda request: send(sender, request), requests))
