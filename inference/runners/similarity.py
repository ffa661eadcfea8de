"""Sentence similarity: the cosine of mean-pooled, L2-normalised embeddings.

This is what sentence-transformers computes for models such as
all-MiniLM-L6-v2, done with AutoModel so the image needs no extra library.
The model's ``sentence_bert_config.json`` ``max_seq_length``, when present,
bounds the input the way sentence-transformers does.
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


class SentenceSimilarityRunner(TorchRunner):
    """``{"source", "scores": [{"sentence", "score"}], "truncated"}``, highest score first."""

    auto_class = AutoModel

    def __init__(self, spec: ModelSpec, path: Path) -> None:
        super().__init__(spec, path)
        sentence_config = path / "sentence_bert_config.json"
        if sentence_config.is_file():
            max_seq_length = json.loads(sentence_config.read_text(encoding="utf-8")).get("max_seq_length")
            if isinstance(max_seq_length, int) and max_seq_length > 0:
                self.limit = min(self.limit, max_seq_length)

    def embed(self, texts: list[str]) -> torch.Tensor:
        """One unit vector per text: token embeddings averaged over the attention mask."""
        batch = self.tokenizer(texts, padding=True, truncation=True, max_length=self.limit, return_tensors="pt")
        hidden = self.model(**{k: v for k, v in batch.items() if k in self.tokenizer.model_input_names})[0]
        mask = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)
        pooled = (hidden * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1e-9)
        return torch.nn.functional.normalize(pooled, dim=1)

    def predict(self, inputs: dict[str, Any], parameters: dict[str, Any]) -> dict[str, Any]:
        return params.rank_similar(inputs, embed=self.embed, too_long=lambda text: self.token_count(text) > self.limit)
