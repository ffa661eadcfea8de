"""Tiny sentence-transformers model folders, built offline, and sentence-transformers itself as the reference.

Each folder is a random-weight ``BertModel`` (seeded, hidden size 32) with a
word-piece tokenizer made with the ``tokenizers`` library, saved with
``save_pretrained``, plus what sentence-transformers reads: ``modules.json``
(Transformer, Pooling and, when asked, Normalize) and ``1_Pooling/config.json``.
The Normalize module has no folder, as in all-MiniLM-L6-v2.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from inference.registry import ModelSpec
from tests.fakes.specs import model_spec

HIDDEN = 32
#: Texts of different lengths, so the batch is padded.
SENTENCES = [
    "A man is eating food.",
    "A man is riding a horse.",
    "The tower in Paris is tall and the city is in France.",
    "Bread.",
]
LINE = " | ".join(SENTENCES)
WORDS = ("a", "man", "is", "eating", "food", "riding", "horse", "the", "tower", "in", "paris", "tall", "and")
WORDS += ("city", "france", "bread")
SPECIALS = ("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]")
TRANSFORMER = {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"}
POOLING = {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"}
NORMALIZE = {"idx": 2, "name": "2", "path": "2_Normalize", "type": "sentence_transformers.models.Normalize"}


def legacy(*modes: str) -> dict[str, Any]:
    """A ``1_Pooling/config.json`` in the older one-flag-per-mode form most Hub models have."""
    flags = {
        "cls": "pooling_mode_cls_token",
        "max": "pooling_mode_max_tokens",
        "mean": "pooling_mode_mean_tokens",
        "mean_sqrt_len_tokens": "pooling_mode_mean_sqrt_len_tokens",
        "weightedmean": "pooling_mode_weightedmean_tokens",
        "lasttoken": "pooling_mode_lasttoken",
    }
    return {"word_embedding_dimension": HIDDEN, **{flag: mode in modes for mode, flag in flags.items()}}


def build_encoder(folder: Path, *, padding_side: str = "right") -> Path:
    """A random-weight BERT encoder and its tokenizer in ``folder``, with no sentence-transformers files."""
    import torch
    from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors
    from transformers import BertConfig, BertModel, PreTrainedTokenizerFast

    letters = [chr(c) for c in range(ord("a"), ord("z") + 1)]
    tokens = [*SPECIALS, *letters, *(f"##{letter}" for letter in letters), ".", ",", *WORDS]
    vocab = {token: index for index, token in enumerate(dict.fromkeys(tokens))}
    backend = Tokenizer(models.WordPiece(vocab, unk_token="[UNK]"))
    backend.normalizer = normalizers.BertNormalizer(lowercase=True)
    backend.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    backend.decoder = decoders.WordPiece()
    backend.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]",
        pair="[CLS] $A [SEP] $B:1 [SEP]:1",
        special_tokens=[("[CLS]", vocab["[CLS]"]), ("[SEP]", vocab["[SEP]"])],
    )
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=backend,
        model_max_length=64,
        padding_side=padding_side,
        unk_token="[UNK]",
        pad_token="[PAD]",
        cls_token="[CLS]",
        sep_token="[SEP]",
        mask_token="[MASK]",
    )
    torch.manual_seed(7)
    config = BertConfig(
        vocab_size=len(vocab),
        hidden_size=HIDDEN,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=64,
        pad_token_id=0,
    )
    folder.mkdir(parents=True, exist_ok=True)
    BertModel(config).eval().save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


def build_sentence_model(
    folder: Path,
    pooling: dict[str, Any],
    *,
    normalize: bool = False,
    padding_side: str = "right",
    modules: list[dict[str, Any]] | None = None,
) -> Path:
    """A tiny encoder with ``pooling`` as its Pooling config, followed by Normalize when asked.

    ``modules`` replaces the default ``modules.json`` list (for configs this project refuses).
    """
    build_encoder(folder, padding_side=padding_side)
    listed = modules if modules is not None else [TRANSFORMER, POOLING, *([NORMALIZE] if normalize else [])]
    (folder / "modules.json").write_text(json.dumps(listed), encoding="utf-8")
    (folder / "1_Pooling").mkdir(exist_ok=True)
    (folder / "1_Pooling" / "config.json").write_text(json.dumps(pooling), encoding="utf-8")
    return folder


def relinked(source: Path, folder: Path, pooling: dict[str, Any]) -> Path:
    """``source`` linked file by file into ``folder``, with ``pooling`` as its own Pooling config."""
    folder.mkdir(parents=True)
    for item in source.iterdir():
        if item.name != "1_Pooling":
            (folder / item.name).symlink_to(item)
    (folder / "1_Pooling").mkdir()
    (folder / "1_Pooling" / "config.json").write_text(json.dumps(pooling), encoding="utf-8")
    return folder


def spec_for(folder: Path, task: str, *, backend: str = "torch", name: str = "pooled") -> ModelSpec:
    """A registry entry serving ``folder`` for ``task``."""
    return model_spec(name, folder=folder, task=task, backend=backend, memory=512, timeout=30)


def reference(folder: Path, texts: list[str]) -> np.ndarray:
    """sentence-transformers' own embeddings of ``texts`` (one batch, its pooling and Normalize)."""
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(str(folder), device="cpu", local_files_only=True)
    return model.encode(texts, batch_size=len(texts), convert_to_numpy=True)


def cosines(vectors: np.ndarray) -> list[float]:
    """The cosine of each row after the first with the first, as sentence similarity scores them."""
    unit = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
    return [float(x) for x in unit[1:] @ unit[0]]


def scores(result: dict[str, Any]) -> list[float]:
    """A sentence-similarity result's scores in the order of :data:`SENTENCES` (after the source)."""
    by_sentence = {item["sentence"]: item["score"] for item in result["scores"]}
    return [by_sentence[sentence] for sentence in SENTENCES[1:]]
