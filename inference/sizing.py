"""A model Lambda's ``memory`` and ``timeout``, from its weights: the rule of docs/sizing.md, in code.

``python -m inference add`` sizes each new entry with :func:`size`. The rule is
the one docs/sizing.md gives for the defaults:

- **memory**: the estimated peak RSS (a base plus so much per million
  parameters) plus :data:`HEADROOM`, rounded up to
  :data:`MEMORY_STEP_MB`; at least one full vCPU (:data:`MB_PER_VCPU`, the
  cheapest setting with the fastest cold start), two when a typical request
  would take longer than :data:`SLOW_REQUEST_S` on one; refused above Lambda's
  :data:`MAX_MEMORY_MB`.
- **timeout**: the smallest of :data:`TIMEOUT_STEPS` that holds
  :data:`TIMEOUT_FACTOR` times a cold start plus a typical request at that
  memory (at least :data:`MIN_TIMEOUT_S` for the tasks whose work grows with
  more than the text's length), which is what the registry's nine defaults have.

Every figure measured by the benchmarks is in :data:`CALIBRATIONS`, one
:class:`Calibration` per backend, copied from the "Calibration:" line under
docs/sizing.md's table, and each task's typical request is in :data:`TYPICAL_WORK`.
When ``python -m benchmarks.speed`` is run again and the doc changes, update
those two tables here: tests/inference/test_sizing.py checks the rule against
the doc's calibration line and the registry's defaults, and fails until they agree.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from inference.backends import TORCH
from inference.registry import MB_PER_VCPU, MEMORY_RANGE, TIMEOUT_RANGE

#: Lambda's largest memory setting: a model that needs more cannot be served.
MAX_MEMORY_MB = MEMORY_RANGE[1]
#: The registry's sizes are multiples of this (docs/sizing.md, "Fit").
MEMORY_STEP_MB = 64
#: A setting must hold the estimated peak RSS plus 20 % for the runtime and the unexpected (docs/sizing.md, "Fit").
HEADROOM = 1.2
#: A typical request slower than this on one vCPU gets two: people wait for the answer in Slack.
SLOW_REQUEST_S = 10.0
#: The runners hold float32 weights, so a model's size is counted as four bytes per parameter.
BYTES_PER_PARAMETER = 4
#: The timeouts an entry is given, shortest first; the last is Lambda's limit.
TIMEOUT_STEPS = (60, 120, 300, TIMEOUT_RANGE[1])
#: A timeout holds this many cold starts plus typical requests: inputs vary, and EFS reads can be slow.
TIMEOUT_FACTOR = 10.0
#: The tasks whose work grows with more than the text's length get at least this long, in seconds: a long
#: text is summarized in parts, a chat answer streams for as long as it writes, a translation's length follows
#: its source, and zero-shot reads the text once per label (people write as many labels as they like).
#: A recording is transcribed in 30-second windows, up to twenty of them (inference.media.MAX_AUDIO_SECONDS).
MIN_TIMEOUT_S = {
    "summarization": 300,
    "text-generation": 300,
    "translation": 120,
    "zero-shot-classification": 120,
    "automatic-speech-recognition": 300,
}


@dataclass(frozen=True)
class Calibration:
    """One runtime's figures at one vCPU, fitted by ``python -m benchmarks.speed`` (docs/sizing.md, "Method").

    Per million parameters, as the benchmark fits them for each runtime family.
    """

    #: Peak RSS: this many MB, plus ``rss_per_m_mb`` per million parameters.
    rss_base_mb: float
    rss_per_m_mb: float
    #: Cold start, from the container's start to the first answer: seconds, plus so many per million parameters.
    cold_base_s: float
    cold_per_m_s: float
    #: Seconds per million parameters per token an encoder reads.
    s_per_m_token_read: float
    #: Seconds per million parameters per token (and beam) a generator writes.
    s_per_m_token_written: float
    #: How much faster two vCPUs run a request than one (extended linearly beyond two: optimistic).
    two_vcpu_speedup: float


def _per_million(per_gb_of_float32: float) -> float:
    """A figure per GB (10⁹ bytes) of float32 weights, as docs/sizing.md states torch's, per million parameters."""
    return per_gb_of_float32 * BYTES_PER_PARAMETER * 1e6 / 1e9


#: docs/sizing.md's calibration line (the full benchmark run of 2026-11-25: the torch backend, one thread):
#: "cold start 3.72 s + 2.38 s per GB of weights; peak RSS 346 MB + 1064 MB per GB; 17.1 µs per million
#: parameters per token read, 97.3 µs per million parameters per token and beam written; two vCPUs run a
#: request 1.90 times as fast as one".
TORCH_CALIBRATION = Calibration(
    rss_base_mb=346,
    rss_per_m_mb=_per_million(1064),
    cold_base_s=3.72,
    cold_per_m_s=_per_million(2.38),
    s_per_m_token_read=17.1e-6,
    s_per_m_token_written=97.3e-6,
    two_vcpu_speedup=1.90,
)
#: The backend each of docs/sizing.md's per-family calibration lines ("- Calibration, encoder (...): ...") measures.
#: From a line: cold start s and ms (/1000) per million parameters, peak RSS MB and MB per million parameters,
#: µs (1e-6 s) per million parameters per unit of work (``s_per_m_token_read`` for the encoder family,
#: ``s_per_m_token_written`` for the others: tokens times beams for seq2seq, tokens for chat), the two-vCPU speed-up.
DOC_FAMILIES = {"encoder": "onnx", "seq2seq": "ctranslate2", "chat": "onnxruntime-genai"}
#: Each backend's calibration: torch's, and each fast runtime's from its family's line in docs/sizing.md
#: (the full benchmark run of 2026-12-02 at one thread; the families share the CTranslate2 pair's slope).
CALIBRATIONS: dict[str, Calibration] = {
    TORCH: TORCH_CALIBRATION,
    # "Calibration, encoder (ONNX Runtime int8): cold start 0.24 s + 2.76 ms per million parameters; peak RSS
    # 75 MB + 1.00 MB per million parameters; 7.30 µs per million parameters per token read; 1.24 times".
    "onnx": Calibration(
        rss_base_mb=75,
        rss_per_m_mb=1.00,
        cold_base_s=0.24,
        cold_per_m_s=2.76e-3,
        s_per_m_token_read=7.30e-6,
        s_per_m_token_written=0.0,
        two_vcpu_speedup=1.24,
    ),
    # "Calibration, seq2seq (CTranslate2 int8): cold start 0.28 s + 2.76 ms per million parameters; peak RSS
    # 78 MB + 1.00 MB per million parameters; 20.92 µs per million parameters per token and beam written; 1.00 times".
    "ctranslate2": Calibration(
        rss_base_mb=78,
        rss_per_m_mb=1.00,
        cold_base_s=0.28,
        cold_per_m_s=2.76e-3,
        s_per_m_token_read=0.0,
        s_per_m_token_written=20.92e-6,
        two_vcpu_speedup=1.00,
    ),
    # "Calibration, chat (onnxruntime-genai int4): cold start 0.82 s + 2.76 ms per million parameters; peak RSS
    # 149 MB + 1.00 MB per million parameters; 57.95 µs per million parameters per token written; 1.36 times".
    "onnxruntime-genai": Calibration(
        rss_base_mb=149,
        rss_per_m_mb=1.00,
        cold_base_s=0.82,
        cold_per_m_s=2.76e-3,
        s_per_m_token_read=0.0,
        s_per_m_token_written=57.95e-6,
        two_vcpu_speedup=1.36,
    ),
}


@dataclass(frozen=True)
class Work:
    """A typical request of a task: the tokens an encoder reads, or the tokens and beams a generator writes."""

    tokens: int = 0
    new_tokens: int = 0
    beams: int = 1


#: Each task's typical request, as benchmarks/speed/sizing.py's DEFAULT_MODELS has it for the default entries.
TYPICAL_WORK: dict[str, Work] = {
    "text-classification": Work(tokens=32),
    "token-classification": Work(tokens=32),
    "zero-shot-classification": Work(tokens=3 * 40),  # three labels, each read with the text
    "fill-mask": Work(tokens=24),
    "feature-extraction": Work(tokens=36),
    "question-answering": Work(tokens=96),
    "sentence-similarity": Work(tokens=36),
    "summarization": Work(new_tokens=142, beams=4),
    "translation": Work(new_tokens=40, beams=4),
    "text-generation": Work(new_tokens=256),
    # An image is read as patches: 197 for a ViT at 224 px; CLIP reads 50 and each label's tokens; a
    # detector reads the image at its own, larger size (YOLOS: about 1,200 patches at 512 px by 800).
    "image-classification": Work(tokens=197),
    "zero-shot-image-classification": Work(tokens=50 + 3 * 8),
    "object-detection": Work(tokens=1200),
    "image-to-text": Work(new_tokens=20, beams=1),
    # A 30-second window of speech is about 100 tokens of transcript, with its timestamps.
    "automatic-speech-recognition": Work(new_tokens=100),
}


class TooLarge(ValueError):
    """The model needs more memory than a Lambda function can have."""

    def __init__(self, needs_mb: int) -> None:
        super().__init__(f"it needs about {needs_mb:,} MB, more than Lambda's {MAX_MEMORY_MB:,} MB")
        self.needs_mb = needs_mb


@dataclass(frozen=True)
class Sizing:
    """What :func:`size` chose, and the estimates it chose from."""

    memory: int
    timeout: int
    #: The estimated peak RSS plus headroom, rounded up: the least memory the model fits in.
    needs_mb: int
    #: A typical request on one vCPU, and a cold start, in seconds.
    request_s: float
    cold_s: float

    def explain(self) -> str:
        """``1769 MB (one vCPU; it needs about 768 MB), 60 s``, for people."""
        vcpus = self.memory / MB_PER_VCPU
        if self.memory == self.needs_mb:
            why = "what it needs"
        elif self.request_s > SLOW_REQUEST_S:
            why = f"two vCPUs: a typical request takes about {self.request_s:.0f} s on one; it needs {self.needs_mb} MB"
        else:
            why = f"{'one vCPU' if vcpus == 1 else f'{vcpus:.1f} vCPUs'}; it needs about {self.needs_mb} MB"
        return f"{self.memory} MB ({why}), timeout {self.timeout} s (cold start about {self.cold_s:.1f} s)"


def calibration(backend: str) -> Calibration:
    """The backend's calibration (torch's for a backend the table does not list)."""
    return CALIBRATIONS.get(backend, TORCH_CALIBRATION)


def needed_mb(parameters: int, backend: str) -> int:
    """The estimated peak RSS plus :data:`HEADROOM`, rounded up to a multiple of :data:`MEMORY_STEP_MB`."""
    figures = calibration(backend)
    peak = figures.rss_base_mb + figures.rss_per_m_mb * parameters / 1e6
    return math.ceil(peak * HEADROOM / MEMORY_STEP_MB) * MEMORY_STEP_MB


def request_s(parameters: int, task: str, backend: str) -> float:
    """A typical request of ``task`` on one vCPU: parameters times tokens read, or written times beams."""
    figures, work = calibration(backend), TYPICAL_WORK[task]
    millions = parameters / 1e6
    if work.new_tokens:
        return figures.s_per_m_token_written * millions * work.new_tokens * work.beams
    return figures.s_per_m_token_read * millions * work.tokens


def _speedup(vcpus: float, figures: Calibration) -> float:
    return vcpus if vcpus <= 1 else 1 + (vcpus - 1) * (figures.two_vcpu_speedup - 1)


def size(*, parameters: int, task: str, backend: str) -> Sizing:
    """The memory (MB) and timeout (s) for a model of ``parameters`` serving ``task`` on ``backend``.

    Raises:
        TooLarge: the model would need more than :data:`MAX_MEMORY_MB`.
        KeyError: ``task`` is not one of :data:`TYPICAL_WORK`'s.
    """
    figures = calibration(backend)
    needs = needed_mb(parameters, backend)
    if needs > MAX_MEMORY_MB:
        raise TooLarge(needs)
    one_request = request_s(parameters, task, backend)
    floor = 2 * MB_PER_VCPU if one_request > SLOW_REQUEST_S else MB_PER_VCPU
    memory = min(MAX_MEMORY_MB, max(floor, needs))
    cold = figures.cold_base_s + figures.cold_per_m_s * parameters / 1e6
    budget = TIMEOUT_FACTOR * (cold + one_request / _speedup(memory / MB_PER_VCPU, figures))
    budget = max(budget, MIN_TIMEOUT_S.get(task, 0))
    timeout = next((step for step in TIMEOUT_STEPS if step >= budget), TIMEOUT_STEPS[-1])
    return Sizing(memory=memory, timeout=timeout, needs_mb=needs, request_s=one_request, cold_s=cold)
