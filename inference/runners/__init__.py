"""Task runners: a registry entry becomes a loaded model that answers one line at a time.

Importing this package is cheap. The ``torch`` backend imports torch and
transformers in the runner module of the entry's task, when its model is
loaded, so a task that needs no pipeline never pays for importing the
pipelines. The ``onnx`` backend imports only onnxruntime, ``tokenizers`` and
numpy: never torch, never transformers.
"""

from __future__ import annotations

import importlib
import math
import os
from pathlib import Path
from typing import TYPE_CHECKING

from inference.errors import ModelLoadError
from inference.registry import MB_PER_VCPU, ModelSpec
from inference.service import Runner

if TYPE_CHECKING:
    from inference.loader import ProgressListener

#: The torch runner class of each task, as ``module:Class``.
RUNNERS: dict[str, str] = {
    "text-classification": "inference.runners.pipelines:TextClassificationRunner",
    "token-classification": "inference.runners.pipelines:TokenClassificationRunner",
    "zero-shot-classification": "inference.runners.pipelines:ZeroShotRunner",
    "fill-mask": "inference.runners.pipelines:FillMaskRunner",
    "text-generation": "inference.runners.pipelines:TextGenerationRunner",
    "feature-extraction": "inference.runners.pipelines:FeatureExtractionRunner",
    "summarization": "inference.runners.seq2seq:SummarizationRunner",
    "translation": "inference.runners.seq2seq:TranslationRunner",
    "question-answering": "inference.runners.question_answering:QuestionAnsweringRunner",
    "sentence-similarity": "inference.runners.similarity:SentenceSimilarityRunner",
}

#: The ONNX runner class of each task the ``onnx`` backend serves (encoder models, one forward pass).
ONNX_RUNNERS: dict[str, str] = {
    "feature-extraction": "inference.runners.onnx:FeatureExtractionOnnx",
    "sentence-similarity": "inference.runners.onnx:SentenceSimilarityOnnx",
    "text-classification": "inference.runners.onnx:TextClassificationOnnx",
    "zero-shot-classification": "inference.runners.onnx:ZeroShotOnnx",
    "token-classification": "inference.runners.onnx:TokenClassificationOnnx",
    "question-answering": "inference.runners.onnx:QuestionAnsweringOnnx",
}


def vcpus(memory_mb: int) -> int:
    """The vCPUs Lambda gives a function of ``memory_mb``, never more than this machine has."""
    return max(1, min(os.cpu_count() or 1, math.ceil(memory_mb / MB_PER_VCPU)))


def unsupported_onnx_task(spec: ModelSpec) -> ModelLoadError:
    """The error for an ``onnx`` entry whose task the ONNX backend does not serve."""
    return ModelLoadError(
        f"{spec.name}: the onnx backend does not serve {spec.task} (it serves {', '.join(ONNX_RUNNERS)}); "
        f"set `backend: torch` for this entry."
    )


def _runner_class(path: str) -> type:
    module_name, _, class_name = path.partition(":")
    return getattr(importlib.import_module(module_name), class_name)


def torch_runner(spec: ModelSpec, *, progress: ProgressListener | None = None) -> Runner:
    """Load ``spec`` with transformers and torch, whatever its ``backend`` says (the ONNX exporter starts here).

    ``progress`` hears how a download of the weights is going, if they must be downloaded.

    Raises:
        ModelLoadError: the weights are missing or cannot be loaded.
    """
    from inference.loader import verify_in_background, weights_path

    path = weights_path(spec, progress=progress)
    verified = verify_in_background(spec, path)  # converted weights: their sha256, checked while torch imports
    runner_class = _runner_class(RUNNERS[spec.task])
    verified()
    return runner_class(spec, path)


def weight_files(spec: ModelSpec) -> list[Path]:
    """The large files loading ``spec`` will read, where they already are on disk (nothing is downloaded).

    The safetensors of the local folder or of the pinned snapshot in the Hub
    cache (or of the snapshot's conversion, for a pickle-only one), or the ONNX
    graph's weights; empty when they are not there yet.
    """
    from inference.loader import conversion_dir, repo_folder

    if spec.backend == "onnx":
        from inference.runners.onnx_files import export_dir, graph_file

        graph = export_dir(spec) / graph_file(spec)
        return [path for path in (graph, graph.with_name(f"{graph.name}.data")) if path.is_file()]
    if spec.local_path:
        return sorted(spec.local_path.glob("*.safetensors"))
    snapshot = repo_folder(spec) / "snapshots" / (spec.revision or "main")
    return sorted(snapshot.glob("*.safetensors")) or sorted(conversion_dir(spec).glob("*.safetensors"))


def load_runner(spec: ModelSpec, *, progress: ProgressListener | None = None) -> Runner:
    """Load ``spec``'s model with its backend's runner for its task (``progress``: see :func:`torch_runner`).

    Raises:
        ModelLoadError: the weights (or the ONNX export) are missing or cannot be
            loaded, or the backend does not serve the task.
    """
    if spec.backend == "onnx":
        if spec.task not in ONNX_RUNNERS:
            raise unsupported_onnx_task(spec)
        from inference.runners.onnx import load_export

        return _runner_class(ONNX_RUNNERS[spec.task])(spec, *load_export(spec))
    if spec.backend != "torch":
        raise ModelLoadError(f"{spec.name}: the {spec.backend!r} backend is not available in this build.")
    return torch_runner(spec, progress=progress)
