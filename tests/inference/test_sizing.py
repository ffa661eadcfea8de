"""inference/sizing.py: docs/sizing.md's rule for memory and timeout, which ``python -m inference add`` applies.

The rule must give the default entries what docs/sizing.md's generated table
(for the models the benchmark measured) and the registry give them, from their
sizes;
when the benchmarks are run again and the doc's calibration changes, these
tests say which constants in inference/sizing.py to update.
"""

from __future__ import annotations

import re

import pytest

from inference import sizing
from inference.registry import DEFAULT_MODELS_FILE, MB_PER_VCPU, load_registry
from tests.conftest import ROOT

DOC = ROOT / "docs" / "sizing.md"


#: The default entries' parameter counts (millions), as their model cards and docs/sizing.md state them.
PARAMETERS_M = {
    "sentiment": 67,
    "summarize": 306,
    "translate-en-fr": 75,
    "similarity": 22.7,
    "zero-shot": 407,
    "ner": 108,
    "qa": 65,
    "ask": 494,
    "fill-mask": 82,
    "classify-image": 86.6,
    "label-image": 151.3,
    "detect": 6.5,
    "caption": 247,
    "transcribe": 37.8,
}
#: The entries docs/sizing.md's measured table has no row for: the file models, not benchmarked yet, which the
#: registry sizes by the rule alone.
NOT_BENCHMARKED = {"classify-image", "label-image", "detect", "caption", "transcribe"}


def _doc_table() -> dict[str, int]:
    """Default memory per model, from docs/sizing.md's generated table."""
    rows = re.findall(
        r"^\| ([\w-]+) \| \d+ MB \| [\d.]+ s \| (\d+) MB \|", DOC.read_text(encoding="utf-8"), re.MULTILINE
    )
    return {name: int(memory) for name, memory in rows}


#: docs/sizing.md's line per runtime family (benchmarks/speed/sizing.py's markdown) and the backend it calibrates.
FAMILY_LINE = re.compile(
    r"^- Calibration, (\w+) \([^)]*\): cold start ([\d.]+) s \+ ([\d.]+) ms per million parameters; "
    r"peak RSS ([\d.]+) MB \+ ([\d.]+) MB per million parameters; ([\d.]+) µs per million parameters per [^;]+; "
    r"two vCPUs run a request ([\d.]+) times",
    re.MULTILINE,
)
FAMILIES = sizing.DOC_FAMILIES


def test_the_calibration_is_the_one_docs_sizing_md_states() -> None:
    """Either the doc's one torch line (per GB of float32 weights), or its line per runtime family."""
    text = DOC.read_text(encoding="utf-8")
    families = FAMILY_LINE.findall(text)
    for family, cold, cold_per_m_ms, rss, rss_per_m, work_us, speedup in families:
        c = sizing.CALIBRATIONS[FAMILIES[family]]
        per_work = c.s_per_m_token_read if family == "encoder" else c.s_per_m_token_written
        assert [
            c.cold_base_s,
            c.cold_per_m_s * 1000,
            c.rss_base_mb,
            c.rss_per_m_mb,
            per_work * 1e6,
            c.two_vcpu_speedup,
        ] == (pytest.approx([float(n) for n in (cold, cold_per_m_ms, rss, rss_per_m, work_us, speedup)], abs=0.01)), (
            f"docs/sizing.md's {family} calibration changed: update CALIBRATIONS[{FAMILIES[family]!r}] in inference/sizing.py"
        )
    if families:
        return
    line = re.search(r"^Calibration: .*$", text, re.MULTILINE)
    assert line is not None, "docs/sizing.md has no Calibration line: update inference/sizing.py's CALIBRATIONS"
    numbers = [float(n) for n in re.findall(r"\d+(?:\.\d+)?", line.group())]
    c, per_gb = sizing.TORCH_CALIBRATION, 1000 / sizing.BYTES_PER_PARAMETER  # the doc counts GB of float32
    expected = [
        c.cold_base_s,
        c.cold_per_m_s * per_gb,
        c.rss_base_mb,
        c.rss_per_m_mb * per_gb,
        c.s_per_m_token_read * 1e6,
        c.s_per_m_token_written * 1e6,
        c.two_vcpu_speedup,
    ]
    assert numbers == pytest.approx(expected), "docs/sizing.md's calibration changed: update TORCH_CALIBRATION"


def test_the_family_line_pattern_reads_what_the_benchmark_writes(monkeypatch: pytest.MonkeyPatch) -> None:
    """The pattern above against what benchmarks/speed/sizing.py renders, so a regenerated doc is checked."""
    from benchmarks.speed import sizing as benchmark

    family = benchmark.Family(
        cold_base_s=0.25, cold_per_m_s=0.004, rss_base_mb=90, rss_per_m_mb=1.5, s_per_m_work=2e-6, two_vcpu_speedup=1.8
    )
    monkeypatch.setattr(benchmark, "calibrate", lambda results: dict.fromkeys(benchmark.RUNTIMES, family))
    rendered = benchmark.markdown({"mode": "full", "started_at": "now", "revision": None})
    found = FAMILY_LINE.findall(rendered)
    assert [line[0] for line in found] == list(benchmark.RUNTIMES) and set(FAMILIES) == set(benchmark.RUNTIMES)
    assert found[0][1:] == ("0.25", "4.00", "90", "1.50", "2.00", "1.80")


def test_every_default_entry_has_its_size_here_and_a_row_in_the_doc_once_benchmarked() -> None:
    assert set(PARAMETERS_M) == set(load_registry(DEFAULT_MODELS_FILE).names), "give a new entry's parameters"
    assert set(_doc_table()) == set(PARAMETERS_M) - NOT_BENCHMARKED, (
        "docs/sizing.md's rows changed: update NOT_BENCHMARKED"
    )


@pytest.mark.parametrize("name", PARAMETERS_M)
def test_the_rule_gives_each_default_what_the_doc_and_the_registry_give(name: str) -> None:
    spec = load_registry(DEFAULT_MODELS_FILE).get(name)
    chosen = sizing.size(parameters=int(PARAMETERS_M[name] * 1e6), task=spec.task, backend=spec.backend)
    if name not in NOT_BENCHMARKED:
        assert chosen.memory == _doc_table()[name], f"{name}: docs/sizing.md changed; update inference/sizing.py"
    assert (chosen.memory, chosen.timeout) == (spec.memory, spec.timeout), (
        f"{name}: the registry's memory or timeout changed; update inference/sizing.py to the new rule"
    )


def test_memory_is_the_need_with_headroom_rounded_up_to_64_mb_and_at_least_one_vcpu() -> None:
    small = sizing.size(parameters=1_000, task="text-classification", backend="onnx")
    assert small.memory == MB_PER_VCPU and small.timeout == 60
    # 1.5 G parameters: 6 GB of float32; (346 + 1064 * 6) * 1.2 = 8076 -> 8128
    large = sizing.size(parameters=1_500_000_000, task="fill-mask", backend="torch")
    assert large.needs_mb == 8128 and large.memory == 8128 and large.memory % sizing.MEMORY_STEP_MB == 0


def test_a_slow_request_gets_two_vcpus_and_a_generator_its_tasks_minimum() -> None:
    chat = sizing.size(parameters=1_500_000_000, task="text-generation", backend="onnxruntime-genai")
    assert chat.request_s > sizing.SLOW_REQUEST_S and chat.memory == 2 * MB_PER_VCPU
    quick = sizing.size(parameters=500_000_000, task="text-generation", backend="onnxruntime-genai")
    assert quick.request_s < sizing.SLOW_REQUEST_S and quick.memory == MB_PER_VCPU
    translator = sizing.size(parameters=1_000_000, task="translation", backend="ctranslate2")
    assert translator.memory == MB_PER_VCPU and translator.timeout == sizing.MIN_TIMEOUT_S["translation"]


def test_a_model_that_needs_more_than_lambda_has_is_too_large() -> None:
    with pytest.raises(sizing.TooLarge, match="10,240 MB"):
        sizing.size(parameters=3_000_000_000, task="text-generation", backend="torch")


def test_every_task_has_its_typical_request() -> None:
    from inference.tasks import TASKS

    assert set(sizing.TYPICAL_WORK) == set(TASKS)
