"""The ONNX image runners against the torch ones, on the same tiny models: same labels, close scores and boxes.

Their images are prepared in numpy from the exported ``preprocessor_config.json``; that is checked
against transformers' own image processors, pixel for pixel, on images of several shapes.
"""

from __future__ import annotations

import dataclasses
import io
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from inference.conversions import convert_entry
from inference.media import PNG, MediaFile
from inference.registry import ModelSpec, load_registry
from inference.runners import load_runner
from inference.runners.onnx_vision import Preprocessor
from tests.probes import probe
from tests.vision_models import make_image

ROOT = Path(__file__).resolve().parents[2]
IMAGE_ENTRIES = {"tiny-classify-image": "", "tiny-label-image": "red, cat, car, dog", "tiny-detect": ""}
#: (width, height): landscape, portrait, square, and one much wider than tall.
SHAPES = [(64, 48), (40, 90), (33, 33), (200, 50)]


@pytest.fixture(scope="module")
def exported(tiny_registry: Path) -> dict[str, ModelSpec]:
    """Each image entry on the ONNX backend at full precision, exported into the session's HF_HOME."""
    specs = {}
    for spec in load_registry(tiny_registry):
        if spec.name in IMAGE_ENTRIES:
            onnx = dataclasses.replace(spec, backend="onnx", quantize="none")
            _, record = convert_entry(onnx, spec.local_path)
            assert record.refused is None, record.refused
            specs[spec.name] = onnx
    return specs


def png(width: int, height: int) -> MediaFile:
    return MediaFile(make_image(width, height), PNG, "photo.png")


@pytest.mark.parametrize("name", sorted(IMAGE_ENTRIES))
def test_the_onnx_runner_answers_as_torch_does(exported: dict[str, ModelSpec], name: str) -> None:
    onnx = load_runner(exported[name])
    torch_runner = load_runner(dataclasses.replace(exported[name], backend="torch", quantize="none"))
    assert type(onnx).__module__ == "inference.runners.onnx_vision"
    parameters = {"threshold": 0.1} if name == "tiny-detect" else {}
    for width, height in SHAPES:
        file = png(width, height)
        ours = onnx.run(IMAGE_ENTRIES[name], parameters, file=file)
        theirs = torch_runner.run(IMAGE_ENTRIES[name], parameters, file=file)
        if name == "tiny-detect":
            assert (ours["width"], ours["height"]) == (theirs["width"], theirs["height"]) == (width, height)
            assert ours["objects"], "the tiny detector finds something at threshold 0.1"
            assert [o["label"] for o in ours["objects"]] == [o["label"] for o in theirs["objects"]]
            for mine, reference in zip(ours["objects"], theirs["objects"], strict=True):
                assert mine["score"] == pytest.approx(reference["score"], abs=1e-4)
                assert list(mine["box"].values()) == pytest.approx(list(reference["box"].values()), abs=0.11)
        else:
            assert [item["label"] for item in ours["labels"]] == [item["label"] for item in theirs["labels"]]
            assert [i["score"] for i in ours["labels"]] == pytest.approx(
                [i["score"] for i in theirs["labels"]], abs=1e-4
            )


def test_only_the_detector_plans_its_memory_per_request(exported: dict[str, ModelSpec]) -> None:
    """A detector reads each image at its own size: a memory pattern planned from one would reserve more for the next."""
    planned = {
        name: load_runner(spec).session.get_session_options().enable_mem_pattern for name, spec in exported.items()
    }
    assert planned == {name: name != "tiny-detect" for name in exported}


def test_the_default_int8_export_keeps_the_labels(tiny_registry: Path) -> None:
    spec = next(s for s in load_registry(tiny_registry) if s.name == "tiny-classify-image")
    int8 = dataclasses.replace(spec, backend="onnx", quantize="int8")
    _, record = convert_entry(int8, spec.local_path)
    assert record.refused is None
    ours = load_runner(int8).run("", {}, file=png(64, 48))["labels"]
    theirs = load_runner(spec).run("", {}, file=png(64, 48))["labels"]
    assert [i["label"] for i in ours] == [i["label"] for i in theirs]
    assert [i["score"] for i in ours] == pytest.approx([i["score"] for i in theirs], abs=0.01)


@pytest.mark.parametrize("folder", ["image-classifier", "clip", "detector", "captioner"])
def test_numpy_preprocessing_matches_the_image_processor(tiny_registry: Path, folder: str) -> None:
    from transformers import AutoImageProcessor

    processor = AutoImageProcessor.from_pretrained(tiny_registry.parent / folder, backend="pil")
    ours = Preprocessor(json.loads(json.dumps(processor.to_dict())))  # as the export writes it
    for width, height in SHAPES:
        image = Image.open(io.BytesIO(make_image(width, height))).convert("RGB")
        expected = processor(images=image, return_tensors="np")["pixel_values"]
        got = ours(image)
        assert got.shape == expected.shape, (folder, width, height)
        assert got.dtype == np.float32
        np.testing.assert_allclose(got, expected, atol=1e-5)


#: Serves each exported image entry in a fresh process, then reports which heavy packages it imported.
PROBE = """
import json, sys
from pathlib import Path
from inference.media import PNG, MediaFile
from inference.registry import load_registry
from inference.runners import load_runner
from tests.vision_models import make_image
answers = {}
for spec in load_registry(sys.argv[1]):
    answers[spec.name] = load_runner(spec).run(sys.argv[2] if spec.name == "tiny-label-image" else "", {},
                                               file=MediaFile(make_image(), PNG, "photo.png"))
print(json.dumps({"answers": answers, "heavy": sorted({m.split(".")[0] for m in sys.modules} & {"torch", "transformers"})}))
"""


def test_serving_the_onnx_image_runners_imports_neither_torch_nor_transformers(
    exported: dict[str, ModelSpec], tiny_registry: Path, tmp_path: Path
) -> None:
    from tests.tiny_models import ENTRIES, write_registry

    entries = [
        {**entry, "model": str(tiny_registry.parent / entry["model"]), "backend": "onnx", "quantize": "none"}
        for entry in ENTRIES
        if entry["name"] in exported
    ]
    registry = write_registry(tmp_path / "onnx.yaml", entries)
    report: dict[str, Any] = probe(PROBE, str(registry), "cat, dog")
    assert report["heavy"] == []
    assert set(report["answers"]) == set(IMAGE_ENTRIES)
    assert {item["label"] for item in report["answers"]["tiny-label-image"]["labels"]} == {"cat", "dog"}
