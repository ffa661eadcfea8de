"""Lambda memory settings for the default models, estimated from the benchmark's one-vCPU measurements.

Two models are measured (all-MiniLM-L6-v2 and the distilbart-cnn-12-6-shaped
summarizer, torch backend, one thread); the others are scaled from them by
their size and the work one request does. See ``docs/sizing.md`` for the method
and its limits. :func:`markdown` renders the generated table; :func:`recommend`
gives the memory the registry uses.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from inference.registry import MB_PER_VCPU

SECTION = "sizing-table"
#: AWS Lambda, x86, us-east-1, first pricing tier (aws.amazon.com/lambda/pricing, unchanged since Dec 2020).
PRICE_PER_GB_SECOND = 0.0000166667
PRICE_PER_REQUEST = 0.20 / 1_000_000
SETTINGS_MB = (1024, 1769, 2048, 3008, 3538, 4096, 6144, 10240)
#: Lambda's memory must hold the process's peak RSS plus the runtime and some slack.
HEADROOM = 1.2
#: Requests slower than this at one vCPU get two: people wait for the answer in Slack.
SLOW_REQUEST_S = 10.0
MINILM = "all-MiniLM-L6-v2 torch"
SUMMARIZER = "distilbart-cnn-12-6 (shape) torch"
#: The measured summarizer request: 20 new tokens with 4 beams; the measured similarity request: about 36 tokens.
MEASURED_NEW_TOKENS, MEASURED_BEAMS, MEASURED_SIMILARITY_TOKENS = 20, 4, 36
MINILM_PARAMS_M, DISTILBART_PARAMS_M = 22.7, 306.0
MINILM_WEIGHTS_GB, DISTILBART_WEIGHTS_GB = 0.091, 1.222


@dataclass(frozen=True)
class Model:
    """A default registry entry's size and the work of one typical request.

    ``tokens`` is what an encoder reads per request; ``new_tokens`` and ``beams``
    what a generator writes (0 for encoder tasks). Parameter counts are the model
    cards'; weights are float32, as the runners load them.
    """

    name: str
    params_m: float
    weights_gb: float
    tokens: int = 0
    new_tokens: int = 0
    beams: int = 1


DEFAULT_MODELS = (
    Model("sentiment", 67, 0.268, tokens=32),
    Model("summarize", 306, 1.222, new_tokens=142, beams=4),
    Model("translate-en-fr", 75, 0.301, new_tokens=40, beams=4),
    Model("similarity", 22.7, 0.091, tokens=36),
    Model("zero-shot", 407, 1.629, tokens=3 * 40),
    Model("ner", 108, 0.433, tokens=32),
    Model("qa", 65, 0.261, tokens=96),
    Model("ask", 494, 1.976, new_tokens=256, beams=1),
    Model("fill-mask", 82, 0.331, tokens=24),
)


@dataclass(frozen=True)
class Calibration:
    """Fitted from the two measured models at one vCPU."""

    cold_base_s: float
    cold_per_gb_s: float
    rss_base_mb: float
    rss_per_gb_mb: float
    encoder_s_per_m_token: float
    generator_s_per_m_token: float
    two_vcpu_speedup: float


def calibrate(results: dict[str, Any]) -> Calibration:
    one = results["one_vcpu"]
    small, large = one[MINILM], one[SUMMARIZER]
    span = DISTILBART_WEIGHTS_GB - MINILM_WEIGHTS_GB
    cold_per_gb = (large["cold_median_s"] - small["cold_median_s"]) / span
    rss_per_gb = (large["peak_rss_mb"] - small["peak_rss_mb"]) / span
    two = results["models"]["distilbart-cnn-12-6 (shape)"]["torch"]
    return Calibration(
        cold_base_s=small["cold_median_s"] - cold_per_gb * MINILM_WEIGHTS_GB,
        cold_per_gb_s=cold_per_gb,
        rss_base_mb=small["peak_rss_mb"] - rss_per_gb * MINILM_WEIGHTS_GB,
        rss_per_gb_mb=rss_per_gb,
        encoder_s_per_m_token=small["warm_p50_ms"] / 1000 / (MINILM_PARAMS_M * MEASURED_SIMILARITY_TOKENS),
        generator_s_per_m_token=large["warm_p50_ms"]
        / 1000
        / (DISTILBART_PARAMS_M * MEASURED_NEW_TOKENS * MEASURED_BEAMS),
        two_vcpu_speedup=max(1.0, large["warm_p50_ms"] / two["warm_p50_ms"]),
    )


def share(memory_mb: int) -> float:
    """The vCPUs Lambda gives ``memory_mb``: a fraction of one below 1,769 MB, one more per 1,769 MB above."""
    return memory_mb / MB_PER_VCPU


def speedup(vcpus: float, calibration: Calibration) -> float:
    """How much faster a request runs on ``vcpus`` than on one: the measured two-thread gain, extended linearly."""
    if vcpus <= 1:
        return vcpus
    return 1 + (vcpus - 1) * (calibration.two_vcpu_speedup - 1)


def request_s(model: Model, calibration: Calibration) -> float:
    """One request at one vCPU: work proportional to parameters times tokens (times beams when generating)."""
    if model.new_tokens:
        return calibration.generator_s_per_m_token * model.params_m * model.new_tokens * model.beams
    return calibration.encoder_s_per_m_token * model.params_m * model.tokens


def cold_s(model: Model, memory_mb: int, calibration: Calibration) -> float:
    """Imports and loading run on one thread: slower below one vCPU, no faster above."""
    one_vcpu = calibration.cold_base_s + calibration.cold_per_gb_s * model.weights_gb
    return one_vcpu / min(1.0, share(memory_mb))


def required_mb(model: Model, calibration: Calibration) -> int:
    """The estimated peak RSS with headroom, rounded up to a multiple of 64 MB."""
    needed = (calibration.rss_base_mb + calibration.rss_per_gb_mb * model.weights_gb) * HEADROOM
    return math.ceil(needed / 64) * 64


def warm_s(model: Model, memory_mb: int, calibration: Calibration) -> float:
    return request_s(model, calibration) / speedup(share(memory_mb), calibration)


def cost_per_1000(model: Model, memory_mb: int, calibration: Calibration) -> float:
    seconds = warm_s(model, memory_mb, calibration)
    return 1000 * (seconds * memory_mb / 1024 * PRICE_PER_GB_SECOND + PRICE_PER_REQUEST)


def recommend(model: Model, calibration: Calibration) -> int:
    """One full vCPU (cheapest per request and fastest cold start), more if the model needs the memory,
    two vCPUs if a request still takes longer than ``SLOW_REQUEST_S`` on one."""
    floor = 2 * MB_PER_VCPU if request_s(model, calibration) > SLOW_REQUEST_S else MB_PER_VCPU
    return max(floor, required_mb(model, calibration))


def _grid(title: str, cell: Any, calibration: Calibration) -> list[str]:
    lines = [title, "", "| Model | " + " | ".join(f"{m} MB" for m in SETTINGS_MB) + " |"]
    lines.append("|---|" + "---:|" * len(SETTINGS_MB))
    for model in DEFAULT_MODELS:
        needs = required_mb(model, calibration)
        cells = ["—" if memory < needs else cell(model, memory) for memory in SETTINGS_MB]
        lines.append(f"| {model.name} | " + " | ".join(cells) + " |")
    return [*lines, ""]


def markdown(results: dict[str, Any]) -> str:
    """The generated part of docs/sizing.md: the defaults, then cost and cold start per memory setting."""
    calibration = calibrate(results)
    lines = [
        f"_Estimated from the {results['mode']} benchmark run of {results['started_at']} "
        f"(revision {results['revision'] or 'unknown'}). A dash: the model does not fit._",
        "",
        "| Model | Needs (peak RSS + 20%) | One request at 1 vCPU | Default memory | Cold start there | "
        "1,000 warm requests there |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for model in DEFAULT_MODELS:
        memory = recommend(model, calibration)
        lines.append(
            f"| {model.name} | {required_mb(model, calibration)} MB | {request_s(model, calibration):.2g} s | "
            f"{memory} MB | {cold_s(model, memory, calibration):.1f} s | "
            f"${cost_per_1000(model, memory, calibration):.4f} |"
        )
    lines.append("")
    lines += _grid(
        "Cost of 1,000 warm requests (USD):",
        lambda model, memory: f"${cost_per_1000(model, memory, calibration):.4f}",
        calibration,
    )
    lines += _grid(
        "Cold start, from the container's start to the first answer (seconds):",
        lambda model, memory: f"{cold_s(model, memory, calibration):.1f}",
        calibration,
    )
    lines.append(
        f"Calibration: cold start {calibration.cold_base_s:.2f} s + {calibration.cold_per_gb_s:.2f} s per GB of "
        f"weights; peak RSS {calibration.rss_base_mb:.0f} MB + {calibration.rss_per_gb_mb:.0f} MB per GB; "
        f"{calibration.encoder_s_per_m_token * 1e6:.1f} µs per million parameters per token read, "
        f"{calibration.generator_s_per_m_token * 1e6:.1f} µs per million parameters per token and beam written; "
        f"two vCPUs run a request {calibration.two_vcpu_speedup:.2f} times as fast as one."
    )
    return "\n".join(lines)
