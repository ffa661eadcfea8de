"""A Slack thread as a chat model's history: who said what, in plain text, newest kept.

:func:`load_history` reads the thread and makes the request; everything else here is pure functions over the messages ``conversations.replies`` returns (:meth:`SlackOps.replies`),
so the rules are tested without Slack:

- **Roles.** This app's answers (the messages carrying its feedback buttons) are the
  ``assistant``'s turns, their text read back from the answer's quote; people's messages are
  ``user`` turns. The app's other messages (placeholders inside the thread, errors, help) and
  other apps' messages are not part of the conversation. A thread a slash command started
  (``/ask text``) has the app's placeholder as its parent: that is the person's first turn, its
  whole text taken from the answer's feedback record where the store keeps text (else the
  placeholder's quote, its first 280 characters).
- **Text.** Slack markup becomes plain text (:func:`bot.slack.text.to_plain`); a mention of
  the app that starts a message, and the model's name after it (``@bot ask …``), are dropped.
  A message with no text left (a file, an emoji-only edit, a join) and any message with a
  subtype other than a broadcast reply is skipped.
- **Names.** With one person in the thread, turns are the words alone. With several, each
  person's words start with ``Name: `` (their Slack display name), the one convention every
  chat template can carry, since templates have no field for a speaker's name.
- **Alternation.** Consecutive turns of one role are joined (blank line between), so the
  history alternates as templates that check it require.
- **Size.** The oldest turns are dropped until the history and the new turn fit the registry's
  ``max_chars``; the model side drops more if its context needs it, and the answer says
  that older messages were left out (``trimmed_turns``), once a thread: an answer there that
  said so already (``Thread.trim_noted``) spares the later ones.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from bot.core.services import Services
from bot.core.slack_ops import SlackError
from bot.slack.answers import TRIMMED_NOTE
from bot.slack.text import to_plain
from bot.slack.ui import FEEDBACK_BLOCK, FSI, PDI, QUOTE
from inference.registry import ModelSpec, Registry
from inference.tasks import MESSAGES, TRIMMED_TURNS, fit_chars

logger = logging.getLogger(__name__)

USER, ASSISTANT = "user", "assistant"
#: Message subtypes that are still someone's words in the thread.
SPOKEN_SUBTYPES = frozenset({"thread_broadcast"})
#: The characters this app's echoes are isolated with (:func:`bot.slack.ui.isolate`), removed on reading back.
_ISOLATES = dict.fromkeys(map(ord, "\u2066\u2067" + FSI + PDI))
#: The model named in an answer's footer: its first code span.
_FOOTER_MODEL = re.compile(r"^`([^`]+)`")
_LEADING_MENTION = re.compile(r"^\s*<@([A-Z0-9]+)(?:\|[^>]*)?>\s*")


@dataclass(frozen=True)
class Turn:
    """One turn of the conversation: whose (``user`` for a person's turn) and the plain text."""

    role: str
    content: str
    user: str = ""


@dataclass(frozen=True)
class Thread:
    """A thread read as a conversation: its turns, oldest first, and the model of the app's latest answer."""

    turns: list[Turn] = field(default_factory=list)
    model: str | None = None
    #: The people whose words are in it, in order of first appearance.
    people: list[str] = field(default_factory=list)
    #: One of the app's answers in it already said that older messages were left out.
    trim_noted: bool = False


@dataclass(frozen=True)
class Bot:
    """Who this app is in Slack: its bot user (and bot id, where known)."""

    user_id: str
    bot_id: str = ""

    @classmethod
    def of(cls, body: Mapping[str, Any], context: Mapping[str, Any]) -> Bot:
        """From Bolt's context when its authorization knew it, else from the event's signed envelope
        (``authorizations``: the installation's bot user), so no ``auth.test`` call is needed."""
        user = context.get("bot_user_id") or next(
            (a.get("user_id") for a in body.get("authorizations") or [] if isinstance(a, dict) and a.get("is_bot")),
            "",
        )
        return cls(user_id=str(user or ""), bot_id=str(context.get("bot_id") or ""))

    def wrote(self, message: Mapping[str, Any]) -> bool:
        """True for a message this app posted."""
        return bool(
            (self.bot_id and message.get("bot_id") == self.bot_id)
            or (self.user_id and message.get("user") == self.user_id and message.get("bot_id"))
        )


def person_text(text: str, registry: Registry, bot: Bot) -> str:
    """A person's message as a model reads it: plain text, without a leading mention of this app and
    the model's name after it (``@bot ask Where?`` → ``Where?``)."""
    match = _LEADING_MENTION.match(text or "")
    if match and match.group(1) == bot.user_id:
        text = text[match.end() :]
        first, _, rest = text.strip().partition(" ")
        if registry.find(first.lower()) is not None:
            text = rest
    return to_plain(text).strip()


def answer_of(message: Mapping[str, Any]) -> tuple[str, str, str] | None:
    """``(model, text, request_id)`` of one of this app's answers, or None for any other of its messages.

    An answer carries the feedback buttons (their block id names the request); its text is the
    quote of the model's words, its model the footer's first code span.
    """
    blocks = [b for b in message.get("blocks") or [] if isinstance(b, dict)]
    feedback = next((b for b in blocks if str(b.get("block_id", "")).startswith(FEEDBACK_BLOCK)), None)
    if feedback is None:
        return None
    request_id = str(feedback["block_id"])[len(FEEDBACK_BLOCK) :]
    model = ""
    for block in blocks:
        if block.get("type") == "context":
            for element in block.get("elements") or []:
                found = _FOOTER_MODEL.match(str(element.get("text", ""))) if isinstance(element, dict) else None
                if found:
                    model = found.group(1)
    return model, quoted_text(blocks), request_id


def quoted_text(blocks: Iterable[Mapping[str, Any]]) -> str:
    """The text of the rich-text quotes in ``blocks``, as the app echoed it (isolates removed)."""
    lines: list[str] = []
    for block in blocks:
        if block.get("type") != "rich_text":
            continue
        for element in block.get("elements") or []:
            if isinstance(element, dict) and element.get("type") == QUOTE:
                lines.append("".join(str(run.get("text", "")) for run in element.get("elements") or []))
    return "\n".join(lines).translate(_ISOLATES).strip()


def read_thread(
    messages: Iterable[Mapping[str, Any]],
    *,
    registry: Registry,
    bot: Bot,
    exclude_ts: str = "",
    question_of: Callable[[str], str | None] = lambda request_id: None,
) -> Thread:
    """The conversation in a thread's ``messages`` (parent first), without the message at ``exclude_ts``.

    ``question_of(request_id)`` is the whole question an answer was given to, where it is known
    (the feedback store's record): the first question of a thread a slash command started.
    """
    listed = [m for m in messages if isinstance(m, Mapping)]
    turns: list[Turn] = []
    people: list[str] = []
    model: str | None = None
    trim_noted = False
    parent_ts = str(listed[0].get("ts", "")) if listed else ""
    for index, message in enumerate(listed):
        ts = str(message.get("ts", ""))
        if exclude_ts and ts == exclude_ts:
            continue
        if bot.wrote(message):
            answer = answer_of(message)
            if answer is not None:
                model = answer[0] or model
                trim_noted = trim_noted or TRIMMED_NOTE in json.dumps(message.get("blocks") or [], ensure_ascii=False)
                if answer[1]:
                    turns.append(Turn(ASSISTANT, answer[1]))
            elif ts == parent_ts and index == 0 and _is_placeholder(message):
                question = _first_question(message, listed[1:], bot, question_of)
                if question:
                    turns.append(Turn(USER, question, user=_asker(message)))
                    people += [p for p in [_asker(message)] if p and p not in people]
            continue
        if message.get("bot_id") or (message.get("subtype") and message.get("subtype") not in SPOKEN_SUBTYPES):
            continue
        text = person_text(str(message.get("text", "")), registry, bot)
        user = str(message.get("user", ""))
        if not text:
            continue
        turns.append(Turn(USER, text, user=user))
        if user and user not in people:
            people.append(user)
    return Thread(turns=turns, model=model, people=people, trim_noted=trim_noted)


def _is_placeholder(message: Mapping[str, Any]) -> bool:
    """A run's placeholder: "… <@U…> asked …" above a quote of the question (the app's own words)."""
    blocks = [b for b in message.get("blocks") or [] if isinstance(b, dict)]
    return " asked " in str(message.get("text", "")) and bool(quoted_text(blocks))


def _asker(placeholder: Mapping[str, Any]) -> str:
    """Who asked, from a placeholder's ``<@U…> asked`` (the app's own words)."""
    found = re.search(r"<@([A-Z0-9]+)>", str(placeholder.get("text", "")))
    return found.group(1) if found else ""


def _first_question(
    placeholder: Mapping[str, Any],
    later: list[Mapping[str, Any]],
    bot: Bot,
    question_of: Callable[[str], str | None],
) -> str:
    """The question a slash command's placeholder stands for: whole from its answer's record, else its quote."""
    for message in later:
        answer = answer_of(message) if bot.wrote(message) else None
        if answer is not None:
            whole = question_of(answer[2])
            if whole:
                return whole
            break
    return quoted_text([b for b in placeholder.get("blocks") or [] if isinstance(b, dict)])


def to_messages(turns: Iterable[Turn], names: Mapping[str, str], *, several: bool) -> list[dict[str, str]]:
    """The turns as a request's ``messages``: ``Name: `` before people's words when ``several`` people
    speak, consecutive turns of one role joined."""
    messages: list[dict[str, str]] = []
    for turn in turns:
        content = turn.content
        if several and turn.role == USER:
            content = f"{speaker(turn.user, names)}: {content}"
        if messages and messages[-1]["role"] == turn.role:
            messages[-1] = {"role": turn.role, "content": messages[-1]["content"] + "\n\n" + content}
        else:
            messages.append({"role": turn.role, "content": content})
    return messages


def speaker(user: str, names: Mapping[str, str]) -> str:
    """How a person is named in the history: their display name, else "Someone"."""
    return names.get(user) or "Someone"


def load_history(
    services: Services,
    spec: ModelSpec,
    *,
    channel: str,
    thread_ts: str,
    text: str,
    user: str,
    bot: Bot,
    exclude_ts: str = "",
) -> tuple[str, dict[str, Any], Thread]:
    """Read the thread (the one I/O here: its pages, and people's names when several speak) and make
    the request: the new turn's text (``Name: `` first when several people speak), what travels beside
    it (:func:`chat_request`), and the thread as read.

    Raises:
        SlackError: the thread could not be read (``users.info`` failing only costs a name).
    """
    thread = read_thread(
        services.slack.replies(channel, thread_ts),
        registry=services.registry,
        bot=bot,
        exclude_ts=exclude_ts,
        question_of=lambda request_id: _question(services, request_id),
    )
    people = thread.people + [p for p in [user] if p and p not in thread.people]
    several = len(people) > 1
    names = {person: _name(services, person) for person in people} if several else {}
    if several:
        text = f"{speaker(user, names)}: {text}"
    messages, dropped = fit_chars(to_messages(thread.turns, names, several=several), text, spec.max_chars)
    return text, chat_request(messages, dropped), thread


def _name(services: Services, user: str) -> str:
    try:
        return services.slack.user_name(user)
    except SlackError as exc:  # a name is a nicety: the conversation goes on with "Someone"
        logger.warning("no name for a person in the thread: %s", exc)
        return ""


def _question(services: Services, request_id: str) -> str | None:
    """The whole question an answer was given to, where the feedback store kept its text."""
    try:
        answer = services.feedback.answer(request_id)
    except Exception:  # a store fault: the placeholder's quote stands in
        logger.warning("no stored question for request %s", request_id, exc_info=True)
        return None
    return None if answer is None or answer.input_hashed else answer.input


def chat_request(messages: list[dict[str, str]], dropped: int) -> dict[str, Any]:
    """What a chat request carries beside its ``text`` (the model-side interface in :mod:`inference.tasks`)."""
    return {MESSAGES: messages, **({TRIMMED_TURNS: dropped} if dropped else {})}
