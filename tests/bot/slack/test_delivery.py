"""Delivering destination records: one answer per request, whatever arrives twice or fails."""

from __future__ import annotations

import json
from typing import Any

import pytest

from bot.core.services import Services
from bot.core.slack_ops import SlackUnavailable
from bot.slack.delivery import deliver_record, failure_from_record, is_destination_record
from tests.events import load_event
from tests.fakes.destinations import destination_record
from tests.fakes.slack_api import FakeSlackApi


def post_placeholder(slack: FakeSlackApi, services: Services, channel: str = "C123") -> str:
    return services.slack.post(channel, {"text": "⏳ working"})


def record(slack: FakeSlackApi, services: Services, *, failed: bool = False, **reply: Any) -> dict[str, Any]:
    """The sample record of a run answering in a thread under a fresh placeholder (``reply`` over its target)."""
    ts = post_placeholder(slack, services)
    target = {
        "channel": "C123",
        "thread_ts": ts,
        "placeholder_ts": ts,
        "response_url": slack.new_response_url(),
        **reply,
    }
    return destination_record(failed=failed, requestPayload={"reply": target})


def replies(slack: FakeSlackApi) -> list[dict[str, Any]]:
    return [m for m in slack.messages("C123") if m.get("thread_ts") and m["thread_ts"] != m["ts"]]


def text_of(message: dict[str, Any]) -> str:
    return message["text"] + json.dumps(message.get("blocks", []), ensure_ascii=False)


def test_success_posts_answer_in_thread_and_marks_placeholder(slack: FakeSlackApi, services: Services) -> None:
    event = record(slack, services)
    deliver_record(services, event)
    [answer] = replies(slack)
    assert "POSITIVE" in text_of(answer) and "a1b2c3d4e5f6" in text_of(answer)
    placeholder = slack.messages("C123")[0]
    assert "Answered in" in text_of(placeholder)


def test_duplicate_record_answers_once(slack: FakeSlackApi, services: Services) -> None:
    event = record(slack, services)
    deliver_record(services, event)
    deliver_record(services, event)
    assert len(replies(slack)) == 1


def test_failure_after_success_is_ignored(slack: FakeSlackApi, services: Services) -> None:
    event = record(slack, services)
    deliver_record(services, event)
    late = destination_record(event["requestPayload"], failed=True)
    deliver_record(services, late)
    assert len(replies(slack)) == 1


def test_timeout_is_worded_plainly(slack: FakeSlackApi, services: Services) -> None:
    event = record(slack, services, failed=True)
    deliver_record(services, event)
    [answer] = replies(slack)
    assert "ran out of time" in text_of(answer)
    assert "Failed in" in text_of(slack.messages("C123")[0])


def test_model_error_result_is_an_error_reply(slack: FakeSlackApi, services: Services) -> None:
    event = record(slack, services)
    event["responsePayload"] = {**event["responsePayload"], "error": {"type": "input_too_long", "message": "too long"}}
    del event["responsePayload"]["result"]
    deliver_record(services, event)
    assert "too long" in text_of(replies(slack)[0])


def test_placeholder_update_failing_still_answers(slack: FakeSlackApi, services: Services) -> None:
    event = record(slack, services)
    slack.fail("chat.update", status=500, times=None)
    deliver_record(services, event)
    assert len(replies(slack)) == 1


def test_thread_reply_failing_puts_answer_in_placeholder(slack: FakeSlackApi, services: Services) -> None:
    event = record(slack, services)
    slack.fail("chat.postMessage", status=500, times=None)
    deliver_record(services, event)
    assert replies(slack) == []
    assert "POSITIVE" in text_of(slack.messages("C123")[0])


def test_nothing_works_raises_and_a_retry_delivers(slack: FakeSlackApi, services: Services) -> None:
    event = record(slack, services)
    event["requestPayload"]["reply"]["response_url"] = ""
    slack.fail("chat.postMessage", status=500, times=None)
    slack.fail("chat.update", status=500, times=None)
    with pytest.raises(SlackUnavailable):
        deliver_record(services, event)
    slack.heal()
    deliver_record(services, event)  # Lambda's retry of the same record
    assert len(replies(slack)) == 1


def test_rate_limit_is_waited_out(slack: FakeSlackApi, services: Services) -> None:
    event = record(slack, services)
    slack.fail("chat.postMessage", status=429, retry_after=1, times=2)
    deliver_record(services, event)
    assert len(replies(slack)) == 1
    assert [c.fault for c in slack.calls("chat.postMessage")][-3:] == ["429", "429", None]


def test_response_url_mode(slack: FakeSlackApi, services: Services) -> None:
    url = slack.new_response_url()
    event = destination_record(requestPayload={"reply": {"mode": "response_url", "response_url": url}})
    deliver_record(services, event)
    [post] = slack.response_posts(url)
    assert post.body["response_type"] == "in_channel" and "POSITIVE" in json.dumps(post.body)


def test_response_url_must_point_at_slack(slack: FakeSlackApi, services: Services) -> None:
    event = destination_record(
        requestPayload={"reply": {"mode": "response_url", "response_url": "http://169.254.169.254/x"}}
    )
    with pytest.raises(SlackUnavailable):
        deliver_record(services, event)


def test_form_records_and_foreign_events_are_ignored(slack: FakeSlackApi, services: Services) -> None:
    deliver_record(services, destination_record(requestPayload={"reply": {"source": "form"}}))
    deliver_record(services, destination_record({"text": "no reply target"}))
    assert slack.calls() == []


def test_record_detection_and_failure_words() -> None:
    assert is_destination_record(destination_record())
    assert not is_destination_record(load_event("api_gateway_get_go"))
    aged = destination_record(failed=True, requestContext={"condition": "EventAgeExceeded"}, responsePayload=None)
    assert failure_from_record(aged)["type"] == "timeout"
    crash = destination_record(response={"errorMessage": "boom", "errorType": "Runtime.ExitError"}, failed=True)
    assert "Runtime.ExitError" in failure_from_record(crash)["message"]
