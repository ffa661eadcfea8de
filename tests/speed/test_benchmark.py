"""The speed benchmark's machinery: its smoke run end to end, and its arithmetic. Never its timings."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from benchmarks.speed import report, sizing
from benchmarks.speed.footprint import closure, footprint
from benchmarks.speed.stats import alternate

ROOT = Path(__file__).resolve().parents[2]
PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def smoke(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, Any], Path]:
    """``python -m benchmarks.speed --smoke`` with its cache, JSON and chart in a temporary folder."""
    folder = tmp_path_factory.mktemp("speed")
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "benchmarks.speed",
            "--smoke",
            "--cache",
            str(folder / "cache"),
            "--json",
            str(folder / "results.json"),
            "--chart",
            str(folder / "chart.png"),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "Router cold start" in done.stdout  # the table is printed
    return json.loads((folder / "results.json").read_text()), folder


@pytest.mark.slow
def test_smoke_run_writes_every_measurement(smoke: tuple[dict[str, Any], Path]) -> None:
    results, folder = smoke
    assert results["mode"] == "smoke" and results["schema"] == 1
    router = results["router_cold_start"]
    assert len(router["ours_s"]) == len(router["baseline_s"]) == results["plan"]["router_repetitions"]
    for mode in ("local", "lambda"):
        acks = results["ack_latency"][mode]
        assert acks["acked"] == acks["requests"] == results["plan"]["acks"]
        assert acks["p50_ms"] <= acks["p99_ms"] <= acks["max_ms"]
    assert results["ack_latency"]["local"]["slack_calls_meanwhile"] > 0  # the slow lazy work really ran
    assert set(results["models"]) == {report.MINILM, report.SUMMARIZER}
    assert set(results["models"][report.MINILM]) == {"seed", "torch", "onnx", "onnx-int8"}
    assert set(results["models"][report.SUMMARIZER]) == {"seed", "torch"}
    for handlers in results["models"].values():
        for measured in handlers.values():
            assert len(measured["cold_s"]) == results["plan"]["model_repetitions"]
            assert measured["warm_p50_ms"] <= measured["warm_p95_ms"]
            assert measured["peak_rss_mb"] > 0
    assert {goal["measure"].split(":")[0] for goal in results["goals"]} >= {
        "all-MiniLM-L6-v2, torch",
        "all-MiniLM-L6-v2, onnx",
        "distilbart-cnn-12-6 (shape), torch",
    }
    assert len(results["goals"]) == 8 and all(isinstance(goal["met"], bool) for goal in results["goals"])
    assert (folder / "chart.png").read_bytes().startswith(PNG)
    assert (folder / "cache" / ".gitignore").read_text() == "*\n"


def test_alternate_reverses_the_order_every_repetition() -> None:
    order: list[str] = []
    runs = alternate({"a": lambda: order.append("a") or 1, "b": lambda: order.append("b") or 2}, 3)
    assert order == ["a", "b", "b", "a", "a", "b"]
    assert runs == {"a": [1, 1, 1], "b": [2, 2, 2]}


def test_footprints_follow_each_backends_dependencies() -> None:
    torch_side, onnx_side = closure(["transformers", "torch"]), closure(["onnxruntime", "tokenizers"])
    assert {"torch", "transformers", "tokenizers", "safetensors", "huggingface-hub"} <= set(torch_side)
    assert "onnxruntime" in onnx_side and "torch" not in onnx_side and "transformers" not in onnx_side
    sizes = footprint()
    assert sizes["onnx"]["total_mb"] < sizes["torch"]["total_mb"]
    assert sizes["torch"]["packages"]["torch"] == max(sizes["torch"]["packages"].values())


def _results(router: float, ack_p99: float, minilm_onnx_cold: float) -> dict[str, Any]:
    def handler(cold: float, warm: float, rss: float) -> dict[str, Any]:
        return {"cold_median_s": cold, "warm_p50_ms": warm, "warm_p95_ms": warm * 1.2, "peak_rss_mb": rss}

    return {
        "router_cold_start": {"ours_median_s": router, "baseline_median_s": 4.0, "ratio": router / 4.0},
        "ack_latency": {"local": {"requests": 500, "p50_ms": 1.0, "p99_ms": ack_p99}},
        "models": {
            report.MINILM: {
                "seed": handler(4.0, 16.0, 440.0),
                "torch": handler(3.0, 9.0, 440.0),
                "onnx": handler(minilm_onnx_cold, 6.0, 120.0),
            },
            report.SUMMARIZER: {"seed": handler(6.0, 1300.0, 1600.0), "torch": handler(5.0, 1200.0, 1600.0)},
        },
        "footprint": {"torch": {"total_mb": 1100.0}, "onnx": {"total_mb": 200.0}},
    }


def test_goals_are_judged_on_ratios_and_the_ack_on_its_20_ms() -> None:
    verdicts = {row.measure: row.met for row in report.rows(_results(0.2, 25.0, 2.0)) if row.goal is not None}
    assert verdicts["Router cold start (fresh process, one slash command)"] is True  # 0.05x
    [ack] = [met for measure, met in verdicts.items() if measure.startswith("Ack p99")]
    assert ack is False  # 25 ms
    assert verdicts["all-MiniLM-L6-v2, onnx: cold start"] is False  # 0.5x against 0.25x
    assert verdicts["all-MiniLM-L6-v2, onnx: peak RSS"] is True
    assert verdicts["all-MiniLM-L6-v2, torch: cold start"] is False  # 0.75x against 0.5x
    markdown = report.markdown(report.rows(_results(0.2, 25.0, 2.0)))
    assert "| ≤ 20 ms | missed by 25 % |" in markdown
    assert "| ≤ 0.25x | missed: 2.0x the goal |" in markdown


def test_sizing_gives_one_vcpu_unless_the_model_needs_more_memory_or_is_slow() -> None:
    calibration = sizing.Calibration(
        cold_base_s=3.5,
        cold_per_gb_s=1.0,
        rss_base_mb=340.0,
        rss_per_gb_mb=1100.0,
        encoder_s_per_m_token=1e-5,
        generator_s_per_m_token=1e-4,
        two_vcpu_speedup=1.6,
    )
    small = sizing.Model("small", params_m=20, weights_gb=0.1, tokens=30)
    big = sizing.Model("big", params_m=400, weights_gb=1.6, tokens=30)
    slow = sizing.Model("slow", params_m=500, weights_gb=0.2, new_tokens=256, beams=1)
    assert sizing.recommend(small, calibration) == sizing.MB_PER_VCPU
    assert sizing.recommend(big, calibration) == sizing.required_mb(big, calibration) > sizing.MB_PER_VCPU
    assert sizing.recommend(slow, calibration) == 2 * sizing.MB_PER_VCPU
    # Below one vCPU a request takes longer in proportion, so it costs the same; cold starts only get slower.
    assert sizing.cost_per_1000(small, 1024, calibration) == pytest.approx(
        sizing.cost_per_1000(small, 1769, calibration), rel=0.01
    )
    assert sizing.cold_s(small, 1024, calibration) > sizing.cold_s(small, 1769, calibration)
    assert sizing.cold_s(small, 4096, calibration) == sizing.cold_s(small, 1769, calibration)
    assert sizing.warm_s(small, 3538, calibration) < sizing.warm_s(small, 1769, calibration)
