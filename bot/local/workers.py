"""Model workers for local mode: one process per model, like one warm Lambda container.

Each model gets a worker process on its first request; it loads the model once
and serves requests one at a time through ``inference.handler``, the same code
the model Lambda runs. A request that outlives the model's ``timeout`` kills
the worker (as Lambda does), and so does a crash; either way the request ends
in a failure record and the next request starts a fresh worker. Results of
asynchronous requests come back as Lambda Destinations records, so the router
delivers them through the same code path as in AWS. While a model generates, its
partial records (the text so far) come up the same pipe and go to the router as
the model function's ``Event`` invocations of the router do in AWS: best effort,
in any order, each handed over once (``bot.slack.streaming`` sorts them out).

Asynchronous (Slack) jobs always queue, as Lambda's asynchronous queue takes
every event. A synchronous (form) call is refused with ``InvokeBusy`` when
``queue_limit`` jobs already wait, or when its wait ends before the loaded
model got to it (the model is busy, not warming up); ``InvokeTimeout`` means
the model is loading, or is still working on this very call. This is local
mode's counterpart of a model function's reserved concurrency in AWS, over
which Lambda throttles synchronous calls.

The pool counts the work under way in its :class:`Activity`: model jobs queued
or running, results being delivered (or waiting to be retried), and, once
:func:`count_listener_work` wraps the Bolt app's executor, lazy listeners. The
local server shows it to loopback clients, so a test can wait until nothing is
in flight instead of sleeping.
"""

from __future__ import annotations

import json
import logging
import multiprocessing
import os
import queue
import signal
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable
from concurrent.futures import Executor, Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass, field
from datetime import UTC, datetime
from multiprocessing.connection import Connection
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Any

from bot.core.config import DEMO_PASSCODE, SLACK_APP_TOKEN, SLACK_BOT_TOKEN, SLACK_SIGNING_SECRET
from bot.core.invoker import (
    MAX_ASYNC_PAYLOAD,
    TIMEOUT_ERROR_TYPE,
    InvokeBusy,
    InvokeError,
    InvokeTimeout,
    ModelFailure,
    function_failure,
)
from inference.media_store import MEDIA_DIR_ENV
from inference.registry import ModelSpec, Registry

if TYPE_CHECKING:
    from slack_bolt import App

logger = logging.getLogger(__name__)

Record = dict[str, Any]
#: Like Lambda's two retries of an asynchronous event (after 1 and 2 minutes), a little sooner.
DELIVERY_RETRY_DELAYS = (15.0, 60.0)
SECRET_VARIABLES = (SLACK_BOT_TOKEN, SLACK_SIGNING_SECRET, DEMO_PASSCODE, SLACK_APP_TOKEN)
#: How long a worker has to exit by itself when the server stops before it is killed.
STOP_GRACE_SECONDS = 2.0
#: How many jobs may wait for a model's one worker before a form run is refused as busy: a small queue,
#: so a run that is let in starts within a few answers, not after everyone else's.
QUEUE_LIMIT = 2
#: The kinds of work :class:`Activity` counts.
LAZY, MODELS, DELIVERIES = "lazy", "models", "deliveries"


def _serve(conn: Connection, model: str, models_file: str, media_dir: str = "") -> None:
    """The worker process: answer requests until the pipe closes.

    ``media_dir`` is the folder the router stores files in (its ``DATA_DIR/media``), where the model
    side reads them (``MEDIA_DIR``, :func:`inference.media_store.store_from_env`); empty: none.
    """
    for name in SECRET_VARIABLES:  # a model never needs them, as in AWS where its function has none
        os.environ.pop(name, None)
    os.environ["MODEL_NAME"] = model
    os.environ["MODELS_FILE"] = models_file
    if media_dir:
        os.environ[MEDIA_DIR_ENV] = media_dir
    # Only in the worker process, after its environment is set: the router's process never imports the model side.
    from inference.handler import handler, report_progress_to, send_partials_to

    sending = threading.Lock()  # progress comes from the download's thread, answers from this one

    def send(message: tuple[str, Any]) -> None:
        with sending:
            conn.send(message)

    report_progress_to(lambda progress: send(("progress", progress.describe())))
    send_partials_to(lambda record: send(("partial", record)))  # the text so far, while a model generates
    while True:
        try:
            payload = conn.recv()
        except (EOFError, KeyboardInterrupt):
            return
        response = handler(payload, None)
        try:
            send(("ok", json.dumps(response)))  # the Lambda runtime serialises too; fail the same way
        except TypeError as exc:
            send(("error", {"errorType": "Runtime.MarshalError", "errorMessage": str(exc)}))


def _exit_on_sigterm(signum: int, frame: FrameType | None) -> None:
    """Unwind as a return from the worker would, so its finalizers run (tqdm's lock is a named semaphore)."""
    raise SystemExit(0)


def _run_worker(conn: Connection, model: str, models_file: str, media_dir: str = "") -> None:
    """The worker process's entry point, which leaves stopping it to the server.

    A terminal sends Ctrl-C to every process in its group, and a worker that took it would print a
    traceback mid-load; the server stops its workers itself (as Lambda stops a container), with a
    SIGTERM that ends the worker cleanly (no "leaked semaphore" warning from multiprocessing).
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, _exit_on_sigterm)
    try:
        _serve(conn, model, models_file, media_dir)
    finally:  # exiting (the pipe closed, or SIGTERM): a late SIGTERM must not cut the finalizers short
        signal.signal(signal.SIGTERM, signal.SIG_IGN)


class Activity:
    """How much work is in flight, by kind: counted up when it is handed over, down when it has ended."""

    def __init__(self) -> None:
        self._counts: Counter[str] = Counter({LAZY: 0, MODELS: 0, DELIVERIES: 0})
        self._lock = threading.Lock()

    def start(self, kind: str) -> None:
        with self._lock:
            self._counts[kind] += 1

    def end(self, kind: str) -> None:
        with self._lock:
            self._counts[kind] -= 1

    def snapshot(self) -> dict[str, Any]:
        """Each kind's count, and ``idle``: whether none is in flight, all read at one instant."""
        with self._lock:
            counts = dict(self._counts)
        return {**counts, "idle": not any(counts.values())}


class CountingExecutor(Executor):
    """``inner``, with each task counted in ``activity`` as ``kind`` from its submission to its end."""

    def __init__(self, inner: Executor, activity: Activity, kind: str) -> None:
        self.inner = inner
        self.activity = activity
        self.kind = kind

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future:
        self.activity.start(self.kind)
        try:
            return self.inner.submit(self._run, fn, args, kwargs)
        except BaseException:
            self.activity.end(self.kind)
            raise

    def _run(self, fn: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        try:
            return fn(*args, **kwargs)
        finally:
            self.activity.end(self.kind)

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        self.inner.shutdown(wait=wait, cancel_futures=cancel_futures)


def count_listener_work(app: App, activity: Activity) -> None:
    """Count the Bolt app's lazy listeners (and any listener it runs in the background) in ``activity``.

    Bolt hands both its listener runner and its lazy-listener runner the one executor it was built with;
    both get the counting wrapper around it.
    """
    runner = app.listener_runner
    counted = CountingExecutor(runner.listener_executor, activity, LAZY)
    runner.listener_executor = counted
    lazy = runner.lazy_listener_runner
    if hasattr(lazy, "executor"):
        lazy.executor = counted


@dataclass
class Job:
    payload: dict[str, Any]
    asynchronous: bool
    future: Future = field(default_factory=Future)
    request_id: str = field(default_factory=lambda: str(uuid.uuid4()))


def destination_record(
    *, function_name: str, job: Job, response: Any, condition: str, function_error: str | None = None
) -> Record:
    """A Lambda Destinations invocation record, as AWS sends it to the router."""
    response_context: dict[str, Any] = {"statusCode": 200, "executedVersion": "$LATEST"}
    if function_error:
        response_context["functionError"] = function_error
    return {
        "version": "1.0",
        "timestamp": datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        "requestContext": {
            "requestId": job.request_id,
            "functionArn": f"arn:aws:lambda:local:000000000000:function:{function_name}:$LATEST",
            "condition": condition,
            "approximateInvokeCount": 1,
        },
        "requestPayload": job.payload,
        "responseContext": response_context,
        "responsePayload": response,
    }


class ModelWorker:
    """One model's worker process and the thread that feeds it, one job at a time."""

    def __init__(
        self,
        spec: ModelSpec,
        *,
        models_file: Path,
        finish: Callable[[Job, Record], None],
        partial: Callable[[Record], None] = lambda record: None,
        media_dir: Path | None = None,
    ) -> None:
        self.spec = spec
        self.models_file = models_file
        #: Where the model reads the files the router stored (its ``MEDIA_DIR``).
        self.media_dir = media_dir
        self.finish = finish
        self.partial = partial
        self.jobs: queue.Queue[Job | None] = queue.Queue()
        self.process: multiprocessing.process.BaseProcess | None = None
        self.conn: Connection | None = None
        self.restarts = 0
        #: What the model's process last said it is doing (``downloading 3 of 7 files, 120 MB of 480 MB``), while it does.
        self.progress = ""
        #: True once the current process has answered a job: the model is loaded (or its failure to load is known).
        self.loaded = False
        #: Guards ``process`` and ``conn`` between this worker's thread and ``stop``.
        self._lock = threading.Lock()
        self._stopped = False
        self._thread = threading.Thread(target=self._loop, name=f"worker-{spec.name}", daemon=True)
        self._thread.start()

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process is not None and self.process.is_alive() else None

    def submit(self, job: Job) -> None:
        self.jobs.put(job)

    def waiting(self) -> int:
        """Jobs queued and not yet started whose caller still wants them (a form run that gave up is skipped)."""
        with self.jobs.mutex:
            return sum(1 for job in self.jobs.queue if job is not None and not job.future.cancelled())

    def stop(self) -> None:
        """Stop for good, as the server shuts down: the process exits or is killed, and no other starts.

        The running process is asked to exit (SIGTERM), and killed after ``STOP_GRACE_SECONDS``. The
        worker's thread, which may be mid-job, leaves the process to this and only closes the pipe.
        """
        with self._lock:
            self._stopped = True
            process = self.process
        self.jobs.put(None)
        if process is not None and process.is_alive():
            process.terminate()
            process.join(STOP_GRACE_SECONDS)
            if process.is_alive():
                process.kill()
                process.join(5)

    def _start(self) -> bool:
        """Start a process for the next job; False once ``stop`` has begun, which would not see it."""
        context = multiprocessing.get_context("spawn")
        parent, child = context.Pipe()
        process = context.Process(
            target=_run_worker,
            args=(child, self.spec.name, str(self.models_file), str(self.media_dir or "")),
            name=f"model-{self.spec.name}",
            daemon=True,
        )
        with self._lock:
            started = not self._stopped
            if started:
                process.start()
                self.process, self.conn = process, parent
        child.close()
        if not started:
            parent.close()
        return started

    def _kill(self) -> None:
        """End the process, unless ``stop`` is ending it, and close the pipe (from the worker's thread only)."""
        with self._lock:
            process, conn, stopping = self.process, self.conn, self._stopped
            self.process, self.conn = None, None
        if process is not None and not stopping and process.is_alive():
            process.kill()
            process.join(5)
        if conn is not None:
            conn.close()
        self.loaded = False

    def _fail(self, job: Job, error_type: str, message: str) -> None:
        error = {"errorType": error_type, "errorMessage": message}
        record = destination_record(
            function_name=f"local-{self.spec.name}",
            job=job,
            response=error,
            condition="RetriesExhausted",
            function_error="Unhandled",
        )
        self.finish(job, record)

    def _receive(self, deadline: float) -> tuple[str, Any] | None:
        """The job's answer, keeping the progress reports and passing on the partials before it; ``None`` past the deadline."""
        while (remaining := deadline - time.monotonic()) > 0:
            if not self.conn.poll(remaining):
                return None
            kind, body = self.conn.recv()
            if kind == "partial":
                self.partial(body)
            elif kind != "progress":
                return kind, body
            else:
                self.progress = str(body)
        return None

    def _loop(self) -> None:
        while (job := self.jobs.get()) is not None:
            if not job.future.set_running_or_notify_cancel():
                continue  # its caller stopped waiting before it started (a form poll while the model loads)
            if self.process is None or not self.process.is_alive():
                if self.process is not None:
                    self.restarts += 1
                self._kill()
                if not self._start():
                    break
            try:
                self.conn.send(job.payload)
                answer = self._receive(time.monotonic() + self.spec.timeout)
            except (EOFError, OSError):
                self.progress = ""
                self._kill()
                self._fail(job, "Runtime.ExitError", "The model's process exited unexpectedly.")
                continue
            self.progress = ""
            if answer is None:
                self._kill()
                self._fail(job, TIMEOUT_ERROR_TYPE, f"Task timed out after {self.spec.timeout:.2f} seconds")
                continue
            self.loaded = True
            status, body = answer
            if status != "ok":
                self._fail(job, body["errorType"], body["errorMessage"])
                continue
            record = destination_record(
                function_name=f"local-{self.spec.name}", job=job, response=json.loads(body), condition="Success"
            )
            self.finish(job, record)
        self._kill()  # stopped: close the pipe


class WorkerPool:
    """The local ``Invoker``: worker processes per model, started on first use."""

    def __init__(
        self,
        registry: Registry,
        *,
        on_record: Callable[[Record], None],
        retry_delays: tuple[float, ...] = DELIVERY_RETRY_DELAYS,
        queue_limit: int = QUEUE_LIMIT,
        media_dir: Path | None = None,
    ) -> None:
        """``media_dir``: the folder the router's media store keeps files in, handed to each worker."""
        self.registry = registry
        self.media_dir = media_dir
        self.on_record = on_record
        self.retry_delays = retry_delays
        self.queue_limit = queue_limit
        self.workers: dict[str, ModelWorker] = {}
        #: Model jobs and deliveries in flight (the local server adds its lazy listeners).
        self.activity = Activity()
        self._lock = threading.Lock()
        self._closed = False
        # Deliveries post to Slack, which may be slow; they must not hold up the next model request.
        self._deliveries = ThreadPoolExecutor(max_workers=16, thread_name_prefix="deliver")

    def _worker(self, model: str) -> ModelWorker:
        spec = self.registry.find(model)
        if spec is None:
            raise InvokeError(f"There is no model called {model!r}.")
        with self._lock:
            if self._closed:
                raise InvokeError("The server is stopping.")
            if model not in self.workers:
                self.workers[model] = ModelWorker(
                    spec,
                    models_file=self.registry.path.resolve(),
                    finish=self._finish,
                    partial=self._partial,
                    media_dir=self.media_dir,
                )
            return self.workers[model]

    def _count(self, job: Job) -> None:
        """Count ``job`` in flight until its future is done: answered, or cancelled before it started."""
        self.activity.start(MODELS)
        job.future.add_done_callback(lambda _: self.activity.end(MODELS))

    def _finish(self, job: Job, record: Record) -> None:
        if job.asynchronous:
            self._submit(record)  # counted as a delivery before the job stops counting
        job.future.set_result(record)

    def _partial(self, record: Record) -> None:
        """Hand a partial record to the router, as a model function's ``Event`` invoke does: once, never retried."""
        with self._lock:
            if self._closed:
                return
            self.activity.start(DELIVERIES)
            self._deliveries.submit(self._counted_partial, record)

    def _counted_partial(self, record: Record) -> None:
        try:
            self.on_record(record)
        except Exception:  # a preview lost: the final answer still comes through its destination record
            logger.warning("a partial answer was not delivered", exc_info=True)
        finally:
            self.activity.end(DELIVERIES)

    def _submit(self, record: Record, attempt: int = 0) -> None:
        """Queue a delivery, unless the pool is closed: the server is stopping, and its deliveries with it."""
        with self._lock:
            if self._closed:
                logger.warning("a model result was not delivered: the server is stopping")
                return
            self.activity.start(DELIVERIES)
            self._deliveries.submit(self._counted_delivery, record, attempt)

    def _counted_delivery(self, record: Record, attempt: int) -> None:
        try:
            self._deliver(record, attempt)
        finally:
            self.activity.end(DELIVERIES)

    def _retry(self, record: Record, attempt: int) -> None:
        """A retry's timer went off: queue the delivery again (counted until then as waiting)."""
        try:
            self._submit(record, attempt)
        finally:
            self.activity.end(DELIVERIES)

    def _deliver(self, record: Record, attempt: int = 0) -> None:
        """Hand a record to the router; if that fails, try again later, as Lambda retries a destination."""
        try:
            self.on_record(record)
        except Exception:
            if attempt >= len(self.retry_delays):
                logger.exception("delivering a model result failed for good after %d tries", attempt + 1)
                return
            delay = self.retry_delays[attempt]
            logger.warning("delivering a model result failed; trying again in %.0f s", delay, exc_info=True)
            self.activity.start(DELIVERIES)
            timer = threading.Timer(delay, self._retry, (record, attempt + 1))
            timer.daemon = True
            timer.start()

    def invoke_async(self, model: str, payload: dict[str, Any]) -> None:
        if len(json.dumps(payload)) > MAX_ASYNC_PAYLOAD:
            raise InvokeError("The request is too large to queue.")
        worker = self._worker(model)
        job = Job(payload=payload, asynchronous=True)
        self._count(job)
        worker.submit(job)

    def invoke_sync(self, model: str, payload: dict[str, Any], *, timeout: float) -> dict[str, Any]:
        job = Job(payload=payload, asynchronous=False)
        worker = self._worker(model)
        if worker.waiting() >= self.queue_limit:
            raise InvokeBusy(f"{model} is busy: {self.queue_limit} requests are already waiting for it.")
        self._count(job)
        worker.submit(job)
        try:
            record = job.future.result(timeout=timeout)
        except FutureTimeout as exc:
            # Cancelled before it started, it never will: nobody waits for its answer.
            if job.future.cancel() and worker.loaded:
                raise InvokeBusy(f"{model} is busy: other requests kept it for {timeout:.0f} s.") from exc
            raise InvokeTimeout(f"{model} is still warming up.", progress=worker.progress) from exc
        response = record["responsePayload"]
        if record["requestContext"]["condition"] != "Success":
            raise ModelFailure(function_failure(response))
        return response

    def close(self) -> None:
        """Stop every worker and drop deliveries not yet made: the server is shutting down."""
        with self._lock:
            self._closed = True
            workers = list(self.workers.values())
        for worker in workers:
            worker.stop()
        self._deliveries.shutdown(wait=False, cancel_futures=True)
