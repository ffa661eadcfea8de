"""Bad requests end in ``{"error": {"type", "message"}}``, never in an exception."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from inference import handler
from inference.registry import load_registry
from tests.tiny_models import write_registry


def error_of(response: dict[str, Any]) -> dict[str, str]:
    assert "result" not in response
    assert json.loads(json.dumps(response)) == response
    assert set(response["error"]) == {"type", "message"}
    assert response["error"]["message"]
    return response["error"]


@pytest.mark.slow
@pytest.mark.parametrize(
    ("event", "expected"),
    [
        ({"text": ""}, "The text is empty."),
        ({"text": "   \n\t "}, "The text is empty."),
        ({"text": 42}, "The text must be a string, not int."),
        ({"inputs": ["a", "b"]}, "The text must be a string, not list."),
        ({"text": "hello", "parameters": "top_k=1"}, "`parameters` must be a JSON object."),
        ({"message": "hello"}, "The request has no `text` (or `inputs`) field."),
        ("hello", "The request must be a JSON object with a `text` or `inputs` field."),
        (None, "The request must be a JSON object with a `text` or `inputs` field."),
    ],
)
def test_malformed_requests(invoke, event: Any, expected: str) -> None:
    error = error_of(invoke("tiny-sentiment", event))
    assert error["type"] == "invalid_input"
    assert error["message"].startswith(expected)


@pytest.mark.slow
def test_text_over_the_character_cap(tiny_registry: Path, tmp_path: Path, use_registry) -> None:
    spec = load_registry(tiny_registry).get("tiny-sentiment")
    entry = {"name": "capped", "task": spec.task, "model": str(spec.local_path), "max_chars": 10, "backend": "torch"}
    use_registry(write_registry(tmp_path / "models.yaml", [entry]), "capped")
    error = error_of(handler.handler({"text": "x" * 11}, None))
    assert error == {"type": "input_too_long", "message": "The text is 11 characters long; capped accepts at most 10."}
    assert "result" in handler.handler({"text": "x" * 10}, None)


@pytest.mark.slow
def test_question_answering_needs_a_separator(invoke) -> None:
    error = error_of(invoke("tiny-qa", {"text": "Where is the tower? The tower is in Paris."}))
    assert error == {"type": "invalid_input", "message": "Expected `question | context`, separated by `|`."}


@pytest.mark.slow
@pytest.mark.parametrize("text", ["The news was great. | good", "The news was great. | good, ,", " | good, bad"])
def test_zero_shot_needs_two_labels_and_a_text(invoke, text: str) -> None:
    assert error_of(invoke("tiny-zero-shot", {"text": text}))["type"] == "invalid_input"


@pytest.mark.slow
def test_zero_shot_caps_the_number_of_labels(invoke) -> None:
    labels = ", ".join(f"label {i}" for i in range(21))
    error = error_of(invoke("tiny-zero-shot", {"text": f"The news was great. | {labels}"}))
    assert error == {"type": "invalid_input", "message": "Give at most 20 labels, not 21."}


@pytest.mark.slow
def test_similarity_needs_two_sentences(invoke) -> None:
    assert error_of(invoke("tiny-similarity", {"text": "Only one sentence."}))["type"] == "invalid_input"


@pytest.mark.slow
def test_fill_mask_needs_a_mask(invoke) -> None:
    error = error_of(invoke("tiny-fill-mask", {"text": "Paris is the capital of France."}))
    assert error == {"type": "invalid_input", "message": "Put `[MASK]` where the missing word goes."}


def test_a_model_that_cannot_load_is_reported(tmp_path: Path, use_registry) -> None:
    folder = tmp_path / "empty-model"
    folder.mkdir()
    entry = {"name": "broken", "task": "text-classification", "model": "./empty-model", "backend": "torch"}
    use_registry(write_registry(tmp_path / "models.yaml", [entry]), "broken")
    error = error_of(handler.handler({"text": "hello"}, None))
    assert error["type"] == "model_load_failed"
    assert "broken" in error["message"] and "safetensors" in error["message"]


@pytest.mark.slow
def test_corrupt_weights_are_a_load_failure(tiny_registry: Path, tmp_path: Path, use_registry) -> None:
    folder = tmp_path / "corrupt"
    folder.mkdir()
    for config in (tiny_registry.parent / "classifier").glob("*.json"):
        (folder / config.name).write_bytes(config.read_bytes())
    (folder / "model.safetensors").write_bytes(b"not a safetensors file")
    entry = {"name": "corrupt", "task": "text-classification", "model": "./corrupt", "backend": "torch"}
    use_registry(write_registry(tmp_path / "models.yaml", [entry]), "corrupt")
    error = error_of(handler.handler({"text": "hello"}, None))
    assert error["type"] == "model_load_failed"
    assert error["message"].startswith("Cannot load the weights of corrupt from")
