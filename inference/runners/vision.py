"""The torch runners of the image tasks: classification, zero-shot labels (CLIP), object detection.

An image model reads pixels through an image processor (and CLIP its labels through a tokenizer too),
not a tokenizer alone, so these runners stand on :class:`ImageRunner` rather than
:class:`~inference.runners.base.TorchRunner`, with the same loading rules: safetensors only, no
remote code, local files only, float32, torch's threads sized to the Lambda's vCPUs.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from pathlib import Path
from typing import Any, ClassVar

import torch
from PIL.Image import Image
from transformers import (
    AutoImageProcessor,
    AutoModelForImageClassification,
    AutoModelForObjectDetection,
    AutoModelForZeroShotImageClassification,
    AutoTokenizer,
)

from inference.images import load_image
from inference.media import MediaFile
from inference.registry import ModelSpec
from inference.runners import image_results, vcpus
from inference.runners.base import load_pretrained
from inference.tasks import parse_input


class ImageRunner(ABC):
    """Loads an image processor and a model once; ``run`` decodes the request's image and predicts.

    Subclasses name the transformers auto class of their head and implement :meth:`predict`.
    """

    auto_class: ClassVar[Any]

    def __init__(self, spec: ModelSpec, path: Path) -> None:
        torch.set_num_threads(vcpus(spec.memory))
        self.spec = spec
        # Pillow's processors: torchvision is in neither image, and they are the ones the ONNX runners match.
        self.image_processor = load_pretrained(AutoImageProcessor, path, "image processor", spec, backend="pil")
        self.model = load_pretrained(
            self.auto_class, path, "weights", spec, use_safetensors=True, dtype=torch.float32
        ).eval()

    def run(self, text: str, parameters: dict[str, Any], *, file: MediaFile) -> dict[str, Any]:
        """Parse ``text`` for the task (labels, a prompt), decode ``file`` and run the model on them."""
        inputs = parse_input(self.spec.task, text, parameters)
        image = load_image(file)
        with torch.inference_mode():
            return self.predict(image, inputs, parameters)

    @abstractmethod
    def predict(self, image: Image, inputs: dict[str, Any], parameters: dict[str, Any]) -> dict[str, Any]:
        """Run the model on a decoded ``image`` and parsed ``inputs``; return plain JSON-able values only."""

    def pixels(self, image: Image) -> torch.Tensor:
        """The model's ``pixel_values`` for ``image``: one image, as its processor prepares it."""
        return self.image_processor(images=image, return_tensors="pt")["pixel_values"]


class ImageClassificationRunner(ImageRunner):
    """The likeliest labels (``top_k``, default five), highest first, as the pipeline scores them (softmax)."""

    auto_class = AutoModelForImageClassification

    def predict(self, image: Image, inputs: dict[str, Any], parameters: dict[str, Any]) -> dict[str, Any]:
        id2label = self.model.config.id2label
        k = image_results.top_k(parameters, len(id2label))
        scores = self.model(pixel_values=self.pixels(image)).logits[0].softmax(-1).tolist()
        return {"labels": image_results.ranked((id2label[i] for i in range(len(scores))), scores, k)}


class ZeroShotImageRunner(ImageRunner):
    """Every label, scored by CLIP against the image (softmax over the labels' sentences), highest first."""

    auto_class = AutoModelForZeroShotImageClassification

    def __init__(self, spec: ModelSpec, path: Path) -> None:
        super().__init__(spec, path)
        self.tokenizer = load_pretrained(AutoTokenizer, path, "tokenizer", spec)

    def predict(self, image: Image, inputs: dict[str, Any], parameters: dict[str, Any]) -> dict[str, Any]:
        labels = inputs["candidate_labels"]
        text = self.tokenizer(
            image_results.hypotheses(labels, parameters), padding=True, truncation=True, return_tensors="pt"
        )
        output = self.model(
            input_ids=text["input_ids"], attention_mask=text["attention_mask"], pixel_values=self.pixels(image)
        )
        return {"labels": image_results.ranked(labels, output.logits_per_image[0].softmax(-1).tolist())}


class ObjectDetectionRunner(ImageRunner):
    """The objects scoring at least ``threshold`` (default 0.5), boxes in the image's own pixels."""

    auto_class = AutoModelForObjectDetection

    def predict(self, image: Image, inputs: dict[str, Any], parameters: dict[str, Any]) -> dict[str, Any]:
        output = self.model(pixel_values=self.pixels(image))
        found = self.image_processor.post_process_object_detection(
            output, threshold=image_results.threshold(parameters), target_sizes=[(image.height, image.width)]
        )[0]
        return image_results.detections(
            found["scores"].tolist(),
            found["labels"].tolist(),
            found["boxes"].tolist(),
            id2label=self.model.config.id2label,
            width=image.width,
            height=image.height,
        )
