"""The backends: which runner serves each task on each runtime, and what ``warm`` converts for it.

One table, :data:`BACKENDS`: a backend is one entry, so adding a runtime is one
line here plus its runner and converter modules (the interface they implement
is in :mod:`inference.conversions`). Everything else reads this table: the
registry validates ``backend`` and ``quantize`` with it and picks each task's
default backend from :data:`PREFERRED`; the runners load the class it names;
``warm`` imports the converter it names; the CDK app picks the image it names.

Plain data, no imports beyond the standard library: the router reads the
registry, and importing this costs nothing. Classes and converters are named as
``module:Class`` and ``module`` strings and imported only when a model loads or
``warm`` runs.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

#: The model images, by their Dockerfile in inference/: the serving image (no torch, no transformers) and
#: the conversion image (torch and transformers too, for `backend: torch` and for `warm`).
SERVING_IMAGE, CONVERSION_IMAGE = "Dockerfile", "Dockerfile.convert"
#: The backend every task can fall back on: transformers and torch, from the weights themselves.
TORCH = "torch"
#: The tasks that read their input once through an encoder (no generation loop).
ENCODER_TASKS = (
    "text-classification",
    "token-classification",
    "zero-shot-classification",
    "fill-mask",
    "feature-extraction",
    "question-answering",
    "sentence-similarity",
    "image-classification",
    "zero-shot-image-classification",
    "object-detection",
)


@dataclass(frozen=True)
class Backend:
    """One runtime that serves models: its runners by task, and what ``warm`` makes for them."""

    #: task -> runner class, ``module:Class``, constructed as ``Class(spec, folder)``.
    runners: Mapping[str, str]
    #: The module whose ``convert(spec, source, target, *, quantize)`` makes what the runners read at
    #: ``warm`` time; None when the runners read the model's own weights (torch).
    converter: str | None = None
    #: The distribution whose version keys the conversions (files made for one version serve with it).
    runtime: str | None = None
    #: The ``quantize`` values an entry may ask for; the first is the default.
    quantizations: tuple[str, ...] = ("none",)
    #: Whether a model is converted once per task (an ONNX graph ends at the task's head) or once for all.
    per_task: bool = False
    #: The image its functions run (its Dockerfile): the serving image holds neither torch nor transformers.
    image: str = SERVING_IMAGE


BACKENDS: dict[str, Backend] = {
    TORCH: Backend(
        runners={
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
            "image-classification": "inference.runners.vision:ImageClassificationRunner",
            "zero-shot-image-classification": "inference.runners.vision:ZeroShotImageRunner",
            "object-detection": "inference.runners.vision:ObjectDetectionRunner",
            "image-to-text": "inference.runners.captioning:ImageToTextRunner",
            "automatic-speech-recognition": "inference.runners.speech:SpeechRecognitionRunner",
        },
        image=CONVERSION_IMAGE,
    ),
    "onnx": Backend(
        runners={task: f"inference.runners.onnx:{name}Onnx" for task, name in (
            ("text-classification", "TextClassification"),
            ("token-classification", "TokenClassification"),
            ("zero-shot-classification", "ZeroShot"),
            ("fill-mask", "FillMask"),
            ("feature-extraction", "FeatureExtraction"),
            ("question-answering", "QuestionAnswering"),
            ("sentence-similarity", "SentenceSimilarity"),
        )} | {task: f"inference.runners.onnx_vision:{name}Onnx" for task, name in (
            ("image-classification", "ImageClassification"),
            ("zero-shot-image-classification", "ZeroShotImage"),
            ("object-detection", "ObjectDetection"),
        )},
        converter="inference.onnx_export",
        runtime="onnxruntime",
        quantizations=("int8", "none"),
        per_task=True,
    ),
    "ctranslate2": Backend(
        runners={
            "summarization": "inference.runners.ct2:SummarizationCt2",
            "translation": "inference.runners.ct2:TranslationCt2",
            "automatic-speech-recognition": "inference.runners.ct2_speech:SpeechRecognitionCt2",
        },
        converter="inference.ct2_convert",
        runtime="ctranslate2",
        quantizations=("int8", "none"),
    ),
    "onnxruntime-genai": Backend(
        runners={"text-generation": "inference.runners.genai:TextGenerationGenai"},
        converter="inference.genai_convert",
        runtime="onnxruntime-genai",
        quantizations=("int4", "int8", "none"),
    ),
}  # fmt: skip

#: Each task's fast backend, the default when the table has it; otherwise the task defaults to torch.
PREFERRED: dict[str, str] = {
    **dict.fromkeys(ENCODER_TASKS, "onnx"),
    "summarization": "ctranslate2",
    "translation": "ctranslate2",
    "automatic-speech-recognition": "ctranslate2",
    "text-generation": "onnxruntime-genai",
}


def default_backend(task: str) -> str:
    """The backend an entry of ``task`` gets when it names none: its fast one if available, else torch."""
    name = PREFERRED.get(task, TORCH)
    preferred = BACKENDS.get(name)
    return name if preferred is not None and task in preferred.runners else TORCH


def serving(task: str) -> list[str]:
    """The backends that serve ``task``, in table order."""
    return [name for name, backend in BACKENDS.items() if task in backend.runners]
