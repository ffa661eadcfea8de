"""Splitting long text into pieces that fit a model's window."""

from __future__ import annotations

from pathlib import Path

import pytest
from transformers import AutoTokenizer

from inference.runners.chunking import split_text


@pytest.fixture(scope="module")
def tokenizer(tiny_registry: Path):
    return AutoTokenizer.from_pretrained(tiny_registry.parent / "summarizer")


def count(tokenizer, text: str) -> int:
    return len(tokenizer(text, add_special_tokens=False)["input_ids"])


def test_short_text_is_one_piece(tokenizer) -> None:
    assert split_text(tokenizer, "The tower is tall. It is in Paris.", 40) == ["The tower is tall. It is in Paris."]


def test_sentences_are_packed_whole_within_the_budget(tokenizer) -> None:
    sentences = [f"The team moved the meeting number {i}." for i in range(12)]
    pieces = split_text(tokenizer, " ".join(sentences), 20)
    assert len(pieces) > 1
    assert all(count(tokenizer, piece) <= 20 for piece in pieces)
    assert " ".join(pieces) == " ".join(sentences)


def test_a_sentence_longer_than_the_budget_is_cut_between_words(tokenizer) -> None:
    sentence = " ".join(["paris"] * 25) + "."
    pieces = split_text(tokenizer, f"Short one. {sentence} Last one.", 10)
    assert pieces[0] == "Short one."
    assert pieces[1] == " ".join(["paris"] * 10)
    assert all(count(tokenizer, piece) <= 10 for piece in pieces)
    assert " ".join(pieces) == f"Short one. {sentence} Last one."


def test_a_word_longer_than_the_budget_is_cut_at_tokens(tokenizer) -> None:
    pieces = split_text(tokenizer, "zzzzzz", 4)
    assert all(count(tokenizer, piece) <= 4 for piece in pieces)
    assert len(pieces) == 2


def test_line_breaks_and_cjk_full_stops_end_sentences(tokenizer) -> None:
    assert split_text(tokenizer, "paris tower\nlondon city", 2) == ["paris tower", "london city"]
    assert split_text(tokenizer, "\u4f60\u597d\u3002\u518d\u89c1", 1000) == ["\u4f60\u597d\u3002 \u518d\u89c1"]


def test_budget_must_be_positive(tokenizer) -> None:
    with pytest.raises(ValueError, match="at least one token"):
        split_text(tokenizer, "text", 0)
