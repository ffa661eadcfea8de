"""``python -m benchmarks.speed``: measure, print the table, write the JSON and the chart.

Usage::

    python -m benchmarks.speed [--quick | --smoke] [--json benchmarks/results.json]
                               [--chart docs/performance.png] [--docs] [--cache benchmarks/.cache]

The full run takes about twenty minutes on two cores (plus a few minutes the
first time, to build and convert the models); ``--quick`` (fewer repetitions,
no one-vCPU runs) about ten; ``--smoke`` runs every measurement once on small
stand-in models, to check the machinery (the tests use it).
``--docs`` also rewrites the generated tables in README.md, docs/performance.md
and docs/sizing.md.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from importlib.metadata import version
from pathlib import Path
from typing import Any

from benchmarks.machine import describe_machine, git_revision
from benchmarks.markdown_section import write_section
from benchmarks.speed import measure, report, sizing
from benchmarks.speed.fixtures import DEFAULT_CACHE, ROOT, prepare
from benchmarks.speed.footprint import footprint

PLANS = {
    "full": measure.Plan(
        router_repetitions=7,
        model_repetitions=5,
        minilm_warm=50,
        generator_warm=3,
        chat_warm=2,
        decode_runs=2,
        acks=1000,
        sizing=True,
    ),
    "quick": measure.Plan(
        router_repetitions=5,
        model_repetitions=3,
        minilm_warm=30,
        generator_warm=2,
        chat_warm=1,
        decode_runs=2,
        acks=500,
        sizing=False,
    ),
    "smoke": measure.Plan(
        router_repetitions=1,
        model_repetitions=1,
        minilm_warm=3,
        generator_warm=1,
        chat_warm=1,
        decode_runs=1,
        acks=20,
        sizing=False,
    ),
}
SECTION = "speed-benchmark"
VERSIONS = ("torch", "transformers", "tokenizers", "onnxruntime", "onnxruntime-genai", "ctranslate2", "slack-bolt")


def run(mode: str, cache: Path) -> dict[str, Any]:
    """Every measurement of ``mode``, as the JSON document ``results.json`` holds."""
    plan = PLANS[mode]
    started = time.monotonic()
    results: dict[str, Any] = {
        "schema": 1,
        "mode": mode,
        "started_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "revision": git_revision(),
        "machine": describe_machine(),
        "versions": {package: version(package) for package in VERSIONS},
        "plan": plan.__dict__,
        # Other work on a shared machine slows both sides of every comparison, torch's threads the most.
        "load_average": {"start": [round(load, 2) for load in os.getloadavg()]},
    }
    print("preparing the models (built once, then cached)...", flush=True)
    models = prepare(cache, smoke=mode == "smoke")
    steps = [
        ("router_cold_start", "router cold start", lambda: measure.router_cold_start(plan)),
        ("ack_latency", "ack latency", lambda: measure.ack_latency(plan)),
        ("models", "model handlers", lambda: measure.model_handlers(models, plan)),
        ("footprint", "image footprints", footprint),
    ]
    if plan.sizing:
        steps.append(("one_vcpu", "one-vCPU runs for sizing", lambda: measure.one_thread(models, plan)))
    for key, label, step in steps:
        print(f"measuring {label}...", flush=True)
        results[key] = step()
    table = report.rows(results)
    results["goals"] = report.goals(table)
    results["load_average"]["end"] = [round(load, 2) for load in os.getloadavg()]
    results["duration_s"] = round(time.monotonic() - started, 1)
    return results


def _load(results: dict[str, Any]) -> str:
    """The machine's 15-minute load average at the start and the end of the run, where recorded."""
    load = results.get("load_average")
    if not load or "end" not in load:
        return "load not recorded"
    return f"load average {load['start'][2]:.1f} at the start, {load['end'][2]:.1f} at the end"


def write_docs(results: dict[str, Any], chart: Path) -> None:
    """The generated parts of README.md, docs/performance.md and docs/sizing.md."""
    table = report.markdown(report.rows(results))
    machine = results["machine"]
    stamp = (
        f"_{results['mode']} run of {results['started_at']} at {results['revision'] or 'an unknown revision'}, "
        f"{machine['cpus']} CPUs ({machine['cpu_model']}), {results['duration_s']:.0f} s, "
        f"{_load(results)}; "
        f"medians of {results['plan']['model_repetitions']} alternated runs per model handler "
        f"and {results['plan']['router_repetitions']} per router process._"
    )
    image = chart.relative_to(ROOT)
    write_section(ROOT / "README.md", SECTION, f"{stamp}\n\n{table}\n\n![Speed goals]({image})")
    write_section(ROOT / "docs" / "performance.md", SECTION, f"{stamp}\n\n{table}\n\n![Speed goals](../{image})")
    if "one_vcpu" in results:
        write_section(ROOT / "docs" / "sizing.md", sizing.SECTION, sizing.markdown(results))


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.speed", description=__doc__.splitlines()[0])
    modes = parser.add_mutually_exclusive_group()
    modes.add_argument("--quick", action="store_const", const="quick", dest="mode", help="fewer repetitions")
    modes.add_argument("--smoke", action="store_const", const="smoke", dest="mode", help="once each, small models")
    parser.add_argument("--json", type=Path, default=ROOT / "benchmarks" / "results.json", help="results file")
    parser.add_argument("--chart", type=Path, default=ROOT / "docs" / "performance.png", help="PNG chart")
    parser.add_argument("--cache", type=Path, default=DEFAULT_CACHE, help="where the prepared models are kept")
    parser.add_argument("--docs", action="store_true", help="rewrite the generated tables in the docs")
    args = parser.parse_args(argv)
    results = run(args.mode or "full", args.cache)
    table = report.rows(results)
    print()
    print(report.text(table))
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    report.chart(table, args.chart.resolve())
    if args.docs:
        write_docs(results, args.chart.resolve())
    print(f"\nwrote {args.json} and {args.chart}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
