"""Usage and latency figures: CloudWatch embedded metric format in AWS, a SQLite file locally.

Per entry point (slash command, mention, shortcut, form): requests and ack
latency. Per model and task: requests, errors, cold starts, load and
inference time, input size — recorded by the router from every model
response it receives (destination records and the form's synchronous calls),
so the figures are the same in AWS and locally. In AWS they are printed as
EMF lines (Powertools Metrics) that CloudWatch turns into metrics; locally
they are kept in ``stats.sqlite``. Either way the ``/go/stats`` page reads
them as ``UsageFigures`` from a ``UsageSource``: ``bot.stores.stats.LocalStats``
here, ``bot.core.cloudwatch_stats.CloudWatchStats`` in AWS. Which entry point a
request was is the router's to say (``bot.router.entry_point``).
"""

from __future__ import annotations

import logging
import time
from typing import Any

from bot.core.invoker import InvokeBusy, InvokeError, InvokeTimeout
from bot.stores.stats import LocalStats, ModelSample

logger = logging.getLogger(__name__)

#: The namespace of every figure the router emits: a fact of the system, not a setting, because the
#: dashboard, the alarms and /go/stats read it too. The stack sets Powertools' own variable
#: (``bot.core.config.METRICS_NAMESPACE``) to it; the router passes it explicitly.
NAMESPACE = "HfSlackBot"
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


class Metrics:
    """Records both kinds of figures: as EMF (``emit``) and/or into ``local``."""

    def __init__(self, *, emit: bool, local: LocalStats | None = None) -> None:
        self.emit = emit
        self.local = local

    def _flush(self, dimensions: dict[str, str], values: list[tuple[str, str, float]]) -> None:
        # Imported on the first figure emitted, not with the router: Powertools' metrics stay off the cold start.
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
