"""Every Slack listener, registered in one place for the Lambda and local entry points.

Each listener is split as Bolt's lazy listeners want: an ``ack`` function that
only validates and answers Slack within 3 seconds (no Web API call, no
invocation), and a lazy function that does the work afterwards. Duplicate
deliveries (Slack's retries, a command sent twice) are claimed away in the
lazy half, through the shared state store, so they never answer twice. What a
command or mention asks for is decided in :mod:`bot.slack.plans`.
"""

from __future__ import annotations

import json
import logging
import re
import uuid
from collections.abc import Callable
from typing import Any

from slack_bolt import Ack, App

from bot.core.model_requests import check_input, new_request_id
from bot.core.mrkdwn import clip
from bot.core.services import Services
from bot.slack.delivery import deliver_outcome
from bot.slack.plans import Plan, plan_command, plan_mention, run_or_explain
from bot.slack.reply import ReplyTarget
from bot.slack.runs import start_compare, start_run
from bot.slack.text import to_plain
from bot.slack.ui import (
    COMMENT_ACTION,
    COMMENT_BLOCK,
    COMMENT_INPUT,
    COMMENT_MODAL_CALLBACK,
    MODEL_SELECT_ACTION,
    MODEL_SELECT_BLOCK,
    RUN_MODAL_CALLBACK,
    SHORTCUT_CALLBACK,
    VOTE_DOWN,
    VOTE_UP,
    comment_modal,
    home_view,
    model_picker_modal,
    with_tally,
)
from bot.stores.feedback import DOWN, UP
from inference.errors import InferenceError, InvalidInput
from inference.registry import ModelSpec
from inference.tasks import check_unicode

logger = logging.getLogger(__name__)

#: The state-store record holding a shortcut's message text while its modal is open.
#: The text stays server-side: Slack's private_metadata holds 3,000 characters, which
#: JSON-escaped non-Latin text (six characters per kana) or a long message would overflow.
SHORTCUT_TEXT_KEY = "shortcut#"
SHORTCUT_TEXT_FIELD = "text"
#: Long enough for a modal left open all day, and no longer: the text is someone's message.
SHORTCUT_TEXT_TTL = 24 * 3600
#: Shown in the modal when the stored text has expired or is missing.
SHORTCUT_TEXT_GONE = "This message's text is no longer available. Close this and run the shortcut on the message again."


def register_listeners(app: App, services: Services) -> None:
    """Attach every listener; the same registration serves Lambda and local mode."""
    store, slack, registry = services.store, services.slack, services.registry

    def ack_command(ack: Ack, command: dict[str, Any]) -> None:
        plan = plan_command(services, command)
        ack(**plan.reply) if plan.reply else ack()

    def run_command(command: dict[str, Any]) -> None:
        plan = plan_command(services, command)
        key = f"command:{command.get('trigger_id')}"
        if plan.spec is None or not store.claim(key):
            return
        target = ReplyTarget(
            request_id=new_request_id(),
            source="command",
            user=str(command.get("user_id", "")),
            channel=str(command.get("channel_id", "")),
            response_url=str(command.get("response_url", "")),
        )
        _attempt(key, plan.spec, target, lambda: _start(plan, target))

    def _start(plan: Plan, target: ReplyTarget) -> None:
        if plan.compare:
            start_compare(services, plan.compare, plan.text, target)
        else:
            start_run(services, plan.spec, plan.text, target)

    def ack_only(ack: Ack) -> None:
        ack()

    def run_mention(event: dict[str, Any], body: dict[str, Any]) -> None:
        key = f"event:{body.get('event_id') or event.get('event_ts')}"
        if not store.claim(key):
            return
        plan, from_thread = plan_mention(services, event)
        target = ReplyTarget(
            request_id=new_request_id(),
            source="mention",
            user=str(event.get("user", "")),
            channel=str(event.get("channel", "")),
            thread_ts=str(event.get("thread_ts") or event.get("ts") or ""),
        )

        def work() -> None:
            nonlocal plan
            if from_thread and plan.spec is not None:
                thread = slack.thread_text(target.channel, target.thread_ts, exclude_ts=str(event.get("ts", "")))
                plan = run_or_explain(plan.spec, to_plain(thread))
            if plan.reply is not None:
                slack.post(target.channel, plan.reply, thread_ts=target.thread_ts)
            else:
                _start(plan, target)

        _attempt(key, plan.spec, target, work)

    def open_picker(body: dict[str, Any]) -> None:
        message = body.get("message") or {}
        text = to_plain(str(message.get("text", "")))
        metadata = {
            "channel": str((body.get("channel") or {}).get("id", "")),
            "thread_ts": str(message.get("thread_ts") or message.get("ts", "")),
        }
        try:
            check_unicode(text)
        except InvalidInput as exc:
            metadata["refused"] = str(exc)  # no store takes it: the modal says why when submitted
        else:
            metadata["text_key"] = uuid.uuid4().hex
            store.set_field(SHORTCUT_TEXT_KEY + metadata["text_key"], SHORTCUT_TEXT_FIELD, text, ttl=SHORTCUT_TEXT_TTL)
        slack.open_view(body["trigger_id"], model_picker_modal(registry, private_metadata=json.dumps(metadata)))

    def shortcut_text(view: dict[str, Any]) -> str | None:
        """The message text kept when the modal opened; None once it expired (or never was)."""
        text_key = _modal_metadata(view).get("text_key")
        if not isinstance(text_key, str) or not text_key:
            return None
        return store.fields(SHORTCUT_TEXT_KEY + text_key).get(SHORTCUT_TEXT_FIELD)

    def check_modal(view: dict[str, Any]) -> tuple[ModelSpec, str] | str:
        """The model picked and the text it reads, or why the modal cannot be submitted (for the person)."""
        spec = registry.find(_selected_model(view))
        if spec is None:
            return "Pick a model."
        refused = _modal_metadata(view).get("refused")
        if isinstance(refused, str) and refused:
            return clip(refused, 150)
        text = shortcut_text(view)
        if text is None:
            return SHORTCUT_TEXT_GONE
        try:
            return spec, check_input(spec, text)
        except InferenceError as exc:
            return clip(str(exc), 150)

    def ack_modal(ack: Ack, view: dict[str, Any]) -> None:
        checked = check_modal(view)
        if isinstance(checked, str):
            ack(response_action="errors", errors={MODEL_SELECT_BLOCK: checked})
        else:
            ack()

    def run_modal(view: dict[str, Any], body: dict[str, Any]) -> None:
        checked = check_modal(view)
        key = f"view:{view.get('id')}"
        if isinstance(checked, str) or not store.claim(key):
            return  # refused: the ack said why, in the modal
        spec, text = checked
        metadata = _modal_metadata(view)
        target = ReplyTarget(
            request_id=new_request_id(),
            source="shortcut",
            user=str((body.get("user") or {}).get("id", "")),
            channel=str(metadata.get("channel", "")),
            thread_ts=str(metadata.get("thread_ts", "")),
        )
        _attempt(key, spec, target, lambda: start_run(services, spec, text, target))

    def publish_home(event: dict[str, Any]) -> None:
        if event.get("tab", "home") == "home":
            view = home_view(registry, store.counts("usage"), services.feedback.model_tallies(registry.names))
            slack.publish_home(str(event.get("user", "")), view)

    def record_vote(body: dict[str, Any], action: dict[str, Any]) -> None:
        request_id, user = str(action.get("value", "")), str((body.get("user") or {}).get("id", ""))
        if not request_id or not user:
            return
        services.feedback.vote(request_id, user, UP if action.get("action_id") == VOTE_UP else DOWN)
        refresh_tally(body, request_id)

    def refresh_tally(body: dict[str, Any], request_id: str) -> None:
        message, channel = body.get("message") or {}, (body.get("channel") or {}).get("id", "")
        if message.get("ts") and channel:
            blocks = with_tally(message.get("blocks") or [], request_id, services.feedback.tally(request_id))
            slack.update(channel, message["ts"], {"text": message.get("text", ""), "blocks": blocks})

    def open_comment(body: dict[str, Any], action: dict[str, Any]) -> None:
        metadata = {"request_id": action.get("value", "")}
        slack.open_view(body["trigger_id"], comment_modal(private_metadata=json.dumps(metadata)))

    def save_comment(body: dict[str, Any], view: dict[str, Any]) -> None:
        request_id = str(_modal_metadata(view).get("request_id", ""))
        text = _input_value(view, COMMENT_BLOCK, COMMENT_INPUT, "value").strip()
        user = str(_dig(body, "user", "id") or "")
        if request_id and user and text:
            services.feedback.comment(request_id, user, text)

    def _attempt(key: str, spec: ModelSpec | None, target: ReplyTarget, work: Callable[[], None]) -> None:
        """Run the work once; if it breaks, the person still gets one clear error.

        A lazy listener's exception is swallowed by Bolt and never retried, so
        this is the last chance to tell the person. Only when even that fails is
        the claim given back, for Slack's own retry to find.
        """
        try:
            work()
        except Exception:
            logger.exception("listener failed", extra={"claim": key, "request_id": target.request_id})
            error = {"type": "internal_error", "message": "the request could not be started."}
            try:
                deliver_outcome(services, spec, target, text="", error=error)
            except Exception:
                store.release(key)
                raise
        store.complete(key)

    app.command(re.compile(r"^/.+"))(ack=ack_command, lazy=[run_command])
    app.event("app_mention")(ack=ack_only, lazy=[run_mention])
    app.event("app_home_opened")(ack=ack_only, lazy=[publish_home])
    app.shortcut(SHORTCUT_CALLBACK)(ack=ack_only, lazy=[open_picker])
    app.view(RUN_MODAL_CALLBACK)(ack=ack_modal, lazy=[run_modal])
    app.action(re.compile(f"^({VOTE_UP}|{VOTE_DOWN})$"))(ack=ack_only, lazy=[record_vote])
    app.action(COMMENT_ACTION)(ack=ack_only, lazy=[open_comment])
    app.view(COMMENT_MODAL_CALLBACK)(ack=ack_only, lazy=[save_comment])


def _dig(data: Any, *keys: str) -> Any:
    """``data[k1][k2]...``, or None where a level is missing or not a mapping (payloads are untrusted)."""
    for key in keys:
        if not isinstance(data, dict):
            return None
        data = data.get(key)
    return data


def _input_value(view: dict[str, Any], block: str, action: str, field: str) -> str:
    value = _dig(view, "state", "values", block, action, *field.split("."))
    return value if isinstance(value, str) else ""


def _selected_model(view: dict[str, Any]) -> str:
    return _input_value(view, MODEL_SELECT_BLOCK, MODEL_SELECT_ACTION, "selected_option.value")


def _modal_metadata(view: dict[str, Any]) -> dict[str, Any]:
    raw = view.get("private_metadata")
    if not isinstance(raw, str):
        return {}
    try:
        data = json.loads(raw or "{}")
    except (json.JSONDecodeError, RecursionError):
        return {}
    return data if isinstance(data, dict) else {}
