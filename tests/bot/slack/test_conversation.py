"""A thread as a chat model's history (bot/slack/conversation.py), and the listeners that continue one.

The app's own messages are built by its own builders (an answer, a placeholder), as Slack would
return them from ``conversations.replies``; the listeners are called directly, with a dict for
Bolt's context, over the fake Slack API.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from bot.core.services import Services
from bot.router import Router
from bot.slack.answers import answer_message, error_message
from bot.slack.conversation import Bot, Turn, read_thread, to_messages
from bot.slack.listeners import is_conversation_reply, run_mention, run_thread_message
from bot.slack.ui import placeholder_message
from inference.registry import load_registry
from inference.tasks import fit_chars
from tests.fakes.invoker import FakeInvoker, FakeLambdaClient
from tests.fakes.slack_api import BOT_ID, BOT_USER_ID, FakeSlackApi

REGISTRY = load_registry()
ASK = REGISTRY.get("ask")
BOT = Bot(user_id=BOT_USER_ID, bot_id=BOT_ID)
CONTEXT = {"bot_user_id": BOT_USER_ID, "bot_id": BOT_ID}
THREAD = "1700000000.000100"


def ours(message: dict[str, Any]) -> dict[str, Any]:
    return {**message, "user": BOT_USER_ID, "bot_id": BOT_ID}


def answer(text: str, request_id: str = "r1", model: str = "ask") -> dict[str, Any]:
    spec = REGISTRY.get(model)
    return ours(answer_message(spec, {"text": text}, source="", elapsed_ms=10.0, request_id=request_id))


def test_the_apps_answers_are_the_assistant_and_people_are_the_user_in_plain_text() -> None:
    thread = read_thread(
        [
            {"user": "U1", "text": f"<@{BOT_USER_ID}> ask Where is the &lt;tower&gt; <https://x.org|here>?"},
            ours(placeholder_message(ASK, user="U1", text="Where is the tower?")),  # inside the thread: skipped
            answer("It is in *Paris*.\nNear the river."),
            {"user": "U1", "text": "How tall is it?"},
        ],
        registry=REGISTRY,
        bot=BOT,
    )
    assert thread.turns == [
        Turn("user", "Where is the <tower> here?", user="U1"),
        Turn("assistant", "It is in *Paris*.\nNear the river."),
        Turn("user", "How tall is it?", user="U1"),
    ]
    assert thread.model == "ask" and thread.people == ["U1"]


def test_empty_non_text_and_other_apps_messages_are_skipped_and_the_new_one_left_out() -> None:
    thread = read_thread(
        [
            {"user": "U1", "text": "Hello", "ts": "1.1"},
            {"user": "U2", "text": "", "files": [{"id": "F1"}], "ts": "1.2"},
            {"user": "U2", "subtype": "channel_join", "text": "<@U2> has joined", "ts": "1.3"},
            {"bot_id": "BOTHER", "text": "I am another app", "ts": "1.4"},
            ours(error_message(ASK, "it timed out.", request_id="r0")) | {"ts": "1.5"},
            {"user": "U1", "text": "   ", "ts": "1.6"},
            {"user": "U1", "subtype": "thread_broadcast", "text": "Also this", "ts": "1.7"},
            {"user": "U1", "text": "The new turn", "ts": "1.8"},
        ],
        registry=REGISTRY,
        bot=BOT,
        exclude_ts="1.8",
    )
    assert [t.content for t in thread.turns] == ["Hello", "Also this"]
    assert thread.model is None


def test_a_slash_commands_thread_starts_with_its_question_whole_from_the_record() -> None:
    long_question = "Explain this: " + "x" * 400
    parent = ours(placeholder_message(ASK, user="U1", text=long_question)) | {"ts": THREAD}
    messages = [parent, answer("Sure.", request_id="r7")]
    whole = read_thread(messages, registry=REGISTRY, bot=BOT, question_of={"r7": long_question}.get)
    assert whole.turns[0] == Turn("user", long_question, user="U1")
    quoted = read_thread(messages, registry=REGISTRY, bot=BOT)  # the store kept only a hash
    assert quoted.turns[0].content.startswith("Explain this: xxx") and len(quoted.turns[0].content) < 300
    assert [t.role for t in whole.turns] == ["user", "assistant"]


def test_several_people_are_named_and_turns_of_one_role_are_joined() -> None:
    turns = [Turn("user", "Hi", user="U1"), Turn("user", "Hello", user="U2"), Turn("assistant", "Hey both")]
    assert to_messages(turns, {"U1": "Ada"}, several=True) == [
        {"role": "user", "content": "Ada: Hi\n\nSomeone: Hello"},
        {"role": "assistant", "content": "Hey both"},
    ]
    assert to_messages(turns[:1], {}, several=False) == [{"role": "user", "content": "Hi"}]


def test_the_oldest_turns_go_first_to_fit_max_chars_and_a_greeting_is_not_counted() -> None:
    messages = [
        {"role": "assistant", "content": "Hello! Ask me anything."},
        {"role": "user", "content": "a" * 50},
        {"role": "assistant", "content": "b" * 50},
        {"role": "user", "content": "c" * 50},
        {"role": "assistant", "content": "d" * 50},
    ]
    assert fit_chars(messages, "new", 1000) == (messages[1:], 0)
    kept, dropped = fit_chars(messages, "new", 120)
    assert kept == messages[3:] and dropped == 2
    assert fit_chars(messages, "x" * 200, 100) == ([], 4)


def test_replies_reads_every_page(services: Services, slack: FakeSlackApi) -> None:
    slack.set_thread("C1", THREAD, [{"user": "U1", "text": f"message {n}"} for n in range(450)])
    messages = services.slack.replies("C1", THREAD)
    assert len(messages) == 400  # the parent and the newest 399
    assert messages[0]["text"] == "message 0" and messages[-1]["text"] == "message 449"
    pages = slack.calls("conversations.replies")
    assert len(pages) == 3 and pages[1].params.get("cursor")


# -- the listeners ---------------------------------------------------------------------------


def mention(text: str, **fields: str) -> dict[str, str]:
    return {"type": "app_mention", "text": text, "user": "U1", "channel": "C1", "ts": "1700000000.000900", **fields}


def test_a_chat_mention_in_a_thread_carries_the_threads_conversation(
    services: Services, slack: FakeSlackApi, invoker: FakeInvoker
) -> None:
    slack.set_thread(
        "C1",
        THREAD,
        [
            {"user": "U1", "text": f"<@{BOT_USER_ID}> ask Where is the tower?"},
            answer("In Paris."),
            {"user": "U1", "text": f"<@{BOT_USER_ID}> ask How tall?", "ts": "1700000000.000900"},
        ],
    )
    run_mention(services, mention(f"<@{BOT_USER_ID}> ask How tall?", thread_ts=THREAD), {"event_id": "Ev1"}, CONTEXT)
    [(_, model, payload, _)] = invoker.calls
    assert model == "ask" and payload["text"] == "How tall?"
    assert payload["messages"] == [
        {"role": "user", "content": "Where is the tower?"},
        {"role": "assistant", "content": "In Paris."},
    ]
    assert "trimmed_turns" not in payload


def test_a_mention_outside_a_thread_is_one_shot(services: Services, invoker: FakeInvoker) -> None:
    run_mention(services, mention(f"<@{BOT_USER_ID}> ask Where?"), {"event_id": "Ev2"}, CONTEXT)
    [(_, _, payload, _)] = invoker.calls
    assert payload["text"] == "Where?" and "messages" not in payload


def reply(text: str, **fields: Any) -> dict[str, Any]:
    return {
        "type": "message",
        "channel_type": "channel",
        "text": text,
        "user": "U2",
        "channel": "C1",
        "ts": "1700000000.000950",
        "thread_ts": THREAD,
        "parent_user_id": BOT_USER_ID,
        **fields,
    }


@pytest.mark.parametrize(
    ("fields", "matches"),
    [
        ({}, True),
        ({"parent_user_id": "U1"}, False),  # a person's thread: mention the app to go on
        ({"text": f"<@{BOT_USER_ID}> ask more"}, False),  # the mention's own listener answers it
        ({"bot_id": "BOTHER"}, False),
        ({"subtype": "message_changed"}, False),
        ({"channel_type": "im"}, False),  # the app's own chat surface
        ({"thread_ts": None}, False),
    ],
)
def test_only_a_persons_reply_in_a_thread_the_app_started_goes_on(fields: dict[str, Any], matches: bool) -> None:
    assert is_conversation_reply({**reply("And then?"), **fields}, {}, CONTEXT) is matches
    envelope = {"authorizations": [{"user_id": BOT_USER_ID, "is_bot": True}]}  # Bolt's context without it
    assert is_conversation_reply({**reply("And then?"), **fields}, envelope, {}) is matches


def slash_thread(slack: FakeSlackApi, model: str = "ask") -> None:
    spec = REGISTRY.get(model)
    slack.set_thread(
        "C1",
        THREAD,
        [
            ours(placeholder_message(spec, user="U1", text="Where is the tower?")),
            answer("In Paris.", model=model),
            {"user": "U2", "text": "And <!channel> how tall?", "ts": "1700000000.000950"},
        ],
    )


def test_a_reply_in_an_ask_thread_goes_on_with_names_for_several_people(
    services: Services, slack: FakeSlackApi, invoker: FakeInvoker
) -> None:
    slash_thread(slack)
    run_thread_message(services, reply("And <!channel> how tall?"), {"event_id": "Ev3"}, CONTEXT)
    run_thread_message(services, reply("And <!channel> how tall?"), {"event_id": "Ev3"}, CONTEXT)  # a retry
    [(_, model, payload, _)] = invoker.calls
    assert model == "ask"
    assert payload["text"] == "user-u2: And @channel how tall?"
    assert payload["messages"] == [
        {"role": "user", "content": "user-u1: Where is the tower?"},
        {"role": "assistant", "content": "In Paris."},
    ]
    [placeholder] = [m for m in slack.messages("C1") if m.get("thread_ts") == THREAD]
    assert "<!channel>" not in json.dumps(placeholder)  # the person's words are echoed, never markup


def test_a_reply_in_another_models_thread_or_without_text_is_left_alone(
    services: Services, slack: FakeSlackApi, invoker: FakeInvoker
) -> None:
    slash_thread(slack, model="summarize")
    run_thread_message(services, reply("And then?"), {"event_id": "Ev4"}, CONTEXT)
    slash_thread(slack)
    run_thread_message(services, reply("", files=[{"id": "F1"}]), {"event_id": "Ev5"}, CONTEXT)
    assert invoker.calls == [] and slack.calls("chat.postMessage") == []


def test_a_long_conversation_keeps_its_newest_turns_and_says_how_many_went(
    services: Services, slack: FakeSlackApi, invoker: FakeInvoker
) -> None:
    turns: list[dict[str, Any]] = [ours(placeholder_message(ASK, user="U2", text="first"))]
    for n in range(30):
        turns += [{"user": "U2", "text": f"question {n} " + "x" * 1000}, answer(f"answer {n} " + "y" * 1000, f"r{n}")]
    slack.set_thread("C1", THREAD, turns)
    run_thread_message(services, reply("last?"), {"event_id": "Ev6"}, CONTEXT)
    [(_, _, payload, _)] = invoker.calls
    total = len(payload["text"]) + sum(len(m["content"]) for m in payload["messages"])
    assert total <= ASK.max_chars and payload["trimmed_turns"] > 0
    assert payload["messages"][0]["role"] == "user" and payload["messages"][-1]["content"].startswith("answer 29")


def test_in_lambda_an_ordinary_message_is_acked_without_a_second_invocation(
    aws: tuple[Router, FakeLambdaClient], slack: FakeSlackApi
) -> None:
    """A busy channel costs one short invocation per message: only a reply in the app's thread runs more."""
    from tests.fakes.signing import SIGNING_SECRET, signed_headers
    from tests.fakes.slack_client import LambdaContext, api_gateway_event, event_callback_body

    router, lambdas = aws

    def deliver(event: dict[str, Any]) -> int:
        body = event_callback_body(event)
        headers = signed_headers(body, SIGNING_SECRET, content_type="application/json")
        return router.handle(api_gateway_event("POST", "/slack/events", body, headers), LambdaContext())["statusCode"]

    assert deliver({**reply("Lunch?"), "thread_ts": None, "parent_user_id": None}) == 200
    assert deliver({**reply("In a person's thread"), "parent_user_id": "U1"}) == 200
    assert lambdas.invocations == [] and slack.calls() == []
    assert deliver(reply("And then?")) == 200
    assert len(lambdas.invocations) == 1 and slack.calls() == []


def test_a_thread_is_told_once_that_older_messages_were_left_out(
    services: Services, slack: FakeSlackApi, invoker: FakeInvoker
) -> None:
    from bot.slack.answers import TRIMMED_NOTE
    from bot.slack.delivery import deliver_outcome
    from bot.slack.reply import ReplyTarget

    def ask_and_answer(event_id: str) -> str:
        """The next reply in the thread, its answer delivered as the model would give it (trimmed), as posted."""
        run_thread_message(services, reply("and now?"), {"event_id": event_id}, CONTEXT)
        call = invoker.calls[-1]
        target = ReplyTarget.from_dict(call.payload["reply"])
        result = {"text": f"answer to {event_id}", "trimmed_turns": 3}
        deliver_outcome(services, ASK, target, text=call.payload["text"], result=result)
        [posted] = [m for m in slack.messages("C1") if f"answer to {event_id}" in json.dumps(m)]
        return json.dumps(posted, ensure_ascii=False)

    slack.set_thread("C1", THREAD, [ours(placeholder_message(ASK, user="U2", text="first")), answer("hello", "r0")])
    first = ask_and_answer("Ev7")
    assert TRIMMED_NOTE in first
    second = ask_and_answer("Ev8")  # the thread now holds the first answer, which said so
    assert TRIMMED_NOTE not in second and "answer to Ev8" in second


def test_a_thread_whose_answer_said_older_messages_were_left_out_is_marked() -> None:
    from bot.slack.answers import TRIMMED_NOTE

    noted = answer_message(ASK, {"text": "said so", "trimmed_turns": 2}, source="", elapsed_ms=1.0, request_id="r1")
    assert TRIMMED_NOTE in json.dumps(noted, ensure_ascii=False)
    placeholder = ours(placeholder_message(ASK, user="U2", text="first"))
    assert read_thread([placeholder, ours(noted)], registry=REGISTRY, bot=BOT).trim_noted
    assert not read_thread([placeholder, answer("plain")], registry=REGISTRY, bot=BOT).trim_noted
