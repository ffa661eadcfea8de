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

from benchmarks.speed.fixtures import (
    ARTICLE,
    CHAT_TOKENS,
    DECODE_TOKENS,
    GENERATED_TOKENS,
    QUESTION,
    ROOT,
    SENTENCE,
    SHORT_TOKENS,
    SIMILARITY_LINE,
    Models,
)
from benchmarks.speed.media_fixtures import CAPTION_TOKENS, LABELS, TRANSCRIPT_TOKENS
from benchmarks.speed.processes import ProbeRun, run_probe
from benchmarks.speed.stats import alternate, median, percentile, ratio
from inference.media import AUDIO, IMAGE
from inference.media_store import MEDIA_DIR_ENV

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
    """How much to measure: repetitions per comparison, warm requests per process, acks per mode.

    ``generator_warm`` is the seq2seq models' (and the captioner's and Whisper's) warm requests per process,
    ``chat_warm`` the chat model's, ``image_warm`` the image encoders'; ``decode_runs`` the long and short
    greedy requests each process answers for the decode figure.
    """

    router_repetitions: int
    model_repetitions: int
    minilm_warm: int
    image_warm: int
    generator_warm: int
    chat_warm: int
    decode_runs: int
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


def evict(*folders: Path) -> None:
    """Drop the folders' files from the page cache, as a fresh Lambda finds its weights: on disk, not in memory."""
    for folder in folders:
        for path in folder.rglob("*"):
            if path.is_file():
                descriptor = os.open(path, os.O_RDONLY)
                try:
                    os.posix_fadvise(descriptor, 0, 0, os.POSIX_FADV_DONTNEED)
                finally:
                    os.close(descriptor)


def decode_tokens_per_s(decode: dict[str, list[float]], tokens: int = DECODE_TOKENS - SHORT_TOKENS) -> float:
    """Decoding speed: the long request writes ``tokens`` more than the short one, in the extra time it takes."""
    extra_ms = median(decode["long_ms"]) - median(decode["short_ms"])
    return tokens / max(extra_ms, 0.01) * 1000


def _summary(runs: list[ProbeRun]) -> dict[str, Any]:
    summary = {
        "cold_s": [r.cold_s for r in runs],
        "cold_median_s": median([r.cold_s for r in runs]),
        "warm_p50_ms": median([percentile(r.report["warm_ms"], 50) for r in runs]),
        "warm_p95_ms": median([percentile(r.report["warm_ms"], 95) for r in runs]),
        "peak_rss_mb": median([r.report["peak_rss_kib"] / 1024 for r in runs]),
    }
    if all("decode" in r.report for r in runs):
        per_run = [decode_tokens_per_s(r.report["decode"]) for r in runs]
        summary.update(decode_tok_s=median(per_run), decode_tok_s_runs=per_run)
    return summary


def _subject(folders: tuple[Path, ...], args: list[str], env: dict[str, str]) -> Callable[[], ProbeRun]:
    def run() -> ProbeRun:
        evict(*folders)
        return run_probe(args, env=env, timeout=900)

    return run


@dataclass(frozen=True)
class Comparison:
    """One model: the seed-style handler's task, our entries on it (their result keys), and the requests.

    ``event`` is the first and every warm request; ``decode``, when set, the long and short greedy
    requests of the decode figure. Both handlers get the same requests.
    """

    title: str
    model: str
    task: str
    entries: dict[str, str]
    event: dict[str, Any]
    warm: int
    decode: dict[str, Any] | None = None


def _fixed(tokens: int, **extra: Any) -> dict[str, Any]:
    return {"min_new_tokens": tokens, "max_new_tokens": tokens, **extra}


def _decode(text: str, runs: int) -> dict[str, Any]:
    """Greedy requests of DECODE_TOKENS and of SHORT_TOKENS new tokens, the same on both sides."""
    return {
        "long": {"text": text, "parameters": _fixed(DECODE_TOKENS, num_beams=1, do_sample=False)},
        "short": {"text": text, "parameters": _fixed(SHORT_TOKENS, num_beams=1, do_sample=False)},
        "runs": runs,
    }


def entry_label(models: Models, name: str) -> str:
    """A result key for our entry ``name``: its backend and, when quantized, the quantization (``onnx-int8``)."""
    from inference.registry import load_registry

    spec = load_registry(models.registry).get(name)
    return spec.backend if spec.quantize == "none" else f"{spec.backend}-{spec.quantize}"


#: The models compared, by title (the report's labels). Our entries are fixtures.entries().
MINILM, SUMMARIZER = "all-MiniLM-L6-v2", "distilbart-cnn-12-6 (shape)"
TRANSLATOR, CHAT = "opus-mt-en-fr (shape)", "Qwen2.5-0.5B-Instruct (shape)"
VIT, CLIP = "vit-base-patch16-224 (shape)", "clip-vit-base-patch32 (shape)"
YOLOS, BLIP, WHISPER = "yolos-tiny (shape)", "blip-image-captioning-base (shape)", "whisper-tiny (shape)"
MEDIA_TITLES = (VIT, CLIP, YOLOS, BLIP, WHISPER)


def _ours(models: Models, *names: str) -> dict[str, str]:
    return {entry_label(models, name): name for name in names}


def media_comparisons(models: Models, plan: Plan) -> list[Comparison]:
    """The file tasks' comparisons: each default model's shape on its default backend, the same file on both
    sides (the photo for the image tasks, the recording for Whisper), generation bounded and fixed."""
    image, audio = models.files[IMAGE], models.files[AUDIO]
    speech = {"max_new_tokens": TRANSCRIPT_TOKENS, "language": "en"}  # no detection: the same prompt on both sides
    return [
        Comparison(
            VIT,
            "vit",
            "image-classification",
            _ours(models, "classify-image"),
            {"text": "", "file": image},
            plan.image_warm,
        ),
        Comparison(
            CLIP,
            "clip",
            "zero-shot-image-classification",
            _ours(models, "label-image"),
            {"text": LABELS, "file": image},
            plan.image_warm,
        ),
        Comparison(
            YOLOS, "yolos", "object-detection", _ours(models, "detect"), {"text": "", "file": image}, plan.image_warm
        ),
        Comparison(
            BLIP,
            "blip",
            "image-to-text",
            _ours(models, "caption"),
            {"text": "", "file": image, "parameters": _fixed(CAPTION_TOKENS)},
            plan.generator_warm,
        ),
        Comparison(
            WHISPER,
            "whisper",
            "automatic-speech-recognition",
            _ours(models, "transcribe"),
            {"text": "", "file": audio, "parameters": speech},
            plan.generator_warm,
        ),
    ]


def comparisons(models: Models, plan: Plan) -> list[Comparison]:
    """The text models' comparisons: each model, its seed task, our entries on it, the requests."""

    def ours(*names: str) -> dict[str, str]:
        return _ours(models, *names)

    return [
        Comparison(
            MINILM,
            "minilm",
            "sentence-similarity",
            ours("minilm-torch", "minilm-onnx", "minilm-onnx-int8"),
            {"text": SIMILARITY_LINE},
            plan.minilm_warm,
        ),
        Comparison(
            SUMMARIZER,
            "summarizer",
            "summarization",
            ours("summarizer"),
            {"text": ARTICLE, "parameters": _fixed(GENERATED_TOKENS)},  # distilbart's 4 beams
            plan.generator_warm,
            _decode(ARTICLE, plan.decode_runs),
        ),
        Comparison(
            TRANSLATOR,
            "translator",
            "translation",
            ours("translator"),
            {"text": SENTENCE, "parameters": _fixed(GENERATED_TOKENS)},  # opus-mt's 4 beams
            plan.generator_warm,
            _decode(SENTENCE, plan.decode_runs),
        ),
        Comparison(
            CHAT,
            "chat",
            "text-generation",
            ours("chat"),
            {"text": QUESTION, "parameters": _fixed(CHAT_TOKENS, do_sample=False)},
            plan.chat_warm,
            _decode(QUESTION, plan.decode_runs),
        ),
    ]


def _env(models: Models, comparison: Comparison, warm: int) -> dict[str, str]:
    env = {"MODELS_FILE": str(models.registry), "BENCH_EVENT": json.dumps(comparison.event), "BENCH_WARM": str(warm)}
    if comparison.decode:
        env["BENCH_DECODE"] = json.dumps(comparison.decode)
    if "file" in comparison.event:
        env[MEDIA_DIR_ENV] = str(models.media_dir)
    return env


def model_handlers(models: Models, plan: Plan, chosen: list[Comparison]) -> dict[str, Any]:
    """Cold start, warm latency, decode speed and peak memory of our handler against the seed-style one,
    for each of the ``chosen`` comparisons (:func:`comparisons`, :func:`media_comparisons`)."""
    results: dict[str, Any] = {}
    for comparison in chosen:
        folder = models.folders[comparison.model]
        # A fresh function reads its file from S3 too: the stored request is dropped from the page cache with the model.
        evicted = (folder, models.hf_home, *((models.media_dir,) if "file" in comparison.event else ()))
        env = _env(models, comparison, comparison.warm)
        seed = {**env, "SEED_TASK": comparison.task, "SEED_MODEL": str(folder)}
        subjects = {"seed": _subject(evicted, ["seed"], seed)} | {
            label: _subject(evicted, ["ours", name], env) for label, name in comparison.entries.items()
        }
        print(f"  {comparison.title}: {', '.join(subjects)}", flush=True)
        runs = alternate(subjects, plan.model_repetitions)
        results[comparison.title] = {name: _summary(subject_runs) for name, subject_runs in runs.items()}
    return results


def one_thread(models: Models, plan: Plan) -> dict[str, Any]:
    """Our default (fast) entries at one vCPU's memory (1,769 MB: one thread), for the sizing estimates."""
    subjects = {}
    for comparison in comparisons(models, plan):
        folder = models.folders[comparison.model]
        label, name = list(comparison.entries.items())[-1]  # the default backend and quantization: listed last
        env = _env(models, comparison, comparison.warm)
        subjects[f"{comparison.title} {label}"] = _subject((folder, models.hf_home), ["ours", f"{name}-1cpu"], env)
    runs = alternate(subjects, plan.model_repetitions)
    return {name: _summary(subject_runs) for name, subject_runs in runs.items()}
