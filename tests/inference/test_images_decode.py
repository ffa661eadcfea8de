"""Images people send, good and bad, through the real service: each bad one is refused in plain words.

The requests go through :func:`inference.service.handle` with a :class:`FolderStore`, as the model
function reads them, to the tiny torch detector (whose result states the size of the image it read).
"""

from __future__ import annotations

import io
import struct
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from inference.errors import InvalidInput
from inference.images import MAX_ANNOTATED_SIDE, PILLOW_FORMATS, draw_detections, load_image
from inference.media import GIF, IMAGE, JPEG, PNG, READABLE, FileRef, MediaFile, MediaType, upload_key
from inference.media_store import FolderStore
from inference.registry import ModelSpec, load_registry
from inference.runners import load_runner
from inference.service import Runner, handle
from tests.vision_models import make_image

Send = Callable[..., dict[str, Any]]


@pytest.fixture(scope="module")
def detector(tiny_registry: Path) -> tuple[ModelSpec, Runner]:
    spec = next(s for s in load_registry(tiny_registry) if s.name == "tiny-detect")
    return spec, load_runner(spec)


@pytest.fixture
def send(detector: tuple[ModelSpec, Runner], tmp_path: Path) -> Send:
    """``send(data, media_type)`` stores ``data`` as the router would and serves a request naming it."""
    spec, runner = detector
    store = FolderStore(tmp_path / "media")

    def call(data: bytes, media_type: MediaType = PNG, **parameters: Any) -> dict[str, Any]:
        ref = FileRef(upload_key("ab12", media_type), media_type, f"photo{media_type.extension}", len(data))
        store.put(ref.key, data, mime=media_type.mime)
        event = {"text": "", "parameters": parameters, "file": ref.to_event()}
        return handle(event, spec=spec, get_runner=lambda: runner, get_store=lambda: store)

    return call


def refusal(response: dict[str, Any]) -> str:
    assert response["error"]["type"] == "invalid_input", response
    return response["error"]["message"]


def png_claiming(width: int, height: int) -> bytes:
    """A PNG of a few hundred bytes whose header says ``width`` x ``height``: a decompression bomb."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(b"IEND", b"")
    )


def wav() -> bytes:
    import soundfile

    buffer = io.BytesIO()
    soundfile.write(buffer, np.zeros(1600, dtype=np.float32), 16_000, format="WAV")
    return buffer.getvalue()


def exif_rotated_jpeg() -> bytes:
    """A 64 x 48 JPEG whose EXIF says the camera was turned (orientation 6: show it turned 90° clockwise)."""
    exif = Image.Exif()
    exif[0x0112] = 6
    return make_image(64, 48, "JPEG", exif=exif.tobytes())


def animated_gif() -> bytes:
    """Two frames: red, then blue."""
    frames = [Image.new("RGB", (40, 30), colour) for colour in ((255, 0, 0), (0, 0, 255))]
    buffer = io.BytesIO()
    frames[0].save(buffer, format="GIF", save_all=True, append_images=frames[1:], duration=100, loop=0)
    return buffer.getvalue()


def damaged_png() -> bytes:
    data = bytearray(make_image())
    start = data.index(b"IDAT") + 8
    data[start : start + 16] = bytes(16)  # the compressed pixels, overwritten: the CRC no longer matches
    return bytes(data)


PNG_BYTES, JPEG_BYTES = make_image(), make_image(fmt="JPEG")


@pytest.mark.parametrize(
    ("data", "media_type", "words"),
    [
        (b"", PNG, "The file is empty."),
        (b"Hello, this is not a picture at all.\n" * 4, PNG, "not an image or audio file"),
        (b"%PDF-1.7\n" + bytes(200), PNG, "not an image or audio file"),
        (PNG_BYTES[: len(PNG_BYTES) // 2], PNG, "The image is cut off (the file is truncated): send it again."),
        (JPEG_BYTES[: len(JPEG_BYTES) // 2], JPEG, "The image is cut off (the file is truncated): send it again."),
        (b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4, PNG, "starts like a PNG image but cannot be read as one"),
        (b"GIF89a" + bytes(range(256)) * 4, GIF, "starts like a GIF image but cannot be read as one"),
        (damaged_png(), PNG, "The PNG image is damaged and cannot be decoded"),
        (png_claiming(20_000, 20_000), PNG, "The image has too many pixels: at most 50 million"),
        (png_claiming(8_000, 7_000), PNG, "The image has too many pixels"),  # past the limit, short of twice it
        (b"\x00\x00\x00\x18ftypheic" + bytes(100), PNG, "A HEIC image cannot be read here: export it as JPEG or PNG"),
        (
            b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg"/>',
            PNG,
            "SVG drawing cannot be read here: export it as PNG",
        ),
    ],
    ids=[
        "empty",
        "text",
        "pdf",
        "truncated-png",
        "truncated-jpeg",
        "corrupt-png",
        "corrupt-gif",
        "damaged-pixels",
        "bomb",
        "bomb-below-twice",
        "heic",
        "svg",
    ],
)
def test_a_bad_image_is_refused_in_plain_words(send: Send, data: bytes, media_type: MediaType, words: str) -> None:
    message = refusal(send(data, media_type))
    assert words in message
    assert "Traceback" not in message and "Error" not in message


def test_audio_sent_to_an_image_model_is_refused(send: Send) -> None:
    message = refusal(send(wav(), PNG))  # stored as a PNG, the bytes are a WAV
    assert message == "tiny-detect reads image files, and this is a WAV audio: send it an image file."


def test_an_exif_rotated_jpeg_is_read_upright(send: Send) -> None:
    result = send(exif_rotated_jpeg(), JPEG, threshold=0.0)["result"]
    assert (result["width"], result["height"]) == (48, 64)
    assert all(o["box"]["xmax"] <= 48 and o["box"]["ymax"] <= 64 for o in result["objects"])
    image = load_image(MediaFile(exif_rotated_jpeg(), JPEG, "photo.jpg"))
    assert image.size == (48, 64) and image.mode == "RGB"


def test_an_animated_gif_is_read_as_its_first_frame(send: Send) -> None:
    result = send(animated_gif(), GIF)["result"]
    assert (result["width"], result["height"]) == (40, 30)
    image = load_image(MediaFile(animated_gif(), GIF, "moving.gif"))
    assert image.getpixel((5, 5)) == (255, 0, 0)


def test_transparency_is_laid_over_white() -> None:
    buffer = io.BytesIO()
    Image.new("RGBA", (8, 8), (0, 0, 0, 0)).save(buffer, format="PNG")
    assert load_image(MediaFile(buffer.getvalue(), PNG, "logo.png")).getpixel((3, 3)) == (255, 255, 255)


def test_every_readable_image_type_has_a_pillow_decoder() -> None:
    assert set(PILLOW_FORMATS) == {t.mime for t in READABLE[IMAGE]}
    for media_type in READABLE[IMAGE]:
        data = make_image(fmt=PILLOW_FORMATS[media_type.mime])
        assert load_image(MediaFile(data, media_type, "x")).size == (64, 48), media_type.label


def test_only_the_claimed_format_is_parsed() -> None:
    with pytest.raises(InvalidInput, match="starts like a JPEG image"):
        load_image(MediaFile(PNG_BYTES, JPEG, "photo.jpg"))


def box(xmin: float, ymin: float, xmax: float, ymax: float) -> dict[str, float]:
    return {"xmin": xmin, "ymin": ymin, "xmax": xmax, "ymax": ymax}


def test_detections_are_drawn_on_a_png() -> None:
    file = MediaFile(make_image(64, 48), PNG, "photo.png")
    result = {"objects": [{"label": "cat", "score": 0.9, "box": box(16, 12, 32, 24)}], "width": 64, "height": 48}
    drawn = Image.open(io.BytesIO(draw_detections(file, result) or b""))
    assert drawn.format == "PNG" and drawn.size == (64, 48)
    original = load_image(file)
    assert drawn.convert("RGB").getpixel((24, 23)) != original.getpixel((24, 23))  # the box's bottom edge
    assert drawn.convert("RGB").getpixel((60, 44)) == original.getpixel((60, 44))  # far from the box: untouched


def test_a_large_annotated_image_is_scaled_down() -> None:
    file = MediaFile(make_image(4096, 1024), PNG, "wide.png")
    result = {"objects": [{"label": "car", "score": 0.5, "box": box(0, 0, 4096, 1024)}], "width": 4096, "height": 1024}
    drawn = Image.open(io.BytesIO(draw_detections(file, result) or b""))
    assert drawn.size == (MAX_ANNOTATED_SIDE, MAX_ANNOTATED_SIDE // 4)


def test_nothing_is_drawn_without_objects() -> None:
    assert draw_detections(MediaFile(PNG_BYTES, PNG, "photo.png"), {"objects": [], "width": 64, "height": 48}) is None


def test_a_found_object_comes_back_with_its_annotated_image(send: Send, tmp_path: Path) -> None:
    result = send(make_image(), PNG, threshold=0.0)["result"]
    assert result["objects"] and result["annotated"]["mime"] == "image/png"
    stored = FolderStore(tmp_path / "media").get(result["annotated"]["key"], max_bytes=10_000_000)
    assert Image.open(io.BytesIO(stored)).size == (64, 48)
