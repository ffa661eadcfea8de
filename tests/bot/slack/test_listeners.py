"""The listeners called directly, with a fake ack, a dict for Bolt's context and real Services over the
fake Slack API; and the table that hands them to Bolt."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from slack_bolt.util.utils import get_arg_names_of_callable, get_name_for_callable

import bot.slack.listeners as listeners
from bot.app import build_bolt_app
from bot.core.services import Services
from bot.router import Router
from bot.slack.listeners import (
    LISTENERS,
    PLAN_KEY,
    SHORTCUT_TEXT_GONE,
    VIEW_NOT_OPENED,
    ack_command,
    ack_modal,
    ack_only,
    for_bolt,
    open_comment,
    open_picker,
    publish_home,
    record_vote,
    run_command,
    run_mention,
    run_modal,
)
from bot.slack.plans import Plan
from bot.slack.ui import MODEL_SELECT_BLOCK, VOTE_UP
from tests.fakes.invoker import FakeInvoker
from tests.fakes.signing import FORM, SIGNING_SECRET, signed_headers
from tests.fakes.slack_api import FakeSlackApi
from tests.fakes.slack_client import api_gateway_event, slash_command_body


class FakeAck:
    """Bolt's ``ack``: records what each call answered with."""

    def __init__(self) -> None:
        self.calls: list[dict[str, Any]] = []

    def __call__(self, **kwargs: Any) -> None:
        self.calls.append(kwargs)


@pytest.fixture
def plans_made(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[dict[str, Any]]]:
    """Every plan_command call the listeners make, by the command it planned."""
    made: list[dict[str, Any]] = []
    real = listeners.plan_command

    def counting(services: Services, command: dict[str, Any]) -> Plan:
        made.append(command)
        return real(services, command)

    monkeypatch.setattr(listeners, "plan_command", counting)
    yield made


def command(text: str, name: str = "/sentiment", trigger_id: str = "trig-1") -> dict[str, str]:
    return {"command": name, "text": text, "trigger_id": trigger_id, "user_id": "U1", "channel_id": "C1"}


def replies(slack: FakeSlackApi, channel: str, thread_ts: str) -> list[dict[str, Any]]:
    return [m for m in slack.messages(channel) if m.get("thread_ts") == thread_ts and m["ts"] != thread_ts]


# -- slash commands ------------------------------------------------------------------------


def test_the_ack_of_a_run_answers_bare_and_calls_nothing(
    services: Services, slack: FakeSlackApi, invoker: FakeInvoker
) -> None:
    ack, context = FakeAck(), {}
    ack_command(services, ack, command("I love it"), context)
    assert ack.calls == [{}]
    assert context[PLAN_KEY].spec is services.registry.get("sentiment")
    assert slack.calls() == [] and invoker.calls == []


def test_the_ack_of_help_answers_with_it(services: Services, slack: FakeSlackApi) -> None:
    ack = FakeAck()
    ack_command(services, ack, command("", name="/hf"), {})
    [answer] = ack.calls
    assert answer["response_type"] == "ephemeral" and "sentiment" in json.dumps(answer["blocks"])
    assert slack.calls() == []


def test_the_lazy_half_runs_the_plan_the_ack_made(
    services: Services, slack: FakeSlackApi, invoker: FakeInvoker, plans_made: list[dict[str, Any]]
) -> None:
    """As locally, where Bolt hands the lazy half a copy of the ack's context: one plan per request."""
    context: dict[str, Any] = {}
    ack_command(services, FakeAck(), command("I love it"), context)
    run_command(services, command("I love it"), context)
    assert len(plans_made) == 1
    [(_, model, payload, _)] = invoker.calls
    assert (model, payload["text"]) == ("sentiment", "I love it")
    [placeholder] = slack.messages("C1")
    assert payload["reply"]["placeholder_ts"] == placeholder["ts"]


def test_a_lazy_half_without_the_acks_context_plans_the_same_from_the_body(
    services: Services, invoker: FakeInvoker, plans_made: list[dict[str, Any]]
) -> None:
    """As in Lambda, where the lazy half is another invocation: it plans once, from the same body."""
    acked: dict[str, Any] = {}
    ack_command(services, FakeAck(), command("I love it"), acked)
    lazy: dict[str, Any] = {}
    run_command(services, command("I love it"), lazy)
    assert len(plans_made) == 2 and lazy[PLAN_KEY] == acked[PLAN_KEY]
    assert [call.model for call in invoker.calls] == ["sentiment"]


def test_a_command_delivered_twice_runs_once(services: Services, invoker: FakeInvoker) -> None:
    run_command(services, command("I love it"), {})
    run_command(services, command("I love it"), {})
    assert len(invoker.calls) == 1


def test_a_command_answered_by_its_ack_starts_nothing(
    services: Services, slack: FakeSlackApi, invoker: FakeInvoker
) -> None:
    context: dict[str, Any] = {}
    ack_command(services, FakeAck(), command("help"), context)
    run_command(services, command("help"), context)
    assert slack.calls() == [] and invoker.calls == []


def test_a_comparison_runs_every_model(services: Services, invoker: FakeInvoker) -> None:
    context: dict[str, Any] = {}
    ack_command(services, FakeAck(), command("compare sentiment,ner hi", name="/hf"), context)
    run_command(services, command("compare sentiment,ner hi", name="/hf"), context)
    assert [call.model for call in invoker.calls] == ["sentiment", "ner"]


def test_a_run_that_cannot_start_ends_in_one_clear_error(
    services: Services, slack: FakeSlackApi, invoker: FakeInvoker
) -> None:
    """The comparison message cannot be posted: no model runs, and the person gets one error."""
    slack.fail("chat.postMessage", status=500, times=6)  # the placeholder, then the comparison message
    body = {**command("compare sentiment,ner hi", name="/hf"), "response_url": slack.new_response_url()}
    run_command(services, body, {})
    assert invoker.calls == []
    [error] = slack.messages("C1")
    assert "could not be started" in json.dumps(error["blocks"])


# -- mentions ------------------------------------------------------------------------------


def mention(text: str, **fields: str) -> dict[str, str]:
    return {"type": "app_mention", "text": text, "user": "U1", "channel": "C1", "ts": "1699999999.000200", **fields}


def test_a_mention_for_help_is_answered_in_its_thread(
    services: Services, slack: FakeSlackApi, invoker: FakeInvoker
) -> None:
    run_mention(services, mention("<@UBOT> help"), {"event_id": "Ev1"})
    [reply] = replies(slack, "C1", "1699999999.000200")
    assert "sentiment" in json.dumps(reply["blocks"]) and invoker.calls == []


def test_a_mention_runs_its_model_once_per_event(services: Services, invoker: FakeInvoker) -> None:
    run_mention(services, mention("<@UBOT> sentiment I love it"), {"event_id": "Ev2"})
    run_mention(services, mention("<@UBOT> sentiment I love it"), {"event_id": "Ev2"})  # Slack's retry
    [(_, model, payload, _)] = invoker.calls
    assert (model, payload["text"], payload["reply"]["thread_ts"]) == ("sentiment", "I love it", "1699999999.000200")


def test_a_mention_in_a_thread_runs_on_the_threads_text(
    services: Services, slack: FakeSlackApi, invoker: FakeInvoker
) -> None:
    slack.set_thread("C1", "1699999999.000100", [{"user": "U2", "text": "We shipped it."}])
    event = mention("<@UBOT> summarize", thread_ts="1699999999.000100")
    run_mention(services, event, {"event_id": "Ev3"})
    [(_, model, payload, _)] = invoker.calls
    assert (model, payload["text"]) == ("summarize", "We shipped it.")


def test_a_thread_that_cannot_be_read_ends_in_one_clear_error(
    services: Services, slack: FakeSlackApi, invoker: FakeInvoker
) -> None:
    slack.fail("conversations.replies", error="missing_scope")
    run_mention(services, mention("<@UBOT> summarize", thread_ts="1699999999.000100"), {"event_id": "Ev4"})
    [error] = replies(slack, "C1", "1699999999.000100")
    assert "could not be started" in json.dumps(error["blocks"]) and invoker.calls == []


# -- the shortcut and its modal --------------------------------------------------------------


def shortcut(text: str) -> dict[str, Any]:
    return {
        "type": "message_action",
        "trigger_id": "trig-shortcut",
        "user": {"id": "U1"},
        "channel": {"id": "C1"},
        "message": {"type": "message", "user": "U2", "ts": "1700000000.000900", "text": text},
    }


def opened_view(services: Services, slack: FakeSlackApi, text: str) -> dict[str, Any]:
    open_picker(services, shortcut(text))
    [opened] = slack.calls("views.open")
    return opened.params["view"]


def submitted(view: dict[str, Any], model: str) -> dict[str, Any]:
    values = {"model_block": {"model_select": {"selected_option": {"value": model}}}}
    return {"id": "V1", "private_metadata": view["private_metadata"], "state": {"values": values}}


def test_a_modal_that_can_run_closes_and_runs_once(
    services: Services, slack: FakeSlackApi, invoker: FakeInvoker, monkeypatch: pytest.MonkeyPatch
) -> None:
    view = submitted(opened_view(services, slack, "What a day"), "sentiment")
    planned: list[int] = []
    real = listeners.plan_modal
    monkeypatch.setattr(listeners, "plan_modal", lambda *args: planned.append(1) or real(*args))
    ack, context = FakeAck(), {}
    ack_modal(services, ack, view, context)
    run_modal(services, view, {"user": {"id": "U1"}}, context)
    run_modal(services, view, {"user": {"id": "U1"}}, context)  # a duplicate submission
    assert ack.calls == [{}] and planned == [1]
    [(_, model, payload, _)] = invoker.calls
    assert (model, payload["text"], payload["reply"]["thread_ts"]) == ("sentiment", "What a day", "1700000000.000900")


@pytest.mark.parametrize(("model", "says"), [("", "Pick a model."), ("sentiment", SHORTCUT_TEXT_GONE)])
def test_a_modal_that_cannot_run_stays_open_saying_why(
    services: Services, slack: FakeSlackApi, invoker: FakeInvoker, model: str, says: str
) -> None:
    view = submitted({"private_metadata": json.dumps({"channel": "C1", "text_key": "gone"})}, model)
    ack, context = FakeAck(), {}
    ack_modal(services, ack, view, context)
    run_modal(services, view, {"user": {"id": "U1"}}, context)
    assert ack.calls == [{"response_action": "errors", "errors": {MODEL_SELECT_BLOCK: says}}]
    assert invoker.calls == []


@pytest.mark.parametrize("open_it", [open_picker, open_comment])
def test_a_modal_slack_will_not_open_is_said_only_to_the_person(
    services: Services, slack: FakeSlackApi, open_it: Any
) -> None:
    slack.fail("views.open", error="expired_trigger_id")
    body = {**shortcut("hi"), "message": {"ts": "1700000000.000900", "text": "hi"}}
    if open_it is open_comment:
        open_it(services, body, {"value": "r1"})
    else:
        open_it(services, body)
    [told] = slack.calls("chat.postEphemeral")
    assert (told.params["channel"], told.params["user"], told.params["text"]) == ("C1", "U1", VIEW_NOT_OPENED)


# -- Home and votes --------------------------------------------------------------------------


def test_the_home_tab_is_published_and_a_failure_only_logged(services: Services, slack: FakeSlackApi) -> None:
    publish_home(services, {"type": "app_home_opened", "user": "U1", "tab": "home"})
    publish_home(services, {"type": "app_home_opened", "user": "U1", "tab": "messages"})
    assert len(slack.calls("views.publish")) == 1
    slack.fail("views.publish", status=500, times=None)
    publish_home(services, {"type": "app_home_opened", "user": "U1", "tab": "home"})


def test_a_vote_counts_even_when_its_tally_cannot_be_shown(services: Services, slack: FakeSlackApi) -> None:
    ts = services.slack.post("C1", {"text": "an answer"})
    slack.fail("chat.update", error="cant_update_message")
    body = {"user": {"id": "U1"}, "channel": {"id": "C1"}, "message": {"ts": ts, "text": "an answer", "blocks": []}}
    record_vote(services, body, {"action_id": VOTE_UP, "value": "r1"})
    assert services.feedback.tally("r1")["up"] == 1


# -- the table, as Bolt reads it -------------------------------------------------------------


def test_bolt_passes_each_listener_what_it_names_and_finds_its_lazy_half_by_its_own_name(
    services: Services,
) -> None:
    for route in LISTENERS:
        for listener in (route.ack, route.lazy):
            if listener is None:  # an ack-only route: nothing runs after it
                continue
            bound = for_bolt(listener, services)
            names = [n for n in listener.__code__.co_varnames[: listener.__code__.co_argcount] if n != "services"]
            assert get_arg_names_of_callable(bound) == names
            assert get_name_for_callable(bound) == listener.__name__
    assert for_bolt(ack_only, services) is ack_only
    lazies = [route.lazy for route in LISTENERS if route.lazy is not None]
    assert len({lazy.__name__ for lazy in lazies}) == len(lazies)


def test_locally_a_slash_command_is_planned_once(
    services: Services, invoker: FakeInvoker, plans_made: list[dict[str, Any]]
) -> None:
    """Through Bolt in local mode: the lazy half runs in a thread with the ack's plan."""
    router = Router(services, build_bolt_app(services), lambda_mode=False)
    started = threading.Event()
    real_invoke = invoker.invoke_async

    def invoke_async(model: str, payload: dict[str, Any]) -> None:
        real_invoke(model, payload)
        started.set()

    invoker.invoke_async = invoke_async  # type: ignore[method-assign]
    body = slash_command_body("/sentiment", "What a great day", channel_id="C1")
    event = api_gateway_event("POST", "/slack/events", body, signed_headers(body, SIGNING_SECRET, content_type=FORM))
    assert router.handle(event)["statusCode"] == 200
    assert started.wait(10)
    assert len(plans_made) == 1
