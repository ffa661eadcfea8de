"""The torch backend pools as sentence-transformers does: every mode, combinations, Normalize, either padding side.

sentence-transformers (installed with the test dependencies) is the reference,
run on the same tiny folders (tests/sentence_models.py). Configs this project
cannot run are refused at load with a message naming the entry.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from inference.errors import ModelLoadError
from inference.runners import load_runner
from inference.runners.pooling import Pooling, read_pooling
from inference.service import handle
from tests.sentence_models import (
    HIDDEN,
    LINE,
    NORMALIZE,
    POOLING,
    SENTENCES,
    TRANSFORMER,
    build_encoder,
    build_sentence_model,
    cosines,
    legacy,
    reference,
    relinked,
    scores,
    spec_for,
)
from tests.tiny_models import minilm_dir

pytestmark = pytest.mark.slow

#: name: (Pooling config, Normalize follows, padding side)
CONFIGS: dict[str, tuple[dict[str, Any], bool, str]] = {
    "cls": (legacy("cls"), False, "right"),
    "max": (legacy("max"), False, "right"),
    "mean": (legacy("mean"), False, "right"),
    "mean_sqrt_len_tokens": (legacy("mean_sqrt_len_tokens"), False, "right"),
    "weightedmean": (legacy("weightedmean"), False, "right"),
    "lasttoken": (legacy("lasttoken"), False, "right"),
    "no-flag-set-means-mean": (legacy(), False, "right"),
    "cls-and-mean-concatenated": (legacy("mean", "cls"), False, "right"),
    "listed-modes-in-their-order": (
        {"embedding_dimension": HIDDEN, "pooling_mode": ["lasttoken", "max", "mean_sqrt_len_tokens"]},
        False,
        "right",
    ),
    "normalize": ({"embedding_dimension": HIDDEN, "pooling_mode": "mean_sqrt_len_tokens"}, True, "right"),
    "cls-left-padded": (legacy("cls"), False, "left"),
    "lasttoken-left-padded": (legacy("lasttoken"), False, "left"),
    "weightedmean-left-padded": (legacy("weightedmean"), False, "left"),
}


@pytest.fixture(scope="module", params=sorted(CONFIGS))
def model(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Path:
    pooling, normalize, padding_side = CONFIGS[request.param]
    folder = tmp_path_factory.mktemp("pooling") / request.param
    return build_sentence_model(folder, pooling, normalize=normalize, padding_side=padding_side)


def test_similarity_scores_are_sentence_transformers_cosines(model: Path) -> None:
    result = load_runner(spec_for(model, "sentence-similarity")).run(LINE, {})
    assert scores(result) == pytest.approx(cosines(reference(model, SENTENCES)), abs=1e-4)


def test_feature_extraction_is_sentence_transformers_embedding(model: Path) -> None:
    runner = load_runner(spec_for(model, "feature-extraction"))
    for text in SENTENCES:
        result = runner.run(text, {})
        [expected] = reference(model, [text])
        assert result["dimensions"] == expected.shape[0]
        np.testing.assert_allclose(result["embedding"], expected, atol=1e-4)


def test_without_modules_json_the_default_is_sentence_transformers_mean(tmp_path: Path) -> None:
    folder = build_encoder(tmp_path / "plain")
    assert read_pooling(folder, "plain") == Pooling(("mean",), normalize=False)
    result = load_runner(spec_for(folder, "sentence-similarity")).run(LINE, {})
    assert scores(result) == pytest.approx(cosines(reference(folder, SENTENCES)), abs=1e-4)


def test_feature_extraction_normalizes_on_request_when_the_model_does_not(tmp_path: Path) -> None:
    folder = build_sentence_model(tmp_path / "max", legacy("max"))
    vector = np.array(
        load_runner(spec_for(folder, "feature-extraction")).run("Bread.", {"normalize": True})["embedding"]
    )
    [expected] = reference(folder, ["Bread."])
    np.testing.assert_allclose(vector, expected / np.linalg.norm(expected), atol=1e-5)


@pytest.fixture(scope="module")
def minilm_cls(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """all-MiniLM-L6-v2 with its Pooling config switched to the CLS token (issue 12, item 7)."""
    pooling = {"word_embedding_dimension": 384, "pooling_mode_cls_token": True, "pooling_mode_mean_tokens": False}
    return relinked(minilm_dir(), tmp_path_factory.mktemp("minilm-cls") / "all-MiniLM-L6-v2-cls", pooling)


def test_minilm_and_its_cls_variant_agree_with_sentence_transformers(minilm_cls: Path) -> None:
    texts = ["A man is eating food.", "A man is riding a horse.", "A man is eating a piece of bread."]
    line = " | ".join(texts)
    for folder in (minilm_dir(), minilm_cls):
        result = load_runner(spec_for(folder, "sentence-similarity")).run(line, {})
        by_sentence = {item["sentence"]: item["score"] for item in result["scores"]}
        expected = cosines(reference(folder, texts))
        assert [by_sentence[text] for text in texts[1:]] == pytest.approx(expected, abs=1e-4)
    # Mean-pooling this folder gave 0.247 for the horse; sentence-transformers gives 0.627.
    assert by_sentence["A man is riding a horse."] == pytest.approx(0.6275, abs=1e-3)


def _modules(folder: Path, modules: list[dict[str, Any]]) -> None:
    (folder / "modules.json").write_text(json.dumps(modules), encoding="utf-8")


def _pooling(folder: Path, config: Any) -> None:
    (folder / "1_Pooling").mkdir(exist_ok=True)
    (folder / "1_Pooling" / "config.json").write_text(json.dumps(config), encoding="utf-8")


DENSE = {"idx": 2, "name": "2", "path": "2_Dense", "type": "sentence_transformers.models.Dense"}
REFUSED: dict[str, tuple[list[dict[str, Any]], Any, str]] = {
    "a Dense layer": ([TRANSFORMER, POOLING, DENSE], legacy("mean"), r"chains .*Dense; this project runs only"),
    "the repository's own module": (
        [TRANSFORMER, {**POOLING, "type": "custom_pooling.Pooling"}],
        legacy("mean"),
        r"chains .*custom_pooling\.Pooling",
    ),
    "no Pooling module": ([TRANSFORMER], None, r"chains sentence_transformers\.models\.Transformer;"),
    "Normalize before Pooling": ([TRANSFORMER, NORMALIZE, POOLING], legacy("mean"), r"chains .*Normalize → .*Pooling;"),
    "an unknown mode": ([TRANSFORMER, POOLING], {"pooling_mode": "median"}, r"asks for pooling \['median'\]"),
    "an empty list of modes": ([TRANSFORMER, POOLING], {"pooling_mode": []}, r"asks for pooling \[\]"),
    "an unknown flag": (
        [TRANSFORMER, POOLING],
        {**legacy(), "pooling_mode_median_tokens": True},
        r"sets pooling_mode_median_tokens, which sentence-transformers does not know",
    ),
    "a folder outside the model": (
        [TRANSFORMER, {**POOLING, "path": "../elsewhere"}],
        legacy("mean"),
        r"gives the Pooling module the path '\.\./elsewhere'",
    ),
    "a missing Pooling config": ([TRANSFORMER, POOLING], None, r"1_Pooling/config\.json is missing"),
    "a config that is not JSON": ([TRANSFORMER, POOLING], "{not json", r"config\.json cannot be read"),
}


@pytest.mark.parametrize("case", sorted(REFUSED))
def test_configs_it_cannot_follow_are_refused_naming_the_model(tmp_path: Path, case: str) -> None:
    modules, config, message = REFUSED[case]
    _modules(tmp_path, modules)
    if isinstance(config, str):
        (tmp_path / "1_Pooling").mkdir()
        (tmp_path / "1_Pooling" / "config.json").write_text(config, encoding="utf-8")
    elif config is not None:
        _pooling(tmp_path, config)
    with pytest.raises(ModelLoadError, match=message) as raised:
        read_pooling(tmp_path, "my-encoder")
    assert str(raised.value).startswith("my-encoder: ")


def test_a_refused_config_is_a_load_error_result_not_a_crash(tmp_path: Path) -> None:
    folder = build_sentence_model(tmp_path / "dense", legacy("mean"), modules=[TRANSFORMER, POOLING, DENSE])
    spec = spec_for(folder, "sentence-similarity", name="dense-encoder")
    response = handle({"text": LINE}, spec=spec, get_runner=lambda: load_runner(spec))
    assert response["error"]["type"] == "model_load_failed"
    assert response["error"]["message"].startswith("dense-encoder: its modules.json chains")
