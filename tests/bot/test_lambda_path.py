"""The AWS path in one process: API Gateway event → ack → lazy self-invocation → model
invocation → destination record → thread reply, with boto3's Lambda client faked."""

from __future__ import annotations

import json
from typing import Any

import pytest

import bot.handler
import bot.slack.listeners as listeners
from bot.router import Router
from bot.slack.plans import Plan
from inference.service import handle
from tests.fakes.destinations import destination_record
from tests.fakes.invoker import FakeLambdaClient
from tests.fakes.signing import FORM, SIGNING_SECRET, signed_headers
from tests.fakes.slack_api import FakeSlackApi
from tests.fakes.slack_client import LambdaContext, api_gateway_event, interaction_body, slash_command_body


def signed(body: str) -> dict[str, Any]:
    return api_gateway_event("POST", "/slack/events", body, signed_headers(body, SIGNING_SECRET, content_type=FORM))


def signed_command(text: str) -> dict[str, Any]:
    return signed(slash_command_body("/sentiment", text, channel_id="C777"))


def test_command_round_trip_through_lambda(aws: tuple[Router, FakeLambdaClient], slack: FakeSlackApi) -> None:
    router, lambdas = aws
    context = LambdaContext()
    ack = router.handle(signed_command("What a great day"), context)
    assert ack["statusCode"] == 200
    assert slack.calls() == []  # nothing but the ack on the ack path
    [lazy] = lambdas.invocations
    assert lazy["FunctionName"] == context.invoked_function_arn and lazy["InvocationType"] == "Event"

    router.handle(lazy["Payload"], context)  # Lambda runs the lazy listener
    [placeholder] = slack.messages("C777")
    model_call = lambdas.invocations[1]
    assert model_call["FunctionName"] == "hf-test-sentiment" and model_call["InvocationType"] == "Event"
    payload = model_call["Payload"]
    assert payload["text"] == "What a great day"
    assert payload["reply"]["placeholder_ts"] == placeholder["ts"]

    class Runner:
        def run(self, text: str, parameters: dict[str, Any]) -> dict[str, Any]:
            return {"labels": [{"label": "POSITIVE", "score": 0.99}], "truncated": False}

    response = handle(payload, spec=router.services.registry.get("sentiment"), get_runner=Runner)
    record = destination_record(payload, json.loads(json.dumps(response)))  # what Lambda sends the router
    assert router.handle(record, context) == {"delivered": True}
    replies = [m for m in slack.messages("C777") if m.get("thread_ts") == placeholder["ts"]]
    assert len(replies) == 1 and "POSITIVE" in json.dumps(replies[0]["blocks"])


def test_each_invocation_plans_once_and_both_reach_the_same_plan(
    aws: tuple[Router, FakeLambdaClient], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The lazy half is another invocation, without the ack's context: it plans again, from the same body."""
    router, lambdas = aws
    plans: list[Plan] = []
    real = listeners.plan_command
    monkeypatch.setattr(
        listeners, "plan_command", lambda services, command: plans.append(real(services, command)) or plans[-1]
    )
    router.handle(signed_command("What a great day"), LambdaContext())
    assert len(plans) == 1  # the ack's invocation
    router.handle(lambdas.invocations[0]["Payload"], LambdaContext())
    assert len(plans) == 2 and plans[0] == plans[1]  # the lazy one's
    assert plans[1].spec is router.services.registry.get("sentiment") and plans[1].text == "What a great day"


def test_function_name_never_comes_from_the_request(aws: tuple[Router, FakeLambdaClient]) -> None:
    router, lambdas = aws
    router.handle(signed_command("hi"), LambdaContext())
    lazy = lambdas.invocations[0]["Payload"]
    router.handle(lazy, LambdaContext())
    assert {i["FunctionName"] for i in lambdas.invocations[1:]} == {"hf-test-sentiment"}


def test_module_entry_point_routes_and_tags_logs(
    monkeypatch: pytest.MonkeyPatch, aws: tuple[Router, FakeLambdaClient]
) -> None:
    router, _ = aws
    monkeypatch.setattr(bot.handler, "router", lambda: router)
    result = bot.handler.handler(api_gateway_event("GET", "/nowhere", None, {}), LambdaContext())
    assert result["statusCode"] == 404
    assert (
        bot.handler.correlation_id({"requestPayload": {"reply": {"request_id": "abc"}}, "requestContext": {}}) == "abc"
    )


def test_bad_base64_body_is_a_400(aws: tuple[Router, FakeLambdaClient]) -> None:
    router, _ = aws
    event = api_gateway_event("POST", "/slack/events", "x", {})
    event.update(body="%%%not-base64", isBase64Encoded=True)
    assert router.handle(event, LambdaContext())["statusCode"] == 400


def message_shortcut(text: str) -> dict[str, Any]:
    """The message shortcut's payload on a message holding ``text``."""
    return {
        "type": "message_action",
        "callback_id": "run_model_on_message",
        "trigger_id": "trig-lambda",
        "team": {"id": "T0001"},
        "user": {"id": "U9"},
        "channel": {"id": "C778"},
        "message": {"type": "message", "user": "U1", "ts": "1700000000.000900", "text": text},
    }


def submitted(view: dict[str, Any], model: str) -> dict[str, Any]:
    """The submission of the opened modal ``view`` with ``model`` picked."""
    return {
        "type": "view_submission",
        "team": {"id": "T0001"},
        "user": {"id": "U9"},
        "view": {
            "id": "VLAMBDA1",
            "type": "modal",
            "callback_id": view["callback_id"],
            "private_metadata": view["private_metadata"],
            "state": {"values": {"model_block": {"model_select": {"selected_option": {"value": model}}}}},
        },
    }


def open_modal(aws: tuple[Router, FakeLambdaClient], slack: FakeSlackApi, text: str) -> dict[str, Any]:
    """Run the shortcut on a message holding ``text`` (ack, then the lazy run); the modal it opened."""
    router, lambdas = aws
    assert router.handle(signed(interaction_body(message_shortcut(text))), LambdaContext())["statusCode"] == 200
    router.handle(lambdas.invocations.pop()["Payload"], LambdaContext())  # the lazy run opens the modal
    [opened] = slack.calls("views.open")
    return opened.params["view"]


def test_shortcut_modal_round_trip_through_lambda_keeps_the_whole_text(
    aws: tuple[Router, FakeLambdaClient], slack: FakeSlackApi
) -> None:
    """The ack and the lazy run are separate invocations: both find the text the shortcut kept."""
    router, lambdas = aws
    text = "今日のデモは素晴らしかった。" * 360  # 5,040 characters, JSON-escaped six times longer
    view = open_modal(aws, slack, text)
    assert len(view["private_metadata"]) < 200
    ack = router.handle(signed(interaction_body(submitted(view, "sentiment"))), LambdaContext())
    assert ack["statusCode"] == 200 and not ack.get("body")  # the modal closes
    router.handle(lambdas.invocations.pop()["Payload"], LambdaContext())
    [model_call] = lambdas.invocations
    assert model_call["FunctionName"] == "hf-test-sentiment"
    assert model_call["Payload"]["text"] == text
    assert model_call["Payload"]["reply"]["thread_ts"] == "1700000000.000900"
    assert slack.take_violations() == []


def test_a_message_holding_a_lone_surrogate_gets_the_modal_and_is_told_why(
    aws: tuple[Router, FakeLambdaClient], slack: FakeSlackApi
) -> None:
    """No store takes a lone surrogate (it is not UTF-8): the picker still opens, and submitting it says why."""
    router, lambdas = aws
    view = open_modal(aws, slack, "the plan \udc00 is late")
    ack = router.handle(signed(interaction_body(submitted(view, "sentiment"))), LambdaContext())
    errors = json.loads(ack["body"])["errors"]
    assert "not valid Unicode" in errors["model_block"]
    assert all(call["FunctionName"] != "hf-test-sentiment" for call in lambdas.invocations)
