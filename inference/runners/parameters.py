"""Request parameters: a wrong type is the caller's mistake, a number out of range is clamped.

Parameters come from the registry entry and from the request (the form, the
CLI's ``--param``), merged by :func:`inference.service.handle`. Clamping keeps a
request from asking a Lambda for more work than its timeout allows.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any

from inference.errors import InvalidInput, ModelLoadError

#: The most tokens any generating task produces per chunk of input.
MAX_NEW_TOKENS = 512
#: Without a ``max_new_tokens`` setting, a chat answer is at most this long, on every backend.
DEFAULT_MAX_NEW_TOKENS = 256
#: Bounds on one request's work, the same for every backend.
MAX_LABELS = 20
MAX_SENTENCES = 64
#: Question answering: tokens shared by consecutive windows, so an answer across a window edge is seen whole.
QA_DOC_STRIDE = 128
#: Question answering: windows read per request at most (``truncated`` says when the context went further).
QA_MAX_WINDOWS = 64
#: Question answering: the context needs at least this many tokens of each window.
QA_MIN_CONTEXT = 16
DEFAULT_HYPOTHESIS = "This example is {}."

#: Generation settings a request may change, with their type and allowed range.
GENERATION: dict[str, tuple[type, float, float]] = {
    "max_new_tokens": (int, 1, MAX_NEW_TOKENS),
    "min_new_tokens": (int, 0, MAX_NEW_TOKENS),
    "min_length": (int, 0, MAX_NEW_TOKENS),
    "num_beams": (int, 1, 8),
    "no_repeat_ngram_size": (int, 0, 16),
    "top_k": (int, 0, 1000),
    "temperature": (float, 0.01, 5.0),
    "top_p": (float, 0.01, 1.0),
    "repetition_penalty": (float, 0.5, 3.0),
    "length_penalty": (float, -5.0, 5.0),
    "do_sample": (bool, 0, 1),
}


def integer(parameters: dict[str, Any], key: str, default: int, *, low: int, high: int) -> int:
    """``parameters[key]`` as a whole number clamped to ``[low, high]``, or ``default``.

    Raises:
        InvalidInput: the value is not a whole number.
    """
    value = parameters.get(key, default)
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if not isinstance(value, int) or isinstance(value, bool):
        raise InvalidInput(f"`{key}` must be a whole number, not {value!r}.")
    return max(low, min(high, value))


def number(parameters: dict[str, Any], key: str, default: float, *, low: float, high: float) -> float:
    """``parameters[key]`` as a number clamped to ``[low, high]``, or ``default``.

    Raises:
        InvalidInput: the value is not a number.
    """
    value = parameters.get(key, default)
    if not isinstance(value, int | float) or isinstance(value, bool):
        raise InvalidInput(f"`{key}` must be a number, not {value!r}.")
    return max(low, min(high, float(value)))


def flag(parameters: dict[str, Any], key: str, default: bool) -> bool:
    """``parameters[key]`` as a boolean, or ``default``.

    Raises:
        InvalidInput: the value is not true or false.
    """
    value = parameters.get(key, default)
    if not isinstance(value, bool):
        raise InvalidInput(f"`{key}` must be true or false, not {value!r}.")
    return value


def text(parameters: dict[str, Any], key: str) -> str | None:
    """``parameters[key]`` as stripped text, or None when absent or blank.

    Raises:
        InvalidInput: the value is not text.
    """
    value = parameters.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise InvalidInput(f"`{key}` must be text, not {value!r}.")
    return value.strip() or None


def generation(parameters: dict[str, Any]) -> dict[str, Any]:
    """The generation settings present in ``parameters``, checked and clamped."""
    settings: dict[str, Any] = {}
    for key, (kind, low, high) in GENERATION.items():
        if key not in parameters:
            continue
        if kind is bool:
            settings[key] = flag(parameters, key, False)
        elif kind is int:
            settings[key] = integer(parameters, key, 0, low=int(low), high=int(high))
        else:
            settings[key] = number(parameters, key, 0.0, low=low, high=high)
    return settings


def task_settings(specific: dict[str, Any] | None, task: str) -> dict[str, Any]:
    """A summarizer's entry of ``config.task_specific_params``: its prefix and generation settings."""
    return dict((specific or {}).get(task) or {})


def translation_settings(
    specific: dict[str, Any] | None, source: str | None, target: str | None, target_token: int | None
) -> dict[str, Any]:
    """A translator's entry of ``config.task_specific_params``, with ``target_token`` forced first.

    The entry of the ``source``/``target`` pair when the model has one, else the
    model's only translation entry. ``target_token`` is the id of the ``tgt_lang``
    parameter in the vocabulary (``fra_Latn`` for NLLB), when it is there.
    """
    specific = specific or {}
    settings: dict[str, Any] = {}
    pairs = [key for key in specific if key.startswith("translation")]
    if source and target and f"translation_{source}_to_{target}" in specific:
        settings = dict(specific[f"translation_{source}_to_{target}"])
    elif len(pairs) == 1:
        settings = dict(specific[pairs[0]])
    if target_token is not None:
        settings["forced_bos_token_id"] = target_token
    return settings


def take_prefix(settings: dict[str, Any], parameters: dict[str, Any]) -> str:
    """The text put before each piece of the input: the request's ``prefix``, else the task's (taken out of ``settings``).

    Raises:
        InvalidInput: the prefix is not text.
    """
    prefix = parameters.get("prefix", settings.pop("prefix", ""))
    if not isinstance(prefix, str):
        raise InvalidInput(f"`prefix` must be text, not {prefix!r}.")
    return prefix


def seq2seq_generation(
    settings: dict[str, Any], parameters: dict[str, Any], *, default_max_length: int | None
) -> dict[str, Any]:
    """The task's settings overridden by the request's: what ``generate()`` applies over the model's config.

    ``default_max_length`` is the model's own ``max_length``; any length above
    :data:`MAX_NEW_TOKENS` becomes that many new tokens.
    """
    merged = {**settings, **generation(parameters)}
    # A length in new tokens from the request replaces a total length from the task settings.
    if "max_new_tokens" in merged:
        merged.pop("max_length", None)
    if "min_new_tokens" in merged:
        merged.pop("min_length", None)
    longest = merged.get("max_length", default_max_length) or 0
    if "max_new_tokens" not in merged and longest > MAX_NEW_TOKENS:
        merged["max_new_tokens"] = MAX_NEW_TOKENS
        merged.pop("max_length", None)
    return merged


def chat_messages(
    prompt: str, parameters: dict[str, Any], history: Sequence[dict[str, str]] = ()
) -> list[dict[str, str]]:
    """The conversation a chat template renders: the ``system`` setting, if any, the earlier turns, then the prompt."""
    system = text(parameters, "system")
    return [
        *([{"role": "system", "content": system}] if system else []),
        *history,
        {"role": "user", "content": prompt},
    ]


def plain_prompt(prompt: str, parameters: dict[str, Any], history: Sequence[dict[str, str]] = ()) -> str:
    """The prompt of a model without a chat template: the ``system`` setting, if any, as its first paragraph,
    then each earlier turn as a ``User:`` or ``Assistant:`` paragraph (the prompt itself as it is, without
    history; after it, as the last ``User:`` paragraph and an open ``Assistant:``)."""
    system = text(parameters, "system")
    if history:
        turns = [f"{turn['role'].capitalize()}: {turn['content']}" for turn in history]
        prompt = "\n\n".join([*turns, f"User: {prompt}", "Assistant:"])
    return f"{system}\n\n{prompt}" if system else prompt


def fit_history(
    history: Sequence[dict[str, str]], prompt_tokens: Callable[[Sequence[dict[str, str]]], int], room: int
) -> tuple[list[dict[str, str]], int]:
    """The newest earlier turns whose prompt fits in ``room`` tokens, and how many of the oldest were dropped.

    ``prompt_tokens(turns)`` counts the whole prompt with ``turns`` as its history (the chat template's
    rendering, tokenized), which only shrinks as turns are dropped, so the fewest dropped is found by
    bisection (about log2(turns) renderings). A history left starting with the model's own turn drops
    that one too, so the conversation starts with a person (templates that alternate roles require it).
    With no history left the prompt may still not fit: :func:`check_prompt_fits` says so.
    """
    turns = list(history)
    if not turns or prompt_tokens(turns) <= room:
        return turns, 0
    low, high = 1, len(turns)  # dropping `high` (all) is the fallback; find the fewest that fits
    while low < high:
        middle = (low + high) // 2
        if prompt_tokens(turns[middle:]) <= room:
            high = middle
        else:
            low = middle + 1
    dropped = low
    while dropped < len(turns) and turns[dropped]["role"] != "user":
        dropped += 1
    return turns[dropped:], dropped


def check_prompt_fits(tokens: int, max_new_tokens: int, limit: int) -> None:
    """Refuse a prompt that, with the tokens to generate, is longer than the model reads.

    Raises:
        InvalidInput: ``tokens + max_new_tokens`` is over ``limit``.
    """
    if tokens + max_new_tokens > limit:
        raise InvalidInput(
            f"The prompt is {tokens} tokens long; with {max_new_tokens} new tokens "
            f"that is more than the {limit} this model reads."
        )


def zero_shot(labels: list[str], parameters: dict[str, Any]) -> tuple[str, bool]:
    """The hypothesis template and ``multi_label`` of a zero-shot request, checked.

    Raises:
        InvalidInput: too many labels, or a template without ``{}``.
    """
    if len(labels) > MAX_LABELS:
        raise InvalidInput(f"Give at most {MAX_LABELS} labels, not {len(labels)}.")
    template = text(parameters, "hypothesis_template") or DEFAULT_HYPOTHESIS
    if "{}" not in template:
        raise InvalidInput("`hypothesis_template` must contain `{}` where the label goes.")
    return template, flag(parameters, "multi_label", False)


def rank_similar(
    inputs: dict[str, Any], *, embed: Callable[[list[str]], Any], too_long: Callable[[str], bool]
) -> dict[str, Any]:
    """The sentence-similarity result, whatever the backend: cosine of each sentence with the source.

    ``embed`` returns L2-normalised vectors (a torch tensor or a numpy array), one row per text.

    Raises:
        InvalidInput: more sentences than one request may rank.
    """
    source, sentences = inputs["source"], inputs["sentences"]
    if len(sentences) > MAX_SENTENCES:
        raise InvalidInput(f"Compare at most {MAX_SENTENCES} sentences at once, not {len(sentences)}.")
    texts = [source, *sentences]
    vectors = embed(texts)
    scores = (vectors[1:] @ vectors[0]).tolist()
    ranked = sorted(zip(sentences, scores, strict=True), key=lambda pair: pair[1], reverse=True)
    return {
        "source": source,
        "scores": [{"sentence": sentence, "score": float(score)} for sentence, score in ranked],
        "truncated": any(too_long(text) for text in texts),
    }


def not_nli(name: str, labels: Iterable[str]) -> ModelLoadError:
    """The error for a zero-shot entry whose model has no 'entailment' class to score labels with."""
    return ModelLoadError(
        f"{name}: zero-shot classification needs an NLI model with an 'entailment' label; this one has {', '.join(labels)}."
    )


#: What people type for the blank in a fill-mask sentence; either becomes the model's own mask token.
MASK_MARKERS = ("[MASK]", "<mask>")
#: Fill-mask: the words proposed by default, and at most.
FILL_MASK_TOP_K, FILL_MASK_MAX_K = 5, 20


def masked(text: str, mask_token: str) -> str:
    """``text`` with its one blank written as the model's ``mask_token``, whatever the backend.

    Raises:
        InvalidInput: no blank, or more than one.
    """
    for marker in MASK_MARKERS:
        text = text.replace(marker, mask_token)
    if text.count(mask_token) != 1:
        raise InvalidInput("Use exactly one `[MASK]`.")
    return text


def fits(tokens: int, limit: int) -> None:
    """Refuse a fill-mask sentence longer than the model reads (it cannot be cut: the blank may be past the cut).

    Raises:
        InvalidInput: ``tokens`` is over ``limit``.
    """
    if tokens > limit:
        raise InvalidInput(f"The sentence is {tokens} tokens long; this model reads at most {limit}.")
