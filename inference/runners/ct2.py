"""Summarization and translation on CTranslate2, with neither torch nor transformers.

It serves what :mod:`inference.ct2_convert` made at warm time: CTranslate2's
model (``model.bin``, ``config.json``, ``shared_vocabulary.json``), the
tokenizer in a form read without transformers, and a manifest (:data:`MANIFEST`)
with what transformers would otherwise work out at run time: the input limit,
the model's generation settings over transformers' defaults, its
``task_specific_params``, and the special tokens. The tokenizer is the model's
``tokenizer.json`` for the ``tokenizers`` library, or, for Marian, whose
tokenizer has no such form, its ``source.spm`` and ``vocab.json`` read with the
``sentencepiece`` package as transformers' ``MarianTokenizer`` reads them.

Each request goes as the torch runner's does (:mod:`inference.runners.seq2seq`):
the same task settings, prefix, merge of the request's settings and pieces of a
long input (:mod:`inference.runners.parameters`, :mod:`inference.runners.chunking`);
only ``generate()`` becomes CTranslate2's beam search, given the same settings
(:func:`decoding_options`). An fp32 conversion then gives exactly torch's greedy
tokens. Its beam search is transformers' with ``renormalize_logits``: once a
logits processor has removed tokens (repeated n-grams, a minimum length), it
scores the beams with the remaining tokens' probabilities renormalised, where
transformers' default keeps the removed ones' share out. With no such processor
both searches give the same beams, except that transformers also ends a beam at
the length limit with a forced end token that counts in its length penalty, and,
with ``early_stopping: false``, searches on after ``num_beams`` hypotheses have
ended; CTranslate2 stops there. And CTranslate2 applies a repetition penalty to
the logits in a beam search too, where transformers' applies it to log-probabilities.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Protocol

import ctranslate2
import sentencepiece
from tokenizers import Tokenizer

from inference.errors import InvalidInput, ModelLoadError
from inference.records import JsonRecord
from inference.registry import ModelSpec
from inference.runners import parameters as params
from inference.runners import vcpus
from inference.runners.chunking import generate_in_pieces
from inference.tasks import parse_input
from inference.tokenization import clean_up_tokenization

MANIFEST = "seq2seq.json"
TOKENIZER_FILE = "tokenizer.json"
#: Marian's files: the source sentencepiece model and the vocabulary shared by both sides.
SOURCE_SPM, VOCAB_FILE = "source.spm", "vocab.json"
#: How :class:`Seq2SeqManifest` names each tokenizer kind.
FAST, SENTENCEPIECE = "tokenizers", "sentencepiece"
#: Bumped when the manifest changes in a way older runners cannot read.
FORMAT = 1


@dataclass(frozen=True)
class Seq2SeqManifest(JsonRecord):
    """What transformers knew about the model that the runner needs without it (written by the converter)."""

    FILE = MANIFEST
    KIND = "seq2seq manifest"

    #: The most tokens the model reads at once (what the torch runner computes).
    limit: int
    #: :data:`FAST` (``tokenizer.json``) or :data:`SENTENCEPIECE` (Marian's ``source.spm`` and ``vocab.json``).
    tokenizer: str
    #: transformers' default for each generation setting, overridden by the model's generation config.
    settings: dict[str, Any]
    #: ``config.task_specific_params``: per-task prefixes and generation settings.
    task_specific_params: dict[str, Any]
    unk_token: str
    #: Fast tokenizers only: whether decoding removes the spaces before punctuation, as transformers' does here.
    clean_up_tokenization_spaces: bool = False
    #: Token sequences the model's generation config bans (``bad_words_ids``) that CTranslate2's vocabulary has.
    suppress: list[list[str]] = field(default_factory=list)
    #: Sentencepiece only: the tokens transformers cuts the text at and reads whole (its added tokens), by id.
    added_tokens: dict[str, int] = field(default_factory=dict)
    #: Sentencepiece only: the ids decoding leaves out (transformers' special tokens).
    special_ids: list[int] = field(default_factory=list)
    #: Sentencepiece only: the token appended to every input.
    eos_token: str = ""
    format: int = FORMAT


class TextTokenizer(Protocol):
    """What the runner and :func:`inference.runners.chunking.split_text` ask of a tokenizer, as transformers answers."""

    def __call__(self, text: str, add_special_tokens: bool = True, verbose: bool = False) -> dict[str, list[int]]:
        """``{"input_ids": [...]}``, with or without the special tokens."""
        ...

    def decode(self, ids: list[int], skip_special_tokens: bool = True) -> str:
        """The text of ``ids``, without special tokens."""
        ...

    def num_special_tokens_to_add(self) -> int:
        """How many special tokens one input gets."""
        ...

    def source_tokens(self, text: str, limit: int) -> list[str]:
        """The input's tokens as the model reads them: special tokens added, cut to ``limit`` like transformers'."""
        ...

    def token_id(self, token: str) -> int | None:
        """The id of ``token`` in the vocabulary, or None."""
        ...

    def id_token(self, token_id: int) -> str:
        """The token of ``token_id``."""
        ...


class FastTokenizer:
    """A ``tokenizer.json`` read with the ``tokenizers`` library, as transformers' fast tokenizers use it."""

    def __init__(self, path: Path, *, clean_up: bool) -> None:
        self.tokenizer = Tokenizer.from_file(str(path))
        self.tokenizer.no_padding()
        self.tokenizer.no_truncation()
        self.clean_up = clean_up

    def __call__(self, text: str, add_special_tokens: bool = True, verbose: bool = False) -> dict[str, list[int]]:
        return {"input_ids": self.tokenizer.encode(text, add_special_tokens=add_special_tokens).ids}

    def decode(self, ids: list[int], skip_special_tokens: bool = True) -> str:
        text = self.tokenizer.decode(ids, skip_special_tokens=skip_special_tokens)
        return clean_up_tokenization(text) if self.clean_up else text

    def num_special_tokens_to_add(self) -> int:
        return self.tokenizer.num_special_tokens_to_add(False)

    def source_tokens(self, text: str, limit: int) -> list[str]:
        # What the library's own truncation does: cut the text's tokens to leave room for the special ones, then add those.
        encoding = self.tokenizer.encode(text, add_special_tokens=False)
        encoding.truncate(limit - self.num_special_tokens_to_add())
        return self.tokenizer.post_process(encoding, add_special_tokens=True).tokens

    def token_id(self, token: str) -> int | None:
        return self.tokenizer.token_to_id(token)

    def id_token(self, token_id: int) -> str:
        return self.tokenizer.id_to_token(token_id)


def remove_language_code(text: str) -> tuple[list[str], str]:
    """A leading ``>>fr<<`` language code, as its own token, and the rest (``MarianTokenizer.remove_language_code``)."""
    end = text.find("<<")
    if text.startswith(">>") and end != -1:
        return [text[: end + 2]], text[end + 2 :]
    return [], text


class SentencePieceTokenizer:
    """transformers' ``MarianTokenizer`` (shared vocabulary) with the ``sentencepiece`` package alone.

    Its added tokens are cut out of the text first, each read whole; every other
    part loses a leading language code, is split into pieces by the source
    sentencepiece model, and each piece becomes its id in ``vocab.json`` (unknown
    pieces the unknown token). The end-of-sequence token closes every input.
    Decoding leaves out the special tokens and joins the pieces with the source
    model too, as ``MarianTokenizer`` does when both sides share one vocabulary.
    """

    def __init__(self, folder: Path, manifest: Seq2SeqManifest) -> None:
        self.model = sentencepiece.SentencePieceProcessor(model_file=str(folder / SOURCE_SPM))
        self.vocab: dict[str, int] = json.loads((folder / VOCAB_FILE).read_text(encoding="utf-8"))
        self.tokens = {index: token for token, index in self.vocab.items()}
        self.added = manifest.added_tokens
        self.special_ids = set(manifest.special_ids)
        self.unk_id, self.eos_id = self.vocab[manifest.unk_token], self.vocab[manifest.eos_token]
        longest_first = sorted(self.added, key=len, reverse=True)
        self.cut = re.compile("(" + "|".join(map(re.escape, longest_first)) + ")") if self.added else None

    def _ids(self, text: str) -> list[int]:
        ids: list[int] = []
        for part in self.cut.split(text) if self.cut else [text]:
            if part in self.added:
                ids.append(self.added[part])
            elif part:
                code, rest = remove_language_code(part)
                pieces = code + self.model.encode(rest, out_type=str)
                ids.extend(self.added.get(piece, self.vocab.get(piece, self.unk_id)) for piece in pieces)
        return ids

    def __call__(self, text: str, add_special_tokens: bool = True, verbose: bool = False) -> dict[str, list[int]]:
        ids = self._ids(text)
        return {"input_ids": [*ids, self.eos_id] if add_special_tokens else ids}

    def decode(self, ids: list[int], skip_special_tokens: bool = True) -> str:
        pieces = [self.tokens[index] for index in ids if not (skip_special_tokens and index in self.special_ids)]
        return self.model.decode_pieces(pieces).replace("\u2581", " ").strip()

    def num_special_tokens_to_add(self) -> int:
        return 1

    def source_tokens(self, text: str, limit: int) -> list[str]:
        ids = self._ids(text)[: limit - 1]
        return [self.tokens[index] for index in (*ids, self.eos_id)]

    def token_id(self, token: str) -> int | None:
        return self.added.get(token, self.vocab.get(token))

    def id_token(self, token_id: int) -> str:
        return self.tokens[token_id]


def decoding_options(settings: dict[str, Any], tokenizer: TextTokenizer) -> dict[str, Any]:
    """CTranslate2's ``translate_batch`` options for the settings ``generate()`` would be given.

    ``settings`` are the manifest's (transformers' defaults and the model's
    config, so every setting is there) overridden by the request's. transformers counts the decoder's start
    token in ``max_length`` and ``min_length``, CTranslate2 does not; a forced end
    token (``forced_eos_token_id``) takes the last place, so one token fewer is
    free. ``max_decoding_length`` below 1 means nothing is generated.

    Raises:
        InvalidInput: sampling with a beam search, which CTranslate2 4.8 does not do
            (with fewer candidates than twice the beams, it crashes the process).
    """
    new_tokens = settings.get("max_new_tokens")
    length = new_tokens if new_tokens is not None else settings["max_length"] - 1
    if settings.get("forced_eos_token_id") is not None:
        length -= 1
    least = settings.get("min_new_tokens")
    if least is None:  # a length in new tokens replaces a total length, as in generate()
        least = max(settings["min_length"] - 1, 0)
    eos = settings.get("eos_token_id")
    sample = settings["do_sample"]
    if sample and settings["num_beams"] > 1:
        raise InvalidInput(
            "This model samples without a beam search: `do_sample` with `num_beams` above 1 needs `backend: torch`."
        )
    options: dict[str, Any] = {
        "beam_size": settings["num_beams"],
        "max_decoding_length": length,
        "min_decoding_length": min(least, length),  # generate() only warns when the minimum is past the maximum
        "length_penalty": settings["length_penalty"],
        "repetition_penalty": settings["repetition_penalty"],
        "no_repeat_ngram_size": settings["no_repeat_ngram_size"],
        "sampling_topk": settings["top_k"] if sample else 1,
        "sampling_topp": settings["top_p"] if sample else 1.0,
        "sampling_temperature": settings["temperature"] if sample else 1.0,
        "max_input_length": 0,  # the input is already cut to the model's limit
    }
    if eos is not None:
        options["end_token"] = [tokenizer.id_token(token) for token in (eos if isinstance(eos, list) else [eos])]
    if settings.get("forced_bos_token_id") is not None:
        options["target_prefix"] = [[tokenizer.id_token(settings["forced_bos_token_id"])]]
    return options


class Seq2SeqCt2:
    """Generates one output per piece of the input and joins them, as the torch runner does."""

    #: The key of the generated text in the result.
    output_key: ClassVar[str]

    def __init__(self, spec: ModelSpec, folder: Path) -> None:
        self.spec = spec
        try:
            self.manifest = Seq2SeqManifest.read(folder)
            self.tokenizer: TextTokenizer = (
                FastTokenizer(folder / TOKENIZER_FILE, clean_up=self.manifest.clean_up_tokenization_spaces)
                if self.manifest.tokenizer == FAST
                else SentencePieceTokenizer(folder, self.manifest)
            )
            threads = vcpus(spec.memory)
            self.translator = ctranslate2.Translator(str(folder), device="cpu", inter_threads=1, intra_threads=threads)
        except Exception as exc:  # a missing or corrupt file: all a failed load
            raise ModelLoadError(f"Cannot load the CTranslate2 conversion of {spec.name} from {folder}: {exc}") from exc
        self.limit = self.manifest.limit

    def run(self, text: str, parameters: dict[str, Any]) -> dict[str, Any]:
        """Parse ``text`` with the task's one-line format and run the model on it."""
        return self.predict(parse_input(self.spec.task, text, parameters), parameters)

    def task_settings(self, parameters: dict[str, Any]) -> dict[str, Any]:
        """This task's entry of ``config.task_specific_params`` (prefix and generation settings)."""
        return params.task_settings(self.manifest.task_specific_params, self.spec.task)

    def plan(self, parameters: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        """One request's prefix, and CTranslate2's options for its settings merged as the torch runner merges them."""
        settings = self.task_settings(parameters)
        prefix = params.take_prefix(settings, parameters)
        requested = params.seq2seq_generation(
            settings, parameters, default_max_length=self.manifest.settings.get("max_length")
        )
        return prefix, decoding_options({**self.manifest.settings, **requested}, self.tokenizer)

    def predict(self, inputs: dict[str, Any], parameters: dict[str, Any]) -> dict[str, Any]:
        prefix, options = self.plan(parameters)
        output, chunks = generate_in_pieces(
            self.tokenizer,
            inputs["text"],
            limit=self.limit,
            prefix=prefix,
            generate=lambda text: self.tokenizer.decode(self.generate(text, options), skip_special_tokens=True).strip(),
        )
        return {self.output_key: output, "chunks": chunks}

    def generate(self, text: str, options: dict[str, Any]) -> list[int]:
        """The token ids CTranslate2 generates for ``text`` with ``options`` (:meth:`plan`), without the end token."""
        if options["max_decoding_length"] < 1:
            return []
        source = self.tokenizer.source_tokens(text, self.limit)
        suppress = {"suppress_sequences": self.manifest.suppress} if self.manifest.suppress else {}
        result = self.translator.translate_batch([source], **options, **suppress)[0]
        return [self.tokenizer.token_id(token) for token in result.hypotheses[0]]  # all in the vocabulary


class SummarizationCt2(Seq2SeqCt2):
    """``{"summary", "chunks"}``: one summary per piece, joined."""

    output_key = "summary"


class TranslationCt2(Seq2SeqCt2):
    """``{"translation", "chunks"}``; a ``tgt_lang`` in the vocabulary is forced as the first output token."""

    output_key = "translation"

    def task_settings(self, parameters: dict[str, Any]) -> dict[str, Any]:
        source, target = params.text(parameters, "src_lang"), params.text(parameters, "tgt_lang")
        token = self.tokenizer.token_id(target) if target else None
        known = token is not None and token != self.tokenizer.token_id(self.manifest.unk_token)
        return params.translation_settings(self.manifest.task_specific_params, source, target, token if known else None)
