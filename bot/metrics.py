"""Usage and latency figures: CloudWatch embedded metric format in AWS, a SQLite file locally.

Per entry point (slash command, mention, shortcut, form): requests and ack
latency. Per model and task: requests, errors, cold starts, load and
inference time, input size — recorded by the router from every model
response it receives (destination records and the form's synchronous calls),
so the figures are the same in AWS and locally. In AWS they are printed as
EMF lines (Powertools Metrics) that CloudWatch turns into metrics; locally
they are kept in ``stats.sqlite``. Either way the ``/go/stats`` page reads
them as ``UsageFigures`` from a ``UsageSource``: ``LocalStats`` here,
``bot.cloudwatch_stats.CloudWatchStats`` in AWS.
"""

from __future__ import annotations

import json
import logging
import math
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import parse_qs

from bot.slack_ui import COMMENT_MODAL_CALLBACK
from bot.storage import SqliteFile
from inference.registry import Registry

logger = logging.getLogger(__name__)

NAMESPACE_ENV = "POWERTOOLS_METRICS_NAMESPACE"
DEFAULT_NAMESPACE = "HfSlackBot"
NAMESPACE = os.environ.get(NAMESPACE_ENV, DEFAULT_NAMESPACE)
#: The ``service`` dimension Powertools adds to every metric; the dashboard queries it.
SERVICE = "router"
ENTRY_POINTS = ("slash_command", "mention", "shortcut", "form", "feedback")

#: Every metric name, written once: the router emits them, the dashboard, the alarms and /go/stats read them.
REQUESTS = "Requests"
ERRORS = "Errors"
COLD_STARTS = "ColdStarts"
LOAD_TIME = "LoadTime"
INFERENCE_TIME = "InferenceTime"
INPUT_SIZE = "InputSize"
ACK_LATENCY = "AckLatency"
#: What the router records per model and per entry point.
MODEL_METRICS = (REQUESTS, ERRORS, COLD_STARTS, LOAD_TIME, INFERENCE_TIME, INPUT_SIZE)
ENTRY_METRICS = (REQUESTS, ACK_LATENCY)


def model_dimensions(model: str, task: str) -> dict[str, str]:
    """Every dimension of a model's metrics: CloudWatch finds a metric only under its exact set."""
    return {"Model": model, "Task": task, "service": SERVICE}


def entry_dimensions(entry: str) -> dict[str, str]:
    """Every dimension of an entry point's metrics."""
    return {"EntryPoint": entry, "service": SERVICE}


def entry_point(request: Any, status: int) -> str | None:
    """Which entry point an answered request was, or None for what is not counted.

    Bolt's lazy re-invocations, Slack's retries, refused requests and page loads are not requests
    of a person; a slash command, a mention, a shortcut (or its modal), a vote and a form run are.
    """
    if status >= 400 or request.header("x-slack-bolt-lazy-only") or request.header("x-slack-retry-num"):
        return None
    path = request.path.rstrip("/")
    if path.endswith("/go/feedback"):
        return "feedback" if request.method == "POST" else None
    if path.endswith("/go"):
        return "form" if request.method == "POST" else None
    try:
        return _slack_entry_point(request)
    except (ValueError, AttributeError):  # a body Bolt accepted but that is no person's request
        return None


def _slack_entry_point(request: Any) -> str | None:
    text = request.body.decode("utf-8", "replace")
    if request.header("content-type").startswith("application/json"):
        body = json.loads(text)
        return "mention" if (body.get("event") or {}).get("type") == "app_mention" else None
    form = parse_qs(text)
    if "command" in form:
        return "slash_command"
    payload = json.loads(form.get("payload", ["{}"])[0])
    kind = payload.get("type")
    if kind == "block_actions" or (payload.get("view") or {}).get("callback_id") == COMMENT_MODAL_CALLBACK:
        return "feedback"
    if kind in ("message_action", "view_submission"):
        return "shortcut"
    return None


@dataclass(frozen=True)
class ModelSample:
    """What one model invocation cost, as the router saw its response."""

    model: str
    task: str
    ok: bool
    cold: bool
    load_ms: float
    inference_ms: float
    input_chars: int
    at: float


#: The model side times fetching its runner on every call: a warm one comes back in a tenth of a
#: millisecond or so, while loading any model takes far longer than this.
COLD_LOAD_MS = 1.0


def model_sample(model: str, task: str, response: Any, *, text: str) -> ModelSample:
    """Figures from a model response (or a failure payload, which has no timings)."""
    response = response if isinstance(response, dict) else {}
    timings = response.get("timings") if isinstance(response.get("timings"), dict) else {}
    load_ms = float(timings.get("load_ms") or 0.0)
    return ModelSample(
        model=model,
        task=task,
        ok="result" in response,
        cold=load_ms >= COLD_LOAD_MS,
        load_ms=load_ms,
        inference_ms=float(timings.get("inference_ms") or 0.0),
        input_chars=len(text or ""),
        at=time.time(),
    )


#: The periods the stats page can cover, shortest first, as (bucket width in seconds, buckets):
#: the last 5 minutes, 15 minutes, hour, 6 hours, 24 hours and 7 days.
WINDOW_SHAPES = ((10, 30), (30, 30), (120, 30), (900, 24), (3600, 24), (6 * 3600, 28))


@dataclass(frozen=True)
class Window:
    """The time the figures cover, cut into equal buckets for the requests chart."""

    end: float
    bucket_seconds: int
    buckets: int

    @classmethod
    def ending(cls, now: float, shape: tuple[int, int]) -> Window:
        """The window whose last bucket holds ``now``; edges fall on multiples of the width, as CloudWatch's do."""
        bucket_seconds, buckets = shape
        return cls(
            end=(math.floor(now / bucket_seconds) + 1) * bucket_seconds, bucket_seconds=bucket_seconds, buckets=buckets
        )

    @property
    def seconds(self) -> int:
        return self.bucket_seconds * self.buckets

    @property
    def start(self) -> float:
        return self.end - self.seconds

    def bucket_of(self, at: float) -> int | None:
        """The index of the bucket holding ``at``, or None outside the window."""
        if not self.start <= at < self.end:
            return None
        return int((at - self.start) // self.bucket_seconds)


@dataclass(frozen=True)
class Spread:
    """How long something took: the median and the 95th percentile, in milliseconds."""

    p50: float
    p95: float


@dataclass(frozen=True)
class ModelFigures:
    """One model's figures over a window."""

    #: Requests and failed requests per bucket, oldest first.
    requests: tuple[int, ...]
    errors: tuple[int, ...]
    cold_starts: int
    #: The model's own time per successful answer (None: no answer in the window).
    answer_ms: Spread | None
    #: Loading time of the requests that found the model cold (None: no cold start).
    load_ms: Spread | None

    @classmethod
    def nothing(cls, window: Window) -> ModelFigures:
        return cls((0,) * window.buckets, (0,) * window.buckets, 0, None, None)

    @property
    def total(self) -> int:
        return sum(self.requests)

    @property
    def failed(self) -> int:
        return sum(self.errors)


@dataclass(frozen=True)
class EntryFigures:
    """How often people came in through one entry point, and the median time to acknowledge them."""

    requests: int
    ack_p50_ms: float | None


@dataclass(frozen=True)
class UsageFigures:
    """Everything the stats page shows apart from votes."""

    window: Window
    #: Where the figures come from, in words for people ("recorded on this computer").
    source: str
    #: Per registry name; a model without requests has ``ModelFigures.nothing``.
    models: dict[str, ModelFigures]
    #: Per entry point with at least one request.
    entries: dict[str, EntryFigures]


class StatsUnavailable(Exception):
    """The figures could not be read just now; the message says why, in words for people."""


class UsageSource(Protocol):
    def figures(self, registry: Registry) -> UsageFigures:
        """The figures of every registry model and entry point.

        Raises:
            StatsUnavailable: the figures cannot be read just now.
        """
        ...


def percentile(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile of at least one value: always a value that was measured."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q / 100 * len(ordered)) - 1)]


def spread(values: Sequence[float]) -> Spread | None:
    return Spread(percentile(values, 50), percentile(values, 95)) if values else None


class LocalStats:
    """Local mode's figures, kept in a SQLite file for the stats page."""

    SOURCE = "recorded on this computer"

    def __init__(self, path: Path) -> None:
        self.file = SqliteFile(
            path,
            "CREATE TABLE IF NOT EXISTS model_requests (at REAL, model TEXT, task TEXT, ok INTEGER, cold INTEGER,"
            " load_ms REAL, inference_ms REAL, input_chars INTEGER)",
            "CREATE TABLE IF NOT EXISTS entry_requests (at REAL, entry TEXT, ack_ms REAL)",
        )
        self._db = self.file.db

    def add_model(self, s: ModelSample) -> None:
        self._db().execute(
            "INSERT INTO model_requests VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (s.at, s.model, s.task, int(s.ok), int(s.cold), s.load_ms, s.inference_ms, s.input_chars),
        )

    def add_entry(self, entry: str, ack_ms: float) -> None:
        self._db().execute("INSERT INTO entry_requests VALUES (?, ?, ?)", (time.time(), entry, ack_ms))

    def _window(self, now: float) -> Window:
        """The shortest window that holds every request of the last 7 days (local runs are often short)."""
        windows = [Window.ending(now, shape) for shape in WINDOW_SHAPES]
        (first,) = (
            self._db()
            .execute(
                "SELECT MIN(at) FROM (SELECT at FROM model_requests UNION ALL SELECT at FROM entry_requests)"
                " WHERE at >= ?",
                (windows[-1].start,),
            )
            .fetchone()
        )
        return next((w for w in windows if first is None or w.start <= first), windows[-1])

    def figures(self, registry: Registry, *, now: float | None = None) -> UsageFigures:
        window = self._window(time.time() if now is None else now)
        span = (window.start, window.end)
        by_model: dict[str, list[tuple[float, bool, bool, float, float]]] = {}
        for model, at, ok, cold, load_ms, inference_ms in self._db().execute(
            "SELECT model, at, ok, cold, load_ms, inference_ms FROM model_requests WHERE at >= ? AND at < ?", span
        ):
            by_model.setdefault(model, []).append((at, bool(ok), bool(cold), load_ms, inference_ms))
        acks: dict[str, list[float]] = {}
        for entry, ack_ms in self._db().execute(
            "SELECT entry, ack_ms FROM entry_requests WHERE at >= ? AND at < ?", span
        ):
            acks.setdefault(entry, []).append(ack_ms)
        return UsageFigures(
            window=window,
            source=self.SOURCE,
            models={spec.name: _model_figures(window, by_model.get(spec.name, [])) for spec in registry},
            entries={entry: EntryFigures(len(values), percentile(values, 50)) for entry, values in acks.items()},
        )


def _model_figures(window: Window, samples: list[tuple[float, bool, bool, float, float]]) -> ModelFigures:
    """Samples of (at, ok, cold, load_ms, inference_ms) as the figures CloudWatch would give for them."""
    requests, errors = [0] * window.buckets, [0] * window.buckets
    for at, ok, *_ in samples:
        index = window.bucket_of(at)
        if index is not None:
            requests[index] += 1
            errors[index] += 0 if ok else 1
    return ModelFigures(
        requests=tuple(requests),
        errors=tuple(errors),
        cold_starts=sum(1 for _, _, cold, _, _ in samples if cold),
        answer_ms=spread([inference_ms for _, ok, _, _, inference_ms in samples if ok]),
        load_ms=spread([load_ms for _, _, cold, load_ms, _ in samples if cold]),
    )


class Metrics:
    """Records both kinds of figures: as EMF (``emit``) and/or into ``local``."""

    def __init__(self, *, emit: bool, local: LocalStats | None = None) -> None:
        self.emit = emit
        self.local = local

    def _flush(self, dimensions: dict[str, str], values: list[tuple[str, str, float]]) -> None:
        from aws_lambda_powertools.metrics import EphemeralMetrics, MetricUnit

        metrics = EphemeralMetrics(namespace=NAMESPACE, service=SERVICE)
        for name, value in dimensions.items():
            metrics.add_dimension(name=name, value=value)
        for name, unit, value in values:
            metrics.add_metric(name=name, unit=MetricUnit[unit], value=value)
        metrics.flush_metrics()

    def entry(self, entry: str, ack_ms: float) -> None:
        """One request at an entry point, and how long its ack took."""
        try:
            if self.emit:
                self._flush(entry_dimensions(entry), [(REQUESTS, "Count", 1), (ACK_LATENCY, "Milliseconds", ack_ms)])
            if self.local is not None:
                self.local.add_entry(entry, ack_ms)
        except Exception:
            logger.warning("could not record entry metrics", exc_info=True)

    def model(self, sample: ModelSample) -> None:
        """One model invocation's outcome and timings."""
        try:
            if self.emit:
                self._flush(
                    model_dimensions(sample.model, sample.task),
                    [
                        (REQUESTS, "Count", 1),
                        (ERRORS, "Count", 0 if sample.ok else 1),
                        (COLD_STARTS, "Count", 1 if sample.cold else 0),
                        (INPUT_SIZE, "Count", sample.input_chars),
                        # Only an answer has an inference time, and only a cold start loads the model:
                        # a failure's or a warm call's 0 would drown the percentiles.
                        *([(INFERENCE_TIME, "Milliseconds", sample.inference_ms)] if sample.ok else []),
                        *([(LOAD_TIME, "Milliseconds", sample.load_ms)] if sample.cold else []),
                    ],
                )
            if self.local is not None:
                self.local.add_model(sample)
        except Exception:
            logger.warning("could not record model metrics", exc_info=True)


class MeteredInvoker:
    """An invoker that records the figures of every synchronous call (the form's)."""

    def __init__(self, inner: Any, metrics: Metrics, registry: Any) -> None:
        self.inner = inner
        self.metrics = metrics
        self.registry = registry

    def invoke_async(self, model: str, payload: dict[str, Any]) -> None:
        self.inner.invoke_async(model, payload)

    def invoke_sync(self, model: str, payload: dict[str, Any], *, timeout: float) -> dict[str, Any]:
        from bot.invoker import InvokeBusy, InvokeError, InvokeTimeout

        spec = self.registry.find(model)
        task = spec.task if spec else ""
        try:
            response = self.inner.invoke_sync(model, payload, timeout=timeout)
        except InvokeTimeout:
            raise  # still loading: its figures come with the answer that follows
        except InvokeBusy:
            raise  # nothing ran: not a request the model failed
        except InvokeError:
            self.metrics.model(model_sample(model, task, None, text=str(payload.get("text", ""))))
            raise
        self.metrics.model(model_sample(model, task, response, text=str(payload.get("text", ""))))
        return response
