"""The app's own chat surface (bot/slack/assistant.py): its listeners called directly over the fake
Slack API, and Bolt's Assistant middleware routing the three events to them without a call in the ack."""

from __future__ import annotations

import json
import threading
from typing import Any

from bot.app import build_bolt_app
from bot.core.services import Services
from bot.router import Router
from bot.slack.answers import answer_message
from bot.slack.assistant import (
    THINKING,
    answer_in_thread,
    default_chat_model,
    greet_thread,
    suggested_prompts,
)
from inference.registry import load_registry
from tests.bot.conftest import SIGNING_SECRET
from tests.fakes.invoker import FakeInvoker, FakeLambdaClient
from tests.fakes.signing import signed_headers
from tests.fakes.slack_api import BOT_ID, BOT_USER_ID, FakeSlackApi
from tests.fakes.slack_client import api_gateway_event

REGISTRY = load_registry()
CONTEXT = {"bot_user_id": BOT_USER_ID, "bot_id": BOT_ID}
DM, THREAD = "D0001", "1700000100.000100"
JSON = "application/json"


def started() -> dict[str, Any]:
    return {
        "type": "assistant_thread_started",
        "assistant_thread": {"user_id": "U1", "channel_id": DM, "thread_ts": THREAD, "context": {}},
        "event_ts": "1700000100.000200",
    }


def message(text: str, ts: str = "1700000100.000300") -> dict[str, Any]:
    return {
        "type": "message",
        "channel_type": "im",
        "channel": DM,
        "user": "U1",
        "text": text,
        "ts": ts,
        "thread_ts": THREAD,
        "event_ts": ts,
    }


def test_the_default_chat_model_is_the_first_text_generation_entry_and_its_example_a_prompt() -> None:
    spec = default_chat_model(REGISTRY)
    assert spec is not None and spec.name == "ask"
    [prompt] = suggested_prompts(REGISTRY)
    assert prompt["message"] == spec.example and len(prompt["title"]) <= 60


def test_a_new_thread_is_greeted_with_suggested_prompts_once(services: Services, slack: FakeSlackApi) -> None:
    greet_thread(services, started(), {"event_id": "Ev1"})
    greet_thread(services, started(), {"event_id": "Ev1"})  # Slack's retry
    [greeting] = slack.messages(DM)
    assert greeting["thread_ts"] == THREAD and "Ask (Qwen2.5 0.5B Instruct)" in greeting["text"]
    [prompts] = slack.calls("assistant.threads.setSuggestedPrompts")
    assert prompts.params["channel_id"] == DM and prompts.params["thread_ts"] == THREAD
    assert prompts.params["prompts"][0]["message"] == REGISTRY.get("ask").example


def test_a_message_shows_thinking_names_the_thread_and_runs_the_chat_model_without_a_placeholder(
    services: Services, slack: FakeSlackApi, invoker: FakeInvoker
) -> None:
    slack.set_thread(DM, THREAD, [{"user": BOT_USER_ID, "bot_id": BOT_ID, "text": "Hi! Ask anything."}])
    answer_in_thread(services, message("What is a <https://aws.amazon.com|Lambda>?"), {"event_id": "Ev2"}, CONTEXT)
    [status] = slack.calls("assistant.threads.setStatus")
    assert status.params["status"] == THINKING and status.params["thread_ts"] == THREAD
    [title] = slack.calls("assistant.threads.setTitle")
    assert title.params["title"] == "What is a Lambda?"
    [(_, model, payload, _)] = invoker.calls
    assert model == "ask" and payload["text"] == "What is a Lambda?" and payload["messages"] == []
    assert payload["reply"]["placeholder_ts"] == "" and payload["reply"]["thread_ts"] == THREAD
    assert slack.calls("chat.postMessage") == []  # the status stands in for a placeholder


def test_a_second_message_carries_the_first_turn_and_keeps_the_title(
    services: Services, slack: FakeSlackApi, invoker: FakeInvoker
) -> None:
    spec = REGISTRY.get("ask")
    first_answer = answer_message(spec, {"text": "A function."}, source="", elapsed_ms=5.0, request_id="r1")
    slack.set_thread(
        DM,
        THREAD,
        [
            {"user": BOT_USER_ID, "bot_id": BOT_ID, "text": "Hi! Ask anything."},
            {"user": "U1", "text": "What is a Lambda?"},
            {**first_answer, "user": BOT_USER_ID, "bot_id": BOT_ID},
        ],
    )
    answer_in_thread(services, message("And a cold start?", ts="1700000100.000900"), {"event_id": "Ev3"}, CONTEXT)
    [(_, _, payload, _)] = invoker.calls
    assert payload["messages"] == [
        {"role": "user", "content": "What is a Lambda?"},
        {"role": "assistant", "content": "A function."},
    ]
    assert slack.calls("assistant.threads.setTitle") == []


def test_a_failing_status_costs_nothing_and_a_text_too_long_is_explained(
    services: Services, slack: FakeSlackApi, invoker: FakeInvoker
) -> None:
    slack.set_thread(DM, THREAD, [{"user": BOT_USER_ID, "bot_id": BOT_ID, "text": "Hi! Ask anything."}])
    slack.fail("assistant.threads.setStatus", error="missing_scope")
    answer_in_thread(services, message("Hello"), {"event_id": "Ev4"}, CONTEXT)
    assert len(invoker.calls) == 1
    answer_in_thread(services, message("x" * 30_000, ts="1700000100.000950"), {"event_id": "Ev5"}, CONTEXT)
    [why] = slack.messages(DM)
    assert "30,000" in json.dumps(why) and len(invoker.calls) == 1


def test_bolt_routes_the_assistants_events_and_acks_without_a_call(
    services: Services, slack: FakeSlackApi, invoker: FakeInvoker
) -> None:
    """Locally, through Bolt: the Assistant middleware acks at once and runs the lazy half in a thread."""
    router = Router(services, build_bolt_app(services), lambda_mode=False)
    invoked = threading.Event()
    real = invoker.invoke_async
    invoker.invoke_async = lambda model, payload: (real(model, payload), invoked.set())  # type: ignore[method-assign]
    slack.clear()
    slack.set_thread(DM, THREAD, [{"user": BOT_USER_ID, "bot_id": BOT_ID, "text": "Hi! Ask anything."}])
    moved = {**started(), "type": "assistant_thread_context_changed"}
    for event_id, event in (
        ("Ev6", started()),
        ("Ev8", moved),
        ("Ev7", {**message("Hello"), "ts": "1700000100.000400"}),
    ):
        body = json.dumps(
            {"type": "event_callback", "team_id": "T0001", "api_app_id": "A1", "event_id": event_id, "event": event}
        )
        response = router.handle(
            api_gateway_event("POST", "/slack/events", body, signed_headers(body, SIGNING_SECRET, content_type=JSON))
        )
        assert response["statusCode"] == 200
    assert invoked.wait(10)
    assert slack.wait_for(lambda: slack.calls("assistant.threads.setSuggestedPrompts"))
    [(_, model, _, _)] = invoker.calls
    assert model == "ask"
    # The context change is only acknowledged: Bolt's default store would have read the thread
    # (conversations.replies) and written the context into the app's first message (chat.update).
    assert slack.calls("chat.update") == []
    assert len(slack.calls("conversations.replies")) == 1  # the message's history read, no more


def test_in_lambda_the_ack_makes_no_call_and_the_lazy_half_is_found_by_its_name(
    aws: tuple[Router, FakeLambdaClient], slack: FakeSlackApi
) -> None:
    """In AWS: the Assistant middleware acks before the response, the lazy half is a self-invocation."""
    from tests.fakes.slack_client import LambdaContext

    router, lambdas = aws
    slack.set_thread(DM, THREAD, [{"user": BOT_USER_ID, "bot_id": BOT_ID, "text": "Hi! Ask anything."}])
    body = json.dumps(
        {
            "type": "event_callback",
            "team_id": "T0001",
            "api_app_id": "A1",
            "event_id": "EvL1",
            "event": message("Hello"),
            "authorizations": [{"user_id": BOT_USER_ID, "is_bot": True}],
        }
    )
    context = LambdaContext()
    event = api_gateway_event("POST", "/slack/events", body, signed_headers(body, SIGNING_SECRET, content_type=JSON))
    assert router.handle(event, context)["statusCode"] == 200
    assert slack.calls() == []  # nothing but the ack on the ack path
    [lazy] = lambdas.invocations
    assert lazy["InvocationType"] == "Event"
    router.handle(lazy["Payload"], context)  # Lambda runs the lazy half
    assert [c.params["status"] for c in slack.calls("assistant.threads.setStatus")] == [THINKING]
    model_call = lambdas.invocations[1]
    assert model_call["FunctionName"] == "hf-test-ask" and model_call["Payload"]["text"] == "Hello"


def test_an_answer_in_the_agent_view_streams_into_its_thread_and_is_replaced_once(
    services: Services, slack: FakeSlackApi, invoker: FakeInvoker
) -> None:
    from bot.slack.delivery import deliver_record
    from bot.slack.streaming import deliver_partial
    from tests.fakes.destinations import destination_record

    slack.allow_streaming()
    slack.set_thread(DM, THREAD, [{"user": BOT_USER_ID, "bot_id": BOT_ID, "text": "Hi! Ask anything."}])
    answer_in_thread(services, message("Where is the tower?"), {"event_id": "Ev9"}, CONTEXT)
    [call] = invoker.calls
    reply = call.payload["reply"]
    for sequence, text in enumerate(["The tower", "The tower is in"], start=1):
        deliver_partial(services, {"partial": {"model": "ask", "sequence": sequence, "text": text}, "reply": reply})
    [stream] = slack.calls("chat.startStream")
    assert stream.params["channel"] == DM and stream.params["thread_ts"] == THREAD
    assert len(slack.calls("chat.appendStream")) == 1
    body = {"model": "ask", "task": "text-generation", "result": {"text": "The tower is in Paris."}, "reply": reply}
    deliver_record(
        services, destination_record({"text": call.payload["text"], "reply": reply}, {**body, "timings": {}})
    )
    assert len(slack.calls("chat.stopStream")) == 1
    answers = [m for m in slack.messages(DM) if "The tower is in Paris." in json.dumps(m)]
    assert len(answers) == 1 and answers[0]["thread_ts"] == THREAD and answers[0]["blocks"]
    assert not [m for m in slack.messages(DM) if "The tower is in" in m.get("text", "") and not m.get("blocks")]
