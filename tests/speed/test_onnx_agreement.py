"""The ONNX backend answers as the torch backend does: same result shapes, same labels, close numbers.

all-MiniLM-L6-v2 is the real model, so its embeddings are compared directly
(cosine ≥ 0.99, for the fp32 graph and for the int8 one); the tiny models have
random weights, so what must agree there are labels, orders and answers.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np
import pytest

from inference.registry import ModelSpec, Registry
from inference.runners import load_runner
from inference.runners.parameters import MAX_LABELS
from inference.service import handle

pytestmark = pytest.mark.slow

SENTENCES = [
    "A man is eating food.",
    "A man is eating a piece of bread.",
    "The girl is carrying a baby.",
    "A man is riding a horse.",
    "A woman is playing violin.",
    "Two men pushed carts through the woods.",
    "A man is riding a white horse on an enclosed ground.",
    "A monkey is playing drums.",
    "Someone in a gorilla costume is playing a set of drums.",
    "The quarterly report is due on Thursday afternoon.",
    "Please move the meeting to next week.",
    "Lambda bills memory multiplied by duration.",
]
TINY_LINES = {
    "onnx-sentiment": ["I love how quickly this team ships.", "the tower is tall " * 20],
    "onnx-zero-shot": ["The news was great. | good, bad", "the city | london, paris, france"],
    "onnx-similarity": ["A man is eating food. | A man is eating bread. | the city is in france"],
    "onnx-features": ["A man is eating food."],
    "onnx-qa": ["Where is the tower? | The tower is in Paris. " + "The man was eating bread in London. " * 12],
    # The second line is read in several windows: entities found twice are merged.
    "onnx-ner": ["The woman was in London and Paris.", "Ada Lovelace met the team in London, france. " * 40],
    "onnx-fill-mask": ["Paris is the [MASK] of France.", "the man is eating <mask>, isn't he? he's great."],
    "onnx-fill-mask-tidy": ["the man is eating <mask>, isn't he? he's great!"],
}
TINY_PARAMETERS: list[dict[str, Any]] = [{}, {"top_k": 1}, {"top_k": 20}, {"multi_label": True}, {"normalize": True}]


def _torch_twin(spec: ModelSpec) -> ModelSpec:
    return dataclasses.replace(spec, backend="torch", quantize="none", parameters={})


def _same(onnx: Any, torch: Any) -> None:
    """Same keys, same texts and labels in the same order, numbers equal to float rounding."""
    if isinstance(torch, dict):
        assert onnx.keys() == torch.keys()
        for key in torch:
            _same(onnx[key], torch[key])
    elif isinstance(torch, list):
        assert len(onnx) == len(torch)
        for a, b in zip(onnx, torch, strict=True):
            _same(a, b)
    elif isinstance(torch, float):
        assert onnx == pytest.approx(torch, abs=1e-4)
    else:
        assert onnx == torch


@pytest.mark.parametrize("name", sorted(TINY_LINES))
def test_tiny_models_answer_as_torch_does(onnx_registry: Registry, name: str) -> None:
    spec = onnx_registry.get(name)
    onnx_runner, torch_runner = load_runner(spec), load_runner(_torch_twin(spec))
    for line in TINY_LINES[name]:
        for extra in TINY_PARAMETERS:
            parameters = {**spec.parameters, **extra}
            expected = torch_runner.run(line, parameters)
            got = onnx_runner.run(line, parameters)
            if spec.quantize == "int8":
                cosine = np.dot(got["embedding"], expected["embedding"]) / (
                    np.linalg.norm(got["embedding"]) * np.linalg.norm(expected["embedding"])
                )
                assert got.keys() == expected.keys() and cosine > 0.99
            else:
                _same(got, expected)


def test_fill_mask_decodes_as_the_tokenizer_does(onnx_registry: Registry) -> None:
    """The words and sentences are the tokenizer's, spaces tidied only where its config says so."""
    line = "the man is eating <mask>, isn't he? he's great!"
    loose, tidy = (
        load_runner(onnx_registry.get(name)).run(line, {"top_k": 1})
        for name in ("onnx-fill-mask", "onnx-fill-mask-tidy")
    )
    [loose_guess], [tidy_guess] = loose["predictions"], tidy["predictions"]
    assert loose_guess["sequence"] == f"the man is eating {loose_guess['token']}, isn ' t he? he ' s great!"
    assert tidy_guess["sequence"] == f"the man is eating {tidy_guess['token']}, isn't he? he's great!"


def test_the_classifiers_pick_the_same_labels(onnx_registry: Registry) -> None:
    spec = onnx_registry.get("onnx-sentiment")
    onnx_runner, torch_runner = load_runner(spec), load_runner(_torch_twin(spec))
    for text in ("The news was great.", "terrible bad news", "how quickly the team ships", "paris"):
        got, expected = onnx_runner.run(text, {"top_k": 1}), torch_runner.run(text, {"top_k": 1})
        assert got["labels"][0]["label"] == expected["labels"][0]["label"]


def test_errors_are_the_same_typed_errors(onnx_registry: Registry) -> None:
    spec = onnx_registry.get("onnx-zero-shot")
    too_many = "text | " + ", ".join(f"label{i}" for i in range(MAX_LABELS + 1))
    for line in (too_many, "the news | good"):
        responses = [
            handle({"text": line}, spec=s, get_runner=lambda s=s: load_runner(s)) for s in (spec, _torch_twin(spec))
        ]
        assert responses[0]["error"] == responses[1]["error"]


@pytest.mark.parametrize("name", ["minilm", "minilm-int8"])
def test_minilm_embeddings_agree_with_torch(minilm_onnx: Registry, name: str) -> None:
    spec = minilm_onnx.get(name)
    onnx_vectors = load_runner(spec).embed(SENTENCES)
    torch_vectors = load_runner(_torch_twin(spec)).embed(SENTENCES).detach().numpy()
    cosines = (onnx_vectors * torch_vectors).sum(axis=1)  # both are unit vectors
    assert cosines.min() >= 0.99, cosines


def test_minilm_features_are_the_torch_runners(minilm_onnx: Registry) -> None:
    spec = minilm_onnx.get("minilm-features")
    onnx_runner, torch_runner = load_runner(spec), load_runner(_torch_twin(spec))
    for text in SENTENCES:
        for parameters in ({}, {"normalize": True}):
            _same(onnx_runner.run(text, parameters), torch_runner.run(text, parameters))


def test_minilm_similarity_through_the_handler_matches_sentence_transformers(minilm_onnx: Registry) -> None:
    spec = minilm_onnx.get("minilm")
    response = handle(
        {"text": "A man is eating food. | A man is riding a horse. | A man is eating a piece of bread."},
        spec=spec,
        get_runner=lambda: load_runner(spec),
    )
    scores = {s["sentence"]: s["score"] for s in response["result"]["scores"]}
    # sentence-transformers gives 0.7553 and 0.2474 for these pairs.
    assert scores["A man is eating a piece of bread."] == pytest.approx(0.7553, abs=1e-3)
    assert scores["A man is riding a horse."] == pytest.approx(0.2474, abs=1e-3)
