"""The app's own chat surface: Slack's agent (assistant) view, through Bolt's ``Assistant`` middleware.

An app with *Agents & AI Apps* enabled opens in Slack's split view (and its top bar entry);
each conversation there is a thread in the app's direct-message channel. Slack sends
``assistant_thread_started`` when a person opens one, ``assistant_thread_context_changed``
when they move to another channel beside it, and a ``message.im`` event for each message they
type in it (scopes ``assistant:write``, ``im:history``, ``chat:write``). Bolt's ``Assistant``
middleware routes those three to the functions here, before the app's own listeners.

- **Which model.** The registry's default chat model: its first ``text-generation`` entry
  (:func:`default_chat_model`). The registry has no setting of its own for it: reorder the
  entries to choose another.
- **Thread started.** A greeting naming the model, and suggested prompts from the registry's
  examples of its chat models (``assistant.threads.setSuggestedPrompts``, at most four).
- **A message.** "is thinking…" under the thread at once (``assistant.threads.setStatus``;
  Slack clears it when the answer is posted), the thread's first question as its title
  (``assistant.threads.setTitle``), then the model runs on the conversation so far
  (:mod:`bot.slack.conversation`) with no placeholder: the status stands in for it.
- **Context changed.** Acknowledged only: the channel beside the thread is not read.

Each listener is split as the others (:mod:`bot.slack.listeners`): an ack that makes no call
(Bolt's ``Assistant`` acknowledges each of its listeners automatically, in Lambda before the
response with ``process_before_response``) and a lazy half that does the work. Bolt's own
``thread_context_changed`` default would save the context with Web API calls inside the ack,
so it is replaced. The status, prompts and title are niceties: a Slack failure there is logged
and the answer still comes.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from slack_bolt import Ack
from slack_bolt.middleware.assistant import Assistant

from bot.core.model_requests import new_request_id
from bot.core.mrkdwn import clip, escape
from bot.core.services import Services
from bot.core.slack_ops import SlackError
from bot.slack.conversation import Bot, load_history, person_text
from bot.slack.delivery import deliver_outcome
from bot.slack.plans import run_or_explain
from bot.slack.reply import ReplyTarget
from bot.slack.runs import start_run
from inference.registry import ModelSpec, Registry

logger = logging.getLogger(__name__)

CHAT_TASK = "text-generation"
THINKING = "is thinking…"
#: Slack shows at most four suggested prompts.
MAX_PROMPTS = 4
PROMPT_TITLE_LIMIT, TITLE_LIMIT = 60, 80
NO_CHAT_MODEL = "This app has no chat model in its registry yet, so there is nobody to talk to here."


def default_chat_model(registry: Registry) -> ModelSpec | None:
    """The model the app's chat surface talks with: the registry's first ``text-generation`` entry."""
    return next((spec for spec in registry if spec.task == CHAT_TASK), None)


def suggested_prompts(registry: Registry) -> list[dict[str, str]]:
    """``{"title", "message"}`` from the examples of the registry's chat models, the default's first."""
    prompts = []
    for spec in registry:
        if spec.task == CHAT_TASK and spec.example.strip():
            prompts.append({"title": clip(spec.example.strip(), PROMPT_TITLE_LIMIT), "message": spec.example.strip()})
    return prompts[:MAX_PROMPTS]


def greeting(spec: ModelSpec | None) -> dict[str, Any]:
    """The first message of a new thread: who answers here (registry text, escaped)."""
    if spec is None:
        return {"text": NO_CHAT_MODEL}
    text = f"👋 Hi! *{escape(spec.title)}* answers here. Ask anything; I remember this thread."
    return {"text": text, "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": clip(text, 3000)}}]}


def ack_assistant(ack: Ack) -> None:
    """Acknowledge; no Web API call (the lazy half does the work)."""
    ack()


def greet_thread(services: Services, event: dict[str, Any], body: dict[str, Any]) -> None:
    """A new assistant thread: greet, and offer the registry's examples as suggested prompts."""
    thread = event.get("assistant_thread") or {}
    channel, thread_ts = str(thread.get("channel_id", "")), str(thread.get("thread_ts", ""))
    key = f"event:{body.get('event_id') or event.get('event_ts')}"
    if not channel or not thread_ts or not services.store.claim(key):
        return
    spec = default_chat_model(services.registry)
    try:
        services.slack.post(channel, greeting(spec), thread_ts=thread_ts)
        prompts = suggested_prompts(services.registry)
        if spec is not None and prompts:
            services.slack.set_suggested_prompts(channel, thread_ts, prompts, title=f"Try {clip(spec.title, 40)}")
    except SlackError as exc:  # the person can still type: their message is answered
        logger.warning("assistant thread not greeted: %s", exc)
    services.store.complete(key)


def answer_in_thread(services: Services, event: dict[str, Any], body: dict[str, Any], context: dict[str, Any]) -> None:
    """A person's message in an assistant thread: thinking status, title, then the chat model on the conversation."""
    key = f"event:{body.get('event_id') or event.get('event_ts')}"
    if not services.store.claim(key):
        return
    channel, thread_ts = str(event.get("channel", "")), str(event.get("thread_ts", ""))
    target = ReplyTarget(
        request_id=new_request_id(),
        source="assistant",
        user=str(event.get("user", "")),
        channel=channel,
        thread_ts=thread_ts,
    )
    spec = default_chat_model(services.registry)
    bot = Bot.of(body, context)
    text = person_text(str(event.get("text", "")), services.registry, bot)

    def work() -> None:
        if not text:
            return  # a file or an emoji: nothing to answer
        if spec is None:
            services.slack.post(channel, {"text": NO_CHAT_MODEL}, thread_ts=thread_ts)
            return
        checked = run_or_explain(spec, text)
        if checked.reply is not None:  # the text does not fit the model: why, in the thread
            services.slack.post(channel, checked.reply, thread_ts=thread_ts)
            return
        _nicety(lambda: services.slack.set_status(channel, thread_ts, THINKING), "status")
        question, chat, thread = load_history(
            services,
            spec,
            channel=channel,
            thread_ts=thread_ts,
            text=checked.text,
            user=target.user,
            bot=bot,
            exclude_ts=str(event.get("ts", "")),
        )
        if not any(turn.role == "user" for turn in thread.turns):  # the thread's first question names it
            _nicety(lambda: services.slack.set_title(channel, thread_ts, clip(checked.text, TITLE_LIMIT)), "title")
        target.trim_noted = thread.trim_noted
        start_run(services, spec, question, target, chat=chat, placeholder=False)

    try:
        work()
    except Exception:  # as the listeners' _attempt: the person still gets one clear error
        logger.exception("assistant answer failed", extra={"claim": key, "request_id": target.request_id})
        error = {"type": "internal_error", "message": "the request could not be started."}
        try:
            deliver_outcome(services, spec, target, text="", error=error)
        except Exception:
            services.store.release(key)
            raise
    services.store.complete(key)


def acknowledge_context(ack: Ack) -> None:
    """The channel beside the thread changed: nothing to keep (this app does not read it)."""
    ack()


def _nicety(call: Any, what: str) -> None:
    try:
        call()
    except SlackError as exc:
        logger.warning("assistant %s not set: %s", what, exc)


def build_assistant(
    services: Services, *, bind: Callable[[Callable[..., None], Services], Callable[..., None]]
) -> Assistant:
    """Bolt's ``Assistant`` middleware with this app's listeners; ``bind`` is
    :func:`bot.slack.listeners.for_bolt` (``services`` bound, each name kept for Lambda's lazy run)."""
    assistant = Assistant()
    assistant.thread_started(lazy=[bind(greet_thread, services)])(ack_assistant)
    assistant.user_message(lazy=[bind(answer_in_thread, services)])(ack_assistant)
    assistant.thread_context_changed(acknowledge_context)
    return assistant
