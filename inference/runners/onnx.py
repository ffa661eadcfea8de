"""ONNX Runtime runners: the ``onnx`` backend, with no torch and no transformers.

A runner reads the folder ``python -m inference warm`` exported into (see
:mod:`inference.runners.onnx_files`; :mod:`inference.conversions` finds it): the graph, a ``tokenizer.json`` for the
``tokenizers`` library, the manifest with the facts transformers would
otherwise supply (labels, input limit, padding id) and, for the embedding tasks,
the model's pooling (:mod:`inference.runners.pooling`). Each task repeats its torch
runner's arithmetic in numpy, so both backends return the same result shapes and,
up to float rounding, the same numbers. Importing this module costs a fraction
of a second and about 50 MB, against seconds and hundreds of MB for torch and
transformers, which is what makes an ONNX model's cold start short.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime
from tokenizers import Encoding, Tokenizer

from inference.errors import InvalidInput, ModelLoadError
from inference.registry import ModelSpec
from inference.runners import parameters as params
from inference.runners import vcpus
from inference.runners.onnx_files import MODEL_FILE, TOKENIZER_FILE, OnnxManifest
from inference.runners.pooling import Pooling
from inference.tasks import parse_input
from inference.tokenization import clean_up_tokenization

#: Token classification reads long texts in windows that share a quarter of the limit.
WINDOW_OVERLAP = 4
#: Windows per forward pass (token classification and question answering).
BATCH = 8


def softmax(logits: np.ndarray) -> np.ndarray:
    """Softmax over the last axis, computed as transformers' pipelines do (shifted by the maximum)."""
    shifted = np.exp(logits - logits.max(axis=-1, keepdims=True))
    return shifted / shifted.sum(axis=-1, keepdims=True)


def unreadable_export(spec: ModelSpec, folder: Path, exc: Exception) -> ModelLoadError:
    """The load failure of an export whose manifest or settings cannot be read: warm it again."""
    return ModelLoadError(
        f"{spec.name}: the ONNX export in {folder} cannot be read ({exc}). "
        f"Run `python -m inference warm --force {spec.name}` with the same HF_HOME to export it again."
    )


def unloadable_export(spec: ModelSpec, folder: Path, exc: Exception) -> ModelLoadError:
    """The load failure of an export's graph or tokenizer (a missing or corrupt file)."""
    return ModelLoadError(f"Cannot load the ONNX export of {spec.name} from {folder}: {exc}")


def open_session(spec: ModelSpec, folder: Path, *, fixed_shapes: bool = True) -> onnxruntime.InferenceSession:
    """The export's graph, with threads sized to the Lambda (its vCPUs for ``spec.memory``).

    ``fixed_shapes=False`` is for a graph whose input shape changes with every request (a detector reads each
    image at its own size): ONNX Runtime's memory pattern, planned from one request's shapes, would reserve
    another block for the next (YOLOS tiny's peak: 252 MB with it, 182-186 MB without, as fast).

    Raises:
        ModelLoadError: the graph is missing or corrupt.
    """
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = vcpus(spec.memory)
    options.inter_op_num_threads = 1
    options.enable_mem_pattern = fixed_shapes
    try:
        return onnxruntime.InferenceSession(str(folder / MODEL_FILE), options, providers=["CPUExecutionProvider"])
    except Exception as exc:  # a missing or corrupt file: all a failed load
        raise unloadable_export(spec, folder, exc) from exc


class OnnxRunner(ABC):
    """Opens the graph with threads sized to the Lambda; ``run`` parses one line for the task and predicts."""

    def __init__(self, spec: ModelSpec, folder: Path) -> None:
        try:
            manifest = OnnxManifest.read(folder)
        except (OSError, ValueError) as exc:
            raise unreadable_export(spec, folder, exc) from exc
        self.spec, self.manifest, self.limit = spec, manifest, manifest.limit
        self.session = open_session(spec, folder)
        try:
            self.tokenizer = Tokenizer.from_file(str(folder / TOKENIZER_FILE))
        except Exception as exc:  # a missing or corrupt file: all a failed load
            raise unloadable_export(spec, folder, exc) from exc
        self.tokenizer.no_padding()

    def run(self, text: str, parameters: dict[str, Any]) -> dict[str, Any]:
        """Parse ``text`` with the task's one-line format and run the model on it."""
        return self.predict(parse_input(self.spec.task, text, parameters), parameters)

    @abstractmethod
    def predict(self, inputs: dict[str, Any], parameters: dict[str, Any]) -> dict[str, Any]:
        """Run the model on parsed ``inputs``; return plain JSON-able values only."""

    def encode(
        self,
        texts: list[str] | list[tuple[str, str]],
        *,
        max_length: int | None,
        strategy: str = "longest_first",
        stride: int = 0,
    ) -> list[Encoding]:
        """Tokenize like transformers does: special tokens added, truncated to ``max_length`` when given."""
        if max_length is None:
            self.tokenizer.no_truncation()
        else:
            self.tokenizer.enable_truncation(max_length, stride=stride, strategy=strategy)
        return self.tokenizer.encode_batch(texts)

    def forward(self, encodings: list[Encoding]) -> tuple[list[np.ndarray], np.ndarray]:
        """Pad ``encodings`` to the longest and run the graph; returns its outputs and the attention mask."""
        length = max(len(e.ids) for e in encodings)
        shape = (len(encodings), length)
        arrays = {
            "input_ids": np.full(shape, self.manifest.pad_token_id, dtype=np.int64),
            "attention_mask": np.zeros(shape, dtype=np.int64),
            "token_type_ids": np.zeros(shape, dtype=np.int64),
        }
        for row, encoding in enumerate(encodings):
            size = len(encoding.ids)
            arrays["input_ids"][row, :size] = encoding.ids
            arrays["attention_mask"][row, :size] = encoding.attention_mask
            arrays["token_type_ids"][row, :size] = encoding.type_ids
        feed = {name: arrays[name] for name in self.manifest.inputs}
        return self.session.run(self.manifest.outputs, feed), arrays["attention_mask"]

    def token_count(self, text: str, pair: str | None = None) -> int:
        """How many tokens the model would read for ``text`` (and ``pair``), special tokens included."""
        self.tokenizer.no_truncation()
        return len(self.tokenizer.encode(text, pair).ids)


def pool(hidden: np.ndarray, mask: np.ndarray, modes: tuple[str, ...]) -> np.ndarray:
    """The torch runners' :func:`~inference.runners.similarity.pool` in numpy: one vector per mode, concatenated."""
    return np.concatenate([_pooled(mode, hidden, mask) for mode in modes], axis=-1)


def _pooled(mode: str, hidden: np.ndarray, mask: np.ndarray) -> np.ndarray:
    weights = mask[..., None].astype(hidden.dtype)
    rows = np.arange(hidden.shape[0])
    first = mask.argmax(axis=1)  # the first real token (left padding puts pads before it)
    if mode == "cls":
        return hidden[rows, first]
    if mode == "lasttoken":
        return hidden[rows, mask.shape[1] - 1 - mask[:, ::-1].argmax(axis=1)]
    if mode == "max":
        return np.where(weights == 0, -np.inf, hidden).max(axis=1)
    if mode == "weightedmean":  # token i of the text weighs i (from 1), wherever the text starts
        positions = np.arange(1, mask.shape[1] + 1, dtype=hidden.dtype) - first[:, None].astype(hidden.dtype)
        weights = weights * positions[..., None]
    total, count = (hidden * weights).sum(axis=1), np.clip(weights.sum(axis=1), 1e-9, None)
    return total / (np.sqrt(count) if mode == "mean_sqrt_len_tokens" else count)


def _unit(vectors: np.ndarray) -> np.ndarray:
    """L2-normalised along the last axis, as ``torch.nn.functional.normalize``."""
    return vectors / np.clip(np.linalg.norm(vectors, axis=-1, keepdims=True), 1e-12, None)


class EmbeddingOnnx(OnnxRunner):
    """A runner whose answer is a pooled embedding, pooled as the exporter read the model's config."""

    def __init__(self, spec: ModelSpec, folder: Path) -> None:
        super().__init__(spec, folder)
        self.pooling = Pooling.load(folder, spec.name)

    def pooled(self, texts: list[str]) -> np.ndarray:
        """One pooled vector per text (not normalised)."""
        (hidden,), mask = self.forward(self.encode(texts, max_length=self.limit))
        return pool(hidden, mask, self.pooling.modes)


class SentenceSimilarityOnnx(EmbeddingOnnx):
    """``{"source", "scores": [{"sentence", "score"}], "truncated"}``, as the torch runner."""

    def embed(self, texts: list[str]) -> np.ndarray:
        """One unit vector per text."""
        return _unit(self.pooled(texts))

    def predict(self, inputs: dict[str, Any], parameters: dict[str, Any]) -> dict[str, Any]:
        return params.rank_similar(inputs, embed=self.embed, too_long=lambda text: self.token_count(text) > self.limit)


class FeatureExtractionOnnx(EmbeddingOnnx):
    """One vector for the text: its tokens pooled as the model's config says, as the torch runner."""

    def predict(self, inputs: dict[str, Any], parameters: dict[str, Any]) -> dict[str, Any]:
        text = inputs["text"]
        [vector] = self.pooled([text])
        if self.pooling.normalizes(parameters):
            vector = _unit(vector)
        return {
            "dimensions": int(vector.shape[0]),
            "embedding": [float(x) for x in vector.tolist()],
            "truncated": self.token_count(text) > self.limit,
        }


def _ranked(labels: list[str], scores: np.ndarray) -> list[dict[str, Any]]:
    pairs = sorted(zip(labels, scores.tolist(), strict=True), key=lambda pair: pair[1], reverse=True)
    return [{"label": label, "score": float(score)} for label, score in pairs]


class TextClassificationOnnx(OnnxRunner):
    """The most likely labels, highest score first; text past the model's limit is cut off."""

    def predict(self, inputs: dict[str, Any], parameters: dict[str, Any]) -> dict[str, Any]:
        text = inputs["text"]
        labels = [self.manifest.labels[str(index)] for index in range(len(self.manifest.labels))]
        top_k = params.integer(parameters, "top_k", min(5, len(labels)), low=1, high=len(labels))
        (logits,), _ = self.forward(self.encode([text], max_length=self.limit))
        scores = logits[0].astype(np.float32)
        if self.manifest.score_function == "softmax":
            scores = softmax(scores)
        elif self.manifest.score_function == "sigmoid":
            scores = 1.0 / (1.0 + np.exp(-scores))
        return {"labels": _ranked(labels, scores)[:top_k], "truncated": self.token_count(text) > self.limit}


class ZeroShotOnnx(OnnxRunner):
    """Scores the text against each label with an NLI model's entailment class, as transformers' pipeline."""

    def __init__(self, spec: ModelSpec, folder: Path) -> None:
        super().__init__(spec, folder)
        if self.manifest.entailment_id < 0:
            raise params.not_nli(spec.name, self.manifest.labels.values())

    def predict(self, inputs: dict[str, Any], parameters: dict[str, Any]) -> dict[str, Any]:
        text, labels = inputs["text"], inputs["candidate_labels"]
        template, multi_label = params.zero_shot(labels, parameters)
        pairs = [(text, template.format(label)) for label in labels]
        try:
            encodings = self.encode(pairs, max_length=self.limit, strategy="only_first")
        except Exception as exc:  # the hypothesis alone is longer than the limit: read it whole, as the pipeline does
            if "too short" not in str(exc):
                raise
            encodings = self.encode(pairs, max_length=None)
        (logits,), _ = self.forward(encodings)
        entail, contradict = self.manifest.entailment_id, self.manifest.contradiction_id
        if multi_label or len(labels) == 1:
            scores = softmax(logits[:, [contradict, entail]])[:, 1]
        else:
            scores = softmax(logits[:, entail])
        longest = max(labels, key=len)
        return {
            "labels": _ranked(labels, scores),
            "truncated": self.token_count(text, template.format(longest)) > self.limit,
        }


class TokenClassificationOnnx(OnnxRunner):
    """Entities over the whole text, grouped as transformers' pipeline does with ``aggregation_strategy="simple"``.

    Long texts are read in windows overlapping by a quarter of the limit; where
    two windows found overlapping entities, the longer one (else the surer one) stays.
    """

    def predict(self, inputs: dict[str, Any], parameters: dict[str, Any]) -> dict[str, Any]:
        text = inputs["text"]
        [first] = self.encode([text], max_length=self.limit, stride=self.limit // WINDOW_OVERLAP)
        windows = [first, *first.overflowing]
        found: list[dict[str, Any]] = []
        for start in range(0, len(windows), BATCH):
            batch = windows[start : start + BATCH]
            (logits,), _ = self.forward(batch)
            for row, window in enumerate(batch):
                found += self._entities(text, window, softmax(logits[row, : len(window.ids)]))
        if len(windows) > 1:
            found = _without_overlaps(found)
        return {"entities": found}

    def _entities(self, text: str, window: Encoding, scores: np.ndarray) -> list[dict[str, Any]]:
        """One window's tokens labelled, then runs of the same entity grouped (``B-`` starts a new one)."""
        tokens = []
        for index, token_scores in enumerate(scores):
            if window.special_tokens_mask[index]:
                continue
            start, end = window.offsets[index]
            token_id = window.ids[index]
            best = int(token_scores.argmax())
            tokens.append(
                {
                    "label": self.manifest.labels[str(best)],
                    "score": float(token_scores[best]),
                    "word": text[start:end]
                    if token_id == self.manifest.unk_token_id
                    else self.tokenizer.id_to_token(token_id),
                    "start": int(start),
                    "end": int(end),
                }
            )
        groups: list[list[dict[str, Any]]] = []
        for token in tokens:
            begins, tag = _tag(token["label"])
            if groups and not begins and _tag(groups[-1][-1]["label"])[1] == tag:
                groups[-1].append(token)
            else:
                groups.append([token])
        entities = [self._group(group) for group in groups]
        return [entity for entity in entities if entity["label"] != "O"]

    def _group(self, tokens: list[dict[str, Any]]) -> dict[str, Any]:
        words = [token["word"] for token in tokens]
        decoder = self.tokenizer.decoder
        return {
            "label": _tag(tokens[0]["label"])[1],
            "word": decoder.decode(words) if decoder is not None else " ".join(words),
            "start": tokens[0]["start"],
            "end": tokens[-1]["end"],
            "score": float(np.mean([token["score"] for token in tokens])),
        }


def _tag(label: str) -> tuple[bool, str]:
    """(starts an entity, entity type) of a ``B-PER``, ``I-PER`` or plain label."""
    if label.startswith(("B-", "I-")):
        return label.startswith("B-"), label[2:]
    return False, label


def _without_overlaps(entities: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Where entities from overlapping windows overlap, keep the longer one, or the surer of two as long."""
    kept: list[dict[str, Any]] = []
    for entity in sorted(entities, key=lambda e: e["start"]):
        last = kept[-1] if kept else None
        if last is None or not last["start"] <= entity["start"] < last["end"]:
            kept.append(entity)
            continue
        length, last_length = entity["end"] - entity["start"], last["end"] - last["start"]
        if length > last_length or (length == last_length and entity["score"] > last["score"]):
            kept[-1] = entity
    return kept


class FillMaskOnnx(OnnxRunner):
    """The likeliest words for the one blank, with the sentence they make: transformers' fill-mask pipeline in numpy."""

    def __init__(self, spec: ModelSpec, folder: Path) -> None:
        super().__init__(spec, folder)
        if self.manifest.mask_token_id < 0:
            raise ModelLoadError(f"{spec.name}: the tokenizer has no mask token, so it cannot fill a blank.")

    def predict(self, inputs: dict[str, Any], parameters: dict[str, Any]) -> dict[str, Any]:
        text = params.masked(inputs["text"], self.manifest.mask_token)
        params.fits(self.token_count(text), self.limit)
        top_k = params.integer(parameters, "top_k", params.FILL_MASK_TOP_K, low=1, high=params.FILL_MASK_MAX_K)
        [encoding] = self.encode([text], max_length=None)
        (logits,), _ = self.forward([encoding])
        ids = np.array(encoding.ids)
        [blank] = np.flatnonzero(ids == self.manifest.mask_token_id)
        scores = softmax(logits[0, blank].astype(np.float32))
        predictions = []
        for token_id in np.argsort(-scores, kind="stable")[:top_k].tolist():
            filled = ids.copy()
            filled[blank] = token_id
            filled = filled[filled != self.manifest.pad_token_id]
            predictions.append(
                {
                    "token": self._decode([token_id], skip_special_tokens=False).strip(),
                    "score": float(scores[token_id]),
                    "sequence": self._decode(filled.tolist(), skip_special_tokens=True),
                }
            )
        return {"predictions": predictions}

    def _decode(self, ids: list[int], *, skip_special_tokens: bool) -> str:
        """As transformers' ``decode``: the tokenizer's decoder, then its clean-up of spaces when it has one."""
        text = self.tokenizer.decode(ids, skip_special_tokens=skip_special_tokens)
        return clean_up_tokenization(text) if self.manifest.clean_up_spaces else text


class QuestionAnsweringOnnx(OnnxRunner):
    """``{"answer", "score", "start", "end", "truncated"}``: the torch runner's sliding windows, in numpy."""

    def predict(self, inputs: dict[str, Any], parameters: dict[str, Any]) -> dict[str, Any]:
        question, context = inputs["question"], inputs["context"]
        max_answer = params.integer(parameters, "max_answer_len", 30, low=1, high=self.limit)
        self.tokenizer.no_truncation()
        asked = len(self.tokenizer.encode(question, add_special_tokens=False).ids)
        room = self.limit - asked - self.tokenizer.num_special_tokens_to_add(True)
        if room < params.QA_MIN_CONTEXT:
            raise InvalidInput(
                f"The question is {asked} tokens long; this model needs it much shorter than {self.limit}."
            )
        [first] = self.encode(
            [(question, context)],
            max_length=self.limit,
            strategy="only_second",
            stride=min(params.QA_DOC_STRIDE, room // 2),
        )
        windows = [first, *first.overflowing]
        read = windows[: params.QA_MAX_WINDOWS]
        best: tuple[float, int, int] = (-1.0, 0, 0)
        for start in range(0, len(read), BATCH):
            batch = read[start : start + BATCH]
            (starts, ends), mask = self.forward(batch)
            for row, window in enumerate(batch):
                in_context = np.zeros(mask.shape[1], dtype=bool)
                in_context[: len(window.ids)] = [sid == 1 for sid in window.sequence_ids]
                best = max(best, _best_span(starts[row], ends[row], in_context, max_answer, window.offsets))
        score, begin, end = best
        return {
            "answer": context[begin:end],
            "score": score,
            "start": begin,
            "end": end,
            "truncated": len(windows) > len(read),
        }


def _best_span(
    start_logits: np.ndarray,
    end_logits: np.ndarray,
    in_context: np.ndarray,
    max_answer: int,
    offsets: list[tuple[int, int]],
) -> tuple[float, int, int]:
    """The best (score, start char, end char) in one window: ``P(start) * P(end)``, start before end."""
    start = softmax(np.where(in_context, start_logits, -np.inf))
    end = softmax(np.where(in_context, end_logits, -np.inf))
    spans = np.tril(np.triu(np.outer(start, end)), max_answer - 1)
    first, last = divmod(int(spans.argmax()), spans.shape[1])
    return float(spans[first, last]), int(offsets[first][0]), int(offsets[last][1])
