"""Every Slack listener, as a module-level function, and the one table that registers them.

Each listener is split as Bolt's lazy listeners want: an ``ack`` function that
only validates and answers Slack within 3 seconds (no Web API call, no
invocation), and a lazy function that does the work afterwards. Each takes
``services`` first and then what Bolt passes by name (``ack``, ``command``,
``event``, ``body``, ``view``, ``action``, ``context``), so a test calls it
with a fake ``ack`` and a dict for ``context``; :func:`register_listeners`
binds ``services`` and hands :data:`LISTENERS` to Bolt.

Duplicate deliveries (Slack's retries, a command sent twice) are claimed away
in the lazy half, through the shared state store, so they never answer twice.
What a command or mention asks for is decided in :mod:`bot.slack.plans`.

**A request's plan is computed once per invocation of the router.** The ack
decides (:func:`bot.slack.plans.plan_command`, :func:`plan_modal`) and keeps
the plan in Bolt's ``context`` under :data:`PLAN_KEY`; the lazy half takes it
from there. Locally (``python -m bot serve``) Bolt runs the lazy half in a
thread with a copy of the ack's context, so the plan is computed exactly once
(a :class:`~bot.slack.plans.Plan` copies as itself). In Lambda the lazy half is
another invocation of the function, started with the same signed event and no
context: it plans again from the body. A plan is a pure function of the body
and the registry (a slash command's; a modal's also reads the text its
shortcut stored), without the clock, randomness or a Web API call, so both
invocations reach the same plan, in well under a millisecond. It is never
carried in the event itself: the headers Bolt adds for the re-invocation are
not signed, and a plan taken from them would be a plan anyone could write.
"""

from __future__ import annotations

import functools
import inspect
import json
import logging
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from slack_bolt import Ack, App

from bot.core.model_requests import check_input, new_request_id
from bot.core.mrkdwn import clip
from bot.core.services import Services
from bot.core.slack_ops import SlackError
from bot.core.uploads import reads_files
from bot.slack.assistant import build_assistant
from bot.slack.conversation import Bot, load_history, person_text, read_thread
from bot.slack.delivery import deliver_outcome
from bot.slack.files import FileProblem, fetch_file, file_id, message_files, pick_file
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
    how_to_send_a_file,
    model_picker_modal,
    warning_message,
    with_tally,
)
from bot.stores.feedback import DOWN, UP
from inference.errors import InferenceError, InvalidInput
from inference.registry import ModelSpec
from inference.tasks import check_unicode, media_kind

logger = logging.getLogger(__name__)

#: The task whose models hold conversations.
CHAT_TASK = "text-generation"

#: The state-store record holding a shortcut's message text while its modal is open.
#: The text stays server-side: Slack's private_metadata holds 3,000 characters, which
#: JSON-escaped non-Latin text (six characters per kana) or a long message would overflow.
SHORTCUT_TEXT_KEY = "shortcut#"
SHORTCUT_TEXT_FIELD = "text"
#: Long enough for a modal left open all day, and no longer: the text is someone's message.
SHORTCUT_TEXT_TTL = 24 * 3600
#: Shown in the modal when the stored text has expired or is missing.
SHORTCUT_TEXT_GONE = "This message's text is no longer available. Close this and run the shortcut on the message again."
#: Shown in the modal when a model that reads a file is picked for a message without one.
SHORTCUT_NO_FILE = "This message has no file. Pick a model that reads text, or run this on a message with a file."
#: Said (only to the person) when Slack would not open a modal they asked for.
VIEW_NOT_OPENED = "Slack didn't open that window. Please try again."

#: Where the ack leaves the request's plan for the lazy half, in Bolt's ``context``.
PLAN_KEY = "hf_plan"
#: Where a modal's parsed ``private_metadata`` is kept for the rest of the request.
METADATA_KEY = "hf_modal_metadata"

T = TypeVar("T")


def once(context: dict[str, Any], key: str, compute: Callable[[], T]) -> T:
    """``context[key]``, computed on first use: what the ack computed, the lazy half reuses.

    ``context`` is Bolt's (its lazy half gets a deep copy of the ack's) or, in a test, a dict.
    """
    if key not in context:
        context[key] = compute()
    return context[key]


# -- slash commands ------------------------------------------------------------------------


def ack_command(services: Services, ack: Ack, command: dict[str, Any], context: dict[str, Any]) -> None:
    """Answer a slash command from its plan: usage or help right away, or a bare ack for a run."""
    _ack_with(ack, once(context, PLAN_KEY, lambda: plan_command(services, command)))


def run_command(services: Services, command: dict[str, Any], context: dict[str, Any]) -> None:
    """Start the run (or comparison) the ack planned, once per ``trigger_id``."""
    plan = once(context, PLAN_KEY, lambda: plan_command(services, command))
    key = f"command:{command.get('trigger_id')}"
    if plan.spec is None or not services.store.claim(key):
        return
    target = ReplyTarget(
        request_id=new_request_id(),
        source="command",
        user=str(command.get("user_id", "")),
        channel=str(command.get("channel_id", "")),
        response_url=str(command.get("response_url", "")),
    )
    _attempt(services, key, plan, target, lambda: _start(services, plan, target))


# -- mentions, Home, acks without a decision -----------------------------------------------


def ack_only(ack: Ack) -> None:
    """Acknowledge; the lazy half decides (a mention's plan may need its thread, read after the ack)."""
    ack()


def run_mention(
    services: Services, event: dict[str, Any], body: dict[str, Any], context: dict[str, Any] | None = None
) -> None:
    """Answer a mention in its thread: a reply, a run, a comparison, or a run on the thread's text.

    A chat model mentioned inside a thread continues the thread's conversation (:mod:`bot.slack.conversation`).
    """
    key = f"event:{body.get('event_id') or event.get('event_ts')}"
    if not services.store.claim(key):
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
        if plan.spec is not None and reads_files(plan.spec):
            found = plan.file or (_parent_file(services, plan.spec, target) if from_thread else None)
            _run_on_file(services, plan.spec, plan.text, target, found)
            return
        if from_thread and plan.spec is not None:
            thread = services.slack.thread_text(target.channel, target.thread_ts, exclude_ts=str(event.get("ts", "")))
            plan = run_or_explain(plan.spec, to_plain(thread))
        if plan.reply is not None:
            services.slack.post(target.channel, plan.reply, thread_ts=target.thread_ts)
        elif _is_chat(plan) and event.get("thread_ts") and plan.spec is not None:
            _converse(services, plan.spec, plan.text, target, event, Bot.of(body, context or {}))
        else:
            _start(services, plan, target)

    _attempt(services, key, plan, target, work)


def is_conversation_reply(event: dict[str, Any], body: dict[str, Any], context: dict[str, Any]) -> bool:
    """A person's reply, without a mention of this app, in a thread this app started (``/ask text``'s):
    the thread's conversation goes on. Read from the event alone, so the ack makes no call; a direct
    message is the app's own chat surface (:mod:`bot.slack.assistant`)."""
    bot_user = Bot.of(body, context).user_id
    return bool(
        bot_user
        and event.get("thread_ts")
        and event.get("thread_ts") != event.get("ts")
        and event.get("parent_user_id") == bot_user
        and not event.get("bot_id")
        and event.get("subtype") in (None, "thread_broadcast")
        and event.get("channel_type") != "im"
        and f"<@{bot_user}" not in str(event.get("text", ""))
    )


def run_thread_message(
    services: Services, event: dict[str, Any], body: dict[str, Any], context: dict[str, Any]
) -> None:
    """Go on with the conversation in a thread this app's chat answer started, with the model that answered.

    A thread whose latest answer is not a chat model's (``/sentiment``'s), a message with no text, or a
    thread the app cannot read is left alone; a text the model cannot take is explained in the thread.
    """
    key = f"event:{body.get('event_id') or event.get('event_ts')}"
    if not services.store.claim(key):
        return
    target = ReplyTarget(
        request_id=new_request_id(),
        source="thread",
        user=str(event.get("user", "")),
        channel=str(event.get("channel", "")),
        thread_ts=str(event.get("thread_ts", "")),
    )
    bot = Bot.of(body, context)
    text = person_text(str(event.get("text", "")), services.registry, bot)
    plan = Plan()

    def work() -> None:
        nonlocal plan
        if not text:
            return  # a file, an emoji: nothing to answer
        try:
            messages = services.slack.replies(target.channel, target.thread_ts)
        except SlackError as exc:
            logger.warning("thread not read: %s", exc, extra={"request_id": target.request_id})
            return
        thread = read_thread(messages, registry=services.registry, bot=bot, exclude_ts=str(event.get("ts", "")))
        spec = services.registry.find(thread.model or "")
        if spec is None or spec.task != CHAT_TASK:
            return  # not a conversation with a chat model
        plan = run_or_explain(spec, text)
        if plan.reply is not None:
            services.slack.post(target.channel, plan.reply, thread_ts=target.thread_ts)
        else:
            _converse(services, spec, plan.text, target, event, Bot.of(body, context))

    _attempt(services, key, plan, target, work)


def _is_chat(plan: Plan) -> bool:
    return plan.spec is not None and plan.spec.task == CHAT_TASK and not plan.compare and bool(plan.text)


def _converse(
    services: Services, spec: ModelSpec, text: str, target: ReplyTarget, event: dict[str, Any], bot: Bot
) -> None:
    """Run ``spec`` on ``text`` with the thread's conversation before it as the history."""
    text, chat, thread = load_history(
        services,
        spec,
        channel=target.channel,
        thread_ts=target.thread_ts,
        text=text,
        user=target.user,
        bot=bot,
        exclude_ts=str(event.get("ts", "")),
    )
    target.trim_noted = thread.trim_noted
    start_run(services, spec, text, target, chat=chat)


def publish_home(services: Services, event: dict[str, Any]) -> None:
    """Publish the Home tab: every model with how often it was used and rated."""
    if event.get("tab", "home") != "home":
        return
    registry = services.registry
    view = home_view(registry, services.store.counts("usage"), services.feedback.model_tallies(registry.names))
    try:
        services.slack.publish_home(str(event.get("user", "")), view)
    except SlackError as exc:  # nobody asked for it: the next visit to the tab publishes it again
        logger.warning("Home tab not published: %s", exc)


# -- the message shortcut and its modal ----------------------------------------------------


def open_picker(services: Services, body: dict[str, Any]) -> None:
    """Keep the message's text server-side and open the model picker on it."""
    message = body.get("message") or {}
    text = to_plain(str(message.get("text", "")))
    metadata = {
        "channel": str((body.get("channel") or {}).get("id", "")),
        "thread_ts": str(message.get("thread_ts") or message.get("ts", "")),
    }
    found = pick_file(message_files(message), None)
    identifier = file_id(found) if found is not None else None
    if identifier:
        metadata["file"] = identifier  # only the id: the URL is asked of files.info when the model runs
    try:
        check_unicode(text)
    except InvalidInput as exc:
        metadata["refused"] = str(exc)  # no store takes it: the modal says why when submitted
    else:
        metadata["text_key"] = uuid.uuid4().hex
        services.store.set_field(
            SHORTCUT_TEXT_KEY + metadata["text_key"], SHORTCUT_TEXT_FIELD, text, ttl=SHORTCUT_TEXT_TTL
        )
    modal = model_picker_modal(services.registry, private_metadata=json.dumps(metadata), has_file="file" in metadata)
    _open_view(services, body, modal)


def plan_modal(services: Services, view: dict[str, Any], metadata: dict[str, Any]) -> Plan:
    """The model picked and the text it reads, or the modal's errors (the ack's answer) saying why not.

    ``metadata`` is the view's parsed ``private_metadata`` (:func:`modal_metadata`). The one read
    is the shortcut's text from the state store, kept there when the modal opened. A model that reads
    a file runs on the message's file alone (by its id, resolved in the lazy half), not on its text.
    """
    spec = services.registry.find(_selected_model(view))
    if spec is None:
        return _modal_refusal("Pick a model.")
    if reads_files(spec):
        identifier = metadata.get("file")
        if not isinstance(identifier, str) or not file_id({"id": identifier}):
            return _modal_refusal(SHORTCUT_NO_FILE)
        try:  # a model that needs labels takes the registry's, or says so here
            return Plan(spec=spec, text=check_input(spec, ""), file={"id": identifier})
        except InferenceError as exc:
            return _modal_refusal(clip(str(exc), 150))
    refused = metadata.get("refused")
    if isinstance(refused, str) and refused:
        return _modal_refusal(clip(refused, 150))
    text = _shortcut_text(services, metadata)
    if text is None:
        return _modal_refusal(SHORTCUT_TEXT_GONE)
    try:
        return Plan(spec=spec, text=check_input(spec, text))
    except InferenceError as exc:
        return _modal_refusal(clip(str(exc), 150))


def ack_modal(services: Services, ack: Ack, view: dict[str, Any], context: dict[str, Any]) -> None:
    """Close the modal when it can run; otherwise keep it open, saying why next to the picker."""
    metadata = once(context, METADATA_KEY, lambda: modal_metadata(view))
    _ack_with(ack, once(context, PLAN_KEY, lambda: plan_modal(services, view, metadata)))


def run_modal(services: Services, view: dict[str, Any], body: dict[str, Any], context: dict[str, Any]) -> None:
    """Run the model picked on the message's text, answering in that message's thread."""
    metadata = once(context, METADATA_KEY, lambda: modal_metadata(view))
    plan = once(context, PLAN_KEY, lambda: plan_modal(services, view, metadata))
    key = f"view:{view.get('id')}"
    if plan.spec is None or not services.store.claim(key):
        return  # refused: the ack said why, in the modal
    target = ReplyTarget(
        request_id=new_request_id(),
        source="shortcut",
        user=str((body.get("user") or {}).get("id", "")),
        channel=str(metadata.get("channel", "")),
        thread_ts=str(metadata.get("thread_ts", "")),
    )
    _attempt(services, key, plan, target, lambda: _start(services, plan, target))


# -- feedback: votes and comments ----------------------------------------------------------


def record_vote(services: Services, body: dict[str, Any], action: dict[str, Any]) -> None:
    """Count a 👍 or 👎 on an answer and show the new tally on it."""
    request_id, user = str(action.get("value", "")), str((body.get("user") or {}).get("id", ""))
    if not request_id or not user:
        return
    services.feedback.vote(request_id, user, UP if action.get("action_id") == VOTE_UP else DOWN)
    message, channel = body.get("message") or {}, (body.get("channel") or {}).get("id", "")
    if message.get("ts") and channel:
        blocks = with_tally(message.get("blocks") or [], request_id, services.feedback.tally(request_id))
        try:
            services.slack.update(channel, message["ts"], {"text": message.get("text", ""), "blocks": blocks})
        except SlackError as exc:  # the vote is counted; the next vote shows the tally
            logger.warning("tally not shown: %s", exc, extra={"request_id": request_id})


def open_comment(services: Services, body: dict[str, Any], action: dict[str, Any]) -> None:
    """Open the comment modal for one answer."""
    modal = comment_modal(private_metadata=json.dumps({"request_id": action.get("value", "")}))
    _open_view(services, body, modal)


def save_comment(services: Services, body: dict[str, Any], view: dict[str, Any]) -> None:
    """Keep a submitted comment on an answer."""
    request_id = str(modal_metadata(view).get("request_id", ""))
    text = _input_value(view, COMMENT_BLOCK, COMMENT_INPUT, "value").strip()
    user = str(_dig(body, "user", "id") or "")
    if request_id and user and text:
        services.feedback.comment(request_id, user, text)


# -- the table -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Route:
    """One listener: the ``App`` method that matches it, what it matches, its ack and its lazy half."""

    kind: str
    matches: str | re.Pattern[str]
    ack: Callable[..., None]
    lazy: Callable[..., None] | None
    #: Bolt listener matchers (functions of what Bolt passes by name), checked before the ack.
    matchers: tuple[Callable[..., bool], ...] = ()


#: Every listener of the app, for Lambda and local mode alike.
LISTENERS: tuple[Route, ...] = (
    Route("command", re.compile(r"^/.+"), ack_command, run_command),
    Route("event", "app_mention", ack_only, run_mention),
    Route("event", "app_home_opened", ack_only, publish_home),
    Route("event", "message", ack_only, run_thread_message, matchers=(is_conversation_reply,)),
    # Every other message event (the app subscribes to threads' messages): acknowledged, nothing to do.
    Route("event", "message", ack_only, None),
    Route("shortcut", SHORTCUT_CALLBACK, ack_only, open_picker),
    Route("view", RUN_MODAL_CALLBACK, ack_modal, run_modal),
    Route("action", re.compile(f"^({VOTE_UP}|{VOTE_DOWN})$"), ack_only, record_vote),
    Route("action", COMMENT_ACTION, ack_only, open_comment),
    Route("view", COMMENT_MODAL_CALLBACK, ack_only, save_comment),
)


def register_listeners(app: App, services: Services) -> None:
    """Attach every listener in :data:`LISTENERS`; the same registration serves Lambda and local mode."""
    for route in LISTENERS:
        options = {"matchers": list(route.matchers)} if route.matchers else {}
        register = getattr(app, route.kind)(route.matches, **options)
        register(ack=for_bolt(route.ack, services), lazy=[for_bolt(route.lazy, services)] if route.lazy else [])
    app.assistant(build_assistant(services, bind=for_bolt))  # the app's own chat surface (Slack's agent view)


def for_bolt(listener: Callable[..., None], services: Services) -> Callable[..., None]:
    """``listener`` as Bolt calls it: ``services`` bound, the rest passed by parameter name.

    Bolt reads which arguments to pass from the callable's signature (a partial's hides the
    bound ``services``) and names a lazy function by ``__name__``: the Lambda re-invocation
    finds its lazy half by that name, so it is the listener's own.
    """
    if "services" not in inspect.signature(listener).parameters:
        return listener
    bound = functools.partial(listener, services)
    bound.__name__ = listener.__name__  # type: ignore[attr-defined]
    return bound


# -- helpers -------------------------------------------------------------------------------


def _ack_with(ack: Ack, plan: Plan) -> None:
    ack(**plan.reply) if plan.reply else ack()


def _start(services: Services, plan: Plan, target: ReplyTarget) -> None:
    if plan.compare:  # of text models only (bot.core.compare)
        start_compare(services, plan.compare, plan.text, target)
    elif plan.spec is not None and reads_files(plan.spec):
        _run_on_file(services, plan.spec, plan.text, target, plan.file)
    elif plan.spec is not None:
        start_run(services, plan.spec, plan.text, target)


def _parent_file(services: Services, spec: ModelSpec, target: ReplyTarget) -> dict[str, Any] | None:
    """The file of the thread's parent message, for a file model mentioned in the thread without one.

    Raises:
        FileProblem: the thread could not be read.
    """
    try:
        parent = services.slack.parent_message(target.channel, target.thread_ts)
    except SlackError as exc:
        logger.warning("thread parent not read: %s", exc, extra={"request_id": target.request_id})
        raise FileProblem(
            "I can't read this thread's first message: invite me to the channel, or attach the file."
        ) from exc
    return pick_file(message_files(parent), media_kind(spec.task))


def _run_on_file(
    services: Services, spec: ModelSpec, text: str, target: ReplyTarget, found: dict[str, Any] | None
) -> None:
    """Download the message's file, store it and run ``spec`` on it; what stops it is said once, in the thread.

    Runs in the lazy half: the download never holds up the ack.
    """
    try:
        if found is None:
            raise FileProblem(how_to_send_a_file(spec))
        ref = fetch_file(services, spec, found, request_id=target.request_id)
    except (FileProblem, InferenceError) as exc:
        logger.info("file not run: %s", exc, extra={"request_id": target.request_id})
        services.slack.post(target.channel, warning_message(str(exc)), thread_ts=target.thread_ts or None)
        return
    start_run(services, spec, text, target, file=ref)


def _attempt(services: Services, key: str, plan: Plan, target: ReplyTarget, work: Callable[[], None]) -> None:
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
            deliver_outcome(services, plan.spec, target, text="", error=error)
        except Exception:
            services.store.release(key)
            raise
    services.store.complete(key)


def _open_view(services: Services, body: dict[str, Any], view: dict[str, Any]) -> None:
    """Open ``view`` for the person who acted; if Slack will not, tell them (only them) in the channel."""
    try:
        services.slack.open_view(str(body.get("trigger_id", "")), view)
    except SlackError as exc:
        logger.warning("view not opened: %s", exc)
        channel, user = str(_dig(body, "channel", "id") or ""), str(_dig(body, "user", "id") or "")
        if not (channel and user):
            return
        try:
            services.slack.post_ephemeral(channel, user, {"text": VIEW_NOT_OPENED})
        except SlackError as again:
            logger.warning("could not say the view was not opened: %s", again)


def _modal_refusal(reason: str) -> Plan:
    """The ack that keeps a modal open with ``reason`` under its model picker."""
    return Plan(reply={"response_action": "errors", "errors": {MODEL_SELECT_BLOCK: reason}})


def _shortcut_text(services: Services, metadata: dict[str, Any]) -> str | None:
    """The message text kept when the modal opened; None once it expired (or never was)."""
    text_key = metadata.get("text_key")
    if not isinstance(text_key, str) or not text_key:
        return None
    return services.store.fields(SHORTCUT_TEXT_KEY + text_key).get(SHORTCUT_TEXT_FIELD)


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


def modal_metadata(view: dict[str, Any]) -> dict[str, Any]:
    """A view's ``private_metadata`` (this app's JSON object), or {} where it is anything else."""
    raw = view.get("private_metadata")
    if not isinstance(raw, str):
        return {}
    try:
        data = json.loads(raw or "{}")
    except (json.JSONDecodeError, RecursionError):
        return {}
    return data if isinstance(data, dict) else {}
