"""Runners for the tasks transformers 5 still serves with a native pipeline.

Each loads its model and tokenizer itself (see :class:`TorchRunner`: safetensors
only, no remote code), hands them to ``transformers.pipeline`` and turns the
pipeline's output into the result shape documented in :mod:`inference.tasks`.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar

import torch
from transformers import (
    AutoModel,
    AutoModelForCausalLM,
    AutoModelForMaskedLM,
    AutoModelForSequenceClassification,
    AutoModelForTokenClassification,
    pipeline,
)
from transformers.generation.streamers import BaseStreamer

from inference.errors import ModelLoadError
from inference.registry import ModelSpec
from inference.runners import parameters as params
from inference.runners.base import TorchRunner
from inference.runners.pooling import read_pooling
from inference.runners.similarity import pool
from inference.tasks import MESSAGES, trimmed_turns


class PipelineRunner(TorchRunner):
    """A :class:`TorchRunner` whose model is wrapped in a transformers pipeline."""

    pipeline_task: ClassVar[str]

    def __init__(self, spec: ModelSpec, path: Path) -> None:
        super().__init__(spec, path)
        self.pipe = pipeline(self.pipeline_task, model=self.model, tokenizer=self.tokenizer, device="cpu")


def _labels(scored: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{"label": str(item["label"]), "score": float(item["score"])} for item in scored]


class TextClassificationRunner(PipelineRunner):
    """The most likely labels, highest score first; text past the model's limit is cut off."""

    auto_class = AutoModelForSequenceClassification
    pipeline_task = "text-classification"

    def predict(self, inputs: dict[str, Any], parameters: dict[str, Any]) -> dict[str, Any]:
        text = inputs["text"]
        count = len(self.model.config.id2label)
        top_k = params.integer(parameters, "top_k", min(5, count), low=1, high=count)
        scored = self.pipe(text, top_k=top_k, truncation=True)
        return {"labels": _labels(scored), "truncated": self.token_count(text) > self.limit}


class TokenClassificationRunner(PipelineRunner):
    """Entities over the whole text: long texts are read in overlapping windows."""

    auto_class = AutoModelForTokenClassification
    pipeline_task = "token-classification"

    def __init__(self, spec: ModelSpec, path: Path) -> None:
        super().__init__(spec, path)
        if not self.tokenizer.is_fast:
            raise ModelLoadError(f"{spec.name}: entity recognition needs a fast tokenizer (for character offsets).")

    def predict(self, inputs: dict[str, Any], parameters: dict[str, Any]) -> dict[str, Any]:
        found = self.pipe(inputs["text"], aggregation_strategy="simple", stride=self.limit // 4)
        entities = [
            {
                "label": str(item["entity_group"]),
                "word": str(item["word"]),
                "start": int(item["start"]),
                "end": int(item["end"]),
                "score": float(item["score"]),
            }
            for item in found
        ]
        return {"entities": entities}


class ZeroShotRunner(PipelineRunner):
    """Scores the text against each label with an NLI model's entailment head."""

    auto_class = AutoModelForSequenceClassification
    pipeline_task = "zero-shot-classification"

    def __init__(self, spec: ModelSpec, path: Path) -> None:
        super().__init__(spec, path)
        if not any(label.lower().startswith("entail") for label in self.model.config.label2id):
            raise params.not_nli(spec.name, self.model.config.label2id)

    def predict(self, inputs: dict[str, Any], parameters: dict[str, Any]) -> dict[str, Any]:
        text, labels = inputs["text"], inputs["candidate_labels"]
        template, multi_label = params.zero_shot(labels, parameters)
        result = self.pipe(
            text,
            candidate_labels=labels,
            hypothesis_template=template,
            multi_label=multi_label,
        )
        scored = [
            {"label": label, "score": score} for label, score in zip(result["labels"], result["scores"], strict=True)
        ]
        longest = max(labels, key=len)
        return {
            "labels": _labels(scored),
            "truncated": self.token_count(text, template.format(longest)) > self.limit,
        }


class FillMaskRunner(PipelineRunner):
    """The likeliest words for the one ``[MASK]`` (or ``<mask>``) in the sentence."""

    auto_class = AutoModelForMaskedLM
    pipeline_task = "fill-mask"

    def __init__(self, spec: ModelSpec, path: Path) -> None:
        super().__init__(spec, path)
        if self.tokenizer.mask_token is None:
            raise ModelLoadError(f"{spec.name}: the tokenizer has no mask token, so it cannot fill a blank.")

    def predict(self, inputs: dict[str, Any], parameters: dict[str, Any]) -> dict[str, Any]:
        text = params.masked(inputs["text"], self.tokenizer.mask_token)
        params.fits(self.token_count(text), self.limit)
        top_k = params.integer(parameters, "top_k", params.FILL_MASK_TOP_K, low=1, high=params.FILL_MASK_MAX_K)
        predictions = [
            {"token": str(p["token_str"]).strip(), "score": float(p["score"]), "sequence": str(p["sequence"])}
            for p in self.pipe(text, top_k=top_k)
        ]
        return {"predictions": predictions}


class TextSoFar(BaseStreamer):
    """A ``generate`` streamer that hands ``on_text`` the reply so far after each token (the prompt comes first: skipped)."""

    def __init__(self, tokenizer: Any, on_text: Callable[[Callable[[], str]], None]) -> None:
        self.tokenizer, self.on_text = tokenizer, on_text
        self.tokens: list[int] = []
        self._prompt_seen = False

    def put(self, value: Any) -> None:
        if not self._prompt_seen:
            self._prompt_seen = True
            return
        self.tokens.extend(int(token) for token in value.reshape(-1).tolist())
        self.on_text(lambda: str(self.tokenizer.decode(self.tokens, skip_special_tokens=True)).strip())

    def end(self) -> None:
        """Nothing to flush: the final reply travels in the result."""


class TextGenerationRunner(PipelineRunner):
    """Answers a prompt, through the tokenizer's chat template when it has one; returns only the new text."""

    auto_class = AutoModelForCausalLM
    pipeline_task = "text-generation"
    #: ``generate`` takes a streamer, so ``run`` can pass the text so far on (:class:`inference.service.Partials`).
    streams = True

    def run(
        self, text: str, parameters: dict[str, Any], *, on_text: Callable[[Callable[[], str]], None] | None = None
    ) -> dict[str, Any]:
        """As :meth:`TorchRunner.run`; ``on_text`` sees the reply as it grows (through a :class:`TextSoFar`)."""
        self._streamer = TextSoFar(self.tokenizer, on_text) if on_text is not None else None
        try:
            return super().run(text, parameters)
        finally:
            self._streamer = None

    def predict(self, inputs: dict[str, Any], parameters: dict[str, Any]) -> dict[str, Any]:
        # Sample only when the model's generation config says so (the pipeline alone would always sample).
        model_defaults = {
            "max_new_tokens": params.DEFAULT_MAX_NEW_TOKENS,
            "do_sample": bool(self.model.generation_config.do_sample),
        }
        settings = {**model_defaults, **params.generation(parameters)}
        history, dropped = params.fit_history(
            inputs.get(MESSAGES) or [],
            lambda turns: self._prompt(inputs["text"], parameters, turns)[1],
            self.limit - settings["max_new_tokens"],
        )
        prompt, tokens = self._prompt(inputs["text"], parameters, history)
        params.check_prompt_fits(tokens, settings["max_new_tokens"], self.limit)
        streamer = getattr(self, "_streamer", None)
        output = self.pipe(prompt, return_full_text=False, **settings, **({"streamer": streamer} if streamer else {}))
        return {"text": str(output[0]["generated_text"]).strip(), **trimmed_turns(dropped, inputs)}

    def _prompt(
        self, text: str, parameters: dict[str, Any], history: list[dict[str, str]]
    ) -> tuple[str | list[dict[str, str]], int]:
        """What the pipeline is given (the conversation, or the plain prompt) and its length in tokens."""
        if self.tokenizer.chat_template:
            messages = params.chat_messages(text, parameters, history)
            encoded = self.tokenizer.apply_chat_template(
                messages, add_generation_prompt=True, tokenize=True, return_dict=True
            )
            return messages, len(encoded["input_ids"])
        prompt = params.plain_prompt(text, parameters, history)
        return prompt, self.token_count(prompt)


class FeatureExtractionRunner(PipelineRunner):
    """One vector for the text: its tokens pooled as the model's config says (see :mod:`inference.runners.pooling`)."""

    auto_class = AutoModel
    pipeline_task = "feature-extraction"

    def __init__(self, spec: ModelSpec, path: Path) -> None:
        super().__init__(spec, path)
        self.pooling = read_pooling(path, spec.name)

    def predict(self, inputs: dict[str, Any], parameters: dict[str, Any]) -> dict[str, Any]:
        text = inputs["text"]
        hidden = self.pipe(text, return_tensors=True, tokenize_kwargs={"truncation": True})
        vector = pool(hidden, torch.ones(hidden.shape[:2], dtype=torch.long), self.pooling.modes)[0]
        if self.pooling.normalizes(parameters):
            vector = torch.nn.functional.normalize(vector, dim=0)
        return {
            "dimensions": int(vector.shape[0]),
            "embedding": [float(x) for x in vector.tolist()],
            "truncated": self.token_count(text) > self.limit,
        }
