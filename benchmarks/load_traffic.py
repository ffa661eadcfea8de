"""The load run's traffic: signed slash commands and mentions, each traceable to its answer.

Every request gets a channel of its own (and a mention its own thread), so
whatever the bot posts there, or through the request's own ``response_url``,
belongs to that request and to no other.
"""

from __future__ import annotations

import http.client
import time
import uuid
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from inference.registry import ModelSpec
from tests.fakes.slack_api import BOT_USER_ID
from tests.fakes.slack_client import HttpResult, SlackSender

#: The three ways people ask: a model's own command, ``/hf <model>``, a mention.
KINDS = ("command", "hf", "mention")
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
        request = LoadRequest(
            index=index,
            kind=kind,
            model=spec.name,
            command=HF_COMMAND if kind == "hf" else spec.command,
            text=f"{spec.name} {spec.example}" if kind == "hf" else spec.example,
            channel=f"CL{run}{index:05d}",
            user=f"UL{index:05d}",
        )
        if kind == "mention":
            request.ts = f"{epoch}.{index + 1:06d}"
            request.text = f"<@{BOT_USER_ID}> {spec.name} {spec.example}"
        else:
            request.response_url = new_response_url()
        planned.append(request)
    return planned


def _post(sender: SlackSender, request: LoadRequest, retry_num: int | None) -> HttpResult:
    if request.kind == "mention":
        event = {
            "type": "app_mention",
            "user": request.user,
            "text": request.text,
            "ts": request.ts,
            "channel": request.channel,
            "event_ts": request.ts,
        }
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

    Like Slack, a mention whose ack failed or came after 3 seconds is delivered
    again at once with the same ``event_id`` and ``X-Slack-Retry-Num`` (Slack's
    later retries, after 1 and 5 minutes, are left out to keep the run short).
    A slash command is never redelivered: Slack shows the person an error instead.
    """
    request.sent_at = time.monotonic()
    status, seconds, error = _attempt(sender, request, None)
    request.ack_status, request.ack_seconds, request.ack_error = status, seconds, error
    request.acked = status == 200
    while request.kind == "mention" and request.redeliveries < SLACK_RETRIES:
        if status == 200 and seconds < ACK_LIMIT_SECONDS:
            return
        request.redeliveries += 1
        status, seconds, _ = _attempt(sender, request, request.redeliveries)
        request.acked = request.acked or status == 200


def send_all(sender: SlackSender, requests: Sequence[LoadRequest], *, concurrency: int) -> None:
    """Send every request from ``concurrency`` threads at once; returns when all are acked or failed."""
    with ThreadPoolExecutor(max_workers=max(1, concurrency), thread_name_prefix="load") as pool:
        list(pool.map(lambda request: send(sender, request), requests))
