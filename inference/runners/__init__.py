"""Task runners: a registry entry becomes a loaded model that answers one line at a time.

Importing this package is cheap. torch and transformers are imported by the
runner module of the entry's task, when its model is loaded, so a task that
needs no pipeline never pays for importing the pipelines.
"""

from __future__ import annotations

import importlib

from inference.errors import ModelLoadError
from inference.loader import weights_path
from inference.registry import ModelSpec
from inference.service import Runner

#: The runner class of each task, as ``module:Class``.
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


def load_runner(spec: ModelSpec) -> Runner:
    """Find ``spec``'s weights and load them with its task's runner.

    Raises:
        ModelLoadError: the weights are missing or cannot be loaded, or the backend is not available.
    """
    if spec.backend != "torch":
        raise ModelLoadError(f"{spec.name}: the {spec.backend!r} backend is not available in this build.")
    path = weights_path(spec)
    module_name, _, class_name = RUNNERS[spec.task].partition(":")
    runner_class = getattr(importlib.import_module(module_name), class_name)
    return runner_class(spec, path)
