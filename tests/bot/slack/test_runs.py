"""Starting runs and comparisons when things go wrong: no placeholder, no invocation."""

from __future__ import annotations

import json

import pytest

from bot.core.invoker import InvokeError
from bot.core.services import Services
from bot.core.slack_ops import SlackUnavailable
from bot.slack.delivery import deliver_outcome
from bot.slack.reply import RESPONSE_URL, ReplyTarget
from bot.slack.runs import start_compare, start_run
from tests.fakes.invoker import FakeInvoker
from tests.fakes.slack_api import FakeSlackApi


def test_model_runs_even_when_the_placeholder_cannot_be_posted(
    slack: FakeSlackApi, services: Services, invoker: FakeInvoker
) -> None:
    slack.fail("chat.postMessage", status=500, times=3)  # the first try and both retries
    target = ReplyTarget(request_id="r1", source="command", user="U1", channel="C1")
    start_run(services, services.registry.get("sentiment"), "hello", target)
    [(kind, model, payload, _)] = invoker.calls
    assert (kind, model, payload["text"]) == ("async", "sentiment", "hello")
    assert payload["reply"]["placeholder_ts"] == ""


def test_invoke_failure_on_the_slack_path_is_a_threaded_error(
    slack: FakeSlackApi, services: Services, invoker: FakeInvoker
) -> None:
    invoker.error = InvokeError("Could not start sentiment: TooManyRequestsException")
    target = ReplyTarget(request_id="r2", source="mention", user="U1", channel="C1", thread_ts="1700000000.000001")
    start_run(services, services.registry.get("sentiment"), "hello", target)
    replies = [m for m in slack.messages("C1") if m.get("thread_ts") == "1700000000.000001"]
    assert len(replies) == 2  # the placeholder and the error
    error = json.dumps(replies[1]["blocks"])
    assert "could not be started" in error and "r2" in error


# -- a failed placeholder: start_run and start_compare treat it the same way ----------------


def compare_target(slack: FakeSlackApi, **fields: str) -> ReplyTarget:
    return ReplyTarget(
        request_id="g1", source="command", user="U1", channel="C1", response_url=slack.new_response_url(), **fields
    )


def column_targets(invoker: FakeInvoker) -> list[ReplyTarget]:
    return [ReplyTarget.from_dict(call.payload["reply"]) for call in invoker.calls]


def test_a_comparison_runs_even_when_its_placeholder_cannot_be_posted(
    slack: FakeSlackApi, services: Services, invoker: FakeInvoker
) -> None:
    """As start_run: Slack failing on the placeholder does not stop the request; its answers still land."""
    slack.fail("chat.postMessage", status=500, times=3)  # the placeholder's first try and both retries
    specs = [services.registry.get("sentiment"), services.registry.get("ner")]
    start_compare(services, specs, "hello", compare_target(slack))
    [comparison] = slack.messages("C1")  # no placeholder: the comparison message is the thread's root
    columns = column_targets(invoker)
    assert [(call.kind, call.model) for call in invoker.calls] == [("async", "sentiment"), ("async", "ner")]
    assert {c.compare["message_ts"] for c in columns} == {comparison["ts"]}
    assert {c.placeholder_ts for c in columns} == {""}
    result = {"labels": [{"label": "POSITIVE", "score": 0.99}], "truncated": False}
    deliver_outcome(services, specs[0], columns[0], text="hello", result=result)
    deliver_outcome(services, specs[1], columns[1], text="hello", error={"type": "model_failed", "message": "boom"})
    [comparison] = slack.messages("C1")  # still one message, both columns in it
    assert "POSITIVE" in json.dumps(comparison["blocks"]) and "boom" in json.dumps(comparison["blocks"])


def test_a_comparison_where_the_bot_cannot_post_says_so_once(
    slack: FakeSlackApi, services: Services, invoker: FakeInvoker
) -> None:
    slack.fail("chat.postMessage", error="not_in_channel")
    target = compare_target(slack)
    start_compare(services, [services.registry.get("sentiment"), services.registry.get("ner")], "hello", target)
    [told] = slack.response_posts(target.response_url)
    assert told.body["response_type"] == "ephemeral" and "can't run a comparison here" in told.body["text"]
    assert invoker.calls == [] and slack.messages("C1") == []


def test_a_comparison_whose_message_cannot_be_posted_raises_before_any_model_runs(
    slack: FakeSlackApi, services: Services, invoker: FakeInvoker
) -> None:
    """The columns need the comparison message: without it the listener's one clear error is the answer."""
    slack.fail("chat.postMessage", status=500, times=6)  # the placeholder, then the comparison message
    with pytest.raises(SlackUnavailable):
        start_compare(
            services, [services.registry.get("sentiment"), services.registry.get("ner")], "hi", compare_target(slack)
        )
    assert invoker.calls == []


def test_a_run_where_the_bot_cannot_post_goes_through_the_response_url(
    slack: FakeSlackApi, services: Services, invoker: FakeInvoker
) -> None:
    slack.fail("chat.postMessage", error="not_in_channel")
    target = compare_target(slack)
    start_run(services, services.registry.get("sentiment"), "hello", target)
    [placeholder] = slack.response_posts(target.response_url)
    assert placeholder.body["response_type"] == "in_channel"
    [reply] = column_targets(invoker)
    assert reply.mode == RESPONSE_URL and reply.placeholder_ts == ""


def test_a_run_nobody_can_be_answered_on_does_not_start(
    slack: FakeSlackApi, services: Services, invoker: FakeInvoker
) -> None:
    slack.fail("chat.postMessage", error="not_in_channel")
    target = ReplyTarget(
        request_id="r9", source="command", user="U1", channel="C1", response_url="http://169.254.169.254/"
    )
    start_run(services, services.registry.get("sentiment"), "hello", target)
    assert invoker.calls == []
