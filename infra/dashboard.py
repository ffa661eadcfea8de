"""A CloudWatch dashboard built from the registry: the router's row, then one row per model.

The first row shows how people reach the bot (requests and ack latency per
entry point), the router function and the failure queue. Each model's row
shows what the router saw of it (requests, errors, cold starts, load and
inference time) beside what Lambda saw of its function (duration, throttles,
concurrency), so a slow answer can be told apart from a cold or throttled one.
"""

from __future__ import annotations

from collections.abc import Mapping

from aws_cdk import Aws
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from bot.core.metrics import (
    ACK_LATENCY,
    COLD_STARTS,
    ENTRY_POINTS,
    ERRORS,
    INFERENCE_TIME,
    LOAD_TIME,
    REQUESTS,
)
from inference.registry import ModelSpec, Registry
from infra.metrics import PERIOD, entry_metric, model_metric

#: The dashboard grid is 24 units wide.
ROUTER_WIDTH = 6
MODEL_WIDTH = 8
HEIGHT = 6
LATENCY_PERCENTILES = ("p50", "p95")
ACK_PERCENTILES = ("p50", "p99")


def _function_widget(function: lambda_.IFunction, title: str, width: int) -> cloudwatch.GraphWidget:
    """Lambda's own view of ``function``: duration on the left, throttles and concurrency on the right."""
    return cloudwatch.GraphWidget(
        title=title,
        width=width,
        height=HEIGHT,
        left=[function.metric_duration(statistic=p, period=PERIOD, label=f"duration {p}") for p in LATENCY_PERCENTILES],
        right=[
            function.metric_throttles(statistic="Sum", period=PERIOD, label="throttles"),
            function.metric("ConcurrentExecutions", statistic="Maximum", period=PERIOD, label="concurrency (max)"),
        ],
        left_y_axis=cloudwatch.YAxisProps(label="ms", show_units=False, min=0),
        right_y_axis=cloudwatch.YAxisProps(show_units=False, min=0),
    )


def _router_row(router: lambda_.IFunction, failure_queue: sqs.IQueue) -> list[cloudwatch.IWidget]:
    return [
        cloudwatch.GraphWidget(
            title="Requests by entry point",
            width=ROUTER_WIDTH,
            height=HEIGHT,
            stacked=True,
            left=[entry_metric(entry, REQUESTS, statistic="Sum", label=entry) for entry in ENTRY_POINTS],
            left_y_axis=cloudwatch.YAxisProps(show_units=False, min=0),
        ),
        cloudwatch.GraphWidget(
            title=f"Ack latency ({', '.join(ACK_PERCENTILES)})",
            width=ROUTER_WIDTH,
            height=HEIGHT,
            left=[
                entry_metric(entry, ACK_LATENCY, statistic=p, label=f"{entry} {p}")
                for entry in ENTRY_POINTS
                for p in ACK_PERCENTILES
            ],
            left_y_axis=cloudwatch.YAxisProps(label="ms", show_units=False, min=0),
        ),
        _function_widget(router, "Router function", ROUTER_WIDTH),
        cloudwatch.GraphWidget(
            title="Failure queue depth",
            width=ROUTER_WIDTH,
            height=HEIGHT,
            left=[
                failure_queue.metric_approximate_number_of_messages_visible(
                    statistic="Maximum", period=PERIOD, label="events lost after every retry"
                )
            ],
            left_y_axis=cloudwatch.YAxisProps(show_units=False, min=0),
        ),
    ]


def _model_row(spec: ModelSpec, function: lambda_.IFunction) -> list[cloudwatch.IWidget]:
    return [
        cloudwatch.GraphWidget(
            title=f"{spec.name}: requests, errors, cold starts",
            width=MODEL_WIDTH,
            height=HEIGHT,
            left=[
                model_metric(spec, name, statistic="Sum", label=name.lower())
                for name in (REQUESTS, ERRORS, COLD_STARTS)
            ],
            left_y_axis=cloudwatch.YAxisProps(show_units=False, min=0),
        ),
        cloudwatch.GraphWidget(
            title=f"{spec.name}: load and inference time ({', '.join(LATENCY_PERCENTILES)})",
            width=MODEL_WIDTH,
            height=HEIGHT,
            left=[
                model_metric(spec, name, statistic=p, label=f"{label} {p}")
                for name, label in ((LOAD_TIME, "load"), (INFERENCE_TIME, "inference"))
                for p in LATENCY_PERCENTILES
            ],
            left_y_axis=cloudwatch.YAxisProps(label="ms", show_units=False, min=0),
        ),
        _function_widget(function, f"{spec.name}: function", MODEL_WIDTH),
    ]


class Dashboard(Construct):
    """The dashboard, named after the stack and its region (dashboard names are global to the account).

    Attributes:
        dashboard: the dashboard; ``url`` opens it in the console.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        name: str,
        registry: Registry,
        router: lambda_.IFunction,
        model_functions: Mapping[str, lambda_.IFunction],
        failure_queue: sqs.IQueue,
    ) -> None:
        super().__init__(scope, construct_id)
        self.dashboard = cloudwatch.Dashboard(self, "Dashboard", dashboard_name=f"{name}-{Aws.REGION}")
        self.dashboard.add_widgets(*_router_row(router, failure_queue))
        for spec in registry:
            self.dashboard.add_widgets(*_model_row(spec, model_functions[spec.name]))

    @property
    def url(self) -> str:
        """The dashboard in the CloudWatch console of the stack's region."""
        return (
            f"https://{Aws.REGION}.console.aws.amazon.com/cloudwatch/home?region={Aws.REGION}"
            f"#dashboards/dashboard/{self.dashboard.dashboard_name}"
        )
