"""Starting a model run from Slack: placeholder first, then the asynchronous invocation.

Runs here happen after the ack (in a lazy listener), never on the ack path.
Everything needed to deliver the answer later travels with the invocation in
its ``reply`` field, so the router keeps no per-request state between the two.
"""

from __future__ import annotations

import logging
import time
from dataclasses import asdict, dataclass
from typing import Any

from bot.invoker import InvokeError
from bot.services import Services
from bot.slack_ops import SlackUnavailable
from bot.slack_ui import placeholder_message
from inference.registry import ModelSpec

logger = logging.getLogger(__name__)

#: Where the answer goes: into ``thread_ts`` in ``channel``, or through ``response_url``.
THREAD, RESPONSE_URL = "thread", "response_url"


@dataclass
class ReplyTarget:
    """Where and to whom an answer is delivered; serialised into the invocation's ``reply``."""

    request_id: str
    source: str
    user: str
    channel: str = ""
    thread_ts: str = ""
    placeholder_ts: str = ""
    response_url: str = ""
    mode: str = THREAD
    started_at: float = 0.0
    #: For one model of a comparison: ``{"group", "message_ts", "models"}``.
    compare: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        if data["compare"] is None:
            del data["compare"]  # most requests are not comparisons: keep their payload lean
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ReplyTarget:
        known = {k: data[k] for k in cls.__dataclass_fields__ if k in data}
        return cls(**known)


def start_run(services: Services, spec: ModelSpec, text: str, target: ReplyTarget) -> None:
    """Post the placeholder, then invoke the model asynchronously.

    A slash command has no thread yet: its placeholder starts one. Where the bot
    cannot post, the placeholder and later the answer go through ``response_url``.
    If Slack keeps failing, the model runs anyway: delivery tries every route again.
    """
    target.started_at = target.started_at or time.time()
    services.store.increment("usage", spec.name)
    placeholder = placeholder_message(spec, user=target.user, text=text)
    try:
        ts = (
            services.slack.post(target.channel, placeholder, thread_ts=target.thread_ts or None)
            if target.channel
            else None
        )
    except SlackUnavailable:
        logger.warning("placeholder not posted; running without it", extra={"request_id": target.request_id})
        _invoke(services, spec, text, target)
        return
    if ts:
        target.placeholder_ts = ts
        target.thread_ts = target.thread_ts or ts
    elif target.response_url:
        target.mode = RESPONSE_URL
        services.slack.respond(target.response_url, placeholder)
    else:
        logger.warning("no way to reach the requester", extra={"request_id": target.request_id})
        return
    _invoke(services, spec, text, target)


def _invoke(services: Services, spec: ModelSpec, text: str, target: ReplyTarget) -> None:
    from bot.delivery import deliver_outcome

    try:
        services.invoker.invoke_async(spec.name, {"text": text, "reply": target.to_dict()})
    except InvokeError as exc:
        logger.warning("invoke failed: %s", exc, extra={"request_id": target.request_id})
        deliver_outcome(services, spec, target, text=text, error={"type": "invoke_failed", "message": str(exc)})
