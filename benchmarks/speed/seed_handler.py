"""The baseline: a model handler written the way the seed project wrote its Lambda.

The seed built a transformers ``pipeline(...)`` when the module was imported
and called it on each request. For sentence similarity that is the
feature-extraction pipeline, whose token vectors are averaged per sentence and
compared by cosine. transformers 5 removed the summarization and translation
pipelines, so for those the plain equivalent: ``AutoModelForSeq2SeqLM`` and its
tokenizer at import, ``generate`` per request (the model's own generation
settings, overridden by the request's). For chat, ``AutoModelForCausalLM``,
the tokenizer's chat template and ``generate``. Weights are loaded in float32,
as transformers 4 (the seed's) loaded them by default. Configured, as a Lambda
is, by the environment: ``SEED_TASK`` and ``SEED_MODEL`` (a folder).
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np

TASK = os.environ["SEED_TASK"]
MODEL = os.environ["SEED_MODEL"]

if TASK in ("summarization", "translation"):
    from transformers import AutoModelForSeq2SeqLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(MODEL)
    model = AutoModelForSeq2SeqLM.from_pretrained(MODEL, dtype="float32")
elif TASK == "text-generation":
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(MODEL)
    model = AutoModelForCausalLM.from_pretrained(MODEL, dtype="float32")
elif TASK == "sentence-similarity":
    from transformers import pipeline

    extractor = pipeline("feature-extraction", model=MODEL)
else:
    raise SystemExit(f"the seed-style handler does not do {TASK}")


def _similarity(text: str) -> dict[str, Any]:
    source, *sentences = (part.strip() for part in text.split("|"))
    vectors = np.array([np.mean(tokens[0], axis=0) for tokens in extractor([source, *sentences])])
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    return {"scores": [float(score) for score in vectors[1:] @ vectors[0]]}


def _seq2seq(text: str, parameters: dict[str, Any]) -> dict[str, Any]:
    batch = tokenizer(text, truncation=True, return_tensors="pt")
    output = model.generate(**batch, **parameters)
    return {"text": tokenizer.decode(output[0], skip_special_tokens=True)}


def _chat(text: str, parameters: dict[str, Any]) -> dict[str, Any]:
    batch = tokenizer.apply_chat_template(
        [{"role": "user", "content": text}], add_generation_prompt=True, return_tensors="pt", return_dict=True
    )
    output = model.generate(**batch, **parameters)
    return {"reply": tokenizer.decode(output[0, batch["input_ids"].shape[1] :], skip_special_tokens=True)}


def handler(event: dict[str, Any], context: Any = None) -> dict[str, Any]:
    """One request: ``{"text", "parameters"?}``."""
    parameters = event.get("parameters") or {}
    if TASK == "text-generation":
        return _chat(event["text"], parameters)
    if TASK in ("summarization", "translation"):
        return _seq2seq(event["text"], parameters)
    return _similarity(event["text"])
