"""Start a probe in a fresh process and time it from start to its first answer (the parent's clock)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from typing import IO, Any

from benchmarks.speed.fixtures import ROOT
from benchmarks.speed.probe import READY

#: What the model image sets (inference/Dockerfile), so both handlers run under the same settings.
IMAGE_ENV = {
    "HF_HUB_OFFLINE": "1",
    "HF_HUB_DISABLE_TELEMETRY": "1",
    "HF_HUB_DISABLE_PROGRESS_BARS": "1",
    "TRANSFORMERS_VERBOSITY": "error",
}


@dataclass(frozen=True)
class ProbeRun:
    """``cold_s``: process start to the probe's first answer; ``report``: what the probe measured after it."""

    cold_s: float
    report: dict[str, Any]


class ProbeFailed(RuntimeError):
    """A probe exited without an answer, or took longer than its timeout."""


def run_probe(args: list[str], *, env: dict[str, str], stdin: str = "", timeout: float = 600) -> ProbeRun:
    """Run ``python -m benchmarks.speed.probe ARGS``; killed after ``timeout`` seconds."""
    with tempfile.TemporaryFile(mode="w+", encoding="utf-8") as errors:
        started = time.perf_counter()
        process = subprocess.Popen(
            [sys.executable, "-m", "benchmarks.speed.probe", *args],
            cwd=ROOT,
            env={**os.environ, **IMAGE_ENV, **env},
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=errors,
            text=True,
        )
        timer = threading.Timer(timeout, process.kill)
        timer.start()
        try:
            assert process.stdin is not None and process.stdout is not None
            process.stdin.write(stdin)
            process.stdin.close()
            ready = _wait_for_ready(process.stdout)
            cold = time.perf_counter() - started
            rest = process.stdout.read()
            process.wait()
        finally:
            timer.cancel()
        if not ready or process.returncode != 0:
            errors.seek(0)
            raise ProbeFailed(f"probe {' '.join(args)} failed ({process.returncode}):\n{errors.read()[-3000:]}")
    return ProbeRun(cold_s=cold, report=json.loads(rest.strip().splitlines()[-1]))


def _wait_for_ready(stdout: IO[str]) -> bool:
    """Read until the probe's READY line (a library may print before it); False at end of output."""
    return any(line.strip() == READY for line in stdout)
