"""The sample events: realistic enough that Bolt recognises each, and overridable."""

from __future__ import annotations

import json
import re

import pytest
from slack_bolt.request.payload_utils import (
    is_app_home_opened_event,
    is_block_actions,
    is_event,
    is_message_shortcut,
    is_view_submission,
)

from bot.core.http import Request
from bot.slack.reply import ReplyTarget
from bot.slack.ui import MODEL_SELECT_ACTION, MODEL_SELECT_BLOCK, RUN_MODAL_CALLBACK, SHORTCUT_CALLBACK
from inference.registry import load_registry
from tests.events import available, deep_merge, load_event

SAMPLES = [
    "api_gateway_get_go",
    "app_home_opened",
    "app_mention",
    "app_mention_in_thread",
    "block_actions",
    "destination_failure",
    "destination_success",
    "lambda_sync_exception",
    "lambda_sync_out_of_memory",
    "lambda_sync_timeout",
    "lambda_sync_timeout_legacy",
    "message_shortcut",
    "slash_command",
    "url_verification",
    "view_submission",
]


def test_every_sample_is_there() -> None:
    assert available() == SAMPLES


def test_overrides_deep_merge_and_lists_replace() -> None:
    event = load_event("app_mention", event={"text": "<@UBOT> help", "blocks": []}, event_id="Ev9")
    assert event["event"]["text"] == "<@UBOT> help"
    assert event["event"]["blocks"] == []
    assert event["event"]["channel"] == "C123"  # untouched sibling
    assert event["event_id"] == "Ev9"
    assert deep_merge({"a": {"b": 1, "c": [1]}}, {"a": {"c": [2]}, "d": None}) == {"a": {"b": 1, "c": [2]}, "d": None}


def test_each_load_is_a_fresh_copy() -> None:
    load_event("block_actions")["actions"][0]["value"] = "changed"
    assert load_event("block_actions")["actions"][0]["value"] == "sentiment"


def test_unknown_names_list_the_samples() -> None:
    with pytest.raises(FileNotFoundError, match="app_mention"):
        load_event("no_such_event")


def test_slack_samples_are_what_bolt_expects() -> None:
    assert is_event(load_event("app_mention"))
    assert (
        load_event("app_mention_in_thread")["event"]["thread_ts"] < load_event("app_mention_in_thread")["event"]["ts"]
    )
    assert is_app_home_opened_event(load_event("app_home_opened"), tab="home")
    assert is_message_shortcut(load_event("message_shortcut"))
    assert load_event("message_shortcut")["callback_id"] == "run_model_on_message"
    assert is_block_actions(load_event("block_actions"))
    assert is_view_submission(load_event("view_submission"))
    assert load_event("view_submission")["view"]["callback_id"] == "run_model_modal"
    assert load_event("url_verification")["type"] == "url_verification"
    command = load_event("slash_command")
    assert {"command", "text", "user_id", "channel_id", "team_id", "response_url", "trigger_id"} <= command.keys()


def test_the_bot_never_mentions_itself() -> None:
    """Bolt ignores events from the bot's own ids (``UBOT``/``BBOT``); samples come from people."""
    for name in ("app_mention", "app_mention_in_thread", "app_home_opened"):
        assert load_event(name)["event"]["user"] not in ("UBOT", "BBOT")


@pytest.mark.parametrize(
    ("name", "condition", "error"),
    [("destination_success", "Success", None), ("destination_failure", "RetriesExhausted", "Unhandled")],
)
def test_destination_records_have_lambdas_shape(name: str, condition: str, error: str | None) -> None:
    record = load_event(name)
    assert record["version"] == "1.0"
    assert record["requestContext"]["condition"] == condition
    assert record["requestContext"]["functionArn"].startswith("arn:aws:lambda:")
    assert record["responseContext"].get("functionError") == error
    assert record["requestPayload"]["reply"]["channel"] == "C123"


def test_timeout_failure_names_its_request() -> None:
    record = load_event("destination_failure")
    message = record["responsePayload"]["errorMessage"]
    assert re.search(r"Task timed out after \d+\.\d\d seconds$", message)
    assert record["requestContext"]["requestId"] in message


def test_success_response_is_the_model_services_shape() -> None:
    payload = load_event("destination_success")["responsePayload"]
    assert {"model", "task", "revision", "result", "timings", "reply"} <= payload.keys()
    assert payload["reply"] == load_event("destination_success")["requestPayload"]["reply"]


def test_api_gateway_sample_is_a_get_of_the_form() -> None:
    request = Request.from_event(load_event("api_gateway_get_go"))
    assert (request.method, request.path, request.body) == ("GET", "/go", b"")
    assert request.header("accept").startswith("text/html")


def test_samples_match_what_the_router_reads() -> None:
    """Kept in step with the router: its reply target, modal ids and the registry's model names."""
    registry = load_registry()
    for name in ("destination_success", "destination_failure"):
        record = load_event(name)
        target = ReplyTarget.from_dict(record["requestPayload"]["reply"])
        assert target.to_dict() == record["requestPayload"]["reply"]
        model = record["requestContext"]["functionArn"].split(":function:hf-slack-")[1].split(":")[0]
        assert registry.find(model) is not None
    success = load_event("destination_success")["responsePayload"]
    assert success["revision"] == registry.find(success["model"]).revision
    view = load_event("view_submission")["view"]
    assert view["callback_id"] == RUN_MODAL_CALLBACK
    assert set(json.loads(view["private_metadata"])) == {"channel", "thread_ts", "text_key"}, "as open_picker sends it"
    assert view["state"]["values"][MODEL_SELECT_BLOCK][MODEL_SELECT_ACTION]["selected_option"]["value"] == "summarize"
    assert load_event("message_shortcut")["callback_id"] == SHORTCUT_CALLBACK
