"""The figures ``/go/stats`` shows, the interface that serves them, and local mode's SQLite file of them.

The router records one :class:`ModelSample` per model response and one ack time per
request (:class:`bot.core.metrics.Metrics`); locally they are kept here, in
``stats.sqlite``, and read back as :class:`UsageFigures` over a :class:`Window`. In AWS
the same figures come from CloudWatch (``bot.core.cloudwatch_stats.CloudWatchStats``),
behind the same :class:`UsageSource`.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from bot.stores.storage import SqliteFile
from inference.registry import Registry


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
    """The ``q``-th percentile (0-100) by the nearest-rank method: always a value that was measured.

    The project's one percentile: /go/stats, the load run and the speed benchmarks all use it.

    Raises:
        ValueError: no values (a caller with nothing measured says so in its own way).
    """
    if not values:
        raise ValueError("no values")
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
