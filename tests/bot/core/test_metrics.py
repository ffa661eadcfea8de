"""Figures: EMF lines with the right names, dimensions and units; local stats for /go/stats."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bot.core.metrics import Metrics, model_sample
from bot.stores.stats import EntryFigures, LocalStats, ModelFigures, Spread
from inference.registry import load_registry


def emf_lines(out: str) -> list[dict]:
    return [json.loads(line) for line in out.splitlines() if line.startswith('{"_aws"')]


def test_model_figures_as_emf(capsys: pytest.CaptureFixture[str]) -> None:
    response = {"result": {}, "timings": {"load_ms": 1200.0, "inference_ms": 35.5}}
    Metrics(emit=True).model(model_sample("qa", "question-answering", response, text="q | c"))
    [doc] = emf_lines(capsys.readouterr().out)
    [directive] = doc["_aws"]["CloudWatchMetrics"]
    assert directive["Namespace"] == "HfSlackBot"
    assert directive["Dimensions"] == [["Model", "Task", "service"]]
    units = {m["Name"]: m["Unit"] for m in directive["Metrics"]}
    assert units == {
        "Requests": "Count",
        "Errors": "Count",
        "ColdStarts": "Count",
        "LoadTime": "Milliseconds",
        "InferenceTime": "Milliseconds",
        "InputSize": "Count",
    }
    assert (doc["Model"], doc["Task"], doc["service"]) == ("qa", "question-answering", "router")
    assert doc["Errors"] == [0.0] and doc["ColdStarts"] == [1.0] and doc["InputSize"] == [5.0]


def test_a_warm_call_is_not_a_cold_start() -> None:
    # The model side times fetching its (cached) runner on every call: 0.1 ms is not a load.
    warm = model_sample("qa", "question-answering", {"result": {}, "timings": {"load_ms": 0.1}}, text="q | c")
    cold = model_sample("qa", "question-answering", {"result": {}, "timings": {"load_ms": 850.0}}, text="q | c")
    assert (warm.cold, cold.cold) == (False, True)


def test_failures_count_as_errors(capsys: pytest.CaptureFixture[str]) -> None:
    Metrics(emit=True).model(model_sample("qa", "question-answering", {"errorMessage": "Task timed out"}, text="x"))
    [doc] = emf_lines(capsys.readouterr().out)
    assert doc["Errors"] == [1.0] and doc["ColdStarts"] == [0.0]
    assert "LoadTime" not in doc  # warm (or failed before loading): no load time to report
    assert "InferenceTime" not in doc  # no answer: a 0 would drag the percentiles down


def test_entry_figures_as_emf(capsys: pytest.CaptureFixture[str]) -> None:
    Metrics(emit=True).entry("slash_command", 12.5)
    [doc] = emf_lines(capsys.readouterr().out)
    [directive] = doc["_aws"]["CloudWatchMetrics"]
    assert directive["Dimensions"] == [["EntryPoint", "service"]]
    assert {m["Name"]: m["Unit"] for m in directive["Metrics"]} == {"Requests": "Count", "AckLatency": "Milliseconds"}
    assert doc["EntryPoint"] == "slash_command" and doc["AckLatency"] == [12.5]


def test_local_stats_without_emf(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    stats = LocalStats(tmp_path / "stats.sqlite")
    metrics = Metrics(emit=False, local=stats)
    ok = {"result": {}, "timings": {"load_ms": 0, "inference_ms": 10}}
    metrics.model(model_sample("sentiment", "text-classification", ok, text="hi"))
    metrics.model(model_sample("sentiment", "text-classification", {"errorMessage": "boom"}, text="hi"))
    metrics.entry("form", 3.0)
    assert capsys.readouterr().out == ""
    figures = stats.figures(load_registry())
    sentiment = figures.models["sentiment"]
    assert (sentiment.total, sentiment.failed, sentiment.cold_starts, sentiment.load_ms) == (2, 1, 0, None)
    assert sentiment.answer_ms == Spread(10.0, 10.0)  # the failure's missing time is not a 0 ms answer
    assert figures.models["summarize"] == ModelFigures.nothing(figures.window)
    assert figures.entries == {"form": EntryFigures(1, 3.0)}
