"""ONNX Runtime runners of the image tasks: classification, zero-shot labels (CLIP), object detection (YOLOS).

No torch and no transformers: each image is prepared here as the model's image processor prepares it,
from the ``preprocessor_config.json`` the exporter wrote beside the graph (:class:`Preprocessor`:
Pillow's resize with the processor's filter, the centre crop, rescale and normalize), CLIP's label
sentences are read by the ``tokenizers`` library, and the heads' arithmetic (softmax, YOLOS's boxes)
is done in numpy, so the results match the torch runners' (:mod:`inference.runners.vision`).
"""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
from PIL import Image
from tokenizers import Tokenizer

from inference.errors import ModelLoadError
from inference.images import load_image
from inference.media import MediaFile
from inference.registry import ModelSpec
from inference.runners import image_results
from inference.runners.onnx import open_session, softmax, unreadable_export
from inference.runners.onnx_files import PREPROCESSOR_FILE, TOKENIZER_FILE, OnnxManifest
from inference.tasks import parse_input

#: YOLOS rounds its resized sides down to a multiple of this (transformers' ``get_size_with_aspect_ratio_yolos``).
YOLOS_MULTIPLE = 16


@dataclass(frozen=True)
class Preprocessor:
    """An image processor's settings (its ``preprocessor_config.json``) and what it does with them, in numpy."""

    config: dict[str, Any]

    @classmethod
    def read(cls, folder: Path) -> Preprocessor:
        return cls(json.loads((folder / PREPROCESSOR_FILE).read_text(encoding="utf-8")))

    @property
    def yolos(self) -> bool:
        return str(self.config.get("image_processor_type", "")).startswith("Yolos")

    def target_size(self, height: int, width: int) -> tuple[int, int]:
        """The ``(height, width)`` the image is resized to."""
        size = self.config["size"]
        if "height" in size and "width" in size:
            return int(size["height"]), int(size["width"])
        short_side = int(size["shortest_edge"])
        longest = size.get("longest_edge")
        if longest is None:  # the short side becomes `shortest_edge`, the long one in proportion
            short, long = (width, height) if width <= height else (height, width)
            new_long = int(short_side * long / short)
            return (new_long, short_side) if width <= height else (short_side, new_long)
        return self._bounded(height, width, short_side, int(longest))

    def _bounded(self, height: int, width: int, size: int, max_size: int) -> tuple[int, int]:
        """The short side to ``size`` unless the long one would pass ``max_size`` (transformers' aspect-ratio sizing)."""
        raw: float | None = None
        low, high = float(min(height, width)), float(max(height, width))
        if high / low * size > max_size:
            raw = max_size * low / high
            size = round(raw)
        scale = raw if raw is not None else size
        if width < height:
            new_height, new_width = int(scale * height / width), size
        elif (height <= width and height == size) or (width <= height and width == size):
            new_height, new_width = height, width
        else:
            new_height, new_width = size, int(scale * width / height)
        if self.yolos:
            new_height, new_width = new_height - new_height % YOLOS_MULTIPLE, new_width - new_width % YOLOS_MULTIPLE
        return new_height, new_width

    def __call__(self, image: Image.Image) -> np.ndarray:
        """``pixel_values`` for one RGB image: shape ``(1, 3, height, width)``, float32."""
        config = self.config
        if config.get("do_resize", True):
            height, width = self.target_size(image.height, image.width)
            image = image.resize((width, height), Image.Resampling(int(config.get("resample", 2))))
        pixels = np.asarray(image, dtype=np.uint8).transpose(2, 0, 1)
        if config.get("do_center_crop"):
            crop = config["crop_size"]
            pixels = _centre_crop(pixels, int(crop["height"]), int(crop["width"]))
        values = pixels.astype(np.float32)
        if config.get("do_rescale", True):
            values = values * np.float32(config.get("rescale_factor", 1 / 255))
        if config.get("do_normalize", True):
            mean = np.asarray(config["image_mean"], dtype=np.float32)[:, None, None]
            std = np.asarray(config["image_std"], dtype=np.float32)[:, None, None]
            values = (values - mean) / std
        return values[None].astype(np.float32)


def _centre_crop(pixels: np.ndarray, height: int, width: int) -> np.ndarray:
    """transformers' ``center_crop``: the middle ``height`` x ``width``, padded with zeros where the image is smaller."""
    _, rows, columns = pixels.shape
    padded = np.zeros((pixels.shape[0], max(rows, height), max(columns, width)), dtype=pixels.dtype)
    top_pad, left_pad = -(-(padded.shape[1] - rows) // 2), -(-(padded.shape[2] - columns) // 2)
    padded[:, top_pad : top_pad + rows, left_pad : left_pad + columns] = pixels
    top, left = (padded.shape[1] - height) // 2, (padded.shape[2] - width) // 2
    return padded[:, top : top + height, left : left + width]


class OnnxImageRunner(ABC):
    """Opens the graph with threads sized to the Lambda and reads its image processor's settings."""

    #: Whether every image reaches the graph at one size (a classifier's crop), or each at its own (a detector's).
    fixed_shapes: ClassVar[bool] = True

    def __init__(self, spec: ModelSpec, folder: Path) -> None:
        try:
            self.manifest = OnnxManifest.read(folder)
            self.preprocess = Preprocessor.read(folder)
        except (OSError, ValueError) as exc:
            raise unreadable_export(spec, folder, exc) from exc
        self.spec = spec
        self.session = open_session(spec, folder, fixed_shapes=self.fixed_shapes)
        self.labels = {int(index): label for index, label in self.manifest.labels.items()}

    def run(self, text: str, parameters: dict[str, Any], *, file: MediaFile) -> dict[str, Any]:
        """Parse ``text`` for the task (labels), decode ``file`` and run the model on them."""
        inputs = parse_input(self.spec.task, text, parameters)
        return self.predict(load_image(file), inputs, parameters)

    @abstractmethod
    def predict(self, image: Image.Image, inputs: dict[str, Any], parameters: dict[str, Any]) -> dict[str, Any]:
        """Run the model on a decoded ``image`` and parsed ``inputs``; return plain JSON-able values only."""


class ImageClassificationOnnx(OnnxImageRunner):
    """The torch runner's :class:`~inference.runners.vision.ImageClassificationRunner`, on ONNX Runtime."""

    def predict(self, image: Image.Image, inputs: dict[str, Any], parameters: dict[str, Any]) -> dict[str, Any]:
        k = image_results.top_k(parameters, len(self.labels))
        (logits,) = self.session.run(self.manifest.outputs, {"pixel_values": self.preprocess(image)})
        scores = softmax(logits[0]).tolist()
        return {"labels": image_results.ranked((self.labels[i] for i in range(len(scores))), scores, k)}


class ZeroShotImageOnnx(OnnxImageRunner):
    """The torch runner's :class:`~inference.runners.vision.ZeroShotImageRunner` (CLIP), on ONNX Runtime."""

    def __init__(self, spec: ModelSpec, folder: Path) -> None:
        super().__init__(spec, folder)
        try:
            self.tokenizer = Tokenizer.from_file(str(folder / TOKENIZER_FILE))
        except Exception as exc:
            raise ModelLoadError(f"Cannot load the tokenizer of {spec.name} from {folder}: {exc}") from exc
        self.tokenizer.no_padding()
        self.tokenizer.enable_truncation(self.manifest.limit)

    def predict(self, image: Image.Image, inputs: dict[str, Any], parameters: dict[str, Any]) -> dict[str, Any]:
        labels = inputs["candidate_labels"]
        encodings = self.tokenizer.encode_batch(image_results.hypotheses(labels, parameters))
        shape = (len(encodings), max(len(e.ids) for e in encodings))
        ids = np.full(shape, self.manifest.pad_token_id, dtype=np.int64)
        mask = np.zeros(shape, dtype=np.int64)
        for row, encoding in enumerate(encodings):
            ids[row, : len(encoding.ids)], mask[row, : len(encoding.ids)] = encoding.ids, encoding.attention_mask
        feed = {"input_ids": ids, "attention_mask": mask, "pixel_values": self.preprocess(image)}
        (logits,) = self.session.run(self.manifest.outputs, feed)
        return {"labels": image_results.ranked(labels, softmax(logits[0]).tolist())}


class ObjectDetectionOnnx(OnnxImageRunner):
    """The torch runner's :class:`~inference.runners.vision.ObjectDetectionRunner` (YOLOS), on ONNX Runtime."""

    fixed_shapes = False

    def predict(self, image: Image.Image, inputs: dict[str, Any], parameters: dict[str, Any]) -> dict[str, Any]:
        logits, boxes = self.session.run(self.manifest.outputs, {"pixel_values": self.preprocess(image)})
        probabilities = softmax(logits[0])[:, :-1]  # the last class is "no object"
        scores, classes = probabilities.max(-1), probabilities.argmax(-1)
        centre_x, centre_y, width, height = boxes[0].T
        corners = np.stack(
            [centre_x - width / 2, centre_y - height / 2, centre_x + width / 2, centre_y + height / 2], -1
        )
        corners = corners * np.array([image.width, image.height, image.width, image.height], dtype=np.float32)
        kept = scores > image_results.threshold(parameters)
        return image_results.detections(
            scores[kept].tolist(),
            classes[kept].tolist(),
            corners[kept].tolist(),
            id2label=self.labels,
            width=image.width,
            height=image.height,
        )
