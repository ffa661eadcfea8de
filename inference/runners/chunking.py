"""Splitting a long text into pieces a model's window can hold.

Sentences are kept whole where they fit, so translations and summaries of each
piece read naturally; a sentence longer than the window is cut at token
boundaries. Works with any tokenizer, fast or not (Marian's is sentencepiece).
"""

from __future__ import annotations

import re
from typing import Any

#: Where sentences end: after ``.!?`` and a space, after the CJK marks (written as escapes), at line breaks.
SENTENCE_END = re.compile(r"(?<=[.!?])\s+|(?<=[\u3002\uff01\uff1f])\s*|\n+")


def _tokens(tokenizer: Any, text: str) -> list[int]:
    return tokenizer(text, add_special_tokens=False, verbose=False)["input_ids"]


def split_text(tokenizer: Any, text: str, budget: int) -> list[str]:
    """Pack ``text`` into pieces of at most about ``budget`` tokens (without special tokens).

    Re-tokenizing a piece can differ by a token or two from the sum of its
    sentences, so callers still truncate each piece to the model's window.
    """
    if budget < 1:
        raise ValueError("budget must be at least one token")
    pieces: list[str] = []
    current: list[str] = []
    used = 0
    for sentence in filter(None, (s.strip() for s in SENTENCE_END.split(text))):
        ids = _tokens(tokenizer, sentence)
        if len(ids) > budget:
            parts = [
                tokenizer.decode(ids[i : i + budget], skip_special_tokens=True).strip()
                for i in range(0, len(ids), budget)
            ]
            sentence, ids = parts[-1], _tokens(tokenizer, parts[-1])
            if current:
                pieces.append(" ".join(current))
            pieces.extend(parts[:-1])
            current, used = [], 0
        if current and used + len(ids) > budget:
            pieces.append(" ".join(current))
            current, used = [], 0
        current.append(sentence)
        used += len(ids)
    if current:
        pieces.append(" ".join(current))
    return pieces
