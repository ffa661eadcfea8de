"""What the image tasks' runners share whatever the backend: their settings, checked, and their results' shapes.

Pure Python (numbers in, JSON-able values out), so the torch runners (:mod:`inference.runners.vision`)
and the ONNX ones (:mod:`inference.runners.onnx_vision`) answer alike and the latter import no torch.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from inference.errors import InvalidInput
from inference.runners import parameters as params

#: Image classification: the labels returned by default (``top_k``).
IMAGE_TOP_K = 5
#: Zero-shot image classification: how a label becomes the sentence CLIP compares the image with.
IMAGE_HYPOTHESIS = "a photo of a {}."
#: Object detection: the lowest score kept by default (``threshold``), and the most objects returned.
DETECTION_THRESHOLD = 0.5
MAX_OBJECTS = 100


def top_k(parameters: dict[str, Any], count: int) -> int:
    """How many labels to return: ``top_k``, default :data:`IMAGE_TOP_K`, clamped to the model's ``count``."""
    return params.integer(parameters, "top_k", min(IMAGE_TOP_K, count), low=1, high=count)


def ranked(labels: Iterable[str], scores: Iterable[float], limit: int | None = None) -> list[dict[str, Any]]:
    """``[{"label", "score"}]``, highest score first, at most ``limit``."""
    pairs = sorted(zip(labels, (float(s) for s in scores), strict=True), key=lambda pair: pair[1], reverse=True)
    return [{"label": str(label), "score": score} for label, score in pairs[:limit]]


def hypotheses(labels: list[str], parameters: dict[str, Any]) -> list[str]:
    """The sentence for each label (``hypothesis_template``, default :data:`IMAGE_HYPOTHESIS`).

    Raises:
        InvalidInput: more than :data:`~inference.runners.parameters.MAX_LABELS` labels, or a template without ``{}``.
    """
    if len(labels) > params.MAX_LABELS:
        raise InvalidInput(f"Give at most {params.MAX_LABELS} labels, not {len(labels)}.")
    template = params.text(parameters, "hypothesis_template") or IMAGE_HYPOTHESIS
    if "{}" not in template:
        raise InvalidInput("`hypothesis_template` must contain `{}` where the label goes.")
    return [template.replace("{}", label) for label in labels]


def threshold(parameters: dict[str, Any]) -> float:
    """The lowest score an object is kept with: ``threshold``, default :data:`DETECTION_THRESHOLD`, within 0 to 1."""
    return params.number(parameters, "threshold", DETECTION_THRESHOLD, low=0.0, high=1.0)


def detections(
    scores: Sequence[float],
    classes: Sequence[int],
    boxes: Sequence[Sequence[float]],
    *,
    id2label: dict[int, str],
    width: int,
    height: int,
) -> dict[str, Any]:
    """The object-detection result: each object's label, score and box (corners in the image's pixels, clipped to it,
    to one decimal), highest score first, at most :data:`MAX_OBJECTS`; and the image's size."""
    found = sorted(zip(scores, classes, boxes, strict=True), key=lambda item: float(item[0]), reverse=True)
    objects = []
    for score, index, (xmin, ymin, xmax, ymax) in found[:MAX_OBJECTS]:
        box = {
            "xmin": _clip(xmin, width),
            "ymin": _clip(ymin, height),
            "xmax": _clip(xmax, width),
            "ymax": _clip(ymax, height),
        }
        label = id2label.get(int(index), str(int(index)))
        objects.append({"label": str(label), "score": float(score), "box": box})
    return {"objects": objects, "width": int(width), "height": int(height)}


def _clip(value: float, side: int) -> float:
    return round(min(max(float(value), 0.0), float(side)), 1)
