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

from inference.registry import ModelSpec
from inference.runners import parameters as params
from inference.runners.base import TorchRunner
from inference.runners.chunking import generate_in_pieces


class Seq2SeqRunner(TorchRunner):
    """Generates one output per piece of the input and joins them."""

    auto_class = AutoModelForSeq2SeqLM
    #: The key of the generated text in the result.
    output_key: ClassVar[str]

    def task_settings(self, parameters: dict[str, Any]) -> dict[str, Any]:
        """This task's entry of ``config.task_specific_params`` (prefix and generation settings)."""
        return params.task_settings(getattr(self.model.config, "task_specific_params", None), self.spec.task)

    def predict(self, inputs: dict[str, Any], parameters: dict[str, Any]) -> dict[str, Any]:
        settings = self.task_settings(parameters)
        prefix = params.take_prefix(settings, parameters)
        settings = params.seq2seq_generation(
            settings, parameters, default_max_length=self.model.generation_config.max_length
        )
        output, chunks = generate_in_pieces(
            self.tokenizer,
            inputs["text"],
            limit=self.limit,
            prefix=prefix,
            generate=lambda t: self._generate(t, settings),
        )
        return {self.output_key: output, "chunks": chunks}

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
        source, target = params.text(parameters, "src_lang"), params.text(parameters, "tgt_lang")
        if hasattr(self.tokenizer, "src_lang"):
            self.tokenizer.src_lang = source or self.default_source
        token = self.tokenizer.convert_tokens_to_ids(target) if target else None
        known = isinstance(token, int) and token != self.tokenizer.unk_token_id
        specific = getattr(self.model.config, "task_specific_params", None)
        return params.translation_settings(specific, source, target, token if known else None)
