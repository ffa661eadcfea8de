"""The torch runner of image-to-text: a caption for an image, optionally starting with words you give.

transformers 5 serves image captioners through ``AutoModelForImageTextToText``: BLIP
(Salesforce/blip-image-captioning-*), which can continue a prompt, and vision-encoder-decoder
models (nlpconnect/vit-gpt2-image-captioning), which cannot. It reads the image with the model's
image processor and the prompt with its tokenizer, as BLIP's processor does, so both families load.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PIL.Image import Image
from transformers import AutoModelForImageTextToText, AutoTokenizer

from inference.errors import InvalidInput
from inference.registry import ModelSpec
from inference.runners import parameters as params
from inference.runners.base import load_pretrained
from inference.runners.vision import ImageRunner

#: Without a ``max_new_tokens`` setting, a caption is at most this long (a sentence, as the pipeline's default).
DEFAULT_CAPTION_TOKENS = 40
#: Architectures that can only describe an image, not continue a prompt about it.
UNPROMPTED = frozenset({"vision-encoder-decoder"})


class ImageToTextRunner(ImageRunner):
    """A caption with the model's generation config under the request's generation settings."""

    auto_class = AutoModelForImageTextToText

    def __init__(self, spec: ModelSpec, path: Path) -> None:
        super().__init__(spec, path)
        self.tokenizer = load_pretrained(AutoTokenizer, path, "tokenizer", spec)

    def predict(self, image: Image, inputs: dict[str, Any], parameters: dict[str, Any]) -> dict[str, Any]:
        settings = {"max_new_tokens": DEFAULT_CAPTION_TOKENS, **params.generation(parameters)}
        feed: dict[str, Any] = {"pixel_values": self.pixels(image)}
        prompt = inputs.get("prompt")
        if prompt:
            if self.model.config.model_type in UNPROMPTED:
                raise InvalidInput(f"{self.spec.name} describes an image on its own: send the image without text.")
            text = self.tokenizer(prompt, return_tensors="pt")  # BERT's also has token_type_ids, which BLIP refuses
            feed.update(input_ids=text["input_ids"], attention_mask=text["attention_mask"])
        tokens = self.model.generate(**feed, **settings)[0]
        return {"caption": self.tokenizer.decode(tokens, skip_special_tokens=True).strip()}
