"""Decoding the images people send, and drawing a detector's boxes on them (Pillow and numpy only).

Every runner of an image task, on every backend, decodes with :func:`load_image`, so they all see the
same pixels: upright (the camera's EXIF orientation applied), RGB (transparency laid over white), the
first frame of an animation. A file that cannot be decoded is the sender's to fix, so each failure is
an :class:`~inference.errors.InvalidInput` saying what is wrong in plain words, never a traceback.

Only the formats :data:`inference.media.READABLE` lists are parsed: Pillow's other plugins (some old,
rarely exercised formats) never see a request's bytes. An image of more than
:data:`inference.media.MAX_IMAGE_PIXELS` is refused from its header, before its pixels are allocated.
"""

from __future__ import annotations

import io
import warnings
from typing import Any

from PIL import Image, ImageDraw, ImageFont, ImageOps, UnidentifiedImageError

from inference.errors import InvalidInput
from inference.media import IMAGE, MAX_IMAGE_PIXELS, MediaFile, readable_names, with_article

#: Pillow's names for the formats this project reads (:data:`inference.media.READABLE`).
PILLOW_FORMATS = {"image/png": "PNG", "image/jpeg": "JPEG", "image/gif": "GIF", "image/webp": "WEBP",
                  "image/bmp": "BMP", "image/tiff": "TIFF"}  # fmt: skip
#: The annotated copy is at most this many pixels on its long side (Slack shows less; the PNG stays small).
MAX_ANNOTATED_SIDE = 2048
#: Box colours, one per label in order of appearance: strong, and far apart for people with colour blindness too.
COLOURS = ["#e6194b", "#3cb44b", "#4363d8", "#f58231", "#911eb4", "#42d4f4", "#f032e6", "#bfef45", "#ffe119"]

# Pillow warns past its limit and refuses at twice it; here the warning is made an error (load_image).
Image.MAX_IMAGE_PIXELS = MAX_IMAGE_PIXELS


def _too_large() -> InvalidInput:
    return InvalidInput(
        f"The image has too many pixels: at most {MAX_IMAGE_PIXELS // 1_000_000} million (for example 8000 x 6000) "
        "are read. Send a smaller copy."
    )


def load_image(file: MediaFile) -> Image.Image:
    """``file`` decoded: RGB, upright, its first frame.

    Raises:
        InvalidInput: not an image Pillow can read as the type it claims, too many pixels (a
            decompression bomb), a truncated file, or damaged data.
    """
    label, pillow_format = file.media_type.label, PILLOW_FORMATS.get(file.media_type.mime)
    if file.kind != IMAGE or pillow_format is None:
        raise InvalidInput(
            f"This is {with_article(label)}, not an image this bot can read: send a {readable_names(IMAGE)} image."
        )
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(file.data), formats=[pillow_format])
            image.seek(0)
            image.load()
            upright = ImageOps.exif_transpose(image)
    except (Image.DecompressionBombWarning, Image.DecompressionBombError):
        raise _too_large() from None
    except UnidentifiedImageError:
        raise InvalidInput(
            f"The file starts like {with_article(label)} but cannot be read as one: it is damaged."
        ) from None
    except Exception as exc:  # Pillow's decoders raise OSError, SyntaxError, ValueError, EOFError, zlib.error...
        if isinstance(exc, EOFError) or "truncated" in str(exc).lower():
            raise InvalidInput("The image is cut off (the file is truncated): send it again.") from None
        raise InvalidInput(
            f"The {label} is damaged and cannot be decoded: send it again or export a new copy."
        ) from None
    return _rgb(upright)


def _rgb(image: Image.Image) -> Image.Image:
    """``image`` as RGB, any transparency laid over white (a logo's transparent background is not black)."""
    if image.mode == "RGB":
        return image
    if image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info:
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(background, rgba).convert("RGB")
    return image.convert("RGB")


def draw_detections(file: MediaFile, result: dict[str, Any]) -> bytes | None:
    """``file`` with each of ``result["objects"]``' boxes drawn and labelled (label and score), as PNG bytes.

    The picture is scaled down to :data:`MAX_ANNOTATED_SIDE` on its long side first; None when nothing was found.
    """
    objects = result.get("objects") or []
    if not objects:
        return None
    image = load_image(file)
    scale = min(1.0, MAX_ANNOTATED_SIDE / max(image.size))
    if scale < 1.0:
        image = image.resize((max(1, round(image.width * scale)), max(1, round(image.height * scale))), Image.LANCZOS)
    draw = ImageDraw.Draw(image)
    long_side = max(image.size)
    line = max(2, round(long_side / 320))
    font = ImageFont.load_default(size=max(10, round(long_side / 40)))
    colours: dict[str, str] = {}
    for found in objects:
        colour = colours.setdefault(found["label"], COLOURS[len(colours) % len(COLOURS)])
        box = found["box"]
        corners = [box["xmin"] * scale, box["ymin"] * scale, box["xmax"] * scale, box["ymax"] * scale]
        draw.rectangle(corners, outline=colour, width=line)
        caption = f"{found['label']} {found['score']:.0%}"
        left, top, right, bottom = draw.textbbox((0, 0), caption, font=font)
        width, height = right - left + 2 * line, bottom - top + 2 * line
        x = min(max(0.0, corners[0]), max(0.0, image.width - width))
        y = corners[1] - height if corners[1] >= height else corners[1]  # above the box, else just inside it
        draw.rectangle([x, y, x + width, y + height], fill=colour)
        draw.text((x + line - left, y + line - top), caption, fill=_ink(colour), font=font)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", optimize=True)
    return buffer.getvalue()


def _ink(colour: str) -> str:
    """Black or white, whichever reads better on ``colour`` (by its relative luminance)."""
    red, green, blue = (int(colour[i : i + 2], 16) for i in (1, 3, 5))
    return "black" if 0.299 * red + 0.587 * green + 0.114 * blue > 150 else "white"
