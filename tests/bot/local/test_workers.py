"""Local mode's count of the work in flight (``bot.local.workers.Activity``), which tests wait on instead of sleeping.

Work is counted up when it is handed over and down when it has ended, and the next piece of work
is counted before the one that hands it over stops counting, so the total never reads zero while
something is still to come: a model's answer becomes a delivery, a failed delivery a retry.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from slack_bolt import App, BoltRequest
from slack_sdk import WebClient

from bot.core.invoker import InvokeTimeout
from bot.local.workers import (
    DELIVERIES,
    LAZY,
    MODELS,
    Activity,
    CountingExecutor,
    Job,
    WorkerPool,
    count_listener_work,
)
from inference.registry import Registry
from tests.bot.conftest import IDLE_WAIT_SECONDS, wait_idle
from tests.fakes.destinations import destination_record
from tests.fakes.signing import SIGNING_SECRET, signed_headers
from tests.fakes.slack_api import FakeSlackApi
from tests.fakes.slack_client import slash_command_body
from tests.fakes.specs import model_spec

#: Bounds every wait on another thread, so broken counting fails instead of hanging.
GUARD_SECONDS = IDLE_WAIT_SECONDS


def wait_for(activity: Activity, kind: str, count: int, timeout: float = GUARD_SECONDS) -> None:
    """Wait until exactly ``count`` pieces of work of ``kind`` are in flight."""
    deadline = time.monotonic() + timeout
    while (snapshot := activity.snapshot())[kind] != count:
        assert time.monotonic() < deadline, f"{kind} never came to {count}: {snapshot}"
        time.sleep(0.01)


class RecordingActivity(Activity):
    """An :class:`Activity` that notes the total in flight after every change, in order."""

    def __init__(self) -> None:
        super().__init__()
        self.totals: list[int] = []
        self._noting = threading.Lock()

    def start(self, kind: str) -> None:
        with self._noting:
            super().start(kind)
            self.totals.append(self.total())

    def end(self, kind: str) -> None:
        with self._noting:
            super().end(kind)
            self.totals.append(self.total())

    def total(self) -> int:
        return sum(v for k, v in self.snapshot().items() if k != "idle")


def assert_zero_only_at_the_end(totals: list[int]) -> None:
    assert totals and totals[-1] == 0, totals
    assert all(total > 0 for total in totals[:-1]), f"idle while work was still to come: {totals}"


# -- Activity ---------------------------------------------------------------------------------------


def test_nothing_in_flight_is_idle() -> None:
    assert Activity().snapshot() == {LAZY: 0, MODELS: 0, DELIVERIES: 0, "idle": True}


def test_each_kind_counts_up_and_down_and_any_of_them_is_busy() -> None:
    activity = Activity()
    for kind in (LAZY, MODELS, DELIVERIES):
        activity.start(kind)
        activity.start(kind)
        assert activity.snapshot()[kind] == 2 and not activity.snapshot()["idle"]
        activity.end(kind)
        assert activity.snapshot()[kind] == 1 and not activity.snapshot()["idle"]
        activity.end(kind)
        assert activity.snapshot() == {LAZY: 0, MODELS: 0, DELIVERIES: 0, "idle": True}


def test_counts_from_many_threads_add_up() -> None:
    activity = Activity()
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda _: activity.start(MODELS), range(2000)))
    assert activity.snapshot()[MODELS] == 2000
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda _: activity.end(MODELS), range(2000)))
    assert activity.snapshot()["idle"]


# -- CountingExecutor and the Bolt app's listeners --------------------------------------------------


def test_a_task_counts_from_its_submission_while_queued_and_running_to_its_end() -> None:
    activity = Activity()
    release = threading.Event()
    inner = ThreadPoolExecutor(max_workers=1)
    counted = CountingExecutor(inner, activity, LAZY)
    try:
        running = counted.submit(release.wait, GUARD_SECONDS)
        queued = counted.submit(lambda: "done")  # behind the first, on the one thread
        assert activity.snapshot()[LAZY] == 2
        release.set()
        assert running.result(GUARD_SECONDS) is True and queued.result(GUARD_SECONDS) == "done"
        wait_idle(activity)
    finally:
        counted.shutdown()


def test_a_task_that_raises_still_stops_counting() -> None:
    activity = Activity()
    counted = CountingExecutor(ThreadPoolExecutor(max_workers=1), activity, LAZY)
    try:
        future = counted.submit(lambda: 1 / 0)
        with pytest.raises(ZeroDivisionError):
            future.result(GUARD_SECONDS)
        wait_idle(activity)
    finally:
        counted.shutdown()


def test_a_task_the_executor_refuses_is_not_counted() -> None:
    activity = Activity()
    inner = ThreadPoolExecutor(max_workers=1)
    inner.shutdown()
    with pytest.raises(RuntimeError):
        CountingExecutor(inner, activity, LAZY).submit(lambda: None)
    assert activity.snapshot()["idle"]


def test_the_bolt_apps_lazy_listener_counts_until_it_ends() -> None:
    release = threading.Event()
    activity = Activity()
    with FakeSlackApi() as slack:  # Bolt asks auth.test who the bot is on every request
        app = App(client=WebClient(token="xoxb-unit-token", base_url=slack.base_url), signing_secret=SIGNING_SECRET)
        app.command("/hold")(ack=lambda ack: ack(), lazy=[lambda body: release.wait(GUARD_SECONDS)])
        count_listener_work(app, activity)
        runner = app.listener_runner
        assert runner.lazy_listener_runner.executor is runner.listener_executor  # one counted executor for both

        body = slash_command_body("/hold", "x")
        response = app.dispatch(BoltRequest(body=body, headers=signed_headers(body, SIGNING_SECRET)))
        assert response.status == 200  # acknowledged, while the lazy half is still held
        wait_for(activity, LAZY, 1)  # the ack's own background run has ended; the lazy half has not
        assert not activity.snapshot()["idle"]
        release.set()
        wait_idle(activity)


# -- the worker pool: model jobs and deliveries ------------------------------------------------------


@dataclass
class StubWorker:
    """A model worker that runs nothing: its jobs wait until the test finishes them."""

    loaded: bool = False
    progress: str = ""
    jobs: list[Job] = field(default_factory=list)

    def submit(self, job: Job) -> None:
        self.jobs.append(job)

    def waiting(self) -> int:
        return 0

    def stop(self) -> None:
        pass


@pytest.fixture
def make_pool() -> Iterator[Any]:
    """``make_pool(on_record, retry_delays=...)``: a pool whose one model, ``sentiment``, is a :class:`StubWorker`."""
    pools: list[WorkerPool] = []

    def make(on_record: Any = lambda record: None, **options: Any) -> tuple[WorkerPool, StubWorker]:
        registry = Registry((model_spec(),), Path("models.yaml"))
        pool = WorkerPool(registry, on_record=on_record, **options)
        pool.activity = RecordingActivity()
        worker = StubWorker()
        pool.workers["sentiment"] = worker  # type: ignore[assignment]
        pools.append(pool)
        return pool, worker

    yield make
    for pool in pools:
        pool.close()


def answer(pool: WorkerPool, job: Job) -> None:
    """The worker's answer to ``job``, as a success record, handed to the pool as a worker hands it."""
    pool._finish(job, destination_record(job.payload))


def test_a_slack_job_counts_as_a_model_until_answered_then_as_a_delivery_until_delivered(make_pool) -> None:
    delivering, release = threading.Event(), threading.Event()
    delivered: list[dict[str, Any]] = []

    def on_record(record: dict[str, Any]) -> None:
        delivering.set()
        assert release.wait(GUARD_SECONDS)
        delivered.append(record)

    pool, worker = make_pool(on_record)
    pool.invoke_async("sentiment", {"text": "hi"})
    assert pool.activity.snapshot()[MODELS] == 1
    [job] = worker.jobs
    answer(pool, job)
    assert delivering.wait(GUARD_SECONDS)
    assert pool.activity.snapshot() == {LAZY: 0, MODELS: 0, DELIVERIES: 1, "idle": False}
    release.set()
    wait_idle(pool.activity)
    assert [record["requestPayload"] for record in delivered] == [{"text": "hi"}]
    assert_zero_only_at_the_end(pool.activity.totals)  # the delivery was counted before the job stopped


def test_a_failed_delivery_counts_while_its_retry_waits(make_pool) -> None:
    attempts: list[float] = []

    def flaky(record: dict[str, Any]) -> None:
        attempts.append(time.monotonic())
        if len(attempts) < 3:
            raise RuntimeError("Slack is down")

    pool, worker = make_pool(flaky, retry_delays=(0.2, 0.2))
    pool.invoke_async("sentiment", {"text": "hi"})
    answer(pool, worker.jobs[0])
    wait_idle(pool.activity)  # idle while a retry waited would end this wait before the last try
    assert len(attempts) == 3
    assert attempts[1] - attempts[0] >= 0.2 and attempts[2] - attempts[1] >= 0.2  # each retry waited its delay
    assert_zero_only_at_the_end(pool.activity.totals)


def test_local_delivery_is_retried_like_lambdas(make_pool) -> None:
    calls: list[int] = []

    def flaky(record: dict[str, Any]) -> None:
        calls.append(1)
        if len(calls) < 3:
            raise RuntimeError("Slack is down")

    pool, _ = make_pool(flaky, retry_delays=(0.05, 0.05))
    pool._deliver(destination_record())
    wait_idle(pool.activity)
    assert len(calls) == 3


def test_local_delivery_gives_up_after_its_retries(make_pool) -> None:
    calls: list[int] = []

    def broken(record: dict[str, Any]) -> None:
        calls.append(1)
        raise RuntimeError("Slack is down")

    pool, _ = make_pool(broken, retry_delays=(0.02,))
    pool._deliver(destination_record())
    wait_idle(pool.activity)  # the one retry has been made: nothing else is still to come
    assert len(calls) == 2


def test_a_retry_due_after_the_server_stopped_is_dropped_and_stops_counting(make_pool) -> None:
    calls: list[int] = []

    def broken(record: dict[str, Any]) -> None:
        calls.append(1)
        raise RuntimeError("Slack is down")

    pool, _ = make_pool(broken, retry_delays=(0.1,))
    pool._deliver(destination_record())
    assert pool.activity.snapshot()[DELIVERIES] == 1  # the retry, waiting
    pool.close()
    wait_idle(pool.activity)
    assert len(calls) == 1


def test_a_form_call_given_up_on_before_it_started_stops_counting(make_pool) -> None:
    pool, worker = make_pool()
    with pytest.raises(InvokeTimeout):  # the model is still loading: the wait ends first
        pool.invoke_sync("sentiment", {"text": "hi"}, timeout=0.01)
    [job] = worker.jobs
    assert job.future.cancelled()
    assert pool.activity.snapshot()["idle"]
    assert pool.activity.totals == [1, 0]


def test_a_form_call_that_is_answered_is_never_delivered(make_pool) -> None:
    delivered: list[dict[str, Any]] = []
    pool, worker = make_pool(delivered.append)
    answers: list[dict[str, Any]] = []
    caller = threading.Thread(
        target=lambda: answers.append(pool.invoke_sync("sentiment", {"text": "hi"}, timeout=GUARD_SECONDS))
    )
    caller.start()
    deadline = time.monotonic() + GUARD_SECONDS
    while not worker.jobs:
        assert time.monotonic() < deadline, "the form call never reached the worker"
        time.sleep(0.01)
    assert pool.activity.snapshot()[MODELS] == 1
    [job] = worker.jobs
    assert job.future.set_running_or_notify_cancel()
    answer(pool, job)
    caller.join(GUARD_SECONDS)
    assert answers and answers[0]["result"]["labels"]
    assert delivered == [] and pool.activity.snapshot()["idle"]
    assert pool.activity.totals == [1, 0]
