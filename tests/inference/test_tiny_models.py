"""The tiny test models: one per task, and the same bytes on every build."""

from __future__ import annotations

from pathlib import Path

import pytest

from inference.registry import load_registry
from inference.tasks import TASKS, media_kind
from tests.tiny_models import build_tiny_models


def test_the_tiny_registry_covers_every_task(tiny_registry: Path) -> None:
    registry = load_registry(tiny_registry)
    assert {spec.task for spec in registry} == set(TASKS)
    for spec in registry:
        assert spec.local_path is not None and any(spec.local_path.glob("*.safetensors")), spec.name
        assert (spec.memory, spec.timeout) == (512, 30)
        assert spec.title and spec.description
        assert spec.example or media_kind(spec.task), spec.name  # a file task may need no text


@pytest.mark.slow
def test_builds_are_identical(tiny_registry: Path, tmp_path: Path) -> None:
    again = build_tiny_models(tmp_path).parent
    first = tiny_registry.parent
    # Other tests may add files beside the session's models (exports, registries): compare what a build writes.
    files = sorted(p.relative_to(again) for p in again.rglob("*") if p.is_file())
    assert files
    assert all((first / f).read_bytes() == (again / f).read_bytes() for f in files)
