"""Converts a chat model for onnxruntime-genai at warm time (the converter of :mod:`inference.runners.genai`).

onnxruntime-genai's model builder writes the decoder graph, quantized as the
entry's ``quantize`` asks (int4 or int8 weights in blocks of 32, or fp32 for
``none``), with its ``genai_config.json`` and the tokenizer files transformers
saves. This module then writes the runner's manifest
(:class:`~inference.runners.genai.GenerationManifest`): what transformers knows
about the model at run time that the serving image, which has no transformers,
must be told (the chat template, the stop tokens, the input limit, the
generation settings the torch runner's pipeline would use).

The builder is called as a library (its ``--help`` crashes in 0.18, but its
``parse_extra_options`` and ``create_model`` are its command line's own two
steps). It runs offline on the folder it is given and loads weights from
safetensors; an architecture it does not know is refused with its own words.
"""

from __future__ import annotations

import contextlib
import io
import tempfile
from pathlib import Path
from typing import Any

from inference.conversions import ConversionRefused, model_generation_settings
from inference.errors import ModelLoadError
from inference.registry import ModelSpec
from inference.runners import parameters as params
from inference.runners.genai import GenerationManifest
from inference.tokenization import cleans_up

#: The builder's precision for each ``quantize`` value.
PRECISIONS = {"int4": "int4", "int8": "int8", "none": "fp32"}
#: Builder options: last-token logits only while reading the prompt (the runner reads no others), no Hub token.
BUILDER_OPTIONS = ["prune_lm_head=true", "hf_token=false"]
#: Generation-config keys the runner sets itself (its tokens, and its length from the request).
CARRIED = ("bos_token_id", "eos_token_id", "pad_token_id", "decoder_start_token_id", "max_length")
#: The builder's last lines of output kept in a failure's message.
LOG_LINES = 20
#: The pipeline's defaults that apply only when sampling (transformers' ``_prepare_generate_kwargs``).
SAMPLING = ("temperature", "top_k", "top_p")


def convert(spec: ModelSpec, source: Path, target: Path, *, quantize: str) -> None:
    """Write ``spec``'s onnxruntime-genai conversion of ``source`` into the empty folder ``target``.

    Raises:
        ConversionRefused: the builder does not know the architecture, the weights
            are not safetensors, or the generation settings ask for what the runner
            does not do (a beam search, another logits processor).
        ModelLoadError: the builder failed on a model it supports.
    """
    if not any(source.glob("*.safetensors")):
        raise ConversionRefused(f"{source} has no safetensors weights, and weights are only loaded from safetensors")
    _build(spec, source, target, PRECISIONS[quantize])
    read_manifest(spec, source).write(target)


def read_manifest(spec: ModelSpec, source: Path) -> GenerationManifest:
    """What transformers would work out about ``source`` at run time, for the runner.

    Raises:
        ConversionRefused: the generation settings ask for what the runner does not do.
    """
    from transformers import AutoConfig, AutoTokenizer, GenerationConfig
    from transformers.pipelines.text_generation import TextGenerationPipeline

    from inference.runners.base import input_limit

    options: dict[str, Any] = {"local_files_only": True, "trust_remote_code": False}
    config = AutoConfig.from_pretrained(source, **options)  # nosec B615  # local files only
    tokenizer = AutoTokenizer.from_pretrained(source, **options)  # nosec B615  # local files only
    generation, model_settings = model_generation_settings(
        source, config, carried=CARRIED, honoured=params.GENERATION, runner="genai runner"
    )
    beams = max(model_settings.get("num_beams", 1), params.generation(spec.parameters).get("num_beams", 1))
    if beams > 1:
        raise ConversionRefused(
            f"it generates with a beam search of {beams}; the genai runner searches greedily or samples"
        )
    defaults = GenerationConfig._get_default_generation_params()
    settings = {key: model_settings.get(key, defaults.get(key)) for key in params.GENERATION}
    pipeline_defaults = TextGenerationPipeline._default_generation_config.to_diff_dict()
    eos = generation.eos_token_id if generation.eos_token_id is not None else config.eos_token_id
    return GenerationManifest(
        limit=input_limit(tokenizer, config),
        eos_token_ids=[] if eos is None else [int(token) for token in (eos if isinstance(eos, list) else [eos])],
        chat_template=tokenizer.get_chat_template() if tokenizer.chat_template else None,
        special_tokens=dict(tokenizer.special_tokens_map),
        clean_up_tokenization_spaces=cleans_up(tokenizer),
        settings={key: value for key, value in settings.items() if value is not None},
        sampling_defaults={
            key: pipeline_defaults[key] for key in SAMPLING if key in pipeline_defaults and key not in model_settings
        },
    )


def _build(spec: ModelSpec, source: Path, target: Path, precision: str) -> None:
    """Run the model builder on ``source`` into ``target``; its chatter is kept for the error if it fails.

    Raises:
        ConversionRefused: the builder does not support the architecture.
        ModelLoadError: it failed otherwise.
    """
    from onnxruntime_genai.models.builder import create_model, parse_extra_options

    log = io.StringIO()
    # The builder's scratch files (external data before it is moved) stay beside the target, on its filesystem.
    with tempfile.TemporaryDirectory(dir=target.parent, prefix=".genai-cache-") as cache:
        try:
            with contextlib.redirect_stdout(log), contextlib.redirect_stderr(log):
                options = parse_extra_options(None, str(source), str(target), precision, "cpu", cache, BUILDER_OPTIONS)
                create_model(None, str(source), str(target), precision, "cpu", cache, **options)
        except NotImplementedError as exc:  # the builder's word for an architecture it has no exporter for
            raise ConversionRefused(
                f"{_architecture(source)} is not supported by onnxruntime-genai's model builder"
            ) from exc
        except Exception as exc:
            tail = "\n".join(log.getvalue().splitlines()[-LOG_LINES:])
            raise ModelLoadError(f"{spec.name}: onnxruntime-genai's model builder failed: {exc}\n{tail}") from exc


def _architecture(source: Path) -> str:
    """The architecture ``source``'s config names, for a refusal people can read."""
    from transformers import AutoConfig

    config = AutoConfig.from_pretrained(  # nosec B615  # the folder warm hands over: nothing is downloaded
        source, local_files_only=True, trust_remote_code=False
    )
    architectures = config.architectures or ["this architecture"]
    return str(architectures[0])
