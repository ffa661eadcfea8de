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

The file tasks read the request's file (its ``file.key``) from the folder in
``MEDIA_DIR``, as our handler does, and hand it to their pipeline as a Pillow
image or, for speech, as 16 kHz samples (the pipeline decodes bytes only with an
ffmpeg binary, which a Lambda image lacks). transformers 5 has no image-to-text
pipeline either, so captions are ``AutoModelForImageTextToText`` with its
processor at import and ``generate`` per request.
"""

from __future__ import annotations

import io
import os
from pathlib import Path
from typing import Any

import numpy as np

TASK = os.environ["SEED_TASK"]
MODEL = os.environ["SEED_MODEL"]
#: The file tasks transformers 5 still has a pipeline for.
FILE_PIPELINES = (
    "image-classification",
    "zero-shot-image-classification",
    "object-detection",
    "automatic-speech-recognition",
)

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
elif TASK in FILE_PIPELINES:
    from transformers import pipeline

    task_pipeline = pipeline(TASK, model=MODEL)
elif TASK == "image-to-text":
    from transformers import AutoModelForImageTextToText, AutoProcessor

    processor = AutoProcessor.from_pretrained(MODEL)
    model = AutoModelForImageTextToText.from_pretrained(MODEL, dtype="float32")
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


def _file(event: dict[str, Any]) -> bytes:
    return (Path(os.environ["MEDIA_DIR"]) / event["file"]["key"]).read_bytes()


def _image(event: dict[str, Any]) -> Any:
    from PIL import Image

    return Image.open(io.BytesIO(_file(event))).convert("RGB")


def _file_pipeline(event: dict[str, Any], parameters: dict[str, Any]) -> Any:
    if TASK == "automatic-speech-recognition":
        import soundfile

        samples, rate = soundfile.read(io.BytesIO(_file(event)), dtype="float32")
        audio = {"raw": samples, "sampling_rate": rate}
        # One generate() per 30-second window, as ours: by default transformers 5 seeks back to the last
        # timestamp and decodes the window again from there, up to twice the tokens for the same audio.
        settings = {**parameters, "force_unique_generate_call": True}
        return task_pipeline(audio, return_timestamps=True, generate_kwargs=settings)
    if TASK == "zero-shot-image-classification":
        labels = [label.strip() for label in event["text"].split(",")]
        return task_pipeline(_image(event), candidate_labels=labels)
    return task_pipeline(_image(event), **parameters)


def _caption(event: dict[str, Any], parameters: dict[str, Any]) -> dict[str, Any]:
    batch = processor(images=_image(event), return_tensors="pt")
    output = model.generate(**batch, **parameters)
    return {"caption": processor.decode(output[0], skip_special_tokens=True)}


def handler(event: dict[str, Any], context: Any = None) -> dict[str, Any]:
    """One request: ``{"text", "parameters"?, "file"?}``."""
    parameters = event.get("parameters") or {}
    if TASK in FILE_PIPELINES:
        return {"result": _file_pipeline(event, parameters)}
    if TASK == "image-to-text":
        return _caption(event, parameters)
    if TASK == "text-generation":
        return _chat(event["text"], parameters)
    if TASK in ("summarization", "translation"):
        return _seq2seq(event["text"], parameters)
    return _similarity(event["text"])
