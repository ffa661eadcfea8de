"""``python -m benchmarks.speed``: measure, print the table, write the JSON and the chart.

Usage::

    python -m benchmarks.speed [--quick | --smoke] [--only media] [--json benchmarks/results.json]
                               [--chart docs/performance.png] [--docs] [--cache benchmarks/.cache]

The full run takes about twenty minutes on two cores (plus a few minutes the
first time, to build and convert the models); ``--quick`` (fewer repetitions,
no one-vCPU runs) about ten; ``--smoke`` runs every measurement once on small
stand-in models, to check the machinery (the tests use it).
``--only media`` measures the five file tasks alone and puts their rows into
the results file's last run (which must exist), keeping its other figures; the
docs' stamp then names both runs.
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
        image_warm=10,
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
        image_warm=5,
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
        image_warm=1,
        generator_warm=1,
        chat_warm=1,
        decode_runs=1,
        acks=20,
        sizing=False,
    ),
}
SECTION = "speed-benchmark"
VERSIONS = ("torch", "transformers", "tokenizers", "onnxruntime", "onnxruntime-genai", "ctranslate2", "slack-bolt")


def _header(mode: str, plan: measure.Plan) -> dict[str, Any]:
    """What a run records of itself: when, where, with what."""
    return {
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


def _close(results: dict[str, Any], started: float) -> None:
    results["load_average"]["end"] = [round(load, 2) for load in os.getloadavg()]
    results["duration_s"] = round(time.monotonic() - started, 1)


def run(mode: str, cache: Path) -> dict[str, Any]:
    """Every measurement of ``mode``, as the JSON document ``results.json`` holds."""
    plan = PLANS[mode]
    started = time.monotonic()
    results = _header(mode, plan)
    print("preparing the models (built once, then cached)...", flush=True)
    models = prepare(cache, smoke=mode == "smoke")
    chosen = measure.comparisons(models, plan) + measure.media_comparisons(models, plan)
    steps = [
        ("router_cold_start", "router cold start", lambda: measure.router_cold_start(plan)),
        ("ack_latency", "ack latency", lambda: measure.ack_latency(plan)),
        ("models", "model handlers", lambda: measure.model_handlers(models, plan, chosen)),
        ("footprint", "image footprints", footprint),
    ]
    if plan.sizing:
        steps.append(("one_vcpu", "one-vCPU runs for sizing", lambda: measure.one_thread(models, plan)))
    for key, label, step in steps:
        print(f"measuring {label}...", flush=True)
        results[key] = step()
    _close(results, started)
    results["goals"] = report.goals(report.rows(results))
    return results


#: The part of a run's record that names it, kept for the file tasks' rows when they come from a later run.
RUN_FIELDS = ("mode", "started_at", "revision", "plan", "load_average", "duration_s")


def run_media(mode: str, cache: Path, previous: dict[str, Any]) -> dict[str, Any]:
    """The file tasks' comparisons alone, merged into ``previous`` (the last run's results): their rows
    replaced, every other figure kept, and this run's own record under ``media_run``."""
    plan = PLANS[mode]
    started = time.monotonic()
    media = _header(mode, plan)
    print("preparing the file tasks' models (built once, then cached)...", flush=True)
    models = prepare(cache, smoke=mode == "smoke", text=False)
    print("measuring the file task handlers...", flush=True)
    measured = measure.model_handlers(models, plan, measure.media_comparisons(models, plan))
    _close(media, started)
    results = {**previous, "models": {**previous["models"], **measured}}
    results["media_run"] = {field: media[field] for field in RUN_FIELDS}
    results["goals"] = report.goals(report.rows(results))
    return results


def _load(results: dict[str, Any]) -> str:
    """The machine's 15-minute load average at the start and the end of the run, where recorded."""
    load = results.get("load_average")
    if not load or "end" not in load:
        return "load not recorded"
    return f"load average {load['start'][2]:.1f} at the start, {load['end'][2]:.1f} at the end"


def _stamp(run: dict[str, Any], where: str = "") -> str:
    return (
        f"{run['mode']} run of {run['started_at']} at {run['revision'] or 'an unknown revision'}, "
        f"{where}{run['duration_s']:.0f} s, {_load(run)}"
    )


def stamp(results: dict[str, Any]) -> str:
    """The line above the generated table: the run (and, for rows from ``--only media``, that run too)."""
    machine = results["machine"]
    where = f"{machine['cpus']} CPUs ({machine['cpu_model']}), "
    text = (
        f"_{_stamp(results, where)}; "
        f"medians of {results['plan']['model_repetitions']} alternated runs per model handler "
        f"and {results['plan']['router_repetitions']} per router process._"
    )
    if "media_run" in results:
        media = results["media_run"]
        text += (
            f"\n\n_The file tasks' rows ({', '.join(measure.MEDIA_TITLES)}): {_stamp(media)}; medians of "
            f"{media['plan']['model_repetitions']} alternated runs per handler._"
        )
    return text


def write_docs(results: dict[str, Any], chart: Path) -> None:
    """The generated parts of README.md, docs/performance.md and docs/sizing.md."""
    table = report.markdown(report.rows(results))
    image = chart.relative_to(ROOT)
    write_section(ROOT / "README.md", SECTION, f"{stamp(results)}\n\n{table}\n\n![Speed goals]({image})")
    write_section(
        ROOT / "docs" / "performance.md", SECTION, f"{stamp(results)}\n\n{table}\n\n![Speed goals](../{image})"
    )
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
    parser.add_argument(
        "--only", choices=["media"], help="measure the file tasks alone, into the results file's last run"
    )
    args = parser.parse_args(argv)
    if args.only == "media":
        if not args.json.is_file():
            parser.error(f"--only media adds to a whole run's results, and {args.json} does not exist: run without it")
        previous = json.loads(args.json.read_text(encoding="utf-8"))
        results = run_media(args.mode or "full", args.cache, previous)
    else:
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
