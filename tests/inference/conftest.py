"""Fixtures for the model side: the real Lambda handler over the tiny registry.

The tiny models are built once per session by ``tiny_registry`` (tests/conftest.py).
``invoke`` points ``inference.handler`` at a registry entry the way Lambda does
(``MODEL_NAME`` and ``MODELS_FILE`` in the environment) and clears its per-container
caches, so each test gets a cold container.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from inference import handler
from inference.service import LoadOnce
from tests.tiny_models import minilm_dir, write_registry

Invoke = Callable[..., dict[str, Any]]


def _cold_container() -> None:
    handler._spec.cache_clear()
    handler._runner = LoadOnce(handler._load)


@pytest.fixture
def use_registry(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[Path, str], None]]:
    """Point the handler at entry ``name`` of registry ``path``, as a fresh container."""

    def select(path: Path, name: str) -> None:
        monkeypatch.setenv("MODELS_FILE", str(path))
        monkeypatch.setenv("MODEL_NAME", name)
        _cold_container()

    yield select
    _cold_container()


@pytest.fixture
def invoke(tiny_registry: Path, use_registry: Callable[[Path, str], None]) -> Invoke:
    """``invoke(name, event)`` runs ``event`` through the real handler for tiny model ``name``."""

    def call(name: str, event: Any) -> dict[str, Any]:
        if os.environ.get("MODEL_NAME") != name:
            use_registry(tiny_registry, name)
        return handler.handler(event, None)

    return call


@pytest.fixture(scope="session")
def minilm_registry(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A registry with one entry, ``similarity``, served by the real all-MiniLM-L6-v2 weights."""
    entry = {
        "name": "similarity",
        "task": "sentence-similarity",
        "backend": "torch",  # the torch runner's known answers; the ONNX one's are in tests/speed/
        "model": str(minilm_dir()),
        "title": "Sentence similarity (all-MiniLM-L6-v2)",
        "memory": 1024,
        "timeout": 60,
    }
    return write_registry(tmp_path_factory.mktemp("minilm") / "models.yaml", [entry])
