"""The ONNX backend pools as sentence-transformers does, from the ``pooling.json`` the exporter writes.

Two tiny folders (tests/sentence_models.py) are exported for both pooled tasks:
one pooling the CLS token, one concatenating all six modes and normalising,
so each mode's slice of the vector is checked against sentence-transformers
on a padded batch.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from inference.conversions import backend_folder, convert_entry
from inference.errors import ModelLoadError
from inference.runners import load_runner
from inference.runners.pooling import MODES, POOLING_FILE, Pooling
from tests.sentence_models import (
    HIDDEN,
    LINE,
    SENTENCES,
    build_sentence_model,
    cosines,
    legacy,
    reference,
    scores,
    spec_for,
)
from tests.tiny_models import warm

pytestmark = pytest.mark.slow

TASKS = ("sentence-similarity", "feature-extraction")


@pytest.fixture(scope="module")
def models(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """``cls`` and ``every-mode`` (all six modes concatenated, then Normalize), exported for both tasks."""
    root = tmp_path_factory.mktemp("onnx-pooling")
    folders = {
        "cls": build_sentence_model(root / "cls", legacy("cls")),
        "every-mode": build_sentence_model(
            root / "every-mode", {"embedding_dimension": HIDDEN, "pooling_mode": list(MODES)}, normalize=True
        ),
    }
    warm(spec_for(folder, task, backend="onnx") for folder in folders.values() for task in TASKS)
    return folders


@pytest.mark.parametrize("name", ["cls", "every-mode"])
def test_similarity_scores_are_sentence_transformers_cosines(models: dict[str, Path], name: str) -> None:
    result = load_runner(spec_for(models[name], "sentence-similarity", backend="onnx")).run(LINE, {})
    assert scores(result) == pytest.approx(cosines(reference(models[name], SENTENCES)), abs=1e-4)


def test_every_mode_of_a_padded_batch_is_sentence_transformers_embedding(models: dict[str, Path]) -> None:
    folder = models["every-mode"]
    vectors = load_runner(spec_for(folder, "sentence-similarity", backend="onnx")).embed(SENTENCES)
    assert vectors.shape == (len(SENTENCES), len(MODES) * HIDDEN)
    np.testing.assert_allclose(vectors, reference(folder, SENTENCES), atol=1e-4)


@pytest.mark.parametrize("name", ["cls", "every-mode"])
def test_feature_extraction_is_sentence_transformers_embedding(models: dict[str, Path], name: str) -> None:
    runner = load_runner(spec_for(models[name], "feature-extraction", backend="onnx"))
    for text in SENTENCES:
        [expected] = reference(models[name], [text])
        np.testing.assert_allclose(runner.run(text, {})["embedding"], expected, atol=1e-4)


def test_the_export_carries_the_models_pooling(models: dict[str, Path]) -> None:
    cls = backend_folder(spec_for(models["cls"], "feature-extraction", backend="onnx"))
    assert Pooling.load(cls, "cls") == Pooling(("cls",), normalize=False)
    every = backend_folder(spec_for(models["every-mode"], "sentence-similarity", backend="onnx"))
    assert Pooling.load(every, "every-mode") == Pooling(MODES, normalize=True)


def test_an_export_without_its_pooling_is_made_again(models: dict[str, Path], tmp_path: Path) -> None:
    folder = tmp_path / "old"
    shutil.copytree(models["cls"], folder)
    spec = spec_for(folder, "sentence-similarity", backend="onnx", name="old-encoder")
    convert_entry(spec, folder)
    (backend_folder(spec) / POOLING_FILE).unlink()
    with pytest.raises(
        ModelLoadError, match=r"has no pooling\.json\. Run `python -m inference warm --force old-encoder`"
    ):
        load_runner(spec)
    convert_entry(spec, folder, force=True)
    assert load_runner(spec).pooling == Pooling(("cls",), normalize=False)
