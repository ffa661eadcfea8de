"""A backend for the frame's tests, registered by them in ``BACKENDS``: a converter and a runner, no runtime.

The converter writes one file naming what it was asked for, refuses entries
whose name starts with ``refuse`` and fails those whose name starts with ``fail``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from inference.conversions import ConversionRefused
from inference.errors import ModelLoadError
from inference.registry import ModelSpec

MADE = "made.txt"
#: Every call of :func:`convert`, so a test can tell whether one happened.
CALLS: list[str] = []


def convert(spec: ModelSpec, source: Path, target: Path, *, quantize: str) -> None:
    CALLS.append(spec.name)
    (target / "partial.bin").write_bytes(b"half")  # what a converter had written before it gave up
    if spec.name.startswith("refuse"):
        raise ConversionRefused("FakeArchitecture is not one this runtime serves")
    if spec.name.startswith("fail"):
        raise ModelLoadError(f"{spec.name}: the fake converter broke")
    (target / MADE).write_text(f"{spec.task} {quantize} from {source.name}", encoding="utf-8")


class EchoRunner:
    """Answers with what the converter wrote."""

    def __init__(self, spec: ModelSpec, folder: Path) -> None:
        self.made = (folder / MADE).read_text(encoding="utf-8")

    def run(self, text: str, parameters: dict[str, Any]) -> dict[str, Any]:
        return {"labels": [{"label": self.made, "score": 1.0}], "truncated": False}
