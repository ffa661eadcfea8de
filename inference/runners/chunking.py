"""Splitting a long text into pieces a model's window can hold.

Sentences are kept whole where they fit, so translations and summaries of each
piece read naturally; a longer sentence is cut between words. Works with any
tokenizer, fast or not (Marian's is sentencepiece), as it only counts tokens.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

#: Where sentences end: after ``.!?`` and a space, after the CJK marks (written as escapes), at line breaks.
SENTENCE_END = re.compile(r"(?<=[.!?])\s+|(?<=[\u3002\uff01\uff1f])\s*|\n+")


def _tokens(tokenizer: Any, text: str) -> list[int]:
    return tokenizer(text, add_special_tokens=False, verbose=False)["input_ids"]


def split_text(tokenizer: Any, text: str, budget: int) -> list[str]:
    """Pack ``text`` into pieces of at most about ``budget`` tokens (without special tokens).

    Whole sentences are packed together; a sentence over the budget is packed by
    words, and a word over the budget is cut at token boundaries. Re-tokenizing a
    piece can differ by a token or two from the sum of its parts, so callers still
    truncate each piece to the model's window.
    """
    if budget < 1:
        raise ValueError("budget must be at least one token")
    sentences = [s for s in (part.strip() for part in SENTENCE_END.split(text)) if s]
    return _pack(tokenizer, sentences, budget, by_words=True)


def _pack(tokenizer: Any, units: list[str], budget: int, *, by_words: bool) -> list[str]:
    pieces: list[str] = []
    current: list[str] = []
    used = 0
    for unit in units:
        size = len(_tokens(tokenizer, unit))
        if current and (size > budget or used + size > budget):
            pieces.append(" ".join(current))
            current, used = [], 0
        if size <= budget:
            current.append(unit)
            used += size
        elif by_words:
            pieces.extend(_pack(tokenizer, unit.split(), budget, by_words=False))
        else:
            ids = _tokens(tokenizer, unit)
            pieces.extend(
                tokenizer.decode(ids[i : i + budget], skip_special_tokens=True).strip()
                for i in range(0, len(ids), budget)
            )
    if current:
        pieces.append(" ".join(current))
    return pieces


def generate_in_pieces(
    tokenizer: Any, text: str, *, limit: int, prefix: str, generate: Callable[[str], str]
) -> tuple[str, int]:
    """``generate`` on each piece of ``text`` (after ``prefix``) that fits a window of ``limit`` tokens, joined.

    The window also holds the prefix and the tokenizer's special tokens. Returns
    the joined outputs and how many pieces there were.
    """
    reserved = tokenizer.num_special_tokens_to_add() + len(_tokens(tokenizer, prefix))
    pieces = split_text(tokenizer, text, max(1, limit - reserved))
    outputs = [generate(prefix + piece) for piece in pieces]
    return " ".join(output for output in outputs if output), len(pieces)
