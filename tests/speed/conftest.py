"""Fixtures for the ONNX backend: tiny models and all-MiniLM, exported once per session.

Exports go under the session's ``HF_HOME`` (tests/conftest.py), keyed by each
model folder, never into the folder: all-MiniLM is exported straight from its
installed package.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from inference.registry import Registry, load_registry
from tests.tiny_models import build_tiny_models, minilm_dir, warm, write_registry


def _entry(name: str, task: str, folder: Path, **extra: Any) -> dict[str, Any]:
    """An fp32 ONNX entry unless ``extra`` says otherwise: fp32 is held to torch's numbers."""
    return {
        "name": name,
        "task": task,
        "model": str(folder),
        "backend": "onnx",
        "quantize": "none",
        "memory": 512,
        **extra,
    }


@pytest.fixture(scope="session")
def onnx_models(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A registry of ONNX entries over the tiny models (one per task the backend serves), exported."""
    root = tmp_path_factory.mktemp("onnx-tiny")
    build_tiny_models(root)
    # BERT's own tokenizer tidies the spaces its decoder leaves before punctuation ("isn ' t" -> "isn't").
    shutil.copytree(root / "masked-lm", root / "masked-lm-tidy")
    config = root / "masked-lm-tidy" / "tokenizer_config.json"
    config.write_text(json.dumps({**json.loads(config.read_text()), "clean_up_tokenization_spaces": True}))
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
            _entry("onnx-features", "feature-extraction", root / "encoder", quantize="int8"),
            _entry("onnx-qa", "question-answering", root / "qa"),
            _entry("onnx-ner", "token-classification", root / "ner"),
            _entry("onnx-fill-mask", "fill-mask", root / "masked-lm"),
            _entry("onnx-fill-mask-tidy", "fill-mask", root / "masked-lm-tidy"),
            _entry("onnx-not-exported", "feature-extraction", root / "masked-lm"),
        ],
    )
    warm(spec for spec in load_registry(path) if spec.name != "onnx-not-exported")
    return path


@pytest.fixture(scope="session")
def onnx_registry(onnx_models: Path) -> Registry:
    return load_registry(onnx_models)


@pytest.fixture(scope="session")
def minilm_onnx(tmp_path_factory: pytest.TempPathFactory) -> Registry:
    """all-MiniLM-L6-v2, straight from its installed package: int8 and fp32 similarity, fp32 feature extraction."""
    path = write_registry(
        tmp_path_factory.mktemp("minilm") / "models.yaml",
        [
            _entry("minilm-int8", "sentence-similarity", minilm_dir(), memory=1024, quantize="int8"),
            _entry("minilm", "sentence-similarity", minilm_dir(), memory=1024),
            _entry("minilm-features", "feature-extraction", minilm_dir(), memory=1024),
        ],
    )
    registry = load_registry(path)
    warm(registry)
    return registry
