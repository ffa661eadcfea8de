"""Usage and latency figures: CloudWatch embedded metric format in AWS, a SQLite file locally.

Per entry point (slash command, mention, shortcut, form): requests and ack
latency. Per model and task: requests, errors, cold starts, load and
inference time, input size — recorded by the router from every model
response it receives (destination records and the form's synchronous calls),
so the figures are the same in AWS and locally. In AWS they are printed as
EMF lines (Powertools Metrics) that CloudWatch turns into metrics; locally
they are kept in ``stats.sqlite`` for the ``/go/stats`` page.
"""

from __future__ import annotations

import json
import logging
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

from bot.slack_ui import COMMENT_MODAL_CALLBACK
from bot.storage import SqliteFile

logger = logging.getLogger(__name__)

NAMESPACE = os.environ.get("POWERTOOLS_METRICS_NAMESPACE", "HfSlackBot")
#: The ``service`` dimension Powertools adds to every metric; the dashboard queries it.
SERVICE = "router"
ENTRY_POINTS = ("slash_command", "mention", "shortcut", "form", "feedback")


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


def model_sample(model: str, task: str, response: Any, *, text: str) -> ModelSample:
    """Figures from a model response (or a failure payload, which has no timings)."""
    response = response if isinstance(response, dict) else {}
    timings = response.get("timings") if isinstance(response.get("timings"), dict) else {}
    load_ms = float(timings.get("load_ms") or 0.0)
    return ModelSample(
        model=model,
        task=task,
        ok="result" in response,
        cold=load_ms > 0,
        load_ms=load_ms,
        inference_ms=float(timings.get("inference_ms") or 0.0),
        input_chars=len(text or ""),
        at=time.time(),
    )


class LocalStats:
    """Local mode's figures, kept in a SQLite file for the stats page."""

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

    def model_samples(self, model: str) -> list[ModelSample]:
        rows = (
            self._db()
            .execute(
                "SELECT model, task, ok, cold, load_ms, inference_ms, input_chars, at FROM model_requests"
                " WHERE model = ? ORDER BY at",
                (model,),
            )
            .fetchall()
        )
        return [ModelSample(m, t, bool(ok), bool(c), lm, im, ic, at) for m, t, ok, c, lm, im, ic, at in rows]

    def entry_counts(self) -> dict[str, tuple[int, float]]:
        """Per entry point: requests and median ack latency (ms)."""
        result = {}
        for (entry,) in self._db().execute("SELECT DISTINCT entry FROM entry_requests").fetchall():
            acks = sorted(
                a for (a,) in self._db().execute("SELECT ack_ms FROM entry_requests WHERE entry = ?", (entry,))
            )
            result[entry] = (len(acks), acks[len(acks) // 2] if acks else 0.0)
        return result


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
                self._flush({"EntryPoint": entry}, [("Requests", "Count", 1), ("AckLatency", "Milliseconds", ack_ms)])
            if self.local is not None:
                self.local.add_entry(entry, ack_ms)
        except Exception:
            logger.warning("could not record entry metrics", exc_info=True)

    def model(self, sample: ModelSample) -> None:
        """One model invocation's outcome and timings."""
        try:
            if self.emit:
                self._flush(
                    {"Model": sample.model, "Task": sample.task},
                    [
                        ("Requests", "Count", 1),
                        ("Errors", "Count", 0 if sample.ok else 1),
                        ("ColdStarts", "Count", 1 if sample.cold else 0),
                        ("InferenceTime", "Milliseconds", sample.inference_ms),
                        ("InputSize", "Count", sample.input_chars),
                        # Only a cold start loads the model: a warm call's 0 would drown the percentiles.
                        *([("LoadTime", "Milliseconds", sample.load_ms)] if sample.cold else []),
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
        from bot.invoker import InvokeError, InvokeTimeout

        spec = self.registry.find(model)
        task = spec.task if spec else ""
        try:
            response = self.inner.invoke_sync(model, payload, timeout=timeout)
        except InvokeTimeout:
            raise  # still loading: its figures come with the answer that follows
        except InvokeError:
            self.metrics.model(model_sample(model, task, None, text=str(payload.get("text", ""))))
            raise
        self.metrics.model(model_sample(model, task, response, text=str(payload.get("text", ""))))
        return response
