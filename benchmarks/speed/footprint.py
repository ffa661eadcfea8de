"""Installed size of the model image's Python packages, per backend, from this venv's metadata.

Each backend's packages are the dependency closure of what its code imports
(``Requires-Dist`` without extras, markers evaluated here), and a package's
size is the sum of the files its ``RECORD`` lists, as they are on disk. The
torch wheel in this venv is the CPU build the image installs.
"""

from __future__ import annotations

from importlib.metadata import Distribution, PackageNotFoundError, distribution
from typing import Any

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

#: What the model Lambda's code imports, with each backend (both read the registry and log with Powertools).
COMMON = ["aws-lambda-powertools", "PyYAML", "huggingface-hub"]
ROOTS = {
    "torch": [*COMMON, "torch", "transformers", "tokenizers", "safetensors"],
    "onnx": [*COMMON, "onnxruntime", "tokenizers", "numpy"],
}


def closure(roots: list[str]) -> dict[str, Distribution]:
    """The installed distributions ``roots`` need, by canonical name."""
    found: dict[str, Distribution] = {}
    pending = list(roots)
    while pending:
        name = canonicalize_name(pending.pop())
        if name in found:
            continue
        try:
            found[name] = distribution(name)
        except PackageNotFoundError:
            continue  # a platform-specific dependency this machine does not need
        for text in found[name].requires or []:
            requirement = Requirement(text)
            if requirement.marker is None or requirement.marker.evaluate({"extra": ""}):
                pending.append(requirement.name)
    return found


def installed_bytes(dist: Distribution) -> int:
    """The size on disk of the files the distribution's RECORD lists."""
    total = 0
    for file in dist.files or []:
        path = file.locate()
        if path.is_file():
            total += path.stat().st_size
    return total


def footprint() -> dict[str, Any]:
    """Per backend: the packages with their size in MB, and the total."""
    report: dict[str, Any] = {}
    for backend, roots in ROOTS.items():
        sizes = {name: installed_bytes(dist) / 1e6 for name, dist in closure(roots).items()}
        report[backend] = {
            "total_mb": round(sum(sizes.values()), 1),
            "packages": {name: round(size, 1) for name, size in sorted(sizes.items(), key=lambda kv: -kv[1])},
        }
    return report
