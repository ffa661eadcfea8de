"""Lambda memory settings for the default models, estimated from the benchmark's one-vCPU measurements.

Four models are measured on their default fast runtime with one thread: all-MiniLM-L6-v2 (ONNX Runtime,
int8), the distilbart-cnn-12-6- and opus-mt-en-fr-shaped seq2seq models (CTranslate2, int8) and the
Qwen2.5-0.5B-Instruct-shaped chat model (onnxruntime-genai, int4). The other default models are scaled
from the measured one of their family by their parameter count and the work one request does. See
``docs/sizing.md`` for the method and its limits. :func:`markdown` renders the generated table;
:func:`recommend` gives the memory the registry uses.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from benchmarks.speed.fixtures import CHAT_TOKENS, GENERATED_TOKENS
from benchmarks.speed.measure import CHAT, MINILM, SUMMARIZER, TRANSLATOR
from inference.registry import MB_PER_VCPU

SECTION = "sizing-table"
#: AWS Lambda, x86, us-east-1, first pricing tier (aws.amazon.com/lambda/pricing, unchanged since Dec 2020).
PRICE_PER_GB_SECOND = 0.0000166667
PRICE_PER_REQUEST = 0.20 / 1_000_000
SETTINGS_MB = (512, 1024, 1769, 2048, 3008, 3538, 4096)
#: Lambda's memory must hold the process's peak RSS plus the runtime and some slack.
HEADROOM = 1.2
#: Requests slower than this at one vCPU get two: people wait for the answer in Slack.
SLOW_REQUEST_S = 10.0
#: The one-vCPU runs (measure.one_thread's keys) and the two-vCPU ones (measure.model_handlers' keys).
ENCODER, SEQ2SEQ, CHAT_FAMILY = "encoder", "seq2seq", "chat"
MEASURED = {
    ENCODER: (MINILM, "onnx-int8"),
    SEQ2SEQ: (SUMMARIZER, "ctranslate2-int8"),
    CHAT_FAMILY: (CHAT, "onnxruntime-genai-int4"),
}
SMALL_SEQ2SEQ = (TRANSLATOR, "ctranslate2-int8")
#: The measured requests' work: about 36 tokens read (similarity), 20 new tokens with 4 beams (summarizer),
#: CHAT_TOKENS greedy tokens (chat). Parameter counts are the model cards'.
MEASURED_SIMILARITY_TOKENS, MEASURED_BEAMS = 36, 4
PARAMS_M = {MINILM: 22.7, SUMMARIZER: 306.0, TRANSLATOR: 75.0, CHAT: 494.0}
UNITS = {ENCODER: "token read", SEQ2SEQ: "token and beam written", CHAT_FAMILY: "token written"}
RUNTIMES = {ENCODER: "ONNX Runtime int8", SEQ2SEQ: "CTranslate2 int8", CHAT_FAMILY: "onnxruntime-genai int4"}


@dataclass(frozen=True)
class Model:
    """A default registry entry's family, size and the work of one typical request.

    ``work`` is what one request does in the family's unit: tokens read (encoders), new tokens times
    beams (seq2seq), new tokens (chat). Parameter counts are the model cards'.
    """

    name: str
    family: str
    params_m: float
    work: int


DEFAULT_MODELS = (
    Model("sentiment", ENCODER, 67, 32),
    Model("summarize", SEQ2SEQ, 306, 142 * 4),
    Model("translate-en-fr", SEQ2SEQ, 75, 40 * 4),
    Model("similarity", ENCODER, 22.7, 36),
    Model("zero-shot", ENCODER, 407, 3 * 40),
    Model("ner", ENCODER, 108, 32),
    Model("qa", ENCODER, 65, 96),
    Model("ask", CHAT_FAMILY, 494, 256),
    Model("fill-mask", ENCODER, 82, 24),
)


@dataclass(frozen=True)
class Family:
    """Fitted for one runtime family at one vCPU: a base plus so much per million parameters."""

    cold_base_s: float
    cold_per_m_s: float
    rss_base_mb: float
    rss_per_m_mb: float
    #: Seconds per million parameters per unit of work (token read, token and beam written, token written).
    s_per_m_work: float
    two_vcpu_speedup: float


Calibration = dict[str, Family]


def calibrate(results: dict[str, Any]) -> Calibration:
    """Each family from its measured model; the per-parameter slopes from the two CTranslate2 models.

    Only the seq2seq family has two measured sizes (75 M and 306 M parameters, the same runtime and
    quantization), so their line's slopes are used for the other families' single points too.
    """
    one, two = results["one_vcpu"], results["models"]

    def measured(model: str, label: str) -> dict[str, Any]:
        return one[f"{model} {label}"]

    small, large = measured(*SMALL_SEQ2SEQ), measured(*MEASURED[SEQ2SEQ])
    span = PARAMS_M[SUMMARIZER] - PARAMS_M[TRANSLATOR]
    cold_per_m = max(0.0, (large["cold_median_s"] - small["cold_median_s"]) / span)
    rss_per_m = max(0.0, (large["peak_rss_mb"] - small["peak_rss_mb"]) / span)
    work = {
        ENCODER: MEASURED_SIMILARITY_TOKENS,
        SEQ2SEQ: GENERATED_TOKENS * MEASURED_BEAMS,
        CHAT_FAMILY: CHAT_TOKENS,
    }
    families = {}
    for family, (model, label) in MEASURED.items():
        point, params = measured(model, label), PARAMS_M[model]
        families[family] = Family(
            cold_base_s=point["cold_median_s"] - cold_per_m * params,
            cold_per_m_s=cold_per_m,
            rss_base_mb=point["peak_rss_mb"] - rss_per_m * params,
            rss_per_m_mb=rss_per_m,
            s_per_m_work=point["warm_p50_ms"] / 1000 / (params * work[family]),
            two_vcpu_speedup=max(1.0, point["warm_p50_ms"] / two[model][label]["warm_p50_ms"]),
        )
    return families


def share(memory_mb: int) -> float:
    """The vCPUs Lambda gives ``memory_mb``: a fraction of one below 1,769 MB, one more per 1,769 MB above."""
    return memory_mb / MB_PER_VCPU


def speedup(vcpus: float, family: Family) -> float:
    """How much faster a request runs on ``vcpus`` than on one: the measured two-thread gain, extended linearly."""
    if vcpus <= 1:
        return vcpus
    return 1 + (vcpus - 1) * (family.two_vcpu_speedup - 1)


def request_s(model: Model, calibration: Calibration) -> float:
    """One request at one vCPU: work proportional to parameters times the request's work units."""
    return calibration[model.family].s_per_m_work * model.params_m * model.work


def cold_s(model: Model, memory_mb: int, calibration: Calibration) -> float:
    """Imports and loading run on one thread: slower below one vCPU, no faster above."""
    family = calibration[model.family]
    one_vcpu = family.cold_base_s + family.cold_per_m_s * model.params_m
    return one_vcpu / min(1.0, share(memory_mb))


def required_mb(model: Model, calibration: Calibration) -> int:
    """The estimated peak RSS with headroom, rounded up to a multiple of 64 MB."""
    family = calibration[model.family]
    needed = (family.rss_base_mb + family.rss_per_m_mb * model.params_m) * HEADROOM
    return math.ceil(needed / 64) * 64


def warm_s(model: Model, memory_mb: int, calibration: Calibration) -> float:
    return request_s(model, calibration) / speedup(share(memory_mb), calibration[model.family])


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
    for name, family in calibration.items():
        lines.append(
            f"- Calibration, {name} ({RUNTIMES[name]}): cold start {family.cold_base_s:.2f} s + "
            f"{family.cold_per_m_s * 1000:.2f} ms per million parameters; peak RSS {family.rss_base_mb:.0f} MB + "
            f"{family.rss_per_m_mb:.2f} MB per million parameters; {family.s_per_m_work * 1e6:.2f} µs per million "
            f"parameters per {UNITS[name]}; two vCPUs run a request {family.two_vcpu_speedup:.2f} times as fast "
            "as one."
        )
    return "\n".join(lines)
