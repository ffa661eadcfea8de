"""A file's type is read from its content, its size is capped by kind, and only keys this project made name a file."""

from __future__ import annotations

import io
import json
import wave

import pytest
from PIL import Image

from inference import media
from inference.errors import InputTooLong, InvalidInput, UnsupportedFile
from inference.media import AUDIO, IMAGE, FileRef, annotated_key, check_file, check_key, clean_name, sniff, upload_key


def image_bytes(fmt: str) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (8, 6), (200, 30, 30)).save(out, format=fmt)
    return out.getvalue()


def wav_bytes() -> bytes:
    out = io.BytesIO()
    with wave.open(out, "wb") as file:
        file.setnchannels(1)
        file.setsampwidth(2)
        file.setframerate(16_000)
        file.writeframes(b"\x00\x00" * 160)
    return out.getvalue()


@pytest.mark.parametrize(
    ("fmt", "expected"),
    [
        ("PNG", media.PNG),
        ("JPEG", media.JPEG),
        ("GIF", media.GIF),
        ("WEBP", media.WEBP),
        ("BMP", media.BMP),
        ("TIFF", media.TIFF),
    ],
)
def test_images_are_known_by_their_first_bytes(fmt: str, expected: media.MediaType) -> None:
    assert sniff(image_bytes(fmt)[: media.HEAD_BYTES]) == expected


@pytest.mark.parametrize(
    ("head", "expected"),
    [
        (b"fLaC\x00\x00\x00\x22", media.FLAC),
        (b"OggS\x00\x02" + bytes(20), media.OGG),
        (b"ID3\x04\x00\x00\x00\x00\x00\x00", media.MP3),
        (b"\xff\xfb\x90\x64" + bytes(12), media.MP3),
        (b"\x00\x00\x00\x20ftypM4A \x00\x00\x00\x00", media.MP4),
        (b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00", media.HEIC),
        (b"\x1a\x45\xdf\xa3\x9f\x42\x86\x81", media.WEBM),
        (b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg">', media.SVG),
        (b"<!DOCTYPE html><html><body>Sign in to Slack</body></html>", None),
        (b"%PDF-1.7\n", None),
        (b"", None),
    ],
)
def test_other_types_by_their_first_bytes(head: bytes, expected: media.MediaType | None) -> None:
    assert sniff(head) == expected


def test_a_wav_is_audio_whatever_it_is_called() -> None:
    assert sniff(wav_bytes()) == media.WAV
    assert check_file(wav_bytes(), kind=AUDIO, model="transcribe") == media.WAV


def test_every_readable_type_has_a_kind_and_an_extension() -> None:
    for kind, types in media.READABLE.items():
        assert types and all(t.kind == kind and t.extension.startswith(".") and not t.unsupported for t in types)


@pytest.mark.parametrize(
    ("data", "kind", "words"),
    [
        (b"", IMAGE, "The file is empty"),
        (b"<!DOCTYPE html><html>Sign in</html>", IMAGE, "not an image or audio file"),
        (wav_bytes(), IMAGE, "detect reads image files, and this is a WAV audio: send it an image file."),
        (image_bytes("PNG"), AUDIO, "detect reads audio files, and this is a PNG image: send it an audio file."),
        (b"\x00\x00\x00\x18ftypheic" + bytes(40), IMAGE, "A HEIC image cannot be read here: export it as JPEG or PNG"),
        (b"\x00\x00\x00\x20ftypM4A " + bytes(40), AUDIO, "convert it to MP3, WAV or FLAC"),
    ],
)
def test_a_file_a_model_cannot_read_says_what_to_send(data: bytes, kind: str, words: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        check_file(data, kind=kind, model="detect")
    assert words in str(caught.value)
    assert not isinstance(caught.value, InputTooLong)
    assert isinstance(caught.value, UnsupportedFile) == (data != b""), "HTTP says 415 for a type, 400 for an empty file"


def test_each_kind_has_its_own_size_cap() -> None:
    png = image_bytes("PNG")
    big = png + bytes(media.MAX_BYTES[IMAGE] - len(png) + 1)
    with pytest.raises(InputTooLong, match=r"The file is 20\.0 MB; detect takes image files of at most 20\.0 MB"):
        check_file(big, kind=IMAGE, model="detect")
    assert check_file(png + bytes(media.MAX_BYTES[IMAGE] - len(png)), kind=IMAGE, model="detect") == media.PNG
    media.check_size(media.MAX_BYTES[AUDIO], kind=AUDIO, model="transcribe")
    with pytest.raises(InputTooLong, match=r"25\.0 MB"):
        media.check_size(media.MAX_BYTES[AUDIO] + 1, kind=AUDIO, model="transcribe")


def test_upload_keys_are_unguessable_and_annotations_sit_beside_them() -> None:
    first, second = upload_key("ab12cd34ef56", media.JPEG), upload_key("ab12cd34ef56", media.JPEG)
    assert first != second
    assert first.startswith("uploads/ab12cd34ef56/") and first.endswith(".jpg")
    assert check_key(first) == first
    annotated = annotated_key(first)
    assert annotated.startswith("annotated/ab12cd34ef56/") and annotated.endswith(".png")
    assert check_key(annotated) == annotated
    assert upload_key("../../etc", media.PNG).startswith("uploads/ec/")  # only the id's hex digits make the folder


@pytest.mark.parametrize(
    "key",
    [
        None,
        7,
        "",
        "uploads/../secrets/0123456789abcdef0123456789abcdef.png",
        "/etc/passwd",
        "uploads/ab/0123456789abcdef0123456789abcdef.png/../../x",
        "other/ab/0123456789abcdef0123456789abcdef.png",
        "uploads/ab/short.png",
        "uploads/AB/0123456789abcdef0123456789abcdef.png",
        "uploads/ab/0123456789abcdef0123456789abcdef.png\n",
    ],
)
def test_only_keys_this_project_makes_are_accepted(key: object) -> None:
    with pytest.raises(InvalidInput, match="not the key of a stored file"):
        check_key(key)


def test_a_file_reference_round_trips_through_json() -> None:
    ref = FileRef(upload_key("ab12", media.PNG), media.PNG, "cat.png", 1234)
    event = json.loads(json.dumps(ref.to_event()))
    assert event == {"key": ref.key, "kind": "image", "mime": "image/png", "name": "cat.png", "size": 1234}
    assert FileRef.from_event(event) == ref


@pytest.mark.parametrize(
    ("change", "words"),
    [
        ({"key": "uploads/x"}, "not the key"),
        ({"mime": "image/heic"}, "not a type this bot reads"),
        ({"mime": None}, "not a type this bot reads"),
        ({"size": "12"}, "whole number of bytes"),
        ({"size": True}, "whole number of bytes"),
        ({"size": -1}, "whole number of bytes"),
    ],
)
def test_a_malformed_file_reference_is_refused_in_words(change: dict[str, object], words: str) -> None:
    event = {**FileRef(upload_key("ab12", media.PNG), media.PNG, "cat.png", 12).to_event(), **change}
    with pytest.raises(InvalidInput, match=words):
        FileRef.from_event(event)
    with pytest.raises(InvalidInput, match="must be an object"):
        FileRef.from_event(["not", "an", "object"])


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("cat.png", "cat.png"),
        ("../../etc/passwd", "passwd"),
        ("C:\\Users\\me\\photo.jpg", "photo.jpg"),
        ("bad\u202ename\x00.png", "badname.png"),
        ("", "file.png"),
        (None, "file.png"),
        ("x" * 500, "x" * media.MAX_NAME_CHARS),
    ],
)
def test_file_names_are_kept_only_to_show(name: object, expected: str) -> None:
    assert clean_name(name, media.PNG) == expected
