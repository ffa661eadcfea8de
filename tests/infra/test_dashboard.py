"""The dashboard: the router's row, then one row per registry entry, querying exactly what the router emits."""

from __future__ import annotations

import json
from collections import defaultdict
from typing import Any

import pytest

from bot.core.metrics import ENTRY_POINTS, Metrics
from bot.stores.stats import ModelSample
from infra.metrics import entry_metric, model_metric
from tests.fakes.specs import model_spec
from tests.infra.conftest import EXTRA_MODEL, Synthesis


def resolve(part: Any) -> str:
    """A CloudFormation reference inside the dashboard's body as plain text: ``Ref:Id`` or ``GetAtt:Id.Attr``."""
    if isinstance(part, str):
        return part
    if "Ref" in part:
        return f"Ref:{part['Ref']}"
    if "Fn::GetAtt" in part:
        return "GetAtt:" + ".".join(part["Fn::GetAtt"])
    raise AssertionError(f"unexpected token in the dashboard: {part}")


def rows(synth: Synthesis) -> list[list[dict[str, Any]]]:
    """The dashboard's widgets, row by row (widgets sharing a ``y``), top to bottom."""
    (dashboard,) = synth.resources("AWS::CloudWatch::Dashboard").values()
    separator, parts = dashboard["Properties"]["DashboardBody"]["Fn::Join"]
    widgets = json.loads(separator.join(resolve(part) for part in parts))["widgets"]
    by_y: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for widget in widgets:
        by_y[widget["y"]].append(widget)
    return [sorted(by_y[y], key=lambda w: w["x"]) for y in sorted(by_y)]


def metrics(widget: dict[str, Any]) -> list[tuple[str, str, dict[str, str], str]]:
    """(namespace, name, dimensions, statistic) of each metric a graph draws."""
    found = []
    for line in widget["properties"]["metrics"]:
        namespace, name, *pairs, options = line
        found.append((namespace, name, dict(zip(pairs[::2], pairs[1::2], strict=True)), options["stat"]))
    return found


def test_one_row_for_the_router_then_one_per_registry_entry(synth: Synthesis, variant: Synthesis) -> None:
    assert len(rows(synth)) == 1 + len(synth.registry)
    assert len(rows(variant)) == 1 + len(variant.registry)
    for synthesis in (synth, variant):
        for spec, row in zip(synthesis.registry, rows(synthesis)[1:], strict=True):
            assert [w["properties"]["title"].partition(":")[0] for w in row] == [spec.name] * 3
            assert sum(w["width"] for w in row) == 24
    assert rows(variant)[-1][0]["properties"]["title"].startswith(f"{EXTRA_MODEL['name']}:")


def test_each_model_row_shows_its_figures_and_its_function(synth: Synthesis) -> None:
    for spec, row in zip(synth.registry, rows(synth)[1:], strict=True):
        usage, timings, function = (metrics(widget) for widget in row)
        mine = {"Model": spec.name, "Task": spec.task, "service": "router"}
        assert usage == [("HfSlackBot", name, mine, "Sum") for name in ("Requests", "Errors", "ColdStarts")]
        assert timings == [
            ("HfSlackBot", name, mine, p) for name in ("LoadTime", "InferenceTime") for p in ("p50", "p95")
        ]
        lambda_metrics = {(name, stat) for namespace, name, _, stat in function if namespace == "AWS/Lambda"}
        assert lambda_metrics == {
            ("Duration", "p50"),
            ("Duration", "p95"),
            ("Throttles", "Sum"),
            ("ConcurrentExecutions", "Maximum"),
        }
        own_name = f"Ref:{synth.logical_id(synth.stack.models.functions[spec.name])}"
        assert {dimensions["FunctionName"] for _, _, dimensions, _ in function} == {own_name}


def test_the_router_row_shows_entry_points_the_router_and_the_failure_queue(synth: Synthesis) -> None:
    requests, acks, function, queue = (metrics(widget) for widget in rows(synth)[0])
    assert requests == [("HfSlackBot", "Requests", {"EntryPoint": e, "service": "router"}, "Sum") for e in ENTRY_POINTS]
    assert acks == [
        ("HfSlackBot", "AckLatency", {"EntryPoint": e, "service": "router"}, p)
        for e in ENTRY_POINTS
        for p in ("p50", "p99")
    ]
    assert {d["FunctionName"] for _, _, d, _ in function} == {f"Ref:{synth.logical_id(synth.stack.router.function)}"}
    queue_name = f"GetAtt:{synth.logical_id(synth.stack.monitoring.failure_queue)}.QueueName"
    assert queue == [("AWS/SQS", "ApproximateNumberOfMessagesVisible", {"QueueName": queue_name}, "Maximum")]


def emitted(capsys: pytest.CaptureFixture[str]) -> set[tuple[str, str, frozenset[tuple[str, str]]]]:
    """(namespace, metric, dimensions) of every EMF line the router printed."""
    found = set()
    for line in capsys.readouterr().out.splitlines():
        document = json.loads(line)
        for directive in document["_aws"]["CloudWatchMetrics"]:
            for dimension_set in directive["Dimensions"]:
                dimensions = frozenset((name, document[name]) for name in dimension_set)
                found |= {(directive["Namespace"], metric["Name"], dimensions) for metric in directive["Metrics"]}
    return found


def test_the_dashboard_queries_exactly_what_the_router_emits(
    synth: Synthesis, capsys: pytest.CaptureFixture[str]
) -> None:
    recorder = Metrics(emit=True)
    for spec in synth.registry:
        recorder.model(
            ModelSample(spec.name, spec.task, ok=True, cold=True, load_ms=1, inference_ms=1, input_chars=1, at=0)
        )
    for entry in ENTRY_POINTS:
        recorder.entry(entry, 1.0)
    sent = emitted(capsys)
    queried = {
        (namespace, name, frozenset(dimensions.items()))
        for row in rows(synth)
        for widget in row
        for namespace, name, dimensions, _ in metrics(widget)
        if namespace == "HfSlackBot"
    }
    assert queried <= sent
    # Input size is recorded for /go/stats and ad hoc queries; everything else is on the dashboard.
    assert {name for _, name, _ in sent - queried} == {"InputSize"}


def test_the_metric_helpers_refuse_what_the_router_does_not_record() -> None:
    spec = model_spec("m", task="fill-mask")
    with pytest.raises(ValueError, match="Latency"):
        model_metric(spec, "Latency", statistic="Sum")
    with pytest.raises(ValueError, match="webhook"):
        entry_metric("webhook", "Requests", statistic="Sum")


def test_the_dashboard_is_named_after_the_stack_and_region_and_linked(synth: Synthesis) -> None:
    ((dashboard, resource),) = synth.resources("AWS::CloudWatch::Dashboard").items()
    # Dashboard names are global to the account: the same stack in two regions needs two.
    name = resource["Properties"]["DashboardName"]["Fn::Join"][1]
    assert "".join(resolve(p) for p in name) == f"{synth.settings.stack_name}-Ref:AWS::Region"
    parts = synth.raw["Outputs"]["DashboardUrl"]["Value"]["Fn::Join"][1]
    assert "".join(resolve(p) for p in parts) == (
        "https://Ref:AWS::Region.console.aws.amazon.com/cloudwatch/home?region=Ref:AWS::Region"
        f"#dashboards/dashboard/Ref:{dashboard}"
    )
