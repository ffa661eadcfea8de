"""The load command end to end, in its short mode: the report's shape and the exactly-once outcome,
chat requests (streamed answers) included: one final answer each, and no partial after it.

Timings are reported, never asserted: this machine's speed is not the bot's correctness.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from benchmarks.load import SECTION
from benchmarks.markdown_section import markers
from tests.conftest import ROOT

pytestmark = [pytest.mark.e2e, pytest.mark.slow]
RUN_SECONDS = 480
HAND_WRITTEN_HEAD = "# Reliability\n\nProse people maintain.\n"
HAND_WRITTEN_TAIL = "\n## Fault matrix\n\n| Fault | What the person sees | Test |\n|---|---|---|\n"


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[subprocess.CompletedProcess[str], Path, Path]:
    """One ``--quick`` run, writing its report into a copy of a hand-written document."""
    folder = tmp_path_factory.mktemp("load")
    begin, end = markers(SECTION)
    report = folder / "reliability.md"
    report.write_text(f"{HAND_WRITTEN_HEAD}\n{begin}\nstale figures\n{end}\n{HAND_WRITTEN_TAIL}", encoding="utf-8")
    results = folder / "load-results.json"
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks.load", "--quick", "--out", str(report), "--json", str(results)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=RUN_SECONDS,
        check=False,
    )
    return done, report, results


def test_every_request_is_acked_and_answered_exactly_once(quick_run) -> None:
    done, _, results = quick_run
    report = json.loads(results.read_text(encoding="utf-8"))
    figures = report["results"]
    problems = json.dumps(report["problems"], indent=1)
    assert figures["sent"] == 40
    assert figures["by_kind"] == {"command": 14, "hf": 11, "mention": 11, "thread-mention": 2, "reply": 2}
    assert figures["lost"] == 0, problems
    assert figures["duplicated"] == 0, problems
    assert figures["acked"] == figures["sent"], problems
    assert figures["answered_exactly_once"] == figures["sent"]
    assert figures["server_exit_code"] is None
    chat = figures["chat"]
    assert chat["by_kind"] == {"command": 2, "thread-mention": 2, "reply": 2}
    assert (chat["lost"], chat["duplicated"]) == (0, 0), problems
    assert chat["final_exactly_once"] == chat["final_with_feedback"] == chat["sent"] == 6, problems
    assert chat["partials_after_final"] == 0, problems
    assert chat["frozen_partials"] == 0, problems
    assert report["passed"] is True
    assert done.returncode == 0, done.stderr[-3000:]
    assert "PASS" in done.stdout


def test_report_has_every_figure(quick_run) -> None:
    _, _, results = quick_run
    report = json.loads(results.read_text(encoding="utf-8"))
    assert report["mode"] == "quick"
    assert report["settings"]["models"] == [
        "tiny-sentiment",
        "tiny-qa",
        "tiny-similarity",
        "tiny-zero-shot",
        "tiny-ask",
    ]
    assert report["machine"]["cpus"] >= 1 and report["machine"]["memory_mib"] > 0
    figures = report["results"]
    for name in ("ack_latency_ms", "placeholder_latency_ms", "end_to_end_latency_ms"):
        assert set(figures[name]) == {"count", "p50", "p99", "max"}
        assert figures[name]["p50"] <= figures[name]["p99"] <= figures[name]["max"]
    assert figures["end_to_end_latency_ms"]["count"] == figures["acked"] - figures["lost"]
    assert set(figures["faults_injected"]) == {"429", "500"}
    # The tokens are slowed so that answers stream; under load a partial may be dropped, never all of them.
    assert figures["chat"]["with_partials"] >= 1 and figures["chat"]["partials"] >= figures["chat"]["with_partials"]
    assert set(figures["chat"]["first_partial_latency_ms"]) == {"count", "p50", "p99", "max"}
    assert figures["web_api_calls"] >= 2 * figures["sent"]  # a placeholder and an answer each, at least
    memory = report["memory"]
    assert memory["server_peak_rss_mib"] > 0
    assert memory["worker_count"] == 5  # one warm worker per model
    assert all(size > 0 for size in memory["worker_peak_rss_mib"])


def test_markdown_section_is_replaced_and_prose_kept(quick_run) -> None:
    _, report, _ = quick_run
    text = report.read_text(encoding="utf-8")
    assert text.startswith(HAND_WRITTEN_HEAD)
    assert text.endswith(HAND_WRITTEN_TAIL)
    assert "stale figures" not in text
    assert "| Lost (acked, never answered) | 0 |" in text
    assert "| Duplicated (answered more than once) | 0 |" in text
    assert "| Partials after the final answer / left showing at the end | 0 / 0 |" in text
    assert "`python -m benchmarks.load --quick` (quick mode)" in text
