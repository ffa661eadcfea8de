"""Installed size of the model images' Python packages, from this venv's metadata.

The serving image installs ``inference/requirements.txt`` (every fast runtime,
no torch, no transformers); the conversion image adds
``inference/requirements-convert.txt`` (torch, transformers, the exporters),
and is what a ``backend: torch`` function runs. Each image's packages are the
dependency closure of its requirement files (``Requires-Dist`` without extras,
markers evaluated here), and a package's size is the sum of the files its
``RECORD`` lists, as they are on disk. The torch wheel in this venv is the CPU
build the conversion image installs.
"""

from __future__ import annotations

from importlib.metadata import Distribution, PackageNotFoundError, distribution
from pathlib import Path
from typing import Any

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

INFERENCE = Path(__file__).resolve().parents[2] / "inference"
#: Each image's requirement files (inference/Dockerfile and inference/Dockerfile.convert install these).
IMAGES = {
    "serving": [INFERENCE / "requirements.txt"],
    "conversion": [INFERENCE / "requirements.txt", INFERENCE / "requirements-convert.txt"],
}


def requirement_names(path: Path) -> list[str]:
    """The distributions a requirements file names (comments, options and includes skipped)."""
    names = []
    for line in path.read_text(encoding="utf-8").splitlines():
        text = line.split("#", 1)[0].strip()
        if text and not text.startswith("-"):
            names.append(Requirement(text).name)
    return names


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
    """Per image: its requirements' roots, the packages with their size in MB, and the total."""
    report: dict[str, Any] = {}
    for image, files in IMAGES.items():
        roots = [name for path in files for name in requirement_names(path)]
        sizes = {name: installed_bytes(dist) / 1e6 for name, dist in closure(roots).items()}
        report[image] = {
            "requirements": [str(path.relative_to(INFERENCE.parent)) for path in files],
            "total_mb": round(sum(sizes.values()), 1),
            "packages": {name: round(size, 1) for name, size in sorted(sizes.items(), key=lambda kv: -kv[1])},
        }
    return report
