"""The ``onnx`` backend's converter: export a registry entry to ONNX (``python -m inference warm``).

It implements :mod:`inference.conversions`' interface, ``convert(spec, source,
target, *, quantize)``. The model is loaded exactly as the torch runner loads
it (safetensors only, no remote code, the same input limit), traced with
torch's dynamo exporter (``torch.onnx.export(..., dynamo=True)``) with dynamic
batch and sequence axes, checked against torch on a sample batch, and saved
with the tokenizer as a ``tokenizer.json`` that the ``tokenizers`` library
reads on its own. The graph ends at the token vectors (or the head's logits):
for the embedding tasks the runner pools them in numpy, following the
``pooling.json`` written beside the graph from the model's sentence-transformers config.

Weights are written as external data (``model.onnx.data`` beside the graph):
ONNX Runtime then maps them from the file instead of parsing them out of one
protobuf and copying them, which on all-MiniLM halves the session's load time
and peak memory (105 MB against 186 MB). With ``quantize: int8`` (the backend's
default) the checked graph is then quantized: ONNX Runtime's weight-only
quantizer stores every MatMul weight as int8 in blocks of 128 input channels,
each with its own scale, and runs it with int8 arithmetic (``MatMulNBits``,
accuracy level 4). On all-MiniLM its embeddings keep a cosine of at least 0.998
with torch's on every test sentence; ``quantize_dynamic`` went as low as 0.986
with per-channel scales and 0.946 with per-tensor ones, at about the same speed.

The issue asked for Optimum; ``optimum-onnx`` cannot be installed beside
transformers 5, and torch's older TorchScript exporter fails on transformers 5
models, so the dynamo exporter is used directly.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import json
import logging
import shutil
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import torch

from inference.backends import BACKENDS, TORCH
from inference.conversions import ConversionRefused
from inference.errors import ModelLoadError
from inference.registry import ModelSpec
from inference.runners import _runner_class
from inference.runners.onnx_files import MODEL_FILE, TOKENIZER_FILE, OnnxManifest
from inference.runners.pooling import POOLED_TASKS
from inference.tokenization import cleans_up

#: The model outputs each task reads, by name.
OUTPUTS: dict[str, list[str]] = {
    "feature-extraction": ["last_hidden_state"],
    "sentence-similarity": ["last_hidden_state"],
    "text-classification": ["logits"],
    "zero-shot-classification": ["logits"],
    "token-classification": ["logits"],
    "question-answering": ["start_logits", "end_logits"],
    "fill-mask": ["logits"],
}
#: The image tasks' graphs: their inputs (CLIP reads the label sentences with the image) and outputs.
IMAGE_GRAPHS: dict[str, tuple[list[str], list[str]]] = {
    "image-classification": (["pixel_values"], ["logits"]),
    "zero-shot-image-classification": (["input_ids", "attention_mask", "pixel_values"], ["logits_per_image"]),
    "object-detection": (["pixel_values"], ["logits", "pred_boxes"]),
}
IMAGE_SAMPLE_LABELS = ["a photo of a cat.", "a photo of a red car on the road."]
#: The tasks whose head's classes have labels (the config's ``id2label``).
LABELLED_TASKS = frozenset({"text-classification", "zero-shot-classification", "token-classification"})
#: What torch's dynamo exporter needs besides torch (in the conversion image, not the serving one).
EXPORTER_PACKAGES = ("onnx", "onnxscript")
#: Inputs a graph may take; which of them a model takes is the tokenizer's ``model_input_names``.
INPUTS = ("input_ids", "attention_mask", "token_type_ids")
#: int8 weights share one scale per this many input channels.
INT8_BLOCK = 128
#: ONNX Runtime's MatMulNBits "accuracy level" 4: activations are quantized to int8 too, for int8 arithmetic.
INT8_ACCURACY_LEVEL = 4
#: The largest difference from torch an fp32 export may show, relative to the outputs' scale.
TOLERANCE = 1e-3
SAMPLE = ["The tower is in Paris.", "A man is eating a piece of bread at the table."]


def convert(spec: ModelSpec, source: Path, target: Path, *, quantize: str) -> None:
    """Export ``spec``'s model in ``source`` to ONNX into the empty ``target``, quantized as asked.

    Raises:
        ConversionRefused: torch's exporter cannot trace this architecture.
        ModelLoadError: the exporter's packages are not installed, the weights
            cannot be loaded, or the exported graph does not reproduce torch's outputs.
    """
    missing = [package for package in EXPORTER_PACKAGES if importlib.util.find_spec(package) is None]
    if missing:
        raise ModelLoadError(
            f"{spec.name}: exporting to ONNX needs {' and '.join(missing)}, which only the conversion image "
            f"holds: `pip install -r inference/requirements-convert.txt` where you run `python -m inference warm`."
        )
    runner: Any = _runner_class(BACKENDS[TORCH].runners[spec.task])(dataclasses.replace(spec, backend=TORCH), source)
    if spec.task in IMAGE_GRAPHS:
        _convert_image_model(spec, runner, target, quantize=quantize)
        return
    inputs = [name for name in INPUTS if name in runner.tokenizer.model_input_names]
    outputs = OUTPUTS[spec.task]
    sample = runner.tokenizer(SAMPLE, padding=True, return_tensors="pt")
    with torch.inference_mode():
        expected = _outputs(runner.model(**{name: sample[name] for name in inputs}), outputs)
    graph = target / MODEL_FILE
    full = target / ".fp32" / MODEL_FILE if quantize == "int8" else graph
    full.parent.mkdir(exist_ok=True)
    batch, sequence = torch.export.Dim("batch"), torch.export.Dim("sequence")
    shapes = ({0: batch, 1: sequence},) * len(inputs)
    _export(spec, runner.model, [sample[name] for name in inputs], inputs, outputs, shapes, full)
    _check(full, {name: sample[name].numpy() for name in inputs}, expected, spec)
    _finish(full, graph, quantize=quantize)
    runner.tokenizer.backend_tokenizer.save(str(target / TOKENIZER_FILE))
    if spec.task in POOLED_TASKS:  # the runner pools in numpy, as the torch runner read the model's config
        runner.pooling.save(target)
    _manifest(spec.task, runner, inputs, outputs).write(target)


def _finish(full: Path, graph: Path, *, quantize: str) -> None:
    """Quantize the checked full-precision graph into place, when asked (``full`` is then a temporary copy)."""
    if quantize == "int8":
        _quantize(full, graph)
        shutil.rmtree(full.parent)


def _sample_image(width: int, height: int) -> Any:
    """A picture with edges and colours in it (a gradient and a square), so an export is checked on varied pixels."""
    import numpy as np
    from PIL import Image

    y, x = np.mgrid[0:height, 0:width]
    pixels = np.stack([x * 255 // (width - 1), y * 255 // (height - 1), (x * y) % 256], axis=-1).astype(np.uint8)
    pixels[height // 4 : height // 2, width // 4 : width // 2] = (255, 0, 0)
    return Image.fromarray(pixels, "RGB")


def _convert_image_model(spec: ModelSpec, runner: Any, target: Path, *, quantize: str) -> None:
    """Export an image model (its graph from ``pixel_values``, CLIP's from its label sentences too) with its
    image processor's settings, which the ONNX runner prepares images from (:mod:`inference.runners.onnx_vision`)."""
    from inference.runners.base import input_limit
    from inference.runners.onnx_files import PREPROCESSOR_FILE

    config = runner.model.config
    if spec.task == "object-detection" and config.model_type != "yolos":
        raise ConversionRefused(
            f"the ONNX runner prepares images and boxes as YOLOS does, and {type(runner.model).__name__} differs"
        )
    inputs, outputs = IMAGE_GRAPHS[spec.task]
    # Two shapes (landscape, portrait): a detector reads each image at its own size, and must answer for both.
    images = [_sample_image(96, 48), _sample_image(40, 90)]
    feeds = []
    for image in images:
        feed = {"pixel_values": runner.pixels(image)}
        if "input_ids" in inputs:
            text = runner.tokenizer(IMAGE_SAMPLE_LABELS, padding=True, return_tensors="pt")
            feed.update(input_ids=text["input_ids"], attention_mask=text["attention_mask"])
        feeds.append(feed)
    labels, sequence = torch.export.Dim("labels"), torch.export.Dim("sequence")
    shape_of = {
        "input_ids": {0: labels, 1: sequence},
        "attention_mask": {0: labels, 1: sequence},
        "pixel_values": {2: torch.export.Dim.AUTO, 3: torch.export.Dim.AUTO} if spec.task == "object-detection" else {},
    }
    graph = target / MODEL_FILE
    full = target / ".fp32" / MODEL_FILE if quantize == "int8" else graph
    full.parent.mkdir(exist_ok=True)
    _export(spec, runner.model, [feeds[0][name] for name in inputs], inputs, outputs,
            tuple(shape_of[name] for name in inputs), full)  # fmt: skip
    for feed in feeds:
        with torch.inference_mode():
            expected = _outputs(runner.model(**feed), outputs)
        _check(full, {name: feed[name].numpy() for name in inputs}, expected, spec)
    _finish(full, graph, quantize=quantize)
    (target / PREPROCESSOR_FILE).write_text(json.dumps(runner.image_processor.to_dict(), indent=2), encoding="utf-8")
    tokenizer = getattr(runner, "tokenizer", None)
    limit = 0
    if tokenizer is not None:
        tokenizer.backend_tokenizer.save(str(target / TOKENIZER_FILE))
        limit = input_limit(tokenizer, config.text_config)
    labelled = spec.task in ("image-classification", "object-detection")
    OnnxManifest(
        inputs=inputs,
        outputs=outputs,
        limit=limit,
        pad_token_id=(tokenizer.pad_token_id or 0) if tokenizer is not None else 0,
        labels={str(index): str(label) for index, label in config.id2label.items()} if labelled else {},
    ).write(target)


class _Graph(torch.nn.Module):
    """What is traced: the tokenizer's tensors in (positionally), the task's outputs out as a tuple."""

    def __init__(self, model: Any, inputs: list[str], outputs: list[str]) -> None:
        super().__init__()
        self.model, self.inputs, self.outputs = model, inputs, outputs

    def forward(self, *tensors: torch.Tensor) -> tuple[torch.Tensor, ...]:
        return _outputs(self.model(**dict(zip(self.inputs, tensors, strict=True))), self.outputs)


def _outputs(result: Any, names: list[str]) -> tuple[Any, ...]:
    return tuple(result[name] for name in names)


def _export(
    spec: ModelSpec,
    model: Any,
    sample: list[Any],
    inputs: list[str],
    outputs: list[str],
    shapes: tuple[dict[int, Any], ...],
    path: Path,
) -> None:
    """Trace ``model`` on ``sample`` into ``path``; ``shapes`` gives each input's dynamic axes."""
    try:
        with _quiet():
            torch.onnx.export(
                _Graph(model, inputs, outputs).eval(),
                tuple(sample),
                str(path),
                dynamo=True,
                input_names=inputs,
                output_names=outputs,
                # One entry for ``forward``'s ``*tensors``: a shape spec per tensor.
                dynamic_shapes=(shapes,),
                external_data=True,
                verbose=False,
            )
    except Exception as exc:  # the exporter raises many types; all mean "this architecture did not trace"
        architecture = type(model).__name__
        raise ConversionRefused(
            f"torch's ONNX exporter cannot trace {architecture}: {type(exc).__name__}: {exc}"
        ) from exc


def _check(path: Path, feed: dict[str, Any], expected: tuple[Any, ...], spec: ModelSpec) -> None:
    """Run the graph on the sample batch and compare with torch; refuse an export that drifted."""
    import numpy as np
    import onnxruntime

    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    for name, got, want in zip([o.name for o in session.get_outputs()], session.run(None, feed), expected, strict=True):
        reference = want.numpy()
        error = float(np.abs(got - reference).max())
        if error > TOLERANCE * max(1.0, float(np.abs(reference).max())):
            raise ModelLoadError(f"{spec.name}: the ONNX export's {name} differs from torch's by {error:.2g}.")


def _quantize(source: Path, target: Path) -> None:
    """Int8 weights in blocks along the input axis, each block with its own scale; int8 arithmetic."""
    from onnxruntime.quantization.matmul_nbits_quantizer import DefaultWeightOnlyQuantConfig, MatMulNBitsQuantizer

    config = DefaultWeightOnlyQuantConfig(
        block_size=INT8_BLOCK, is_symmetric=True, accuracy_level=INT8_ACCURACY_LEVEL, bits=8
    )
    with _quiet():
        quantizer = MatMulNBitsQuantizer(
            str(source),
            bits=8,
            block_size=INT8_BLOCK,
            is_symmetric=True,
            accuracy_level=INT8_ACCURACY_LEVEL,
            algo_config=config,
        )
        quantizer.process()
        quantizer.model.save_model_to_file(str(target), use_external_data_format=True)


@contextmanager
def _quiet() -> Iterator[None]:
    """Hide the exporter's and the quantizer's advice (deprecations, "consider pre-processing") from ``warm``."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        logging.disable(logging.WARNING)
        try:
            yield
        finally:
            logging.disable(logging.NOTSET)


def _manifest(task: str, runner: Any, inputs: list[str], outputs: list[str]) -> OnnxManifest:
    config, tokenizer = runner.model.config, runner.tokenizer
    labelled = task in LABELLED_TASKS
    labels = {str(index): str(label) for index, label in config.id2label.items()} if labelled else {}
    entailment = next(
        (index for label, index in (config.label2id or {}).items() if label.lower().startswith("entail")), -1
    )
    return OnnxManifest(
        inputs=inputs,
        outputs=outputs,
        limit=runner.limit,
        pad_token_id=tokenizer.pad_token_id or 0,
        labels=labels,
        score_function=_score_function(config),
        entailment_id=entailment,
        contradiction_id=-1 if entailment == 0 else 0,
        unk_token_id=tokenizer.unk_token_id if tokenizer.unk_token_id is not None else -1,
        mask_token=tokenizer.mask_token or "",
        mask_token_id=tokenizer.mask_token_id if tokenizer.mask_token_id is not None else -1,
        clean_up_spaces=cleans_up(tokenizer),
    )


def _score_function(config: Any) -> str:
    """How transformers' text-classification pipeline turns this head's logits into scores."""
    if config.problem_type == "regression":
        return "none"
    if config.problem_type == "multi_label_classification" or config.num_labels == 1:
        return "sigmoid"
    return "softmax"
