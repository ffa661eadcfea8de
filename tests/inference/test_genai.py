"""The onnxruntime-genai backend in-process: what its converter refuses, and what its runner does with a prompt.

Its greedy and sampled tokens against torch's are in tests/speed/test_genai_parity.py;
warm, run and serve in fresh processes in tests/speed/test_genai_processes.py.
"""

from __future__ import annotations

import dataclasses
import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from inference.conversions import ConversionRefused
from inference.errors import InvalidInput, ModelLoadError
from inference.genai_convert import convert
from inference.registry import ModelSpec, load_registry
from inference.runners.genai import MANIFEST, TextGenerationGenai, chat_template
from tests.genai_models import QWEN_TEMPLATE, build_chat_models

pytestmark = pytest.mark.slow

Convert = Callable[..., Path]


@pytest.fixture(scope="session")
def chat_registry(tmp_path_factory: pytest.TempPathFactory, tiny_registry: Path) -> Path:
    return build_chat_models(tmp_path_factory.mktemp("genai-models"), tiny_registry.parent / "chat")


@pytest.fixture(scope="session")
def spec(chat_registry: Path) -> Callable[[str], ModelSpec]:
    registry = load_registry(chat_registry)
    return registry.get


@pytest.fixture
def converted(tmp_path: Path) -> Convert:
    """``converted(spec, source=None)``: ``spec``'s conversion (of ``source``, else its own folder), in a fresh folder."""

    def make(spec: ModelSpec, source: Path | None = None) -> Path:
        target = tmp_path / f"{spec.name}-{spec.quantize}"
        target.mkdir()
        convert(spec, source or spec.local_path, target, quantize=spec.quantize)
        return target

    return make


def _variant(folder: Path, tmp_path: Path, **files: Any) -> Path:
    """A copy of the model ``folder`` with some files rewritten (JSON for a dict, text for a string)."""
    copy = tmp_path / f"variant-{len(list(tmp_path.iterdir()))}"
    shutil.copytree(folder, copy)
    for name, content in files.items():
        path = copy / name.replace("__", ".")
        path.write_text(json.dumps(content) if isinstance(content, dict) else content, encoding="utf-8")
    return copy


def test_an_architecture_the_builder_lacks_is_refused_in_its_words(
    spec: Callable[[str], ModelSpec], converted: Convert
) -> None:
    with pytest.raises(ConversionRefused) as refusal:
        converted(spec("genai-gpt2"))
    assert refusal.value.reason == "GPT2LMHeadModel is not supported by onnxruntime-genai's model builder"


def test_weights_that_are_not_safetensors_are_refused_before_anything_is_read(
    spec: Callable[[str], ModelSpec], converted: Convert
) -> None:
    with pytest.raises(ConversionRefused, match="no safetensors weights"):
        converted(spec("genai-pickled"))


def _generation_config(folder: Path, **changes: Any) -> dict[str, Any]:
    return {**json.loads((folder / "generation_config.json").read_text()), **changes}


@pytest.mark.parametrize(
    ("entry", "generation", "reason"),
    [
        ("genai-beams", {}, "a beam search of 3"),
        ("genai-qwen", {"num_beams": 2}, "a beam search of 2"),
        ("genai-qwen", {"suppress_tokens": [5]}, "sets suppress_tokens"),
    ],
)
def test_generation_settings_the_runner_cannot_honour_are_refused(
    spec: Callable[[str], ModelSpec],
    converted: Convert,
    tmp_path: Path,
    entry: str,
    generation: dict[str, Any],
    reason: str,
) -> None:
    chosen = spec(entry)
    assert chosen.local_path is not None
    config = _generation_config(chosen.local_path, **generation)
    with pytest.raises(ConversionRefused, match=reason):
        converted(chosen, _variant(chosen.local_path, tmp_path, generation_config__json=config))


def test_a_builder_failure_is_a_load_error_that_shows_its_output(
    spec: Callable[[str], ModelSpec], converted: Convert, tmp_path: Path
) -> None:
    chosen = spec("genai-qwen")
    assert chosen.local_path is not None
    broken = _variant(chosen.local_path, tmp_path, model__safetensors="not a safetensors file")
    with pytest.raises(ModelLoadError, match="genai-qwen: onnxruntime-genai's model builder failed"):
        converted(chosen, broken)


def test_a_runner_without_its_manifest_or_with_another_format_fails_to_load(
    spec: Callable[[str], ModelSpec], converted: Convert
) -> None:
    chosen = spec("genai-qwen")
    folder = converted(chosen)
    manifest = json.loads((folder / MANIFEST).read_text())
    (folder / MANIFEST).write_text(json.dumps({**manifest, "format": 0}))
    with pytest.raises(ModelLoadError, match="is not a format-1 generation manifest"):
        TextGenerationGenai(chosen, folder)
    (folder / MANIFEST).unlink()
    with pytest.raises(
        ModelLoadError, match=f"Cannot load the onnxruntime-genai conversion of genai-qwen from {folder}"
    ):
        TextGenerationGenai(chosen, folder)


CONVERSATIONS = [
    [{"role": "user", "content": "Where is the tower?"}],
    [
        {"role": "system", "content": 'Answer in French, <b>briefly</b> & "politely".'},
        {"role": "user", "content": "Où est la tour ?\n  Tokyo: 東京 {{ not a tag }}"},
    ],
]
#: Templates using what transformers' renderer adds to jinja2: trimmed blocks, ``tojson`` (without HTML escaping),
#: ``raise_exception``, loop controls, namespaces, ``{% generation %}``, the special tokens as variables,
#: ``strftime_now``.
TEMPLATES = [
    QWEN_TEMPLATE,
    "{% for message in messages %}\n  {{ message | tojson }}\n{% endfor %}{{ messages[-1] | tojson(indent=2) }}",
    "{% if messages | length > 5 %}{{ raise_exception('too long') }}{% endif %}"
    "{% set ns = namespace(turns=0) %}{% for m in messages %}{% if m.role == 'system' %}{% continue %}{% endif %}"
    "{% set ns.turns = ns.turns + 1 %}{{ ns.turns }}. {% generation %}{{ m.content }}{% endgeneration %}"
    "{% endfor %}{{ eos_token }}{{ pad_token }}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}",
    "Today is {{ strftime_now('%Y') }}.{% for m in messages %}{% if loop.index > 1 %}{% break %}{% endif %}"
    "{{ m.content }}{% endfor %}",
]


@pytest.mark.parametrize("template", TEMPLATES)
@pytest.mark.parametrize("conversation", CONVERSATIONS)
def test_chat_templates_render_as_transformers_renders_them(
    spec: Callable[[str], ModelSpec], template: str, conversation: list[dict[str, str]]
) -> None:
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(spec("genai-qwen").local_path)
    tokenizer.chat_template = template
    expected = tokenizer.apply_chat_template(conversation, add_generation_prompt=True, tokenize=False)
    rendered = chat_template(template).render(
        messages=conversation, tools=None, documents=None, add_generation_prompt=True, **tokenizer.special_tokens_map
    )
    assert rendered == expected


def test_a_template_that_refuses_the_conversation_makes_the_request_invalid(
    spec: Callable[[str], ModelSpec], converted: Convert, tmp_path: Path
) -> None:
    chosen = spec("genai-llama")
    assert chosen.local_path is not None
    no_system = "{% if messages[0]['role'] == 'system' %}{{ raise_exception('System role not supported') }}{% endif %}"
    variant = _variant(chosen.local_path, tmp_path, chat_template__jinja=no_system + "{{ messages[0]['content'] }}")
    runner = TextGenerationGenai(chosen, converted(chosen, variant))
    assert runner.run("Where is the tower?", {"max_new_tokens": 2})["text"] is not None
    with pytest.raises(InvalidInput, match="chat template refuses this prompt: System role not supported"):
        runner.run("Where is the tower?", {"system": "Be brief."})


@pytest.mark.parametrize(
    ("parameters", "message"),
    [
        ({"max_new_tokens": 500}, "with 500 new tokens that is more than the 256 this model reads"),
        ({"num_beams": 2}, "`num_beams` above 1 needs `backend: torch`"),
        ({"top_k": "many"}, "`top_k` must be a whole number"),
    ],
)
def test_requests_the_model_cannot_answer_are_invalid(
    spec: Callable[[str], ModelSpec], converted: Convert, parameters: dict[str, Any], message: str
) -> None:
    runner = TextGenerationGenai(spec("genai-llama"), converted(spec("genai-llama")))
    with pytest.raises(InvalidInput, match=message):
        runner.run("Where is the tower?", parameters)


@pytest.mark.parametrize("entry", ["genai-qwen", "genai-llama"])
def test_replies_are_decoded_as_transformers_decodes_them(
    spec: Callable[[str], ModelSpec], converted: Convert, tmp_path: Path, entry: str
) -> None:
    """Special tokens dropped; spaces before punctuation removed where transformers removes them (word pieces, not BPE)."""
    from transformers import AutoTokenizer

    chosen = spec(entry)
    assert chosen.local_path is not None
    config = json.loads((chosen.local_path / "tokenizer_config.json").read_text())
    tidy = _variant(
        chosen.local_path, tmp_path, tokenizer_config__json={**config, "clean_up_tokenization_spaces": True}
    )
    tokenizer = AutoTokenizer.from_pretrained(tidy)
    runner = TextGenerationGenai(dataclasses.replace(chosen, name="tidy"), converted(chosen, tidy))
    text = "<|im_start|>the man , isn't he ? he's eating bread . the tower 's great !<|im_end|><|endoftext|>"
    tokens = tokenizer(text, add_special_tokens=False)["input_ids"]
    assert runner.decode(tokens) == tokenizer.decode(tokens, skip_special_tokens=True)
    assert runner.manifest.clean_up_tokenization_spaces is (entry == "genai-llama")


@pytest.mark.parametrize(("quantize", "bits"), [("int4", {4}), ("int8", {8}), ("none", set())])
def test_each_quantization_builds_its_weights_and_answers(
    spec: Callable[[str], ModelSpec], converted: Convert, quantize: str, bits: set[int]
) -> None:
    import onnx

    chosen = dataclasses.replace(spec("genai-qwen"), quantize=quantize)
    folder = converted(chosen)
    graph = onnx.load(str(folder / "model.onnx"), load_external_data=False).graph
    found = {
        attribute.i
        for node in graph.node
        if node.op_type in ("MatMulNBits", "GatherBlockQuantized")
        for attribute in node.attribute
        if attribute.name == "bits"
    }
    assert found == bits
    assert isinstance(
        TextGenerationGenai(chosen, folder).run("Where is the tower?", {"max_new_tokens": 3})["text"], str
    )
