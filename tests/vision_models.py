"""Tiny random-weight image models (classifier, CLIP, detector, captioner) and images to feed them.

Built offline like :mod:`tests.tiny_models` (which calls :func:`build_vision_models`): each model
from a config with hidden size 32 and one or two layers, its image processor sized for 32-pixel
inputs, saved with ``save_pretrained`` (safetensors). Weights are seeded, so every build is the same.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

SEED = 1234
#: The side of the square images the classifier, CLIP and the captioner read.
IMAGE_SIZE = 32
VISION = {"hidden_size": 32, "num_hidden_layers": 2, "num_attention_heads": 2, "intermediate_size": 64}
CLASSES = ["cat", "dog", "car"]
DETECTOR_CLASSES = ["person", "cat", "car", "tree"]
#: Words CLIP's and the captioner's tokenizers know whole, besides letters.
WORDS = ["a", "photo", "of", "the", "cat", "dog", "car", "picture", "on", "with", "and", "red", "blue"]


def _labels(names: list[str]) -> dict[str, Any]:
    return {"id2label": dict(enumerate(names)), "label2id": {name: i for i, name in enumerate(names)}}


def _word_piece(specials: tuple[str, ...], *, unk: str, template: str, **tokens: str) -> Any:
    """A lower-casing word-piece tokenizer (a ``tokenizer.json``) over :data:`WORDS` and letters."""
    from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors
    from transformers import PreTrainedTokenizerFast

    letters = [chr(c) for c in range(ord("a"), ord("z") + 1)]
    pieces = [*specials, *letters, *(f"##{letter}" for letter in letters), ".", ",", *WORDS]
    vocab = {token: index for index, token in enumerate(dict.fromkeys(pieces))}
    backend = Tokenizer(models.WordPiece(vocab, unk_token=unk))
    backend.normalizer = normalizers.BertNormalizer(lowercase=True)
    backend.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    backend.decoder = decoders.WordPiece()
    used = [t for t in specials if t in template]
    backend.post_processor = processors.TemplateProcessing(
        single=template, special_tokens=[(t, vocab[t]) for t in used]
    )
    return PreTrainedTokenizerFast(
        tokenizer_object=backend, unk_token=unk, model_input_names=["input_ids", "attention_mask"], **tokens
    )


def _image_classifier(folder: Path) -> None:
    import torch
    from transformers import ViTConfig, ViTForImageClassification, ViTImageProcessor

    torch.manual_seed(SEED)
    config = ViTConfig(image_size=IMAGE_SIZE, patch_size=8, **VISION, **_labels(CLASSES))
    ViTForImageClassification(config).eval().save_pretrained(folder)
    ViTImageProcessor(size={"height": IMAGE_SIZE, "width": IMAGE_SIZE}).save_pretrained(folder)


def _clip(folder: Path) -> None:
    import torch
    from transformers import CLIPConfig, CLIPImageProcessor, CLIPModel, CLIPProcessor

    tokenizer = _word_piece(
        ("<|endoftext|>", "<|startoftext|>", "[UNK]"),
        unk="[UNK]",
        template="<|startoftext|> $A <|endoftext|>",
        bos_token="<|startoftext|>",
        eos_token="<|endoftext|>",
        pad_token="<|endoftext|>",
    )
    tokenizer.model_max_length = 16
    torch.manual_seed(SEED)
    config = CLIPConfig(
        text_config={
            **VISION,
            "vocab_size": len(tokenizer),
            "max_position_embeddings": 16,
            "bos_token_id": tokenizer.bos_token_id,
            "eos_token_id": tokenizer.eos_token_id,
            "pad_token_id": tokenizer.pad_token_id,
        },
        vision_config={**VISION, "image_size": IMAGE_SIZE, "patch_size": 8},
        projection_dim=16,
    )
    CLIPModel(config).eval().save_pretrained(folder)
    image_processor = CLIPImageProcessor(
        size={"shortest_edge": IMAGE_SIZE}, crop_size={"height": IMAGE_SIZE, "width": IMAGE_SIZE}
    )
    CLIPProcessor(image_processor=image_processor, tokenizer=tokenizer).save_pretrained(folder)


def _detector(folder: Path) -> None:
    import torch
    from transformers import YolosConfig, YolosForObjectDetection, YolosImageProcessor

    torch.manual_seed(SEED)
    config = YolosConfig(
        **VISION,
        image_size=[IMAGE_SIZE, IMAGE_SIZE],
        patch_size=8,
        num_detection_tokens=10,
        **_labels(DETECTOR_CLASSES),
    )
    model = YolosForObjectDetection(config).eval()
    with torch.no_grad():  # transformers starts the detection tokens at zero: all ten would find the same box
        for name, weight in model.named_parameters():
            if "embeddings" in name or "class_labels" in name:
                weight.normal_(std=0.5)
            elif "bbox_predictor" in name:  # boxes of different places and sizes
                weight.normal_(std=0.2)
    model.save_pretrained(folder)
    YolosImageProcessor(size={"shortest_edge": IMAGE_SIZE, "longest_edge": 2 * IMAGE_SIZE}).save_pretrained(folder)


def _captioner(folder: Path) -> None:
    import torch
    from transformers import BlipConfig, BlipForConditionalGeneration, BlipImageProcessor, BlipProcessor

    tokenizer = _word_piece(
        ("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[DEC]"),
        unk="[UNK]",
        template="[CLS] $A [SEP]",
        pad_token="[PAD]",
        cls_token="[CLS]",
        sep_token="[SEP]",
        bos_token="[DEC]",
    )
    tokenizer.model_max_length = 32
    torch.manual_seed(SEED)
    config = BlipConfig(
        text_config={
            **VISION,
            "vocab_size": len(tokenizer),
            "max_position_embeddings": 32,
            "encoder_hidden_size": 32,
            "bos_token_id": tokenizer.bos_token_id,
            "sep_token_id": tokenizer.sep_token_id,
            "pad_token_id": tokenizer.pad_token_id,
            "eos_token_id": tokenizer.sep_token_id,
        },
        vision_config={**VISION, "image_size": IMAGE_SIZE, "patch_size": 8},
        projection_dim=16,
    )
    model = BlipForConditionalGeneration(config).eval()
    model.generation_config.max_length = 16
    model.save_pretrained(folder)
    image_processor = BlipImageProcessor(size={"height": IMAGE_SIZE, "width": IMAGE_SIZE})
    BlipProcessor(image_processor=image_processor, tokenizer=tokenizer).save_pretrained(folder)


def build_vision_models(root: Path) -> None:
    """Build the four image models under ``root``: image-classifier, clip, detector, captioner."""
    _image_classifier(root / "image-classifier")
    _clip(root / "clip")
    _detector(root / "detector")
    _captioner(root / "captioner")


def make_image(width: int = 64, height: int = 48, fmt: str = "PNG", **save: Any) -> bytes:
    """An image of ``width`` x ``height`` in ``fmt`` (a Pillow format name): a gradient with a red square,
    so resizing and cropping show up in its pixels. ``save`` goes to ``Image.save`` (``exif=``, ``quality=``)."""
    import numpy as np
    from PIL import Image

    y, x = np.mgrid[0:height, 0:width]
    pixels = np.stack([x * 255 // max(1, width - 1), y * 255 // max(1, height - 1), (x + y) % 256], axis=-1)
    image = Image.fromarray(pixels.astype(np.uint8), "RGB")
    image.paste((255, 0, 0), (width // 4, height // 4, width // 2, height // 2))
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **save)
    return buffer.getvalue()
