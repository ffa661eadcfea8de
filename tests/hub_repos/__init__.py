"""What the default models' Hub repositories really hold at their pins, and tiny models with exactly those files.

Each ``<entry>.yaml`` here records one default registry entry's repository at
the revision ``inference/models.yaml`` pins: its files (with sizes where known),
the weights' format, the tokenizer's kind, the architecture its config names,
where those facts come from, and what could not be confirmed. The Hub is not
reachable from here, so :func:`build_repo` makes a tiny random-weight model with
exactly that file set: the weights as the repository stores them (a pickled
``pytorch_model.bin`` where it has nothing else), the tokenizer as it ships
(Marian's ``source.spm``/``target.spm``/``vocab.json`` built with the
sentencepiece trainer, a bare ``vocab.txt``, ``vocab.json`` + ``merges.txt``,
a ``tokenizer.json``, CLIP's lower-casing BPE, Whisper's with its special and
timestamp tokens, or none for an image model that reads no text), the
``preprocessor_config.json`` an image or audio model reads, as the record
gives it (its processor class, or none, and its sizes: the file has the
repository's size in bytes where that is known), and a placeholder for every
file this project never downloads (other frameworks' weights, READMEs), so a
download of one shows up. The fake Hub (tests/fakes/hub.py) then serves the
folder at the real pin.
"""

from __future__ import annotations

import io
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from tests.fakes.hub import FakeHub
from tests.speech_models import _generation_config as whisper_generation_config
from tests.speech_models import _tokenizer as whisper_tokenizer
from tests.tiny_models import BART_SPECIALS, BERT_SPECIALS, CHAT_SPECIALS, CHAT_TEMPLATE, PUNCTUATION, SEED, WORDS

RECORDS = Path(__file__).resolve().parent
#: Sentences the tokenizers are trained on: the registry's examples and the tiny models' words.
TEXT = [
    "I love how quickly this team ships.",
    "The tower is 324 metres (1,063 ft) tall, about the same height as an 81-storey building.",
    "The meeting has been moved to Thursday afternoon.",
    "La réunion a été déplacée à jeudi après-midi.",
    "A man is eating food. A man is eating a piece of bread.",
    "The new release cut our cloud bill in half.",
    "Ada Lovelace worked with Charles Babbage in London.",
    "Where is the Eiffel Tower? The Eiffel Tower is a wrought-iron lattice tower in Paris, France.",
    "Explain in two sentences what a Lambda cold start is.",
    "Paris is the capital of France.",
    " ".join(WORDS),
]
#: The labels the default zero-shot image entry scores (its example and candidate_labels): CLIP's tokenizer knows them.
IMAGE_LABELS = "a product photo, a screenshot, a diagram, a document"
#: Cased vocabularies also know these words whole.
CASED = ["The", "Ada", "Lovelace", "Charles", "Babbage", "London", "Paris", "France", "Eiffel", "Tower", "Where"]
#: The transformer sizes the image models' encoders (and CLIP's and BLIP's text sides) share.
_VISION = {"hidden_size": 32, "num_hidden_layers": 1, "num_attention_heads": 2, "intermediate_size": 64}
#: Tiny sizes per model type, so every architecture builds in well under a second.
TINY: dict[str, dict[str, Any]] = {
    "distilbert": {"dim": 32, "n_layers": 1, "n_heads": 2, "hidden_dim": 64, "max_position_embeddings": 512},
    "bert": {"hidden_size": 32, "num_hidden_layers": 1, "num_attention_heads": 2, "intermediate_size": 64},
    "roberta": {
        "hidden_size": 32,
        "num_hidden_layers": 1,
        "num_attention_heads": 2,
        "intermediate_size": 64,
        "max_position_embeddings": 514,
    },
    "bart": {
        "d_model": 32,
        "encoder_layers": 1,
        "decoder_layers": 1,
        "encoder_attention_heads": 2,
        "decoder_attention_heads": 2,
        "encoder_ffn_dim": 64,
        "decoder_ffn_dim": 64,
        "max_position_embeddings": 1024,
    },
    "marian": {
        "d_model": 32,
        "encoder_layers": 1,
        "decoder_layers": 1,
        "encoder_attention_heads": 2,
        "decoder_attention_heads": 2,
        "encoder_ffn_dim": 64,
        "decoder_ffn_dim": 64,
        "max_position_embeddings": 512,
    },
    "qwen2": {
        "hidden_size": 32,
        "intermediate_size": 64,
        "num_hidden_layers": 1,
        "num_attention_heads": 2,
        "num_key_value_heads": 1,
        "max_position_embeddings": 512,
        "tie_word_embeddings": True,
    },
    # The image models keep the real ones' image and patch sizes, which their preprocessor_config.json matches:
    # ViT-B/16 at 224 px, CLIP ViT-B/32 at 224 px, BLIP's ViT-B/16 at 384 px, YOLOS's 16 px patches.
    "vit": {**_VISION, "image_size": 224, "patch_size": 16},
    "clip": {
        "text_config": {**_VISION, "max_position_embeddings": 77},
        "vision_config": {**_VISION, "image_size": 224, "patch_size": 32},
        "projection_dim": 16,
    },
    "yolos": {**_VISION, "image_size": [800, 1333], "patch_size": 16, "num_detection_tokens": 10},
    "blip": {
        "text_config": {**_VISION, "max_position_embeddings": 64, "encoder_hidden_size": 32},
        "vision_config": {**_VISION, "image_size": 384, "patch_size": 16},
        "projection_dim": 16,
    },
    # Whisper's 80 mel bins over a 30-second window (1,500 encoder positions) and its 448 decoder positions.
    "whisper": {
        "d_model": 32,
        "encoder_layers": 1,
        "decoder_layers": 1,
        "encoder_attention_heads": 2,
        "decoder_attention_heads": 2,
        "encoder_ffn_dim": 64,
        "decoder_ffn_dim": 64,
        "num_mel_bins": 80,
        "max_source_positions": 1500,
        "max_target_positions": 448,
        "begin_suppress_tokens": None,
        "suppress_tokens": None,
    },
}
#: Files a sentence-transformers repository reads besides the transformer's own.
SENTENCE_TRANSFORMERS = {
    "modules.json": [
        {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
        {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
        {"idx": 2, "name": "2", "path": "2_Normalize", "type": "sentence_transformers.models.Normalize"},
    ],
    "1_Pooling/config.json": {"word_embedding_dimension": 32, "pooling_mode_mean_tokens": True},
    "sentence_bert_config.json": {"max_seq_length": 256, "do_lower_case": False},
    "config_sentence_transformers.json": {"__version__": {"sentence_transformers": "2.0.0"}},
}


@dataclass(frozen=True)
class RepoRecord:
    """One ``<entry>.yaml``: a default entry's repository at its pin."""

    entry: str
    repo: str
    revision: str
    architecture: str
    model_type: str
    weights: str
    tokenizer: str
    files: dict[str, int | None]
    sources: list[str]
    unconfirmed: list[str]
    lowercase: bool = True
    labels: list[str] = field(default_factory=list)
    chat: bool = False
    #: ``preprocessor_config.json`` as the repository has it (an image or audio model), written with sorted keys
    #: and an indent of 2, as transformers writes it; Whisper's ``mel_filters`` are computed, not recorded.
    preprocessor: dict[str, Any] | None = None


def records() -> list[RepoRecord]:
    """Every record, in file-name order."""
    return [RepoRecord(**yaml.safe_load(path.read_text(encoding="utf-8"))) for path in sorted(RECORDS.glob("*.yaml"))]


def record(entry: str) -> RepoRecord:
    """The record of one default registry entry."""
    return RepoRecord(**yaml.safe_load((RECORDS / f"{entry}.yaml").read_text(encoding="utf-8")))


def build_repo(repo: RepoRecord, folder: Path) -> Path:
    """Write a tiny model with exactly ``repo``'s file set into ``folder`` and return it."""
    import torch
    import transformers

    folder.mkdir(parents=True, exist_ok=True)
    tokens = CONFIG_IDS.get(repo.model_type, dict)(TOKENIZERS[repo.tokenizer](repo, folder))
    config = transformers.AutoConfig.for_model(
        repo.model_type,
        architectures=[repo.architecture],
        **_labels(repo.labels),
        **_merged(TINY[repo.model_type], tokens),
    )
    torch.manual_seed(SEED)
    model = getattr(transformers, repo.architecture)(config).eval()
    if repo.model_type == "whisper":
        model.generation_config = whisper_generation_config(transformers.AutoTokenizer.from_pretrained(folder), config)
    if repo.preprocessor is not None:
        extras = PREPROCESSOR_EXTRAS.get(repo.model_type)
        preprocessor = {**repo.preprocessor, **(extras(repo.preprocessor) if extras else {})}
        text = json.dumps(preprocessor, indent=2, sort_keys=True) + "\n"
        (folder / "preprocessor_config.json").write_text(text, encoding="utf-8")
    if repo.weights == "pickle":
        # As transformers wrote them before safetensors: torch.save of the state dict, shared tensors stored once.
        config.save_pretrained(folder)
        if model.can_generate():
            model.generation_config.save_pretrained(folder)
        torch.save(model.state_dict(), folder / "pytorch_model.bin")
    else:
        model.save_pretrained(folder)
    for name, content in SENTENCE_TRANSFORMERS.items():
        if name in repo.files:
            (folder / name).parent.mkdir(parents=True, exist_ok=True)
            (folder / name).write_text(json.dumps(content, indent=2), encoding="utf-8")
    written = {path.relative_to(folder).as_posix(): path for path in folder.rglob("*") if path.is_file()}
    for name, path in written.items():
        if name not in repo.files:
            path.unlink()  # what save_pretrained writes but the repository does not have
    for name in repo.files:
        if name not in written:
            (folder / name).parent.mkdir(parents=True, exist_ok=True)
            (folder / name).write_bytes(f"placeholder for {name}: this project never downloads it\n".encode())
    return folder


def _merged(sizes: dict[str, Any], ids: dict[str, Any]) -> dict[str, Any]:
    """The tiny sizes with the tokenizer's ids, merged into the sub-configs (CLIP's, BLIP's ``text_config``)."""
    merged = dict(sizes)
    for key, value in ids.items():
        merged[key] = {**merged[key], **value} if isinstance(value, dict) and key in merged else value
    return merged


def _labels(labels: list[str]) -> dict[str, Any]:
    if not labels:
        return {}
    return {"id2label": dict(enumerate(labels)), "label2id": {label: i for i, label in enumerate(labels)}}


def _wordpiece_vocab(lowercase: bool) -> list[str]:
    letters = [chr(c) for c in range(ord("a"), ord("z") + 1)] + [str(d) for d in range(10)]
    if not lowercase:
        letters += [chr(c) for c in range(ord("A"), ord("Z") + 1)]
    words = WORDS if lowercase else [*WORDS, *CASED]
    tokens = [*BERT_SPECIALS, *letters, *(f"##{piece}" for piece in letters), *PUNCTUATION, *words]
    return list(dict.fromkeys(tokens))


def _bert_ids(vocab: list[str]) -> dict[str, Any]:
    return {"pad_token_id": vocab.index("[PAD]")}


def wordpiece_vocab(repo: RepoRecord, folder: Path) -> dict[str, Any]:
    """A bare ``vocab.txt`` (and the small configs beside it): transformers builds the fast tokenizer from it."""
    vocab = _wordpiece_vocab(repo.lowercase)
    (folder / "vocab.txt").write_text("\n".join(vocab) + "\n", encoding="utf-8")
    settings = {"do_lower_case": repo.lowercase, "model_max_length": 512}
    (folder / "tokenizer_config.json").write_text(json.dumps(settings), encoding="utf-8")
    specials = {"unk_token": "[UNK]", "sep_token": "[SEP]", "pad_token": "[PAD]", "cls_token": "[CLS]"}
    (folder / "special_tokens_map.json").write_text(json.dumps({**specials, "mask_token": "[MASK]"}), encoding="utf-8")
    (folder / "added_tokens.json").write_text("{}", encoding="utf-8")
    return {"vocab_size": len(vocab), **_bert_ids(vocab)}


def wordpiece_json(repo: RepoRecord, folder: Path) -> dict[str, Any]:
    """``tokenizer.json`` for a word-piece model, with its ``vocab.txt`` beside it."""
    from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors
    from transformers import PreTrainedTokenizerFast

    ids = wordpiece_vocab(repo, folder)
    vocab = {token: i for i, token in enumerate(_wordpiece_vocab(repo.lowercase))}
    backend = Tokenizer(models.WordPiece(vocab, unk_token="[UNK]", max_input_chars_per_word=100))
    backend.normalizer = normalizers.BertNormalizer(lowercase=repo.lowercase)
    backend.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    backend.decoder = decoders.WordPiece()
    backend.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]",
        pair="[CLS] $A [SEP] $B:1 [SEP]:1",
        special_tokens=[("[CLS]", vocab["[CLS]"]), ("[SEP]", vocab["[SEP]"])],
    )
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=backend,
        model_max_length=512,
        **{name: token for name, token in json.loads((folder / "special_tokens_map.json").read_text()).items()},
    )
    tokenizer.save_pretrained(folder)
    return ids


def _byte_level_bpe(specials: tuple[str, ...]) -> Any:
    from tokenizers import ByteLevelBPETokenizer

    tokenizer = ByteLevelBPETokenizer()
    tokenizer.train_from_iterator(TEXT, vocab_size=400, min_frequency=1, special_tokens=list(specials))
    return tokenizer


def bpe_vocab_merges(repo: RepoRecord, folder: Path) -> dict[str, Any]:
    """BART's ``vocab.json`` + ``merges.txt`` and no ``tokenizer.json``: the fast tokenizer is built from them."""
    tokenizer = _byte_level_bpe(BART_SPECIALS)
    tokenizer.save_model(str(folder))
    (folder / "tokenizer_config.json").write_text(json.dumps({"model_max_length": 1024}), encoding="utf-8")
    return _bart_ids(tokenizer)


def _bart_ids(tokenizer: Any) -> dict[str, Any]:
    ids = {
        name: tokenizer.token_to_id(token) for name, token in zip(("bos", "pad", "eos"), BART_SPECIALS, strict=False)
    }
    return {
        "vocab_size": tokenizer.get_vocab_size(),
        "bos_token_id": ids["bos"],
        "pad_token_id": ids["pad"],
        "eos_token_id": ids["eos"],
        "decoder_start_token_id": ids["eos"],
        "forced_eos_token_id": ids["eos"],
    }


def bpe_json(repo: RepoRecord, folder: Path) -> dict[str, Any]:
    """``tokenizer.json`` for a byte-level BPE model (RoBERTa, BART, Qwen), with ``vocab.json`` + ``merges.txt``."""
    from tokenizers import processors
    from transformers import PreTrainedTokenizerFast

    specials = CHAT_SPECIALS if repo.chat else BART_SPECIALS
    tokenizer = _byte_level_bpe(specials)
    tokenizer.save_model(str(folder))
    if repo.chat:
        wrapped = PreTrainedTokenizerFast(
            tokenizer_object=tokenizer._tokenizer,
            model_max_length=512,
            eos_token="<|im_end|>",
            pad_token="<|endoftext|>",
            additional_special_tokens=["<|im_start|>"],
        )
        wrapped.chat_template = CHAT_TEMPLATE
        wrapped.save_pretrained(folder)
        eos, pad = tokenizer.token_to_id("<|im_end|>"), tokenizer.token_to_id("<|endoftext|>")
        return {
            "vocab_size": tokenizer.get_vocab_size(),
            "eos_token_id": eos,
            "pad_token_id": pad,
            "bos_token_id": None,
        }
    tokenizer._tokenizer.post_processor = processors.RobertaProcessing(
        ("</s>", tokenizer.token_to_id("</s>")), ("<s>", tokenizer.token_to_id("<s>"))
    )
    wrapped = PreTrainedTokenizerFast(
        tokenizer_object=tokenizer._tokenizer,
        model_max_length=512,
        bos_token="<s>",
        eos_token="</s>",
        unk_token="<unk>",
        sep_token="</s>",
        cls_token="<s>",
        pad_token="<pad>",
        mask_token="<mask>",
    )
    wrapped.save_pretrained(folder)
    return _bart_ids(tokenizer)


def marian_sentencepiece(repo: RepoRecord, folder: Path) -> dict[str, Any]:
    """Marian's two sentencepiece models (trained here with the sentencepiece trainer) and their shared vocab."""
    import sentencepiece

    pieces: list[str] = []
    for name in ("source.spm", "target.spm"):
        model = io.BytesIO()
        sentencepiece.SentencePieceTrainer.train(
            sentence_iterator=iter(TEXT * 4),
            model_writer=model,
            vocab_size=120,
            model_type="unigram",
            character_coverage=1.0,
            hard_vocab_limit=False,
            unk_id=0,
            bos_id=-1,
            eos_id=-1,
            pad_id=-1,
            minloglevel=2,
        )
        (folder / name).write_bytes(model.getvalue())
        processor = sentencepiece.SentencePieceProcessor(model_proto=model.getvalue())
        pieces += [processor.id_to_piece(i) for i in range(processor.get_piece_size())]
    vocab = {"</s>": 0, "<unk>": 1}
    for piece in pieces:
        vocab.setdefault(piece, len(vocab))
    vocab["<pad>"] = len(vocab)
    (folder / "vocab.json").write_text(json.dumps(vocab, ensure_ascii=False), encoding="utf-8")
    (folder / "tokenizer_config.json").write_text(json.dumps({"target_lang": "fr", "source_lang": "en"}))
    pad = vocab["<pad>"]
    return {
        "vocab_size": len(vocab),
        "decoder_vocab_size": len(vocab),
        "pad_token_id": pad,
        "eos_token_id": 0,
        "decoder_start_token_id": pad,
    }


def no_tokenizer(repo: RepoRecord, folder: Path) -> dict[str, Any]:
    """An image model that reads no text and writes none (ViT, YOLOS): no tokenizer files at all."""
    return {}


def _bpe_files(tokenizer: Any, folder: Path) -> None:
    """``vocab.json`` + ``merges.txt`` beside a BPE ``tokenizer.json``: the same vocabulary, as the slow files."""
    model = json.loads(tokenizer.backend_tokenizer.to_str())["model"]
    merges = [merge if isinstance(merge, str) else " ".join(merge) for merge in model["merges"]]
    (folder / "vocab.json").write_text(json.dumps(model["vocab"], ensure_ascii=False), encoding="utf-8")
    (folder / "merges.txt").write_text("#version: 0.2\n" + "".join(f"{m}\n" for m in merges), encoding="utf-8")


def _special_tokens_map(tokenizer: Any, folder: Path) -> None:
    """``special_tokens_map.json``: the named special tokens, and the other special tokens added to the vocabulary."""
    named = {**tokenizer.special_tokens_map, "pad_token": str(tokenizer.pad_token)}
    extra = [str(t) for t in tokenizer.added_tokens_decoder.values() if t.special and str(t) not in named.values()]
    content = {**named, **({"additional_special_tokens": extra} if extra else {})}
    (folder / "special_tokens_map.json").write_text(json.dumps(content, indent=2), encoding="utf-8")


def clip_bpe(repo: RepoRecord, folder: Path) -> dict[str, Any]:
    """CLIP's lower-casing BPE (words end in ``</w>``), as ``tokenizer.json`` beside ``vocab.json`` + ``merges.txt``.

    The vocabulary is CLIP's layout: the 256 byte characters, each again with ``</w>``, the merged words, and
    ``<|startoftext|>``, ``<|endoftext|>`` last, so the end of a text is its highest id.
    """
    from tokenizers import pre_tokenizers
    from transformers import CLIPTokenizer

    alphabet = sorted(pre_tokenizers.ByteLevel.alphabet())
    vocab = {token: i for i, token in enumerate([*alphabet, *(char + "</w>" for char in alphabet)])}
    merges: list[tuple[str, str]] = []
    for word in dict.fromkeys(re.findall(r"[a-z]+", " ".join([*TEXT, IMAGE_LABELS]).lower())):
        pieces = [*word[:-1], word[-1] + "</w>"]
        piece = pieces[0]
        for following in pieces[1:]:
            if (piece, following) not in merges:
                merges.append((piece, following))
            piece += following
            vocab.setdefault(piece, len(vocab))
    for special in ("<|startoftext|>", "<|endoftext|>"):
        vocab[special] = len(vocab)
    tokenizer = CLIPTokenizer(vocab=vocab, merges=merges, model_max_length=77)
    tokenizer.save_pretrained(folder)
    _bpe_files(tokenizer, folder)
    _special_tokens_map(tokenizer, folder)
    return {"vocab_size": len(vocab)}


#: A few lines of Whisper's ``normalizer.json``: British spellings its English text normalizer rewrites.
WHISPER_SPELLINGS = {"colour": "color", "centre": "center", "organise": "organize", "travelled": "traveled"}


def whisper_bpe(repo: RepoRecord, folder: Path) -> dict[str, Any]:
    """Whisper's byte-level BPE with its special, language and timestamp tokens (tests/speech_models.py), as the
    repository ships it: ``tokenizer.json``, ``vocab.json`` + ``merges.txt``, ``added_tokens.json`` and
    ``normalizer.json`` (the English spelling map), beside ``special_tokens_map.json``."""
    tokenizer = whisper_tokenizer()
    tokenizer.save_pretrained(folder)
    _bpe_files(tokenizer, folder)
    added = {str(token): index for index, token in sorted(tokenizer.added_tokens_decoder.items())}
    (folder / "added_tokens.json").write_text(json.dumps(added, indent=2, ensure_ascii=False), encoding="utf-8")
    (folder / "normalizer.json").write_text(json.dumps(WHISPER_SPELLINGS, indent=2), encoding="utf-8")
    _special_tokens_map(tokenizer, folder)
    end, start = tokenizer.convert_tokens_to_ids(["<|endoftext|>", "<|startoftranscript|>"])
    return {
        "vocab_size": len(tokenizer),
        "pad_token_id": end,
        "bos_token_id": end,
        "eos_token_id": end,
        "decoder_start_token_id": start,
    }


#: How each tokenizer kind a record names is built.
TOKENIZERS = {
    "wordpiece-vocab": wordpiece_vocab,
    "wordpiece-json": wordpiece_json,
    "bpe-vocab-merges": bpe_vocab_merges,
    "bpe-json": bpe_json,
    "marian-sentencepiece": marian_sentencepiece,
    "clip-bpe": clip_bpe,
    "whisper-bpe": whisper_bpe,
    "none": no_tokenizer,
}


def _clip_ids(tokens: dict[str, Any]) -> dict[str, Any]:
    """CLIP's text config keeps the ids it was converted with (bos 0, pad 1, eos 2), not its tokenizer's: with
    ``eos_token_id`` 2, transformers pools each text at its highest id, ``<|endoftext|>``, as the original did."""
    return {
        "text_config": {"vocab_size": tokens["vocab_size"], "bos_token_id": 0, "pad_token_id": 1, "eos_token_id": 2}
    }


def _blip_ids(tokens: dict[str, Any]) -> dict[str, Any]:
    """BLIP's text side: BERT's vocabulary and two ids past it, ``[DEC]`` (the caption's first token, which
    generate puts in place of ``[CLS]``) and ``[ENC]``; its tokenizer knows neither. A caption ends at ``[SEP]``."""
    vocab = _wordpiece_vocab(lowercase=True)
    return {
        "text_config": {
            "vocab_size": tokens["vocab_size"] + 2,
            "bos_token_id": tokens["vocab_size"],
            "sep_token_id": vocab.index("[SEP]"),
            "pad_token_id": tokens["pad_token_id"],
        }
    }


#: How a model type's config takes its tokenizer's ids, where it is not the tokenizer's own ``*_token_id``.
CONFIG_IDS = {"clip": _clip_ids, "blip": _blip_ids}


def _mel_filters(preprocessor: dict[str, Any]) -> dict[str, Any]:
    """Whisper's ``mel_filters`` as its repositories store them: one row of frequency weights per mel bin."""
    from transformers.audio_utils import mel_filter_bank

    filters = mel_filter_bank(
        num_frequency_bins=1 + preprocessor["n_fft"] // 2,
        num_mel_filters=preprocessor["feature_size"],
        min_frequency=0.0,
        max_frequency=preprocessor["sampling_rate"] / 2,
        sampling_rate=preprocessor["sampling_rate"],
        norm="slaney",
        mel_scale="slaney",
    )
    return {"mel_filters": filters.T.tolist()}


#: What a model type's ``preprocessor_config.json`` holds besides the record's settings, computed.
PREPROCESSOR_EXTRAS = {"whisper": _mel_filters}


def publish(hub: FakeHub, root: Path, entries: list[str] | None = None) -> dict[str, Path]:
    """Build the named records' tiny models under ``root`` and serve each on ``hub`` at its real pin."""
    folders = {}
    for repo in records():
        if entries is None or repo.entry in entries:
            folders[repo.entry] = build_repo(repo, root / repo.entry)
            hub.add_repo(repo.repo, folders[repo.entry], revision=repo.revision)
    return folders
