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
from typing import Any

from bot.core.invoker import InvokeError
from bot.core.services import Services
from bot.core.slack_ops import CannotPost, SlackError, SlackUnavailable
from bot.slack.answers import compare_message
from bot.slack.delivery import deliver_outcome
from bot.slack.reply import RESPONSE_URL, ReplyTarget
from bot.slack.ui import placeholder_message
from inference.media import FileRef
from inference.registry import ModelSpec

logger = logging.getLogger(__name__)


def start_run(
    services: Services,
    spec: ModelSpec,
    text: str,
    target: ReplyTarget,
    *,
    chat: dict[str, Any] | None = None,
    placeholder: bool = True,
    file: FileRef | None = None,
) -> None:
    """Post the placeholder, then invoke the model asynchronously.

    ``chat`` is a conversation's history for a chat model (``{"messages", "trimmed_turns"}``,
    :mod:`bot.slack.conversation`), sent beside ``text``; ``file`` is the stored file a file model
    reads (:mod:`bot.slack.files`), sent as the request's ``"file"``. Without ``placeholder`` (the app's own
    chat surface, where Slack shows the status instead) the answer is the thread's only message.

    A slash command has no thread yet: its placeholder starts one. Where the bot
    cannot post, the placeholder and later the answer go through ``response_url``.
    If Slack keeps failing, the model runs anyway: delivery tries every route again
    (:func:`bot.slack.delivery.deliver_outcome`), so the request ends in its answer
    or, when no route ever works, in Lambda's retries and the failure queue.
    """
    target.started_at = target.started_at or time.time()
    services.store.increment("usage", spec.name)
    request = {**(chat or {}), **({"file": file.to_event()} if file is not None else {})}
    target.file_name = file.name if file is not None else ""
    if not placeholder:
        _invoke(services, spec, text, target, request)
        return
    message = placeholder_message(spec, user=target.user, text=text, file_name=target.file_name)
    if _post_placeholder(services, target, message) or _respond_placeholder(services, target, message):
        _invoke(services, spec, text, target, request)


def _post_placeholder(services: Services, target: ReplyTarget, placeholder: dict[str, Any]) -> bool:
    """Post the placeholder in the channel; True when the run can go on without another route.

    False means the bot cannot post in this conversation (or there is no channel): the
    ``response_url`` is the route left. A Slack outage is True with no placeholder: the run
    goes on and delivery tries every route again, as for any answer.
    """
    if not target.channel:
        return False
    try:
        ts = services.slack.post(target.channel, placeholder, thread_ts=target.thread_ts or None)
    except CannotPost:
        return False
    except SlackUnavailable:
        logger.warning("placeholder not posted; running without it", extra={"request_id": target.request_id})
        return True
    target.placeholder_ts = ts
    target.thread_ts = target.thread_ts or ts
    return True


def _respond_placeholder(services: Services, target: ReplyTarget, placeholder: dict[str, Any]) -> bool:
    """Post the placeholder through the ``response_url``; True when the answer can follow it there."""
    if not target.response_url:
        logger.warning("no way to reach the requester", extra={"request_id": target.request_id})
        return False
    target.mode = RESPONSE_URL
    try:
        services.slack.respond(target.response_url, placeholder)
    except CannotPost:
        logger.warning("no way to reach the requester", extra={"request_id": target.request_id})
        return False
    except SlackUnavailable:
        logger.warning("placeholder not posted; running without it", extra={"request_id": target.request_id})
    return True


def _invoke(services: Services, spec: ModelSpec, text: str, target: ReplyTarget, request: dict[str, Any]) -> None:
    """Invoke ``spec`` on ``text`` with what else the request carries (a chat's history, a file)."""
    try:
        services.invoker.invoke_async(spec.name, {"text": text, **request, "reply": target.to_dict()})
    except InvokeError as exc:
        logger.warning("invoke failed: %s", exc, extra={"request_id": target.request_id})
        deliver_outcome(services, spec, target, text=text, error={"type": "invoke_failed", "message": str(exc)})


#: What a person sees when a comparison cannot run where they asked for it.
COMPARE_NEEDS_A_CHANNEL = (
    "I can't post in this conversation, so I can't run a comparison here. Invite me, or use a channel I'm in."
)


def start_compare(services: Services, specs: list[ModelSpec], text: str, target: ReplyTarget) -> None:
    """Post the placeholder and the (empty) comparison, then invoke every model.

    A failed placeholder is treated as :func:`start_run` treats it: where the bot cannot
    post, the person is told so through the ``response_url`` (a comparison's columns need
    a message in the channel to fill in); if Slack is failing, the comparison goes on
    without it. The comparison message itself is where the answers land: if it cannot be
    posted, nothing is invoked and :class:`bot.core.slack_ops.SlackError` rises, which the
    listener turns into the request's one clear error.

    Raises:
        SlackError: the comparison message could not be posted.
    """
    slack = services.slack
    target.started_at = target.started_at or time.time()
    placeholder = placeholder_message(specs[0], user=target.user, text=text, compare=specs)
    if not _post_placeholder(services, target, placeholder):
        if not target.response_url:
            logger.warning("no way to reach the requester", extra={"request_id": target.request_id})
            return
        try:
            slack.respond(target.response_url, {"text": COMPARE_NEEDS_A_CHANNEL}, ephemeral=True)
        except SlackError as exc:
            logger.warning(
                "could not say why the comparison cannot run: %s", exc, extra={"request_id": target.request_id}
            )
        return
    message_ts = slack.post(target.channel, compare_message(specs, text, {}), thread_ts=target.thread_ts or None)
    target.thread_ts = target.thread_ts or message_ts
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
            compare={"group": group, "message_ts": message_ts, "models": [s.name for s in specs]},
        )
        try:
            services.invoker.invoke_async(spec.name, {"text": text, "reply": column.to_dict()})
        except InvokeError as exc:
            deliver_outcome(services, spec, column, text=text, error={"type": "invoke_failed", "message": str(exc)})
