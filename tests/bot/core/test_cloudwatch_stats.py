"""The stats page in AWS: figures read back from CloudWatch's GetMetricData on a stubbed boto3 client.

The answers are shaped as CloudWatch gives them (botocore's Stubber checks them
against the service model): timestamps at the start of each period, a
``NextToken`` when the answer goes on in another page, and metrics without data
as empty lists.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3
import pytest
import yaml
from botocore.stub import ANY, Stubber

import bot.core.cloudwatch_stats as cloudwatch_stats
from bot.core.cloudwatch_stats import SHAPE, CloudWatchStats, queries
from bot.core.metrics import ENTRY_POINTS, NAMESPACE, Metrics
from bot.form.stats import render_stats
from bot.stores.stats import ModelSample, StatsUnavailable, Window
from inference.registry import Registry, load_registry
from tests.conftest import ROOT
from tests.tiny_models import write_registry

#: A Wednesday noon: the window runs to 18:00 (the next 6-hour edge) and starts 7 days before.
NOW = datetime(2026, 3, 4, 12, 0, 5, tzinfo=UTC).timestamp()
START = datetime(2026, 2, 25, 18, 0, tzinfo=UTC)
END = datetime(2026, 3, 4, 18, 0, tzinfo=UTC)
WEEK, SIX_HOURS = 7 * 86400, 6 * 3600


class Clock:
    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def registry(tmp_path: Path) -> Registry:
    """``sentiment`` and ``summarize`` from the default registry."""
    entries = yaml.safe_load((ROOT / "inference" / "models.yaml").read_text())["models"][:2]
    return load_registry(write_registry(tmp_path / "m.yaml", entries))


@pytest.fixture
def client() -> Iterator[tuple[Any, Stubber, list[dict[str, Any]]]]:
    """A CloudWatch client that never leaves the process, its stubber, and every request it was given."""
    cw = boto3.client("cloudwatch", region_name="eu-west-1", aws_access_key_id="a", aws_secret_access_key="b")
    sent: list[dict[str, Any]] = []
    cw.meta.events.register("provide-client-params.cloudwatch.GetMetricData", lambda params, **_: sent.append(params))
    with Stubber(cw) as stubber:
        yield cw, stubber, sent
        stubber.assert_no_pending_responses()


def at(day: int, hour: int) -> datetime:
    """A time in March 2026, the end of the window."""
    return datetime(2026, 3, day, hour, tzinfo=UTC)


def result(query_id: str, *points: tuple[datetime, float]) -> dict[str, Any]:
    return {
        "Id": query_id,
        "Label": query_id,
        "Timestamps": [t for t, _ in points],
        "Values": [v for _, v in points],
        "StatusCode": "Complete",
    }


def page(*results: dict[str, Any], token: str | None = None) -> dict[str, Any]:
    answer: dict[str, Any] = {"MetricDataResults": list(results), "Messages": []}
    if token:
        answer["NextToken"] = token
    return answer


def expected(token: str | None = None) -> dict[str, Any]:
    params = {"MetricDataQueries": ANY, "StartTime": START, "EndTime": END, "ScanBy": "TimestampAscending"}
    return {**params, "NextToken": token} if token else params


#: Two pages: sentiment's requests go on in the second one; summarize and most entry points have no data.
FIRST_PAGE = page(
    result("m0_requests", (at(3, 0), 5.0), (at(3, 6), 7.0)),
    result("m0_errors", (at(3, 6), 1.0)),
    result("m0_cold", (START, 2.0)),
    result("m0_answer_p50", (START, 3.25)),
    result("m0_answer_p95", (START, 157.0)),
    result("m0_load_p50"),
    result("m0_load_p95"),
    token="page-2",
)
SECOND_PAGE = page(
    result("m0_requests", (at(4, 12), 3.0)),
    *(result(f"m1_{name}") for name in ("requests", "errors", "cold")),
    *(result(f"m1_{kind}_{p}") for kind in ("answer", "load") for p in ("p50", "p95")),
    result("e0_requests", (START, 4.0)),
    result("e0_ack_p50", (START, 12.5)),
    *(result(f"e{i}_{name}") for i in range(1, 5) for name in ("requests", "ack_p50")),
)


def test_the_figures_come_from_every_page_of_the_answer(registry: Registry, client: Any) -> None:
    cw, stubber, sent = client
    stubber.add_response("get_metric_data", FIRST_PAGE, expected())
    stubber.add_response("get_metric_data", SECOND_PAGE, expected("page-2"))

    figures = CloudWatchStats(client=cw, clock=Clock()).figures(registry)

    assert figures.window == Window(end=END.timestamp(), bucket_seconds=SIX_HOURS, buckets=28)
    sentiment = figures.models["sentiment"]
    # Bucket 0 starts on 25 Feb 18:00: 3 Mar 00:00 is bucket 21, 06:00 bucket 22, 4 Mar 12:00 bucket 27.
    assert {i: n for i, n in enumerate(sentiment.requests) if n} == {21: 5, 22: 7, 27: 3}
    assert {i: n for i, n in enumerate(sentiment.errors) if n} == {22: 1}
    assert (sentiment.total, sentiment.failed, sentiment.cold_starts) == (15, 1, 2)
    assert (sentiment.answer_ms.p50, sentiment.answer_ms.p95) == (3.25, 157.0)
    assert sentiment.load_ms is None  # no data: no cold start in the window loaded anything
    summarize = figures.models["summarize"]
    assert (summarize.total, summarize.cold_starts, summarize.answer_ms, summarize.load_ms) == (0, 0, None, None)
    assert list(figures.entries) == ["slash_command"]
    assert (figures.entries["slash_command"].requests, figures.entries["slash_command"].ack_p50_ms) == (4, 12.5)
    # The second page is asked with the same queries.
    assert sent[0]["MetricDataQueries"] == sent[1]["MetricDataQueries"]


def test_the_queries_name_the_metrics_the_router_emits(registry: Registry, client: Any) -> None:
    cw, stubber, sent = client
    stubber.add_response("get_metric_data", page(), expected())

    CloudWatchStats(client=cw, clock=Clock()).figures(registry)

    by_id = {q["Id"]: q["MetricStat"] for q in sent[0]["MetricDataQueries"]}
    assert len(by_id) == 2 * 7 + 5 * 2
    requests = by_id["m1_requests"]
    assert requests["Metric"] == {
        "Namespace": "HfSlackBot",
        "MetricName": "Requests",
        "Dimensions": [
            {"Name": "Model", "Value": "summarize"},
            {"Name": "Task", "Value": "summarization"},
            {"Name": "service", "Value": "router"},
        ],
    }
    assert (requests["Stat"], requests["Period"]) == ("Sum", SIX_HOURS)
    p95 = by_id["m0_answer_p95"]
    assert (p95["Metric"]["MetricName"], p95["Stat"], p95["Period"]) == ("InferenceTime", "p95", WEEK)
    assert by_id["m0_load_p50"]["Metric"]["MetricName"] == "LoadTime"
    ack = by_id["e3_ack_p50"]
    assert ack["Metric"]["Dimensions"] == [
        {"Name": "EntryPoint", "Value": "form"},
        {"Name": "service", "Value": "router"},
    ]
    assert (ack["Metric"]["MetricName"], ack["Stat"], ack["Period"]) == ("AckLatency", "p50", WEEK)


def test_a_minute_of_page_loads_costs_one_call(registry: Registry, client: Any) -> None:
    cw, stubber, _ = client
    clock = Clock()
    stats = CloudWatchStats(client=cw, clock=clock)
    stubber.add_response("get_metric_data", page(result("m0_requests", (at(4, 12), 1.0))), expected())

    first = stats.figures(registry)
    clock.now += 59
    assert stats.figures(registry) is first  # the stubber would refuse a second call

    stubber.add_response("get_metric_data", page(result("m0_requests", (at(4, 12), 2.0))), expected())
    clock.now += 2
    assert stats.figures(registry).models["sentiment"].total == 2


def test_a_refusal_is_said_in_words_and_tried_again_ten_seconds_later(registry: Registry, client: Any) -> None:
    cw, stubber, _ = client
    clock = Clock()
    stats = CloudWatchStats(client=cw, clock=clock)
    stubber.add_client_error(
        "get_metric_data",
        service_error_code="AccessDenied",
        service_message="User is not authorized to perform: cloudwatch:GetMetricData",
        http_status_code=403,
    )

    with pytest.raises(StatsUnavailable, match=r"^the router is not allowed to read CloudWatch metrics$"):
        stats.figures(registry)
    clock.now += 5
    with pytest.raises(StatsUnavailable):
        stats.figures(registry)  # kept: the stubber has nothing more to answer

    stubber.add_response("get_metric_data", page(), expected())
    clock.now += 6
    assert stats.figures(registry).models["sentiment"].total == 0


def test_throttling_and_unanswered_figures_are_failures_not_zeros(registry: Registry, client: Any) -> None:
    cw, stubber, _ = client
    clock = Clock()
    stats = CloudWatchStats(client=cw, clock=clock)
    stubber.add_client_error("get_metric_data", service_error_code="Throttling", http_status_code=400)
    with pytest.raises(StatsUnavailable, match="CloudWatch is busy"):
        stats.figures(registry)

    clock.now += 11
    forbidden = {**result("m0_requests"), "StatusCode": "Forbidden", "Messages": [{"Code": "Forbidden", "Value": "x"}]}
    stubber.add_response("get_metric_data", page(forbidden), expected())
    with pytest.raises(StatsUnavailable, match=r"could not give every figure \(Forbidden\)"):
        stats.figures(registry)


def test_more_queries_than_one_call_takes_are_split(
    registry: Registry, client: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    cw, stubber, sent = client
    monkeypatch.setattr(cloudwatch_stats, "MAX_QUERIES", 10)
    stubber.add_response("get_metric_data", page(result("m0_requests", (at(4, 12), 4.0))), expected())
    stubber.add_response("get_metric_data", page(result("m1_requests", (at(4, 12), 6.0))), expected())
    stubber.add_response("get_metric_data", page(result("e0_requests", (START, 1.0))), expected())

    figures = CloudWatchStats(client=cw, clock=Clock()).figures(registry)

    assert [len(request["MetricDataQueries"]) for request in sent] == [10, 10, 4]
    assert (figures.models["sentiment"].total, figures.models["summarize"].total) == (4, 6)
    assert figures.entries["slash_command"].requests == 1


def test_the_page_shows_cloudwatchs_figures(registry: Registry, client: Any) -> None:
    cw, stubber, _ = client
    stubber.add_response("get_metric_data", FIRST_PAGE, expected())
    stubber.add_response("get_metric_data", SECOND_PAGE, expected("page-2"))

    body = render_stats(registry, CloudWatchStats(client=cw, clock=Clock()), {}).body

    assert "Figures for the last 7 days, from CloudWatch, refreshed every minute." in body
    assert "15 requests in the last 7 days: 14 answered, 1 failed." in body
    assert "<h3>Requests per 6 hours</h3>" in body and ">7 days ago</text>" in body and ">3.5 days ago</text>" in body
    assert "Not used in the last 7 days." in body  # summarize


def test_every_query_names_a_metric_the_router_emits(registry: Registry, capsys: pytest.CaptureFixture[str]) -> None:
    recorder = Metrics(emit=True)
    for spec in registry:
        recorder.model(ModelSample(spec.name, spec.task, True, True, 900.0, 3.0, 12, NOW))
    for entry in ENTRY_POINTS:
        recorder.entry(entry, 2.0)
    emitted = set()
    for line in capsys.readouterr().out.splitlines():
        document = json.loads(line)
        (directive,) = document["_aws"]["CloudWatchMetrics"]
        (names,) = directive["Dimensions"]
        dimensions = frozenset((name, document[name]) for name in names)
        emitted |= {(directive["Namespace"], metric["Name"], dimensions) for metric in directive["Metrics"]}

    asked = {
        (NAMESPACE, q.metric, frozenset(q.dimensions.items())) for q in queries(registry, Window.ending(NOW, SHAPE))
    }

    assert asked <= emitted
    assert {name for _, name, _ in emitted - asked} == {"InputSize"}  # not on the page
