"""Tiny seq2seq models for the CTranslate2 backend's tests, with the default models' real file sets.

``marian``: MarianMTModel with opus-mt-en-fr's files (tests/hub_repos: ``source.spm``,
``target.spm`` and ``vocab.json`` from the sentencepiece trainer; the weights as
safetensors, as ``warm``'s conversion of its pickle leaves them) and opus-mt's
generation config: a beam of 4, at most 512 tokens, the padding token banned, a
forced end token.

``bart``: BartForConditionalGeneration with distilbart-cnn-12-6's files
(``vocab.json`` and ``merges.txt``, no ``tokenizer.json``, no
``generation_config.json``) and its summarization settings in
``task_specific_params``, where its ``config.json`` has them.

Their weights are drawn wider than transformers' default (normal, standard
deviation 1): with the default, a model this small gives the same output for
every input and never stops early, and a parity test would compare constant
sequences. Marian's padding row stays zero, as in the real model (its decoder
starts from it); the end token gets a bias so that some outputs stop before
their limit. Weights are seeded, so every run builds the same models.

``no_forced_end`` makes a variant whose generation ends a beam like
CTranslate2's (no forced end token at the length limit, stop once the beams are
done), for the exact beam-search comparison.
"""

from __future__ import annotations

import dataclasses
import json
import shutil
from pathlib import Path
from typing import Any

from tests.hub_repos import build_repo, record
from tests.tiny_models import SEED, write_registry

#: opus-mt-en-fr's generation_config.json at its pin, less the ids this tiny vocabulary numbers otherwise.
OPUS_GENERATION = {"num_beams": 4, "max_length": 512}
#: sshleifer/distilbart-cnn-12-6's config.json: ``task_specific_params.summarization``.
DISTILBART_SUMMARIZATION = {
    "early_stopping": True,
    "length_penalty": 2.0,
    "max_length": 142,
    "min_length": 56,
    "no_repeat_ngram_size": 3,
    "num_beams": 4,
}
#: How far each model's end token is favoured: some answers then end before their limit.
MARIAN_EOS_BIAS, BART_EOS_BIAS = 10.0, 7.0
#: The sentences the tests translate and summarize: the registry's examples and more.
LINES = [
    "The meeting has been moved to Thursday afternoon.",
    "I love how quickly this team ships.",
    "The tower is 324 metres (1,063 ft) tall, about the same height as an 81-storey building.",
    "A man is eating food. A man is eating a piece of bread.",
    "Ada Lovelace worked with Charles Babbage in London.",
    "Where is the Eiffel Tower? It is in Paris, France.",
    "The new release cut our cloud bill in half.",
    "Explain in two sentences what a Lambda cold start is.",
    "Paris is the capital of France.",
    "hello",
    "La réunion a été déplacée à jeudi après-midi.",
    "Thursday",
]


def _widened(folder: Path, *, eos_bias: float) -> Any:
    """The model in ``folder`` with every matrix redrawn from a normal of deviation 1 (seeded)."""
    import torch
    from transformers import AutoModelForSeq2SeqLM

    model = AutoModelForSeq2SeqLM.from_pretrained(folder).eval()
    generator = torch.Generator().manual_seed(SEED)
    with torch.no_grad():
        for parameter in model.parameters():
            if parameter.dim() == 2:
                parameter.copy_(torch.randn(parameter.shape, generator=generator))
        model.final_logits_bias[0, model.config.eos_token_id] = eos_bias
    return model


def _file_set(entry: str, folder: Path) -> Path:
    """``entry``'s real file set (tests/hub_repos) in ``folder``, with the weights as safetensors."""
    repo = record(entry)
    files = {name: size for name, size in repo.files.items() if name != "pytorch_model.bin"}
    return build_repo(
        dataclasses.replace(repo, weights="safetensors", files={**files, "model.safetensors": None}), folder
    )


def build_marian(folder: Path) -> Path:
    """A tiny MarianMTModel with opus-mt-en-fr's files and generation settings in ``folder``."""
    import torch

    _file_set("translate-en-fr", folder)
    model = _widened(folder, eos_bias=MARIAN_EOS_BIAS)
    pad = model.config.pad_token_id
    with torch.no_grad():
        model.get_input_embeddings().weight[pad].zero_()
    model.generation_config.update(**OPUS_GENERATION, bad_words_ids=[[pad]])
    model.save_pretrained(folder)
    return folder


def build_bart(folder: Path) -> Path:
    """A tiny BART summarizer with distilbart-cnn-12-6's files and summarization settings in ``folder``."""
    _file_set("summarize", folder)
    model = _widened(folder, eos_bias=BART_EOS_BIAS)
    model.config.task_specific_params = {"summarization": DISTILBART_SUMMARIZATION}
    model.save_pretrained(folder)
    (folder / "generation_config.json").unlink()  # distilbart has none: transformers derives it from config.json
    return folder


def no_forced_end(folder: Path, copy: Path) -> Path:
    """A copy of ``folder`` (weights linked) whose generation ends without a forced end token and stops early."""
    copy.mkdir(parents=True)
    for path in folder.iterdir():
        if path.suffix == ".safetensors":
            (copy / path.name).symlink_to(path)
        elif path.is_file():
            shutil.copyfile(path, copy / path.name)
    for name in ("config.json", "generation_config.json"):
        if (copy / name).is_file():
            settings = json.loads((copy / name).read_text(encoding="utf-8"))
            settings.update(forced_eos_token_id=None, early_stopping=True)
            (copy / name).write_text(json.dumps(settings), encoding="utf-8")
    return copy


def suppress_tokens(folder: Path, copy: Path) -> Path:
    """A copy of ``folder`` whose generation config suppresses a token: CTranslate2 cannot, torch can serve it."""
    from transformers import AutoConfig, GenerationConfig

    shutil.copytree(folder, copy)
    generation = GenerationConfig.from_model_config(AutoConfig.from_pretrained(copy))
    generation.suppress_tokens = [5]
    generation.save_pretrained(copy)
    return copy


def ct2_entry(name: str, task: str, folder: Path, **extra: Any) -> dict[str, Any]:
    """A registry entry serving ``folder`` on CTranslate2, at full precision unless ``extra`` says otherwise."""
    return {
        "name": name,
        "task": task,
        "model": str(folder),
        "backend": "ctranslate2",
        "quantize": "none",
        "memory": 512,
        "example": LINES[0],
        **extra,
    }


def build_ct2_models(root: Path, tiny: Path) -> Path:
    """The models under ``root`` and a registry of CTranslate2 entries over them (``tiny``: the tests' tiny models)."""
    marian = build_marian(root / "marian")
    bart = build_bart(root / "bart")
    pickled = root / "pickled"
    shutil.copytree(marian, pickled)
    (pickled / "model.safetensors").rename(pickled / "pytorch_model.bin")
    suppressing = suppress_tokens(bart, root / "suppressing")
    return write_registry(
        root / "ct2.yaml",
        [
            ct2_entry("ct2-marian", "translation", marian),
            ct2_entry("ct2-marian-int8", "translation", marian, quantize="int8"),
            ct2_entry("ct2-marian-ended", "translation", no_forced_end(marian, root / "marian-ended")),
            ct2_entry("ct2-bart", "summarization", bart),
            ct2_entry("ct2-bart-int8", "summarization", bart, quantize="int8"),
            ct2_entry("ct2-bart-ended", "summarization", no_forced_end(bart, root / "bart-ended")),
            ct2_entry("ct2-bert", "summarization", tiny / "classifier"),
            ct2_entry("ct2-pickled", "translation", pickled),
            ct2_entry("ct2-suppressing", "summarization", suppressing),
        ],
    )
