"""The tasks that read a file: their kind, which of them read text beside it, and how that text is parsed."""

from __future__ import annotations

import pytest

from inference.errors import InvalidInput
from inference.media import AUDIO, IMAGE
from inference.tasks import TASKS, media_kind, parse_input, reads_text

FILE_TASKS = {
    "image-classification": (IMAGE, False),
    "zero-shot-image-classification": (IMAGE, True),
    "object-detection": (IMAGE, False),
    "image-to-text": (IMAGE, True),
    "automatic-speech-recognition": (AUDIO, False),
}


def test_the_file_tasks_and_what_they_read() -> None:
    assert {name: (media_kind(name), reads_text(name)) for name in TASKS if media_kind(name)} == FILE_TASKS
    assert all(reads_text(name) for name in TASKS if media_kind(name) is None)


@pytest.mark.parametrize("task", sorted(FILE_TASKS))
def test_a_file_task_may_have_no_text(task: str) -> None:
    parameters = {"candidate_labels": ["cat", "dog"]}
    assert parse_input(task, "   ", parameters) in ({}, {"candidate_labels": ["cat", "dog"]})


def test_image_labels_come_from_the_text_else_the_registry() -> None:
    assert parse_input("zero-shot-image-classification", "a cat, a dog ,", {}) == {
        "candidate_labels": ["a cat", "a dog"]
    }
    assert parse_input("zero-shot-image-classification", "", {"candidate_labels": "red,blue"}) == {
        "candidate_labels": ["red", "blue"]
    }
    with pytest.raises(InvalidInput, match="at least two labels"):
        parse_input("zero-shot-image-classification", "cat", {})


def test_a_caption_may_start_with_words() -> None:
    assert parse_input("image-to-text", " a photo of ", {}) == {"prompt": "a photo of"}
    assert parse_input("image-to-text", "", {}) == {}


def test_a_text_task_still_needs_its_text() -> None:
    with pytest.raises(InvalidInput, match="The text is empty"):
        parse_input("text-classification", "  ", {})
