"""Tiny chat models for the onnxruntime-genai backend's tests, built offline in seconds.

``qwen``: Qwen2ForCausalLM, the architecture of the default ``ask`` entry, with
Qwen's file set (a byte-level BPE ``tokenizer.json`` from tests/hub_repos, its
chat template inside ``tokenizer_config.json`` as Qwen ships it) and Qwen's
kind of generation config (sampling with top-k, top-p and a repetition penalty,
two stop tokens, no temperature of its own). Its weights are drawn wider than
transformers' default (``initializer_range``): with the default, a random model
this small repeats one token, and a parity test would compare constant sequences.

``llama``: the tests' own chat model (tests/tiny_models.py: LlamaForCausalLM, a
word-piece tokenizer, its template in ``chat_template.jinja``), greedy by default.

``plain``: the Qwen2 model without a chat template, whose prompt is plain text.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

from tests.hub_repos import bpe_json, record
from tests.tiny_models import SEED, write_registry

#: A template in the style of Qwen2.5's: a default system turn, whitespace control, attribute access.
QWEN_TEMPLATE = (
    "{%- if messages[0]['role'] == 'system' %}\n"
    "    {{- '<|im_start|>system\\n' + messages[0]['content'] + '<|im_end|>\\n' }}\n"
    "{%- else %}\n"
    "    {{- '<|im_start|>system\\nYou are a helpful assistant.<|im_end|>\\n' }}\n"
    "{%- endif %}\n"
    "{%- for message in messages %}\n"
    "    {%- if message.role == 'user' or (message.role == 'system' and not loop.first) %}\n"
    "        {{- '<|im_start|>' + message.role + '\\n' + message.content + '<|im_end|>' + '\\n' }}\n"
    "    {%- endif %}\n"
    "{%- endfor %}\n"
    "{%- if add_generation_prompt %}\n"
    "    {{- '<|im_start|>assistant\\n' }}\n"
    "{%- endif %}\n"
)
#: Qwen2.5-Instruct's generation settings, less its temperature (so the pipeline's own default applies).
QWEN_GENERATION = {"do_sample": True, "top_k": 20, "top_p": 0.8, "repetition_penalty": 1.05}


def build_qwen(folder: Path) -> Path:
    """A tiny Qwen2 chat model with Qwen's files in ``folder``."""
    import torch
    from transformers import Qwen2Config, Qwen2ForCausalLM

    folder.mkdir(parents=True, exist_ok=True)
    tokens = bpe_json(record("ask"), folder)
    (folder / "chat_template.jinja").unlink()
    config_file = folder / "tokenizer_config.json"
    config_file.write_text(json.dumps({**json.loads(config_file.read_text()), "chat_template": QWEN_TEMPLATE}))
    torch.manual_seed(SEED)
    config = Qwen2Config(
        vocab_size=tokens["vocab_size"],
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=512,
        tie_word_embeddings=True,
        initializer_range=0.3,
        eos_token_id=tokens["eos_token_id"],
        pad_token_id=tokens["pad_token_id"],
        architectures=["Qwen2ForCausalLM"],
    )
    model = Qwen2ForCausalLM(config).eval()
    model.generation_config.update(**QWEN_GENERATION, eos_token_id=[tokens["eos_token_id"], tokens["pad_token_id"]])
    model.save_pretrained(folder)
    return folder


def build_gpt2(folder: Path) -> Path:
    """A tiny GPT-2: an architecture onnxruntime-genai's model builder has no exporter for."""
    import torch
    from transformers import GPT2Config, GPT2LMHeadModel

    folder.mkdir(parents=True, exist_ok=True)
    bpe_json(record("ask"), folder)
    torch.manual_seed(SEED)
    config = GPT2Config(vocab_size=400, n_embd=32, n_layer=1, n_head=2, n_positions=128)
    GPT2LMHeadModel(config).eval().save_pretrained(folder)
    return folder


def chat_entry(name: str, folder: Path, **extra: Any) -> dict[str, Any]:
    """A registry entry serving ``folder`` on onnxruntime-genai, at full precision unless ``extra`` says otherwise."""
    return {
        "name": name,
        "task": "text-generation",
        "model": str(folder),
        "backend": "onnxruntime-genai",
        "quantize": "none",
        "memory": 512,
        "example": "Where is the tower?",
        **extra,
    }


def build_chat_models(root: Path, llama: Path) -> Path:
    """The chat models under ``root`` (``llama`` is the tests' own) and a registry of genai entries over them."""
    qwen = build_qwen(root / "qwen")
    gpt2 = build_gpt2(root / "gpt2")
    plain = root / "plain"
    shutil.copytree(qwen, plain)
    config_file = plain / "tokenizer_config.json"
    config_file.write_text(
        json.dumps({k: v for k, v in json.loads(config_file.read_text()).items() if k != "chat_template"})
    )
    pickled = root / "pickled"
    shutil.copytree(qwen, pickled)
    (pickled / "model.safetensors").rename(pickled / "pytorch_model.bin")  # only the name matters: it is never read
    return write_registry(
        root / "genai.yaml",
        [
            chat_entry("genai-qwen", qwen),
            chat_entry("genai-qwen-int4", qwen, quantize="int4"),
            chat_entry("genai-llama", llama),
            chat_entry("genai-plain", plain),
            chat_entry("genai-gpt2", gpt2),
            chat_entry("genai-pickled", pickled),
            chat_entry("genai-beams", qwen, parameters={"num_beams": 3}),
        ],
    )
