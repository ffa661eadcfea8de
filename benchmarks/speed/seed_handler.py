"""The baseline: a model handler written the way the seed project wrote its Lambda.

The seed built a transformers ``pipeline(...)`` when the module was imported
and called it on each request. For sentence similarity that is the
feature-extraction pipeline, whose token vectors are averaged per sentence and
compared by cosine. transformers 5 removed the summarization pipeline, so for
summarization the plain equivalent: ``AutoModelForSeq2SeqLM`` and its tokenizer
at import, ``generate`` per request. Configured, as a Lambda is, by the
environment: ``SEED_TASK`` and ``SEED_MODEL`` (a folder).
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np

TASK = os.environ["SEED_TASK"]
MODEL = os.environ["SEED_MODEL"]

if TASK == "summarization":
    from transformers import AutoModelForSeq2SeqLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(MODEL)
    model = AutoModelForSeq2SeqLM.from_pretrained(MODEL)
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


def _summarize(text: str, parameters: dict[str, Any]) -> dict[str, Any]:
    batch = tokenizer(text, truncation=True, return_tensors="pt")
    output = model.generate(**batch, **parameters)
    return {"summary": tokenizer.decode(output[0], skip_special_tokens=True)}


def handler(event: dict[str, Any], context: Any = None) -> dict[str, Any]:
    """One request: ``{"text", "parameters"?}``."""
    if TASK == "summarization":
        return _summarize(event["text"], event.get("parameters") or {})
    return _similarity(event["text"])
