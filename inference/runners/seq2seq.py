"""Summarization and translation: AutoModelForSeq2SeqLM and ``generate()``.

transformers 5 removed these pipelines. The runners honour what the model ships:
its ``generation_config``, and its ``config.task_specific_params`` (T5-style
prefixes such as ``"summarize: "`` and per-task generation settings). Text longer
than the encoder's window is split into pieces (whole sentences where possible),
each piece is generated on its own, and the outputs are joined in order.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

from transformers import AutoModelForSeq2SeqLM

from inference.errors import InvalidInput
from inference.registry import ModelSpec
from inference.runners import parameters as params
from inference.runners.base import TorchRunner
from inference.runners.chunking import split_text


class Seq2SeqRunner(TorchRunner):
    """Generates one output per piece of the input and joins them."""

    auto_class = AutoModelForSeq2SeqLM
    #: The key of the generated text in the result.
    output_key: ClassVar[str]

    def task_settings(self, parameters: dict[str, Any]) -> dict[str, Any]:
        """This task's entry of ``config.task_specific_params`` (prefix and generation settings)."""
        specific = getattr(self.model.config, "task_specific_params", None) or {}
        return dict(specific.get(self.spec.task) or {})

    def generation_settings(self, settings: dict[str, Any], parameters: dict[str, Any]) -> dict[str, Any]:
        """The task's settings overridden by the request's; ``generate()`` applies them over the model's config."""
        merged = {**settings, **params.generation(parameters)}
        # A length in new tokens from the request replaces a total length from the task settings.
        if "max_new_tokens" in merged:
            merged.pop("max_length", None)
        if "min_new_tokens" in merged:
            merged.pop("min_length", None)
        longest = merged.get("max_length", self.model.generation_config.max_length) or 0
        if "max_new_tokens" not in merged and longest > params.MAX_NEW_TOKENS:
            merged["max_new_tokens"] = params.MAX_NEW_TOKENS
            merged.pop("max_length", None)
        return merged

    def predict(self, inputs: dict[str, Any], parameters: dict[str, Any]) -> dict[str, Any]:
        settings = self.task_settings(parameters)
        prefix = parameters.get("prefix", settings.pop("prefix", ""))
        if not isinstance(prefix, str):
            raise InvalidInput(f"`prefix` must be text, not {prefix!r}.")
        settings = self.generation_settings(settings, parameters)
        reserved = self.tokenizer.num_special_tokens_to_add() + len(
            self.tokenizer(prefix, add_special_tokens=False)["input_ids"]
        )
        pieces = split_text(self.tokenizer, inputs["text"], max(1, self.limit - reserved))
        outputs = [self._generate(prefix + piece, settings) for piece in pieces]
        return {self.output_key: " ".join(o for o in outputs if o), "chunks": len(pieces)}

    def _generate(self, text: str, settings: dict[str, Any]) -> str:
        batch = self.tokenizer(text, truncation=True, max_length=self.limit, return_tensors="pt")
        output = self.model.generate(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"], **settings)
        return self.tokenizer.decode(output[0], skip_special_tokens=True).strip()


class SummarizationRunner(Seq2SeqRunner):
    """``{"summary", "chunks"}``: one summary per piece, joined."""

    output_key = "summary"


class TranslationRunner(Seq2SeqRunner):
    """``{"translation", "chunks"}``.

    Multilingual models take ``src_lang`` / ``tgt_lang`` parameters (for example
    ``eng_Latn`` / ``fra_Latn`` for NLLB): the source language is set on the
    tokenizer and the target language token is forced as the first output token.
    """

    output_key = "translation"

    def __init__(self, spec: ModelSpec, path: Path) -> None:
        super().__init__(spec, path)
        self.default_source = getattr(self.tokenizer, "src_lang", None)

    def task_settings(self, parameters: dict[str, Any]) -> dict[str, Any]:
        specific = getattr(self.model.config, "task_specific_params", None) or {}
        source, target = params.text(parameters, "src_lang"), params.text(parameters, "tgt_lang")
        if hasattr(self.tokenizer, "src_lang"):
            self.tokenizer.src_lang = source or self.default_source
        settings: dict[str, Any] = {}
        pairs = [key for key in specific if key.startswith("translation")]
        if source and target and f"translation_{source}_to_{target}" in specific:
            settings = dict(specific[f"translation_{source}_to_{target}"])
        elif len(pairs) == 1:
            settings = dict(specific[pairs[0]])
        if target:
            token = self.tokenizer.convert_tokens_to_ids(target)
            if isinstance(token, int) and token != self.tokenizer.unk_token_id:
                settings["forced_bos_token_id"] = token
        return settings
