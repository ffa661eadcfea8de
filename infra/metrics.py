"""The router's own figures as CloudWatch metrics, for the dashboard and the alarms.

The router prints them in CloudWatch's embedded metric format (``bot/core/metrics.py``):
per model, with the dimensions ``Model``, ``Task`` and ``service``; per entry
point, with ``EntryPoint`` and ``service``. A metric is found only under its
exact set of dimensions, so every query here names all of them. The names, the
dimensions and the namespace are defined there, once, for the router, these
queries and the ``/go/stats`` page alike.
"""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_cloudwatch as cloudwatch

from bot.core.metrics import (
    ENTRY_METRICS,
    ENTRY_POINTS,
    MODEL_METRICS,
    NAMESPACE,
    entry_dimensions,
    model_dimensions,
)
from inference.registry import ModelSpec

PERIOD_MINUTES = 5
PERIOD = Duration.minutes(PERIOD_MINUTES)


def model_metric(spec: ModelSpec, name: str, *, statistic: str, label: str | None = None) -> cloudwatch.Metric:
    """``name`` (one of ``MODEL_METRICS``) for the model of ``spec``."""
    if name not in MODEL_METRICS:
        raise ValueError(f"the router records no model metric {name!r}")
    return cloudwatch.Metric(
        namespace=NAMESPACE,
        metric_name=name,
        dimensions_map=model_dimensions(spec.name, spec.task),
        statistic=statistic,
        period=PERIOD,
        label=label,
    )


def entry_metric(entry: str, name: str, *, statistic: str, label: str | None = None) -> cloudwatch.Metric:
    """``name`` (one of ``ENTRY_METRICS``) for ``entry`` (one of ``ENTRY_POINTS``)."""
    if name not in ENTRY_METRICS or entry not in ENTRY_POINTS:
        raise ValueError(f"the router records no metric {name!r} for entry point {entry!r}")
    return cloudwatch.Metric(
        namespace=NAMESPACE,
        metric_name=name,
        dimensions_map=entry_dimensions(entry),
        statistic=statistic,
        period=PERIOD,
        label=label,
    )
