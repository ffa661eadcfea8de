"""Extractive question answering: the best span of the context, with its score.

transformers 5 removed the pipeline, so this is the plain equivalent: the
context is read in overlapping windows (``question + part of the context``),
each window scores every start and end token, and the answer is the span with
the highest ``P(start) * P(end)`` that lies inside the context, starts before it
ends and is at most ``max_answer_len`` tokens long.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from transformers import AutoModelForQuestionAnswering

from inference.errors import InvalidInput, ModelLoadError
from inference.registry import ModelSpec
from inference.runners import parameters as params
from inference.runners.base import TorchRunner

#: Windows per forward pass.
BATCH = 8


class QuestionAnsweringRunner(TorchRunner):
    """``{"answer", "score", "start", "end", "truncated"}``; start and end are character offsets in the context."""

    auto_class = AutoModelForQuestionAnswering

    def __init__(self, spec: ModelSpec, path: Path) -> None:
        super().__init__(spec, path)
        if not self.tokenizer.is_fast:
            raise ModelLoadError(f"{spec.name}: question answering needs a fast tokenizer (for character offsets).")

    def predict(self, inputs: dict[str, Any], parameters: dict[str, Any]) -> dict[str, Any]:
        question, context = inputs["question"], inputs["context"]
        max_answer = params.integer(parameters, "max_answer_len", 30, low=1, high=self.limit)
        asked = len(self.tokenizer(question, add_special_tokens=False)["input_ids"])
        room = self.limit - asked - self.tokenizer.num_special_tokens_to_add(pair=True)
        if room < params.QA_MIN_CONTEXT:
            raise InvalidInput(
                f"The question is {asked} tokens long; this model needs it much shorter than {self.limit}."
            )
        encoded = self.tokenizer(
            question,
            context,
            truncation="only_second",
            max_length=self.limit,
            stride=min(params.QA_DOC_STRIDE, room // 2),
            return_overflowing_tokens=True,
            return_offsets_mapping=True,
            padding="longest",
            return_tensors="pt",
        )
        windows = len(encoded["input_ids"])
        read = min(windows, params.QA_MAX_WINDOWS)
        model_inputs = {k: v for k, v in encoded.items() if k in self.tokenizer.model_input_names}
        best: tuple[float, int, int] = (-1.0, 0, 0)
        for first in range(0, read, BATCH):
            output = self.model(**{k: v[first : min(first + BATCH, read)] for k, v in model_inputs.items()})
            for row in range(output.start_logits.shape[0]):
                window = first + row
                in_context = torch.tensor([sid == 1 for sid in encoded.sequence_ids(window)])
                best = max(best, self._best_span(output, row, in_context, max_answer, encoded, window))
        score, start, end = best
        return {"answer": context[start:end], "score": score, "start": start, "end": end, "truncated": windows > read}

    @staticmethod
    def _best_span(
        output: Any, row: int, in_context: torch.Tensor, max_answer: int, encoded: Any, window: int
    ) -> tuple[float, int, int]:
        """The best (score, start char, end char) in one window."""
        start = output.start_logits[row].masked_fill(~in_context, float("-inf")).softmax(-1)
        end = output.end_logits[row].masked_fill(~in_context, float("-inf")).softmax(-1)
        spans = torch.outer(start, end).triu().tril(max_answer - 1)
        flat = int(spans.argmax())
        first, last = divmod(flat, spans.shape[1])
        offsets = encoded["offset_mapping"][window]
        return float(spans[first, last]), int(offsets[first][0]), int(offsets[last][1])
