"""Fixtures for the ONNX backend: tiny models and all-MiniLM, exported once per session.

Exports are written beside the weights, so the models are copied (tiny ones are
rebuilt, all-MiniLM is linked file by file) into temporary folders first: the
installed package and the other tests' models stay untouched.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from inference.onnx_export import export_model
from inference.registry import Registry, load_registry
from tests.tiny_models import build_tiny_models, minilm_dir, write_registry


def _entry(name: str, task: str, folder: Path, **extra: Any) -> dict[str, Any]:
    return {"name": name, "task": task, "model": str(folder), "backend": "onnx", "memory": 512, **extra}


@pytest.fixture(scope="session")
def onnx_models(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A registry of ONNX entries over the tiny models (one per task the backend serves), exported."""
    root = tmp_path_factory.mktemp("onnx-tiny")
    build_tiny_models(root)
    path = write_registry(
        root / "onnx.yaml",
        [
            _entry("onnx-sentiment", "text-classification", root / "classifier"),
            _entry(
                "onnx-zero-shot",
                "zero-shot-classification",
                root / "nli",
                parameters={"candidate_labels": ["good", "bad", "news"]},
            ),
            _entry("onnx-similarity", "sentence-similarity", root / "encoder"),
            _entry("onnx-features", "feature-extraction", root / "encoder", parameters={"onnx_quantize": True}),
            _entry("onnx-qa", "question-answering", root / "qa"),
            _entry("onnx-ner", "token-classification", root / "ner"),
            _entry("onnx-summarize", "summarization", root / "summarizer"),
            _entry("onnx-not-exported", "feature-extraction", root / "masked-lm"),
        ],
    )
    registry = load_registry(path)
    for spec in registry:
        if spec.name not in ("onnx-summarize", "onnx-not-exported"):
            export_model(spec)
    return path


@pytest.fixture(scope="session")
def onnx_registry(onnx_models: Path) -> Registry:
    return load_registry(onnx_models)


@pytest.fixture(scope="session")
def minilm_onnx(tmp_path_factory: pytest.TempPathFactory) -> Registry:
    """all-MiniLM-L6-v2 as an int8 and an fp32 ONNX similarity entry, sharing one export."""
    folder = tmp_path_factory.mktemp("minilm") / "all-MiniLM-L6-v2"
    folder.mkdir()
    for item in minilm_dir().iterdir():
        (folder / item.name).symlink_to(item)
    path = write_registry(
        folder.parent / "models.yaml",
        [
            _entry("minilm-int8", "sentence-similarity", folder, memory=1024, parameters={"onnx_quantize": True}),
            _entry("minilm", "sentence-similarity", folder, memory=1024),
        ],
    )
    registry = load_registry(path)
    for spec in registry:
        export_model(spec)
    return registry
