"""The torch image runners' settings and refusals, and the second captioner family (ViT + GPT-2)."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import pytest

from inference.errors import InvalidInput, ModelLoadError
from inference.media import PNG, MediaFile
from inference.registry import ModelSpec, load_registry
from inference.runners import load_runner
from inference.runners.parameters import MAX_LABELS
from inference.service import Runner
from tests.vision_models import IMAGE_SIZE, VISION, _word_piece, make_image

FILE = MediaFile(make_image(), PNG, "photo.png")


@pytest.fixture(scope="module")
def runners(tiny_registry: Path) -> dict[str, Runner]:
    names = ("tiny-classify-image", "tiny-label-image", "tiny-detect")
    return {spec.name: load_runner(spec) for spec in load_registry(tiny_registry) if spec.name in names}


def run(runner: Runner, text: str = "", **parameters: Any) -> dict[str, Any]:
    return runner.run(text, parameters, file=FILE)  # type: ignore[call-arg]


def test_top_k_is_clamped_to_the_model_labels(runners: dict[str, Runner]) -> None:
    assert len(run(runners["tiny-classify-image"], top_k=50)["labels"]) == 3
    assert len(run(runners["tiny-classify-image"], top_k=0)["labels"]) == 1
    with pytest.raises(InvalidInput, match="`top_k` must be a whole number"):
        run(runners["tiny-classify-image"], top_k="many")


def test_zero_shot_image_labels_are_bounded_and_templated(runners: dict[str, Runner]) -> None:
    labels = ", ".join(f"label{i}" for i in range(MAX_LABELS + 1))
    with pytest.raises(InvalidInput, match=f"at most {MAX_LABELS} labels"):
        run(runners["tiny-label-image"], labels)
    with pytest.raises(InvalidInput, match="at least two labels"):
        run(runners["tiny-label-image"], "cat")
    plain = run(runners["tiny-label-image"], "cat, dog")["labels"]
    templated = run(runners["tiny-label-image"], "cat, dog", hypothesis_template="a picture of the {} on the car")
    assert [i["score"] for i in plain] != [i["score"] for i in templated["labels"]]


def test_the_detection_threshold_is_a_score_from_0_to_1(runners: dict[str, Runner]) -> None:
    everything = run(runners["tiny-detect"], threshold=-3)["objects"]
    assert len(everything) == 10  # the tiny detector's ten detection tokens
    assert run(runners["tiny-detect"], threshold=7)["objects"] == []
    with pytest.raises(InvalidInput, match="`threshold` must be a number"):
        run(runners["tiny-detect"], threshold="high")


def test_a_folder_without_an_image_processor_is_a_load_error(tiny_registry: Path, tmp_path: Path) -> None:
    import shutil

    spec = next(s for s in load_registry(tiny_registry) if s.name == "tiny-classify-image")
    folder = tmp_path / "no-processor"
    shutil.copytree(tiny_registry.parent / "image-classifier", folder)
    (folder / "preprocessor_config.json").unlink()
    with pytest.raises(ModelLoadError, match="Cannot load the image processor of tiny-classify-image"):
        load_runner(dataclasses.replace(spec, model=str(folder), local_path=folder))


def vit_gpt2(folder: Path) -> None:
    """A tiny vision-encoder-decoder captioner, as nlpconnect/vit-gpt2-image-captioning is built."""
    import torch
    from transformers import (
        GPT2Config,
        VisionEncoderDecoderConfig,
        VisionEncoderDecoderModel,
        ViTConfig,
        ViTImageProcessor,
    )

    tokenizer = _word_piece(("<|endoftext|>", "[UNK]"), unk="[UNK]", template="$A", bos_token="<|endoftext|>",
                            eos_token="<|endoftext|>", pad_token="<|endoftext|>")  # fmt: skip
    torch.manual_seed(1234)
    decoder = GPT2Config(vocab_size=len(tokenizer), n_embd=32, n_layer=1, n_head=2, n_positions=32, bos_token_id=0,
                         eos_token_id=0, add_cross_attention=True, is_decoder=True)  # fmt: skip
    encoder = ViTConfig(image_size=IMAGE_SIZE, patch_size=8, **VISION)
    config = VisionEncoderDecoderConfig.from_encoder_decoder_configs(encoder, decoder)
    config.decoder_start_token_id = config.pad_token_id = 0
    model = VisionEncoderDecoderModel(config=config).eval()
    model.generation_config.decoder_start_token_id = model.generation_config.pad_token_id = 0
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    ViTImageProcessor(size={"height": IMAGE_SIZE, "width": IMAGE_SIZE}).save_pretrained(folder)


def test_a_vision_encoder_decoder_captions_but_takes_no_prompt(tiny_registry: Path, tmp_path: Path) -> None:
    spec: ModelSpec = next(s for s in load_registry(tiny_registry) if s.name == "tiny-caption")
    folder = tmp_path / "vit-gpt2"
    vit_gpt2(folder)
    runner = load_runner(dataclasses.replace(spec, model=str(folder), local_path=folder))
    caption = run(runner, max_new_tokens=4)["caption"]
    assert isinstance(caption, str) and caption == caption.strip()
    with pytest.raises(InvalidInput, match="describes an image on its own"):
        run(runner, "a photo of")
