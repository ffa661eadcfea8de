"""The measurements: each subject against its baseline, alternated, repeated, summarised by medians."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchmarks.speed.fixtures import ARTICLE, GENERATED_TOKENS, ROOT, SIMILARITY_LINE, Models
from benchmarks.speed.processes import ProbeRun, run_probe
from benchmarks.speed.stats import alternate, median, percentile, ratio

ROUTER_SECRET = "bench-signing-secret-0123456789"
#: The router Lambda's environment, with AWS and Slack pointed nowhere: the ack path calls neither.
ROUTER_ENV = {
    "SLACK_SIGNING_SECRET": ROUTER_SECRET,
    "SLACK_BOT_TOKEN": "xoxb-bench-token-0123456789",
    "SLACK_API_URL": "http://127.0.0.1:9/api/",
    "MODEL_FUNCTION_PREFIX": "hf-bench",
    "STATE_TABLE": "hf-bench-state",
    "FEEDBACK_TABLE": "hf-bench-feedback",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_ACCESS_KEY_ID": "bench",
    "AWS_SECRET_ACCESS_KEY": "bench",
}


@dataclass(frozen=True)
class Plan:
    """How much to measure: repetitions per comparison, warm requests per process, acks per mode."""

    router_repetitions: int
    model_repetitions: int
    minilm_warm: int
    summarizer_warm: int
    acks: int
    sizing: bool


def _signed_command() -> str:
    from tests.fakes.signing import FORM, signed_headers
    from tests.fakes.slack_client import api_gateway_event, slash_command_body

    body = slash_command_body("/sentiment", "What a great day")
    event = api_gateway_event("POST", "/slack/events", body, signed_headers(body, ROUTER_SECRET, content_type=FORM))
    return json.dumps(event)


def router_cold_start(plan: Plan) -> dict[str, Any]:
    """A fresh router process handling one signed slash command, against ``from transformers import pipeline``."""
    runs = alternate(
        {
            "router": lambda: run_probe(["router"], env=ROUTER_ENV, stdin=_signed_command(), timeout=120),
            "transformers": lambda: run_probe(["transformers"], env={}, timeout=120),
        },
        plan.router_repetitions,
    )
    for run in runs["router"]:
        if run.report["status"] != 200:
            raise RuntimeError(f"the router answered the slash command with {run.report['status']}")
    ours, baseline = [r.cold_s for r in runs["router"]], [r.cold_s for r in runs["transformers"]]
    return {
        "ours_s": ours,
        "baseline_s": baseline,
        "ours_median_s": median(ours),
        "baseline_median_s": median(baseline),
        "ratio": ratio(median(ours), median(baseline)),
        "peak_rss_mb": median([r.report["peak_rss_kib"] / 1024 for r in runs["router"]]),
    }


def ack_latency(plan: Plan) -> dict[str, Any]:
    """Warm ack latency in local and Lambda mode, each in its own process (see :mod:`benchmarks.speed.acks`)."""
    results = {}
    for mode in ("local", "lambda"):
        done = subprocess.run(
            [sys.executable, "-m", "benchmarks.speed.acks", "--requests", str(plan.acks), "--mode", mode],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
        if done.returncode != 0:
            raise RuntimeError(f"the {mode} ack run failed (exit {done.returncode}):\n{done.stderr[-2000:]}")
        results[mode] = json.loads(done.stdout.strip().splitlines()[-1])
    return results


def evict(folder: Path) -> None:
    """Drop ``folder``'s files from the page cache, as a fresh Lambda finds its weights: on disk, not in memory."""
    for path in folder.rglob("*"):
        if path.is_file():
            descriptor = os.open(path, os.O_RDONLY)
            try:
                os.posix_fadvise(descriptor, 0, 0, os.POSIX_FADV_DONTNEED)
            finally:
                os.close(descriptor)


def _summary(runs: list[ProbeRun]) -> dict[str, Any]:
    return {
        "cold_s": [r.cold_s for r in runs],
        "cold_median_s": median([r.cold_s for r in runs]),
        "warm_p50_ms": median([percentile(r.report["warm_ms"], 50) for r in runs]),
        "warm_p95_ms": median([percentile(r.report["warm_ms"], 95) for r in runs]),
        "peak_rss_mb": median([r.report["peak_rss_kib"] / 1024 for r in runs]),
    }


def _subject(folder: Path, args: list[str], env: dict[str, str]) -> Callable[[], ProbeRun]:
    def run() -> ProbeRun:
        evict(folder)
        return run_probe(args, env=env, timeout=900)

    return run


def model_handlers(models: Models, plan: Plan) -> dict[str, Any]:
    """Cold start, warm latency and peak memory of our handler (each backend) against the seed-style one."""
    registry = str(models.registry)
    minilm_event = json.dumps({"text": SIMILARITY_LINE})
    minilm = {"MODELS_FILE": registry, "BENCH_EVENT": minilm_event, "BENCH_WARM": str(plan.minilm_warm)}
    seed_minilm = {"SEED_TASK": "sentence-similarity", "SEED_MODEL": str(models.minilm), **minilm}
    fixed = {"min_new_tokens": GENERATED_TOKENS, "max_new_tokens": GENERATED_TOKENS}
    summarizer = {
        "MODELS_FILE": registry,
        "BENCH_EVENT": json.dumps({"text": ARTICLE}),  # the entry's parameters fix the length
        "BENCH_WARM": str(plan.summarizer_warm),
    }
    seed_summarizer = {
        **summarizer,
        "SEED_TASK": "summarization",
        "SEED_MODEL": str(models.summarizer),
        "BENCH_EVENT": json.dumps({"text": ARTICLE, "parameters": fixed}),
    }
    comparisons = {
        "all-MiniLM-L6-v2": (
            models.minilm,
            {
                "seed": (["seed"], seed_minilm),
                "torch": (["ours", "minilm-torch"], minilm),
                "onnx": (["ours", "minilm-onnx"], minilm),
                "onnx-int8": (["ours", "minilm-onnx-int8"], minilm),
            },
        ),
        "distilbart-cnn-12-6 (shape)": (
            models.summarizer,
            {"seed": (["seed"], seed_summarizer), "torch": (["ours", "summarizer-torch"], summarizer)},
        ),
    }
    results: dict[str, Any] = {}
    for model, (folder, subjects) in comparisons.items():
        runs = alternate(
            {name: _subject(folder, args, env) for name, (args, env) in subjects.items()}, plan.model_repetitions
        )
        results[model] = {name: _summary(model_runs) for name, model_runs in runs.items()}
    return results


def one_thread(models: Models, plan: Plan) -> dict[str, Any]:
    """Our handlers at one vCPU's memory (1,769 MB: one thread), for the sizing estimates."""
    minilm = {"MODELS_FILE": str(models.registry), "BENCH_EVENT": json.dumps({"text": SIMILARITY_LINE})}
    summarizer = {"MODELS_FILE": str(models.registry), "BENCH_EVENT": json.dumps({"text": ARTICLE})}
    subjects = {
        "all-MiniLM-L6-v2 torch": (models.minilm, ["ours", "minilm-torch-1cpu"], minilm, plan.minilm_warm),
        "all-MiniLM-L6-v2 onnx": (models.minilm, ["ours", "minilm-onnx-1cpu"], minilm, plan.minilm_warm),
        "distilbart-cnn-12-6 (shape) torch": (
            models.summarizer,
            ["ours", "summarizer-torch-1cpu"],
            summarizer,
            plan.summarizer_warm,
        ),
    }
    runs = alternate(
        {
            name: _subject(folder, args, {**env, "BENCH_WARM": str(warm)})
            for name, (folder, args, env, warm) in subjects.items()
        },
        plan.model_repetitions,
    )
    return {name: _summary(subject_runs) for name, subject_runs in runs.items()}
