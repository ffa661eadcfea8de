"""Limits on form runs: per client address (shared by every router process) and per model (issue 19, item 2).

A client over its limit, and a model that is busy, each get a 429 with ``Retry-After`` in plain
words; "warming up" (202) is kept for a model that is loading. In AWS a synchronous invoke that
Lambda throttles is the same "busy", never a 502; local mode's worker pool says busy when its
small queue is full or its loaded model never got to the call.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from bot.core.config import Secrets, Settings, load_settings
from bot.core.invoker import InvokeBusy, InvokeError, InvokeTimeout, LambdaInvoker
from bot.core.messages import describe_error
from bot.core.metrics import MeteredInvoker
from bot.form.limits import LEASE_MARGIN_SECONDS
from bot.form.routes import BUSY_RETRY_AFTER_SECONDS
from bot.local.workers import Job, WorkerPool
from bot.stores.state import SqliteStateStore
from inference.registry import Registry
from tests.bot.form.conftest import CLIENT_IP, body, make_request
from tests.fakes.invoker import FakeInvoker

#: Bounds every wait of a test on another thread, so a broken limit fails instead of hanging.
GUARD_SECONDS = 10
OTHER_IP = "198.51.100.7"


def post(text: str = "hi", source_ip: str = CLIENT_IP, model: str = "tiny-sentiment"):
    return make_request("POST", json_body={"model": model, "text": text}, source_ip=source_ip)


def held_model() -> FakeInvoker:
    """A model that keeps every call until the test sets its ``hold``; ``wait_for_calls`` counts them in."""
    return FakeInvoker(hold=threading.Event())


@pytest.fixture
def store(tmp_path: Path) -> SqliteStateStore:
    return SqliteStateStore(tmp_path / "state.sqlite")


# ---- per client ---------------------------------------------------------------------------------


def test_a_client_over_its_runs_at_once_gets_a_429_and_others_still_run(call, store, settings):
    held = held_model()
    limit = settings.form_runs_per_client
    with ThreadPoolExecutor(limit + 1) as pool:
        running = [pool.submit(call, post(), invoker=held, store=store) for _ in range(limit)]
        held.wait_for_calls(limit)

        refused = call(post(), invoker=held, store=store)
        other = pool.submit(call, post(source_ip=OTHER_IP), invoker=held, store=store)
        held.wait_for_calls(1)
        held.hold.set()
        answered = [future.result(GUARD_SECONDS) for future in [*running, other]]

    assert refused.status == 429
    assert refused.headers["Retry-After"] == str(BUSY_RETRY_AFTER_SECONDS)
    error = body(refused)["error"]
    assert error["type"] == "too_many_runs"
    assert error["message"] == describe_error(
        {
            "type": "too_many_runs",
            "message": f"one address may have {limit} at a time; this page asks again in 5 seconds.",
        }
    )
    assert body(refused)["retry_after"] == BUSY_RETRY_AFTER_SECONDS
    assert [a.status for a in answered] == [200] * (limit + 1)
    assert call(post(), invoker=held, store=store).status == 200, "answered runs give their slots back"


def test_every_router_process_shares_the_count(call, tmp_path, settings):
    """In AWS each request may land in another container: the slots live in the shared state store."""
    held = held_model()
    limit = settings.form_runs_per_client
    here, there = SqliteStateStore(tmp_path / "state.sqlite"), SqliteStateStore(tmp_path / "state.sqlite")
    with ThreadPoolExecutor(limit) as pool:
        running = [pool.submit(call, post(), invoker=held, store=here) for _ in range(limit)]
        held.wait_for_calls(limit)
        refused = call(post(), invoker=held, store=there)
        held.hold.set()
        for future in running:
            assert future.result(GUARD_SECONDS).status == 200

    assert refused.status == 429


def test_a_run_that_fails_gives_its_slot_back(call, store):
    single = Settings(secrets=Secrets(), form_runs_per_client=1)
    failing = FakeInvoker(error=InvokeError("Could not invoke tiny-sentiment: ClientError"))

    first = call(post(), invoker=failing, store=store, settings=single)
    second = call(post(), invoker=failing, store=store, settings=single)

    assert (first.status, second.status) == (502, 502)


def test_a_slot_is_a_lease_a_little_longer_than_the_forms_wait(call, store, settings):
    """A router that dies mid-run cannot hold a slot for ever: the claim expires by itself."""
    leases: list[tuple[str, int]] = []
    claim = store.claim

    def recording(key: str, *, lease: int) -> bool:
        leases.append((key, lease))
        return claim(key, lease=lease)

    store.claim = recording  # type: ignore[method-assign]
    call(post(), store=store)

    assert leases == [(f"form-run:{CLIENT_IP}:0", 8 + LEASE_MARGIN_SECONDS)]  # form_wait_seconds is 7.5


def test_bad_input_takes_no_slot(call, store):
    call(make_request("POST", json_body={"model": "tiny-sentiment", "text": ""}), store=store)

    assert store.claim(f"form-run:{CLIENT_IP}:0"), "the slot is still free"


@pytest.mark.parametrize("raw", ["0", "-1", "three", "2.5"])
def test_a_runs_per_client_setting_below_one_is_refused_at_start(raw):
    with pytest.raises(ValueError, match="FORM_RUNS_PER_CLIENT must be a whole number of at least 1"):
        load_settings({"FORM_RUNS_PER_CLIENT": raw})


def test_the_default_lets_one_person_compare_three_models_at_once():
    from bot.core.compare import MAX_MODELS

    assert load_settings({}).form_runs_per_client >= MAX_MODELS


# ---- per model: the form's answer ---------------------------------------------------------------


def test_a_busy_model_is_a_429_in_plain_words_not_warming_up(call):
    invoker = FakeInvoker(error=InvokeBusy("tiny-sentiment is busy: 2 requests are already waiting for it."))

    response = call(post(), invoker=invoker)

    assert response.status == 429
    assert response.headers["Retry-After"] == str(BUSY_RETRY_AFTER_SECONDS)
    answer = body(response)
    assert answer["error"] == {
        "type": "busy",
        "message": "The model is busy with other requests: Tiny sentiment takes yours as soon as it can; "
        "this page asks again in 5 seconds.",
    }
    assert "warming" not in json.dumps(answer)
    assert answer["retry_after"] == BUSY_RETRY_AFTER_SECONDS
    assert answer["request_id"]


def test_a_busy_call_is_not_counted_as_a_model_failure(registry: Registry):
    samples: list[Any] = []

    class Recorder:
        def model(self, sample: Any) -> None:
            samples.append(sample)

    metered = MeteredInvoker(FakeInvoker(error=InvokeBusy("busy")), Recorder(), registry)

    with pytest.raises(InvokeBusy):
        metered.invoke_sync("tiny-sentiment", {"text": "hi"}, timeout=1.0)
    assert samples == []


# ---- per model: AWS -----------------------------------------------------------------------------


def _stubbed_lambda(error_code: str, status: int) -> tuple[Any, Stubber]:
    client = boto3.client("lambda", region_name="eu-west-1", aws_access_key_id="x", aws_secret_access_key="x")
    stubber = Stubber(client)
    stubber.add_client_error(
        "invoke", service_error_code=error_code, service_message="Rate Exceeded.", http_status_code=status
    )
    return client, stubber


def test_a_synchronous_invoke_that_lambda_throttles_is_busy():
    client, stubber = _stubbed_lambda("TooManyRequestsException", 429)

    with stubber, pytest.raises(InvokeBusy, match="throttled"):
        LambdaInvoker("hf-test", client=client).invoke_sync("sentiment", {"text": "hi"}, timeout=5.0)


def test_other_lambda_errors_are_still_failures_to_invoke():
    client, stubber = _stubbed_lambda("ResourceNotFoundException", 404)

    with stubber, pytest.raises(InvokeError) as raised:
        LambdaInvoker("hf-test", client=client).invoke_sync("sentiment", {"text": "hi"}, timeout=5.0)
    assert not isinstance(raised.value, InvokeBusy)


def test_a_throttled_invoke_reaches_the_form_as_busy_not_502(call):
    client, stubber = _stubbed_lambda("TooManyRequestsException", 429)

    with stubber:
        response = call(post(), invoker=LambdaInvoker("hf-test", client=client))

    assert response.status == 429
    assert body(response)["error"]["type"] == "busy"


# ---- per model: local mode's worker pool ----------------------------------------------------------


@dataclass
class StubWorker:
    """A model worker that never runs anything by itself: the test sets its state."""

    waiting_jobs: int = 0
    loaded: bool = True
    progress: str = ""
    start_jobs: bool = False
    jobs: list[Job] = field(default_factory=list)

    def submit(self, job: Job) -> None:
        if self.start_jobs:
            assert job.future.set_running_or_notify_cancel()
        self.jobs.append(job)

    def waiting(self) -> int:
        return self.waiting_jobs

    def stop(self) -> None:
        pass


@pytest.fixture
def pool_with(registry: Registry) -> Iterator[Callable[[StubWorker], WorkerPool]]:
    """``pool_with(worker)``: a worker pool whose ``tiny-sentiment`` worker is ``worker``."""
    pools: list[WorkerPool] = []

    def make(worker: StubWorker) -> WorkerPool:
        pools.append(WorkerPool(registry, on_record=lambda record: None))
        pools[-1].workers["tiny-sentiment"] = worker  # type: ignore[assignment]
        return pools[-1]

    yield make
    for pool in pools:
        pool.close()


def test_a_full_queue_is_busy_at_once_and_queues_nothing(pool_with):
    worker = StubWorker(waiting_jobs=2)
    pool = pool_with(worker)

    with pytest.raises(InvokeBusy, match="2 requests are already waiting"):
        pool.invoke_sync("tiny-sentiment", {"text": "hi"}, timeout=GUARD_SECONDS)
    assert worker.jobs == []


def test_a_loaded_model_that_never_got_to_the_call_is_busy_and_drops_it(pool_with):
    worker = StubWorker(waiting_jobs=1, loaded=True)
    pool = pool_with(worker)

    with pytest.raises(InvokeBusy, match="other requests kept it"):
        pool.invoke_sync("tiny-sentiment", {"text": "hi"}, timeout=0.01)
    (job,) = worker.jobs
    assert job.future.cancelled(), "the worker skips it: nobody waits for its answer"


def test_a_model_that_is_still_loading_is_warming_up_with_its_progress(pool_with):
    worker = StubWorker(loaded=False, progress="downloading 3 of 7 files, 120 MB of 480 MB")
    pool = pool_with(worker)

    with pytest.raises(InvokeTimeout) as raised:
        pool.invoke_sync("tiny-sentiment", {"text": "hi"}, timeout=0.01)
    assert not isinstance(raised.value, InvokeBusy)
    assert raised.value.progress == "downloading 3 of 7 files, 120 MB of 480 MB"


def test_a_call_the_model_is_working_on_is_not_busy(pool_with):
    worker = StubWorker(loaded=True, start_jobs=True)
    pool = pool_with(worker)

    with pytest.raises(InvokeTimeout) as raised:
        pool.invoke_sync("tiny-sentiment", {"text": "hi"}, timeout=0.01)
    assert not isinstance(raised.value, InvokeBusy)


def test_slack_jobs_always_queue_however_busy_the_model_is(pool_with):
    worker = StubWorker(waiting_jobs=500)
    pool = pool_with(worker)

    pool.invoke_async("tiny-sentiment", {"text": "hi"})

    assert len(worker.jobs) == 1
