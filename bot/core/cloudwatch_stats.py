"""The stats page's figures in AWS, read back from CloudWatch with ``GetMetricData``.

The router prints every figure as an EMF line (``bot/core/metrics.py``) and CloudWatch
keeps them as metrics in the router's namespace, per model (``Model``, ``Task``,
``service``) and per entry point (``EntryPoint``, ``service``). One page load
asks for all of them in one call (more only if CloudWatch pages its answer or
the registry needs more than 500 queries), and the answer is kept for a minute,
so however often the page is opened CloudWatch is asked at most once a minute.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from bot.core.metrics import (
    ACK_LATENCY,
    COLD_STARTS,
    ENTRY_POINTS,
    ERRORS,
    INFERENCE_TIME,
    LOAD_TIME,
    NAMESPACE,
    REQUESTS,
    entry_dimensions,
    model_dimensions,
)
from bot.stores.stats import WINDOW_SHAPES, EntryFigures, ModelFigures, Spread, StatsUnavailable, UsageFigures, Window
from inference.registry import Registry

logger = logging.getLogger(__name__)

#: How long one answer from CloudWatch serves the page (EMF metrics take a minute or two to arrive anyway).
CACHE_SECONDS = 60.0
#: A failed read is tried again sooner, but not on every page load.
FAILURE_CACHE_SECONDS = 10.0
#: GetMetricData takes at most 500 queries per call.
MAX_QUERIES = 500
#: The last 7 days in 6-hour buckets: deployed demos are used now and then, not every hour
#: (and CloudWatch's periods are whole minutes, as only the longer shapes' buckets are).
SHAPE = WINDOW_SHAPES[-1]
#: The page must answer well within API Gateway's 29 s even when CloudWatch does not.
CLIENT_CONFIG = {"connect_timeout": 3, "read_timeout": 5, "retries": {"max_attempts": 2, "mode": "standard"}}
#: Result status codes that mean the values are missing, not merely absent.
FAILED_STATUSES = ("Forbidden", "InternalError")
PERCENTILES = ("p50", "p95")
SOURCE = "from CloudWatch, refreshed every minute"

Points = list[tuple[float, float]]


@dataclass(frozen=True)
class Query:
    """One metric statistic to ask for, under an id unique within the request."""

    id: str
    metric: str
    dimensions: dict[str, str]
    stat: str
    period: int

    def request(self, namespace: str) -> dict[str, Any]:
        """The query in GetMetricData's shape."""
        return {
            "Id": self.id,
            "MetricStat": {
                "Metric": {
                    "Namespace": namespace,
                    "MetricName": self.metric,
                    "Dimensions": [{"Name": name, "Value": value} for name, value in self.dimensions.items()],
                },
                "Period": self.period,
                "Stat": self.stat,
            },
            "ReturnData": True,
        }


def queries(registry: Registry, window: Window) -> Iterator[Query]:
    """Requests and errors per bucket; cold starts, percentiles and entry points over the whole window.

    A percentile cannot be added up from buckets, so those take one period as long as the window.
    """
    bucket, whole = window.bucket_seconds, window.seconds
    for i, spec in enumerate(registry):
        dimensions = model_dimensions(spec.name, spec.task)
        yield Query(f"m{i}_requests", REQUESTS, dimensions, "Sum", bucket)
        yield Query(f"m{i}_errors", ERRORS, dimensions, "Sum", bucket)
        yield Query(f"m{i}_cold", COLD_STARTS, dimensions, "Sum", whole)
        for p in PERCENTILES:
            yield Query(f"m{i}_answer_{p}", INFERENCE_TIME, dimensions, p, whole)
            yield Query(f"m{i}_load_{p}", LOAD_TIME, dimensions, p, whole)
    for i, entry in enumerate(ENTRY_POINTS):
        yield Query(f"e{i}_requests", REQUESTS, entry_dimensions(entry), "Sum", whole)
        yield Query(f"e{i}_ack_p50", ACK_LATENCY, entry_dimensions(entry), "p50", whole)


def _why(exc: Exception) -> str:
    """What went wrong, in words for the page."""
    code = getattr(exc, "response", {}).get("Error", {}).get("Code", "")
    if code.startswith("AccessDenied"):
        return "the router is not allowed to read CloudWatch metrics"
    if code.startswith("Throttl"):
        return "CloudWatch is busy"
    if code:
        return f"CloudWatch answered {code}"
    return "CloudWatch could not be reached"


class CloudWatchStats:
    """A ``UsageSource`` over CloudWatch; the client is made on first use, or injected for tests."""

    def __init__(
        self, *, namespace: str = NAMESPACE, client: Any = None, clock: Callable[[], float] = time.time
    ) -> None:
        self.namespace = namespace
        self._client = client
        self._clock = clock
        self._kept: UsageFigures | StatsUnavailable | None = None
        self._kept_until = 0.0

    @property
    def client(self) -> Any:
        if self._client is None:
            import boto3  # on the stats page's first read, never on a Slack cold start
            from botocore.config import Config

            self._client = boto3.client("cloudwatch", config=Config(**CLIENT_CONFIG))
        return self._client

    def figures(self, registry: Registry) -> UsageFigures:
        """The figures of the last 7 days, from the cache while it is fresh.

        Raises:
            StatsUnavailable: CloudWatch refused, failed or could not be reached (kept for a few seconds too).
        """
        now = self._clock()
        if self._kept is None or now >= self._kept_until:
            try:
                self._kept, self._kept_until = self._read(registry, now), now + CACHE_SECONDS
            except StatsUnavailable as exc:
                self._kept, self._kept_until = exc, now + FAILURE_CACHE_SECONDS
        if isinstance(self._kept, StatsUnavailable):
            raise StatsUnavailable(str(self._kept))
        return self._kept

    def _read(self, registry: Registry, now: float) -> UsageFigures:
        window = Window.ending(now, SHAPE)
        points = self._fetch(list(queries(registry, window)), window)
        models = {
            spec.name: ModelFigures(
                requests=_per_bucket(points[f"m{i}_requests"], window),
                errors=_per_bucket(points[f"m{i}_errors"], window),
                cold_starts=_total(points[f"m{i}_cold"]),
                answer_ms=_spread(points, f"m{i}_answer"),
                load_ms=_spread(points, f"m{i}_load"),
            )
            for i, spec in enumerate(registry)
        }
        entries = {}
        for i, entry in enumerate(ENTRY_POINTS):
            count = _total(points[f"e{i}_requests"])
            if count:
                entries[entry] = EntryFigures(count, _first(points[f"e{i}_ack_p50"]))
        return UsageFigures(window=window, source=SOURCE, models=models, entries=entries)

    def _fetch(self, wanted: list[Query], window: Window) -> dict[str, Points]:
        """Every query's (timestamp, value) points, following ``NextToken`` until CloudWatch has said all."""
        from botocore.exceptions import BotoCoreError, ClientError  # with the client, on first use

        points: dict[str, Points] = {q.id: [] for q in wanted}
        for start in range(0, len(wanted), MAX_QUERIES):
            request: dict[str, Any] = {
                "MetricDataQueries": [q.request(self.namespace) for q in wanted[start : start + MAX_QUERIES]],
                "StartTime": datetime.fromtimestamp(window.start, UTC),
                "EndTime": datetime.fromtimestamp(window.end, UTC),
                "ScanBy": "TimestampAscending",
            }
            while True:
                try:
                    page = self.client.get_metric_data(**request)
                except (BotoCoreError, ClientError) as exc:
                    logger.warning("could not read the figures from CloudWatch", exc_info=True)
                    raise StatsUnavailable(_why(exc)) from exc
                for result in page["MetricDataResults"]:
                    if result.get("StatusCode") in FAILED_STATUSES:
                        logger.warning("CloudWatch gave no values for %s: %s", result["Id"], result.get("Messages"))
                        raise StatsUnavailable(f"CloudWatch could not give every figure ({result['StatusCode']})")
                    stamps = (t.timestamp() for t in result.get("Timestamps", []))
                    points[result["Id"]].extend(zip(stamps, result.get("Values", []), strict=True))
                if not page.get("NextToken"):
                    break
                request["NextToken"] = page["NextToken"]
        return points


def _per_bucket(points: Points, window: Window) -> tuple[int, ...]:
    counts = [0] * window.buckets
    for at, value in points:
        index = window.bucket_of(at)
        if index is not None:
            counts[index] += round(value)
    return tuple(counts)


def _total(points: Points) -> int:
    return round(sum(value for _, value in points))


def _spread(points: dict[str, Points], prefix: str) -> Spread | None:
    p50, p95 = (_first(points[f"{prefix}_{p}"]) for p in PERCENTILES)
    return None if p50 is None or p95 is None else Spread(p50, p95)


def _first(points: Points) -> float | None:
    """The one value of a statistic over the whole window (None: no data, as for a model nobody used)."""
    return points[0][1] if points else None
