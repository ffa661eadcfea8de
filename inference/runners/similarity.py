"""Sentence similarity: the cosine of the model's pooled embeddings, pooled as sentence-transformers would.

This is what sentence-transformers computes for models such as
all-MiniLM-L6-v2, done with AutoModel so the image needs no extra library.
The pooling follows the model folder's ``modules.json`` (see
:mod:`inference.runners.pooling`); the model's ``sentence_bert_config.json``
``max_seq_length``, when present, bounds the input the way sentence-transformers does.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch
from transformers import AutoModel

from inference.registry import ModelSpec
from inference.runners import parameters as params
from inference.runners.base import TorchRunner
from inference.runners.pooling import read_pooling


def pool(hidden: torch.Tensor, mask: torch.Tensor, modes: tuple[str, ...]) -> torch.Tensor:
    """sentence-transformers' ``Pooling`` over a padded batch: one vector per mode, concatenated in order.

    Every mode reads the attention mask, so either padding side gives each text's own tokens.
    """
    return torch.cat([_pooled(mode, hidden, mask) for mode in modes], dim=-1)


def _pooled(mode: str, hidden: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    weights = mask.unsqueeze(-1).to(hidden.dtype)
    rows = torch.arange(hidden.shape[0])
    first = mask.argmax(dim=1)  # the first real token (left padding puts pads before it)
    if mode == "cls":
        return hidden[rows, first]
    if mode == "lasttoken":
        return hidden[rows, mask.shape[1] - 1 - mask.flip(1).argmax(dim=1)]
    if mode == "max":
        return hidden.masked_fill(weights == 0, float("-inf")).max(dim=1).values
    if mode == "weightedmean":  # token i of the text weighs i (from 1), wherever the text starts
        positions = torch.arange(1, mask.shape[1] + 1, dtype=hidden.dtype) - first.unsqueeze(-1).to(hidden.dtype)
        weights = weights * positions.unsqueeze(-1)
    total, count = (hidden * weights).sum(dim=1), weights.sum(dim=1).clamp(min=1e-9)
    return total / (count.sqrt() if mode == "mean_sqrt_len_tokens" else count)


class SentenceSimilarityRunner(TorchRunner):
    """``{"source", "scores": [{"sentence", "score"}], "truncated"}``, highest score first."""

    auto_class = AutoModel

    def __init__(self, spec: ModelSpec, path: Path) -> None:
        super().__init__(spec, path)
        self.pooling = read_pooling(path, spec.name)
        sentence_config = path / "sentence_bert_config.json"
        if sentence_config.is_file():
            max_seq_length = json.loads(sentence_config.read_text(encoding="utf-8")).get("max_seq_length")
            if isinstance(max_seq_length, int) and max_seq_length > 0:
                self.limit = min(self.limit, max_seq_length)

    def embed(self, texts: list[str]) -> torch.Tensor:
        """One unit vector per text: its tokens pooled as the model's config says."""
        batch = self.tokenizer(texts, padding=True, truncation=True, max_length=self.limit, return_tensors="pt")
        hidden = self.model(**{k: v for k, v in batch.items() if k in self.tokenizer.model_input_names})[0]
        return torch.nn.functional.normalize(pool(hidden, batch["attention_mask"], self.pooling.modes), dim=1)

    def predict(self, inputs: dict[str, Any], parameters: dict[str, Any]) -> dict[str, Any]:
        return params.rank_similar(inputs, embed=self.embed, too_long=lambda text: self.token_count(text) > self.limit)
