"""Starting a model run, or a comparison, from Slack: placeholder first, then the asynchronous invocation.

Runs here happen after the ack (in a lazy listener), never on the ack path.
Everything needed to deliver the answer later travels with the invocation in
its ``reply`` field (:class:`bot.slack.reply.ReplyTarget`), so the router keeps
no per-request state between the two. An invocation that cannot even start is
answered at once through :func:`bot.slack.delivery.deliver_outcome`.
"""

from __future__ import annotations

import logging
import time

from bot.core.invoker import InvokeError
from bot.core.services import Services
from bot.core.slack_ops import SlackUnavailable
from bot.slack.answers import compare_message
from bot.slack.delivery import deliver_outcome
from bot.slack.reply import RESPONSE_URL, ReplyTarget
from bot.slack.ui import placeholder_message
from inference.registry import ModelSpec

logger = logging.getLogger(__name__)


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
    try:
        services.invoker.invoke_async(spec.name, {"text": text, "reply": target.to_dict()})
    except InvokeError as exc:
        logger.warning("invoke failed: %s", exc, extra={"request_id": target.request_id})
        deliver_outcome(services, spec, target, text=text, error={"type": "invoke_failed", "message": str(exc)})


def start_compare(services: Services, specs: list[ModelSpec], text: str, target: ReplyTarget) -> None:
    """Post the placeholder and the (empty) comparison, then invoke every model."""
    slack = services.slack
    target.started_at = target.started_at or time.time()
    lead = specs[0]
    ts = slack.post(
        target.channel,
        placeholder_message(lead, user=target.user, text=text, compare=specs),
        thread_ts=target.thread_ts or None,
    )
    if not ts:
        if target.response_url:
            slack.respond(
                target.response_url,
                {
                    "text": "I can't post in this conversation, so I can't run a comparison here. Invite me, or use a channel I'm in."
                },
                ephemeral=True,
            )
        return
    target.placeholder_ts = ts
    target.thread_ts = target.thread_ts or ts
    message_ts = slack.post(target.channel, compare_message(specs, text, {}), thread_ts=target.thread_ts)
    group = target.request_id
    for index, spec in enumerate(specs):
        services.store.increment("usage", spec.name)
        column = ReplyTarget(
            request_id=f"{group}-{index + 1}",
            source=target.source,
            user=target.user,
            channel=target.channel,
            thread_ts=target.thread_ts,
            placeholder_ts=target.placeholder_ts,
            started_at=target.started_at,
            compare={"group": group, "message_ts": message_ts or "", "models": [s.name for s in specs]},
        )
        try:
            services.invoker.invoke_async(spec.name, {"text": text, "reply": column.to_dict()})
        except InvokeError as exc:
            deliver_outcome(services, spec, column, text=text, error={"type": "invoke_failed", "message": str(exc)})
