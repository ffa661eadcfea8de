"""Starting runs when things go wrong: no placeholder, no invocation, a flaky router."""

from __future__ import annotations

import json
import threading

from bot.core.invoker import InvokeError
from bot.core.services import Services
from bot.local.workers import WorkerPool
from bot.slack.reply import ReplyTarget
from bot.slack.runs import start_run
from inference.registry import load_registry
from tests.bot.conftest import RecordingInvoker
from tests.fakes.slack_api import FakeSlackApi


def test_model_runs_even_when_the_placeholder_cannot_be_posted(
    slack: FakeSlackApi, services: Services, invoker: RecordingInvoker
) -> None:
    slack.fail("chat.postMessage", status=500, times=3)  # the first try and both retries
    target = ReplyTarget(request_id="r1", source="command", user="U1", channel="C1")
    start_run(services, services.registry.get("sentiment"), "hello", target)
    [(kind, model, payload)] = invoker.calls
    assert (kind, model, payload["text"]) == ("async", "sentiment", "hello")
    assert payload["reply"]["placeholder_ts"] == ""


def test_invoke_failure_on_the_slack_path_is_a_threaded_error(
    slack: FakeSlackApi, services: Services, invoker: RecordingInvoker
) -> None:
    invoker.fail = InvokeError("Could not start sentiment: TooManyRequestsException")
    target = ReplyTarget(request_id="r2", source="mention", user="U1", channel="C1", thread_ts="1700000000.000001")
    start_run(services, services.registry.get("sentiment"), "hello", target)
    replies = [m for m in slack.messages("C1") if m.get("thread_ts") == "1700000000.000001"]
    assert len(replies) == 2  # the placeholder and the error
    error = json.dumps(replies[1]["blocks"])
    assert "could not be started" in error and "r2" in error


def test_local_delivery_is_retried_like_lambdas() -> None:
    calls: list[int] = []
    delivered = threading.Event()

    def flaky(record: dict) -> None:
        calls.append(1)
        if len(calls) < 3:
            raise RuntimeError("Slack is down")
        delivered.set()

    pool = WorkerPool(load_registry(), on_record=flaky, retry_delays=(0.05, 0.05))
    try:
        pool._deliver({"requestContext": {}})
        assert delivered.wait(5)
        assert len(calls) == 3
    finally:
        pool.close()


def test_local_delivery_gives_up_after_its_retries() -> None:
    calls: list[int] = []

    def broken(record: dict) -> None:
        calls.append(1)
        raise RuntimeError("Slack is down")

    pool = WorkerPool(load_registry(), on_record=broken, retry_delays=(0.02,))
    try:
        pool._deliver({"requestContext": {}})
        deadline = threading.Event()
        deadline.wait(0.5)
        assert len(calls) == 2
    finally:
        pool.close()
