"""The one rule for what may be compared (``bot.core.compare.check_compare``), for Slack and the form alike."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.core.compare import CompareError, check_compare
from inference.registry import Registry
from tests.fakes.specs import model_spec

REGISTRY = Registry(
    (
        model_spec("sentiment"),
        model_spec("other", task="text-classification"),
        model_spec("detect", task="object-detection"),
        model_spec("transcribe", task="automatic-speech-recognition"),
    ),
    Path("models.yaml"),
)


def test_two_text_models_on_one_text() -> None:
    specs, text = check_compare(REGISTRY, ["sentiment", "other"], "  Great news!  ")
    assert [s.name for s in specs] == ["sentiment", "other"] and text == "Great news!"


@pytest.mark.parametrize(
    ("names", "words"),
    [
        (
            ["sentiment", "detect"],
            "`detect` reads files; a comparison runs text models on one text. Run it as one model.",
        ),
        (["detect", "transcribe"], "`detect`, `transcribe` read files;"),
        (["sentiment"], "Compare two or three different models."),
        (["sentiment", "sentiment"], "Compare two or three different models."),
        (["sentiment", "nope"], "No model called `nope`."),
    ],
)
def test_what_cannot_be_compared_is_refused_in_words(names: list[str], words: str) -> None:
    with pytest.raises(CompareError) as caught:
        check_compare(REGISTRY, names, "Great news!")
    assert words in str(caught.value)
