"""Files a model reads (images and audio): their kinds, their limits, what a file is by its content.

Pure standard library, so the router checks a file here before it stores it and pays for an
invocation, and the model side checks the same again before decoding it (a direct invocation, or a
stored file that changed). A file's type is read from its first bytes, never from its name or the
type its sender claims. Decoding is the runners' (:mod:`inference.images`, :mod:`inference.audio`).

A file travels to a model as a :class:`FileRef` in the request's ``"file"`` field: Lambda's payload
limits (1 MB asynchronous, 6 MB synchronous) do not carry media, so the file itself waits in a
:mod:`inference.media_store` under :func:`upload_key`.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from typing import Any

from inference.errors import InputTooLong, InvalidInput, UnsupportedFile

IMAGE, AUDIO = "image", "audio"
KINDS = (IMAGE, AUDIO)
MB = 1024 * 1024
#: The largest file of each kind accepted, in bytes.
MAX_BYTES = {IMAGE: 20 * MB, AUDIO: 25 * MB}
#: The longest audio accepted: a transcript of a ten-minute meeting, in 30-second windows.
MAX_AUDIO_SECONDS = 600
#: The most pixels an image may have once decoded (width times height): a small PNG can decode to gigabytes
#: (a decompression bomb), so the decoder refuses anything larger before it allocates (Pillow's limit).
MAX_IMAGE_PIXELS = 50_000_000


@dataclass(frozen=True)
class MediaType:
    """A file type this project recognises, named for people (``"PNG image"``)."""

    kind: str
    mime: str
    extension: str
    label: str
    #: Why it cannot be read, when it is recognised but not supported (what to convert it to).
    unsupported: str | None = None


PNG = MediaType(IMAGE, "image/png", ".png", "PNG image")
JPEG = MediaType(IMAGE, "image/jpeg", ".jpg", "JPEG image")
GIF = MediaType(IMAGE, "image/gif", ".gif", "GIF image")
WEBP = MediaType(IMAGE, "image/webp", ".webp", "WebP image")
BMP = MediaType(IMAGE, "image/bmp", ".bmp", "BMP image")
TIFF = MediaType(IMAGE, "image/tiff", ".tif", "TIFF image")
HEIC = MediaType(IMAGE, "image/heic", ".heic", "HEIC image", "export it as JPEG or PNG (on a phone: share it as JPEG)")
SVG = MediaType(IMAGE, "image/svg+xml", ".svg", "SVG drawing", "export it as PNG")
WAV = MediaType(AUDIO, "audio/wav", ".wav", "WAV audio")
FLAC = MediaType(AUDIO, "audio/flac", ".flac", "FLAC audio")
OGG = MediaType(AUDIO, "audio/ogg", ".ogg", "Ogg audio")
MP3 = MediaType(AUDIO, "audio/mpeg", ".mp3", "MP3 audio")
MP4 = MediaType(AUDIO, "audio/mp4", ".m4a", "MP4/M4A audio or video", "convert it to MP3, WAV or FLAC")
WEBM = MediaType(AUDIO, "audio/webm", ".webm", "WebM audio or video", "convert it to MP3, WAV or FLAC")

#: The types a model can read, by kind: what the messages list.
READABLE = {
    kind: tuple(t for t in (PNG, JPEG, GIF, WEBP, BMP, TIFF, WAV, FLAC, OGG, MP3) if t.kind == kind) for kind in KINDS
}
#: How many leading bytes :func:`sniff` needs.
HEAD_BYTES = 64

_HEIF_BRANDS = (b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx", b"mif1", b"msf1", b"avif")


def _is_mp3(head: bytes) -> bool:
    if head.startswith(b"ID3"):
        return True
    # An MPEG audio frame header: 11 sync bits, then a layer other than "reserved" (layer III is 01).
    return len(head) >= 2 and head[0] == 0xFF and (head[1] & 0xE0) == 0xE0 and (head[1] & 0x06) != 0


def sniff(head: bytes) -> MediaType | None:
    """The type of a file from its first bytes (:data:`HEAD_BYTES` are enough), or None when it is none we know."""
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return PNG
    if head.startswith(b"\xff\xd8\xff"):
        return JPEG
    if head.startswith((b"GIF87a", b"GIF89a")):
        return GIF
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return WEBP
    if head[:4] == b"RIFF" and head[8:12] == b"WAVE":
        return WAV
    if head.startswith(b"BM") and len(head) >= 14:
        return BMP
    if head.startswith((b"II*\x00", b"MM\x00*")):
        return TIFF
    if head.startswith(b"fLaC"):
        return FLAC
    if head.startswith(b"OggS"):
        return OGG
    if head[4:8] == b"ftyp":
        return HEIC if head[8:12] in _HEIF_BRANDS else MP4
    if head.startswith(b"\x1a\x45\xdf\xa3"):
        return WEBM
    if _is_mp3(head):
        return MP3
    text = head.lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    if text.startswith((b"<svg", b"<?xml")) and b"<svg" in head.lower():
        return SVG
    return None


def readable_names(kind: str) -> str:
    """The types of ``kind`` a model can read, for a message: ``"WAV, FLAC, Ogg or MP3"``."""
    names = [t.label.split(" ")[0] for t in READABLE[kind]]
    return f"{', '.join(names[:-1])} or {names[-1]}"


def describe_size(size: int) -> str:
    """A size for people: ``"21.4 MB"``, ``"312 KB"``."""
    return f"{size / MB:.1f} MB" if size >= MB else f"{max(1, round(size / 1024))} KB"


def check_size(size: int, *, kind: str, model: str) -> None:
    """Refuse a file of ``kind`` larger than its cap, before it is downloaded or read.

    Raises:
        InputTooLong: naming the size, the cap and ``model``.
    """
    if size > MAX_BYTES[kind]:
        raise InputTooLong(
            f"The file is {describe_size(size)}; {model} takes {kind} files of at most {describe_size(MAX_BYTES[kind])}."
        )


def check_file(data: bytes, *, kind: str, model: str) -> MediaType:
    """The type of ``data``, if ``model``, which reads ``kind`` files, can read it.

    Raises:
        InputTooLong: larger than the kind's cap.
        InvalidInput: empty.
        UnsupportedFile: not a type we know (an HTML error page, a PDF), a type of the other kind
            (audio for an image model), or a known type that cannot be decoded (HEIC, M4A), each saying what to send instead.
    """
    if not data:
        raise InvalidInput(f"The file is empty. {model} reads {kind} files ({readable_names(kind)}).")
    check_size(len(data), kind=kind, model=model)
    found = sniff(data[:HEAD_BYTES])
    if found is None:
        raise UnsupportedFile(
            f"The file is not an image or audio file this bot can read; {model} reads {kind} files ({readable_names(kind)})."
        )
    if found.kind != kind:
        raise wrong_kind(found, kind=kind, model=model)
    if found.unsupported:
        described = with_article(found.label)
        raise UnsupportedFile(f"{described[0].upper()}{described[1:]} cannot be read here: {found.unsupported}.")
    return found


#: Labels read with "an" though spelt with a consonant (said "em-pee-three", "ess-vee-gee").
_AN = ("MP3", "MP4", "SVG")


def with_article(noun: str) -> str:
    """``noun`` after "a" or "an", as it is said: "an image", "a WAV audio", "an MP3 audio"."""
    return f"{'an' if noun[0].lower() in 'aeiou' or noun.startswith(_AN) else 'a'} {noun}"


def wrong_kind(found: MediaType, *, kind: str, model: str) -> UnsupportedFile:
    """The refusal of a file of another kind than ``model`` reads (audio sent to an image model)."""
    return UnsupportedFile(
        f"{model} reads {kind} files, and this is {with_article(found.label)}: send it {with_article(kind)} file."
    )


#: Where uploaded files wait for their model, and where a model leaves a file it made (boxes drawn on an image).
UPLOADS, ANNOTATED = "uploads", "annotated"
#: A request's field saying whether its model should also make that file (default true): the form draws the
#: boxes over its own preview, so it asks for none and is spared the drawing and the store's write.
ANNOTATE = "annotate"
_KEY = re.compile(rf"^({UPLOADS}|{ANNOTATED})/[0-9a-f]{{1,32}}/[0-9a-f]{{32}}\.[a-z0-9]{{2,5}}$")
#: The longest file name kept (for the upload back to Slack and the logs' sake).
MAX_NAME_CHARS = 200


def check_key(key: object) -> str:
    """``key``, if it is one this project made: no path, traversal or other bucket's object can be named.

    Raises:
        InvalidInput: anything else.
    """
    if not isinstance(key, str) or not _KEY.fullmatch(key):
        raise InvalidInput("`file.key` is not the key of a stored file.")
    return key


def upload_key(request_id: str, media_type: MediaType) -> str:
    """A new, unguessable key for a file of ``request_id``: ``uploads/<request id>/<random>.<ext>``."""
    folder = re.sub(r"[^0-9a-f]", "", request_id.lower())[:32] or "0"
    return f"{UPLOADS}/{folder}/{uuid.uuid4().hex}{media_type.extension}"


def annotated_key(key: str) -> str:
    """Where the annotated copy of the upload ``key`` goes (always a PNG)."""
    folder, _, name = check_key(key).partition("/")[2].partition("/")
    return f"{ANNOTATED}/{folder}/{name.rsplit('.', 1)[0]}.png"


def clean_name(name: object, media_type: MediaType) -> str:
    """A file name safe to show and to upload back: printable, no path, at most :data:`MAX_NAME_CHARS`."""
    text = name if isinstance(name, str) else ""
    text = "".join(ch for ch in text.replace("\\", "/").rsplit("/", 1)[-1] if ch.isprintable()).strip()
    return text[:MAX_NAME_CHARS] or f"file{media_type.extension}"


@dataclass(frozen=True)
class FileRef:
    """A stored file as a request names it (the event's ``"file"``): where it is, what it is, as checked by the router."""

    key: str
    media_type: MediaType
    name: str
    size: int

    def to_event(self) -> dict[str, Any]:
        """The JSON the request carries."""
        return {
            "key": self.key,
            "kind": self.media_type.kind,
            "mime": self.media_type.mime,
            "name": self.name,
            "size": self.size,
        }

    @classmethod
    def from_event(cls, value: object) -> FileRef:
        """Read a request's ``"file"``.

        Raises:
            InvalidInput: not an object with a key this project made, a known type and a size.
        """
        if not isinstance(value, dict):
            raise InvalidInput("`file` must be an object with `key`, `mime`, `name` and `size`.")
        key = check_key(value.get("key"))
        media_type = next((t for types in READABLE.values() for t in types if t.mime == value.get("mime")), None)
        size = value.get("size")
        if media_type is None:
            raise InvalidInput("`file.mime` is not a type this bot reads.")
        if not isinstance(size, int) or isinstance(size, bool) or size < 0:
            raise InvalidInput("`file.size` must be a whole number of bytes.")
        return cls(key, media_type, clean_name(value.get("name"), media_type), size)


@dataclass(frozen=True)
class MediaFile:
    """A file as a runner reads it: its bytes, checked (:func:`check_file`), and the name it came with."""

    data: bytes
    media_type: MediaType
    name: str

    @property
    def kind(self) -> str:
        return self.media_type.kind
