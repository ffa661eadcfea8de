"""Converts a summarizer, translator or Whisper for CTranslate2 at warm time (the converter of
:mod:`inference.runners.ct2` and :mod:`inference.runners.ct2_speech`).

CTranslate2's own Transformers converter (``ctranslate2.converters``) turns the
model into ``model.bin`` (int8 weights for ``quantize: int8``, float32 for
``none``) with its vocabulary; it loads the model with transformers, here from
safetensors only and never with a repository's own code. This module then
writes what the runner reads instead of transformers: the tokenizer as a
``tokenizer.json`` (a fast tokenizer, BART's built here from its vocabulary and
merges) or, for Marian, its ``source.spm`` and ``vocab.json``, and the manifest
(:class:`~inference.runners.ct2.Seq2SeqManifest`) of the input limit, the
generation settings, the task prefixes and the special tokens.

Before anything is written the conversion is checked: an architecture other than
those the runners are tested on, generation settings the runner does not apply,
a tokenizer the runner cannot reproduce (checked on sample texts, ids and
decoded text), or a vocabulary whose order is not the model's ids are refused,
and ``warm`` serves the entry with torch.

Whisper's conversion keeps, beside CTranslate2's weights and vocabulary, the model's ``tokenizer.json``
(only decoded: the prompt is token ids), its ``preprocessor_config.json`` (what
:func:`inference.audio.log_mel_spectrogram` computes with) and the token ids decoding needs
(:class:`~inference.runners.transcripts.WhisperTokens`). Both Whisper runners decode greedily from the
same prompt, so the model's generation settings other than its tokens are not carried.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

from inference.audio import PREPROCESSOR_FILE
from inference.conversions import ConversionRefused, model_generation_settings
from inference.errors import ModelLoadError
from inference.registry import ModelSpec
from inference.runners import parameters as params
from inference.runners.ct2 import (
    FAST,
    SENTENCEPIECE,
    SOURCE_SPM,
    TOKENIZER_FILE,
    VOCAB_FILE,
    FastTokenizer,
    SentencePieceTokenizer,
    Seq2SeqManifest,
    TextTokenizer,
)
from inference.runners.transcripts import WhisperTokens
from inference.tokenization import cleans_up

#: Whisper, converted for :mod:`inference.runners.ct2_speech`.
WHISPER = "WhisperForConditionalGeneration"
#: The architectures converted: the default summarizer's, translator's and speech recogniser's, which the
#: parity tests cover.
ARCHITECTURES = ("BartForConditionalGeneration", "MarianMTModel", WHISPER)
#: CTranslate2's weight type for each ``quantize`` value.
QUANTIZATIONS = {"int8": "int8", "none": "float32"}
#: Generation-config keys the conversion itself carries (the tokens it starts and pads with).
CARRIED = ("bos_token_id", "pad_token_id", "decoder_start_token_id")
#: What :func:`inference.runners.ct2.decoding_options` applies (``bad_words_ids`` becomes the manifest's ``suppress``).
HONOURED = frozenset(
    {*params.GENERATION, "max_length", "early_stopping", "eos_token_id", "forced_bos_token_id", "forced_eos_token_id"}
)
#: Texts the runner's tokenizer must read and write exactly as transformers does, besides the entry's example.
PROBES = (
    "The meeting has been moved to Thursday afternoon.",
    "Hello , world . It 's  two   spaces,\ttabs\nand lines; isn't it?",
    ">>fr<< A language code, </s> an end token and <unk> written out.",
    "Café, naïve, Straße, 東京, 😀 and numbers like 1,063 or 3.14.",
    "a " * 600,
)


def convert(spec: ModelSpec, source: Path, target: Path, *, quantize: str) -> None:
    """Write ``spec``'s CTranslate2 conversion of ``source`` into the empty folder ``target``.

    Raises:
        ConversionRefused: another architecture, weights that are not safetensors,
            generation settings or a tokenizer the runner cannot reproduce.
        ModelLoadError: CTranslate2's converter failed on a model it supports.
    """
    from transformers import AutoConfig, AutoTokenizer

    from inference.runners.base import input_limit

    if not any(source.glob("*.safetensors")):
        raise ConversionRefused(f"{source} has no safetensors weights, and weights are only loaded from safetensors")
    options: dict[str, Any] = {"local_files_only": True, "trust_remote_code": False}
    config = AutoConfig.from_pretrained(source, **options)  # nosec B615  # local files only
    architecture = (config.architectures or ["no architecture"])[0]
    if architecture not in ARCHITECTURES:
        raise ConversionRefused(
            f"{architecture} is not converted for CTranslate2 here (only {', '.join(ARCHITECTURES)} are)"
        )
    tokenizer = AutoTokenizer.from_pretrained(source, **options)  # nosec B615  # local files only
    if architecture == WHISPER:
        _convert_whisper(spec, source, target, config, tokenizer, quantize=quantize)
        return
    kind = _tokenizer_kind(tokenizer)
    settings, banned = _settings(source, config)
    model = _convert_weights(spec, source, target, QUANTIZATIONS[quantize])
    _check_decoder_start(model)
    vocabulary = _check_vocabulary(tokenizer, target)
    limit = input_limit(tokenizer, config)
    manifest = Seq2SeqManifest(
        limit=limit,
        tokenizer=kind,
        settings=settings,
        task_specific_params=dict(getattr(config, "task_specific_params", None) or {}),
        unk_token=str(tokenizer.unk_token),
        clean_up_tokenization_spaces=kind == FAST and cleans_up(tokenizer),
        suppress=[
            tokens
            for tokens in (tokenizer.convert_ids_to_tokens(sequence) for sequence in banned)
            if all(token in vocabulary for token in tokens)
        ],
        **(_sentencepiece_facts(tokenizer) if kind == SENTENCEPIECE else {}),
    )
    _write_tokenizer(tokenizer, kind, target)
    manifest.write(target)
    ours: TextTokenizer = (
        FastTokenizer(target / TOKENIZER_FILE, clean_up=manifest.clean_up_tokenization_spaces)
        if kind == FAST
        else SentencePieceTokenizer(target, manifest)
    )
    _check_tokenizer(tokenizer, ours, limit, [spec.example, *PROBES])


def _tokenizer_kind(tokenizer: Any) -> str:
    """:data:`FAST` or :data:`SENTENCEPIECE`; refused when the runner cannot read this tokenizer as transformers does."""
    if hasattr(tokenizer, "src_lang"):
        raise ConversionRefused(
            f"its tokenizer ({type(tokenizer).__name__}) switches source languages, which the CTranslate2 runner does not"
        )
    if tokenizer.is_fast:
        return FAST
    if type(tokenizer).__name__ != "MarianTokenizer":
        raise ConversionRefused(f"its tokenizer ({type(tokenizer).__name__}) has no tokenizer.json and is not Marian's")
    if tokenizer.separate_vocabs:
        raise ConversionRefused("its Marian tokenizer has separate source and target vocabularies")
    stripped = [t.content for t in tokenizer.added_tokens_decoder.values() if t.lstrip or t.rstrip or t.single_word]
    if stripped:
        raise ConversionRefused(f"its tokenizer strips the text around {', '.join(stripped)}")
    return SENTENCEPIECE


def _settings(source: Path, config: Any) -> tuple[dict[str, Any], list[list[int]]]:
    """transformers' generation defaults overridden by the model's generation config, and its banned sequences.

    Raises:
        ConversionRefused: the generation config, or a summarization or translation entry of
            ``task_specific_params``, sets what the runner does not apply.
    """
    from transformers import GenerationConfig

    generation, model_settings = model_generation_settings(
        source, config, carried=CARRIED, honoured=HONOURED | {"bad_words_ids"}, runner="CTranslate2 runner"
    )
    if generation.decoder_start_token_id not in (None, config.decoder_start_token_id):
        raise ConversionRefused("its generation config starts the decoder on another token than its config does")
    banned = model_settings.pop("bad_words_ids", None) or []
    for task, entry in (getattr(config, "task_specific_params", None) or {}).items():
        unknown = sorted(set(entry) - HONOURED - {"prefix"})
        if (task == "summarization" or task.startswith("translation")) and unknown:
            raise ConversionRefused(
                f"its task settings set {', '.join(unknown)}, which the CTranslate2 runner does not apply"
            )
    defaults = GenerationConfig._get_default_generation_params()
    settings = {key: model_settings.get(key, defaults.get(key)) for key in sorted(HONOURED)}
    if settings["do_sample"] and settings["num_beams"] > 1:
        raise ConversionRefused(f"it samples with a beam search of {settings['num_beams']}, which CTranslate2 does not")
    if "max_length" not in model_settings:
        # generate()'s own default is that many new tokens, within the model's positions; in a total
        # length, that counts the decoder's start token too.
        positions = getattr(config, "max_position_embeddings", None) or defaults["max_length"] + 1
        settings["max_length"] = min(defaults["max_length"] + 1, positions)
    if settings["eos_token_id"] is None:
        settings["eos_token_id"] = config.eos_token_id
    return {key: value for key, value in settings.items() if value is not None}, banned


def _convert_weights(spec: ModelSpec, source: Path, target: Path, quantization: str) -> Any:
    """Run CTranslate2's converter on ``source`` into ``target``; returns the transformers model it read.

    Raises:
        ModelLoadError: the converter failed.
    """
    from ctranslate2.converters import TransformersConverter

    class Converter(TransformersConverter):
        """Loads from safetensors only, offline, and gives BART the layer-norm placement transformers' code has."""

        model: Any = None

        def load_model(self, model_class: Any, model_name_or_path: str, **kwargs: Any) -> Any:
            model = super().load_model(
                model_class, model_name_or_path, use_safetensors=True, local_files_only=True, **kwargs
            )
            if model.config.model_type == "bart":
                # CTranslate2 reads these from config keys transformers 5 neither writes nor reads: its BART
                # normalises after each block and right after the embeddings.
                model.config.normalize_before, model.config.normalize_embedding = False, True
            self.model = model
            return model

        def load_tokenizer(self, tokenizer_class: Any, model_name_or_path: str, **kwargs: Any) -> Any:
            return super().load_tokenizer(tokenizer_class, model_name_or_path, local_files_only=True, **kwargs)

    converter = Converter(str(source))
    try:
        converter.convert(str(target), quantization=quantization, force=True)  # force: the target exists, empty
    except Exception as exc:  # CTranslate2 raises many types for a model it cannot write
        raise ModelLoadError(f"{spec.name}: CTranslate2's converter failed: {type(exc).__name__}: {exc}") from exc
    return converter.model


def _check_decoder_start(model: Any) -> None:
    """Marian: CTranslate2 starts the decoder from a zero vector, transformers from the start token's embedding."""
    if model.config.model_type != "marian":
        return
    start = model.get_decoder().embed_tokens.weight[model.config.decoder_start_token_id]
    if bool(start.any()):
        raise ConversionRefused(
            "its decoder's start token has a non-zero embedding, and CTranslate2 starts Marian's decoder from zeros"
        )


def _check_vocabulary(tokenizer: Any, target: Path, *, name: str = "shared_vocabulary.json") -> set[str]:
    """CTranslate2's vocabulary, checked to be in the order of the model's token ids (its embedding rows)."""
    tokens: list[str] = json.loads((target / name).read_text(encoding="utf-8"))
    misplaced = [token for index, token in enumerate(tokens) if tokenizer.convert_tokens_to_ids(token) != index]
    if misplaced:
        raise ConversionRefused(
            f"its vocabulary's ids are not the rows of its embeddings ({', '.join(misplaced[:5])} are elsewhere)"
        )
    return set(tokens)


def _sentencepiece_facts(tokenizer: Any) -> dict[str, Any]:
    return {
        "added_tokens": dict(tokenizer.added_tokens_encoder),
        "special_ids": sorted(tokenizer.all_special_ids),
        "eos_token": str(tokenizer.eos_token),
    }


def _write_tokenizer(tokenizer: Any, kind: str, target: Path) -> None:
    """The fast tokenizer's ``tokenizer.json``, or Marian's source sentencepiece model and shared vocabulary."""
    if kind == FAST:
        tokenizer.backend_tokenizer.save(str(target / TOKENIZER_FILE))
        return
    shutil.copyfile(tokenizer.spm_files[0], target / SOURCE_SPM)
    (target / VOCAB_FILE).write_text(json.dumps(tokenizer.encoder, ensure_ascii=False), encoding="utf-8")


def _check_tokenizer(tokenizer: Any, ours: TextTokenizer, limit: int, texts: list[str]) -> None:
    """Refuse when the runner's tokenizer reads or writes any of ``texts`` otherwise than transformers does."""
    if ours.num_special_tokens_to_add() != tokenizer.num_special_tokens_to_add():
        raise ConversionRefused("its tokenizer adds special tokens the CTranslate2 runner does not")
    for text in texts:
        ids = tokenizer(text, truncation=True, max_length=limit)["input_ids"]
        same = (
            [ours.token_id(token) for token in ours.source_tokens(text, limit)] == ids
            and ours(text, add_special_tokens=False)["input_ids"]
            == tokenizer(text, add_special_tokens=False, verbose=False)["input_ids"]
            and ours.decode(ids, skip_special_tokens=True) == tokenizer.decode(ids, skip_special_tokens=True)
        )
        if not same:
            raise ConversionRefused(
                f"its tokenizer ({type(tokenizer).__name__}) is not reproduced without transformers, on {text[:60]!r}"
            )


def _convert_whisper(
    spec: ModelSpec, source: Path, target: Path, config: Any, tokenizer: Any, *, quantize: str
) -> None:
    """Whisper: CTranslate2's weights and vocabulary, the tokenizer, the feature extractor's settings, the token ids.

    Raises:
        ConversionRefused: no Whisper feature extractor the runner computes alike, no fast tokenizer, a
            generation config without Whisper's tokens, or token ids CTranslate2 reads otherwise.
    """
    from transformers import GenerationConfig

    try:
        extractor = json.loads((source / PREPROCESSOR_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ConversionRefused(f"it has no readable {PREPROCESSOR_FILE}") from exc
    if extractor.get("feature_extractor_type") != "WhisperFeatureExtractor" or extractor.get("dither"):
        raise ConversionRefused("its feature extractor is not Whisper's without dither, which the runner computes")
    if not tokenizer.is_fast:
        raise ConversionRefused(f"its tokenizer ({type(tokenizer).__name__}) has no tokenizer.json")
    try:
        generation = GenerationConfig.from_pretrained(source, local_files_only=True)  # nosec B615  # local files only
        tokens = WhisperTokens.from_generation_config(
            generation.to_dict(),
            max_target_positions=config.max_target_positions,
            clean_up_tokenization_spaces=cleans_up(tokenizer),
        )
    except (OSError, ValueError) as exc:
        raise ConversionRefused(f"its generation config does not give Whisper's tokens ({exc})") from exc
    _convert_weights(spec, source, target, QUANTIZATIONS[quantize])
    _check_vocabulary(tokenizer, target, name="vocabulary.json")
    shutil.copyfile(source / PREPROCESSOR_FILE, target / PREPROCESSOR_FILE)
    _write_tokenizer(tokenizer, FAST, target)
    tokens.write(target)
    _check_whisper(tokenizer, tokens, target)


def _check_whisper(tokenizer: Any, tokens: WhisperTokens, target: Path) -> None:
    """Refuse a conversion that CTranslate2 or the runner's tokenizer reads otherwise than transformers does."""
    import ctranslate2

    model = ctranslate2.models.Whisper(str(target), device="cpu")
    if model.is_multilingual != tokens.multilingual:
        raise ConversionRefused(
            "CTranslate2 does not see the same languages in its vocabulary as its generation config lists"
        )
    ids = tokenizer.convert_tokens_to_ids
    if (ids("<|startoftranscript|>"), ids("<|endoftext|>"), ids("<|notimestamps|>") + 1) != (
        tokens.start,
        tokens.end,
        tokens.timestamp_begin,
    ):
        raise ConversionRefused("its generation config's start, end and timestamp tokens are not the tokenizer's")
    ours = FastTokenizer(target / TOKENIZER_FILE, clean_up=tokens.clean_up_tokenization_spaces)
    for text in PROBES:
        sample = [tokens.start, *tokenizer(text, add_special_tokens=False)["input_ids"], tokens.end]
        if ours.decode(sample, skip_special_tokens=True) != tokenizer.decode(sample, skip_special_tokens=True):
            raise ConversionRefused(
                f"its tokenizer ({type(tokenizer).__name__}) is not reproduced without transformers, on {text[:60]!r}"
            )
