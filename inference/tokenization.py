"""What transformers' ``decode`` does after the tokenizer's own decoder, for the runtimes that serve without it.

The converter decides once, with transformers at hand, whether a tokenizer tidies spaces
(:func:`cleans_up`); the runner then repeats the tidying with plain string operations.
"""

from __future__ import annotations

from typing import Any

#: transformers' ``clean_up_tokenization``, in its order: spaces it removes before punctuation and contractions.
CLEAN_UP = (
    (" .", "."),
    (" ?", "?"),
    (" !", "!"),
    (" ,", ","),
    (" ' ", "'"),
    (" n't", "n't"),
    (" 'm", "'m"),
    (" 's", "'s"),
    (" 've", "'ve"),
    (" 're", "'re"),
)


def clean_up_tokenization(text: str) -> str:
    """transformers' ``clean_up_tokenization``: no space before punctuation and English contractions."""
    for spaced, tight in CLEAN_UP:
        text = text.replace(spaced, tight)
    return text


def cleans_up(tokenizer: Any) -> bool:
    """Whether transformers' ``decode`` tidies spaces for this (transformers) tokenizer: never for BPE, unless forced."""
    forced = getattr(tokenizer, "clean_up_tokenization_spaces_for_bpe_even_though_it_will_corrupt_output", False)
    bpe = type(tokenizer.backend_tokenizer.model).__name__ == "BPE"
    return bool(tokenizer.clean_up_tokenization_spaces) and (bool(forced) or not bpe)
