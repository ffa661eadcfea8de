"""``multipart/form-data`` bodies (RFC 7578), read strictly: the form's file uploads.

Only the form's runs take one (``POST /go``, a file beside the model's name), so this reads a body
already in memory, whole, and refuses anything a browser's ``FormData`` would not send: no boundary,
a part without a name, a name it does not expect or sends twice, a part larger than its field's cap,
a body that stops before its closing delimiter. A part's file name is kept for display only; its
``Content-Type`` is the sender's claim and is never trusted (:func:`inference.media.check_file` reads
the bytes).

In AWS, API Gateway hands such a body to the router base64-encoded (``isBase64Encoded``, when the
API lists ``multipart/form-data`` among its binary media types; :meth:`bot.core.http.Request.from_event`
decodes it), and ``python -m bot serve`` builds the same event.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from bot.core.http import BadRequest
from inference.media import MAX_BYTES

MULTIPART = "multipart/form-data"
#: The content types API Gateway must pass as bytes (base64) rather than as text: a file's bytes are not UTF-8.
BINARY_MEDIA_TYPES = (MULTIPART,)
#: The one route that takes a file: the form's runs.
UPLOAD_METHOD, UPLOAD_PATH = "POST", "/go"
#: What a multipart body adds to its file: boundaries, part headers, the model's name and a text field.
OVERHEAD_BYTES = 128 * 1024
#: The largest upload body accepted: the largest kind's file cap plus the overhead.
MAX_UPLOAD_BODY_BYTES = max(MAX_BYTES.values()) + OVERHEAD_BYTES
#: The most bytes of headers one part may have (a browser writes two short lines).
MAX_PART_HEAD_BYTES = 4096
#: A boundary as RFC 2046 allows it: 1 to 70 characters of its set, not ending in a space.
_BOUNDARY = re.compile(r"[0-9A-Za-z'()+_,\-./:=? ]{0,69}[0-9A-Za-z'()+_,\-./:=?]")
#: One ``; name=value`` parameter of a header, the value a token or a quoted string.
_PARAM = re.compile(r';\s*([A-Za-z0-9_*-]+)\s*=\s*("(?:[^"\\]|\\.)*"|[^;\s]*)\s*')


@dataclass(frozen=True)
class Part:
    """One field of the form: its bytes, and the file name it came with (None for a plain field)."""

    name: str
    data: bytes
    filename: str | None = None

    def text(self) -> str:
        """The field as UTF-8 text.

        Raises:
            BadRequest: not UTF-8.
        """
        try:
            return self.data.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise BadRequest(f'The form field "{self.name}" is not UTF-8 text.') from exc


def is_multipart(content_type: str) -> bool:
    """Whether a ``Content-Type`` header names a ``multipart/form-data`` body."""
    return content_type.split(";")[0].strip().lower() == MULTIPART


def is_upload(method: str, path: str, content_type: str) -> bool:
    """Whether a request is a file upload to the form, the one body allowed past the router's usual cap."""
    return method.upper() == UPLOAD_METHOD and path.rstrip("/") == UPLOAD_PATH and is_multipart(content_type)


def _params(header: str) -> dict[str, str]:
    """The parameters of a header value (``form-data; name="file"; filename="a.png"``), names lower-cased.

    A quoted value's backslash escapes are undone; browsers write a quote in a file name as ``%22``,
    which is left as it is (the name is only shown).
    """
    params: dict[str, str] = {}
    rest = header[header.find(";") :] if ";" in header else ""
    at = 0
    while at < len(rest):
        match = _PARAM.match(rest, at)
        if match is None:
            raise BadRequest("A part of the form has a header that cannot be read.")
        name, value = match[1].lower(), match[2]
        if value.startswith('"'):
            value = re.sub(r"\\(.)", r"\1", value[1:-1])
        params[name] = value
        at = match.end()
    return params


def boundary_of(content_type: str) -> bytes:
    """The boundary a ``multipart/form-data`` Content-Type names.

    Raises:
        BadRequest: not multipart/form-data, or without a valid boundary.
    """
    if not is_multipart(content_type):
        raise BadRequest(f"Send the file as {MULTIPART}.", status=415, type="unsupported")
    boundary = _params(content_type).get("boundary", "")
    if not _BOUNDARY.fullmatch(boundary):
        raise BadRequest(f"The {MULTIPART} body needs a boundary in its Content-Type.")
    return boundary.encode("ascii")


def _part(raw: bytes) -> tuple[str, str | None, bytes]:
    """A part's field name, file name and bytes."""
    head, found, data = raw.partition(b"\r\n\r\n")
    if not found or len(head) > MAX_PART_HEAD_BYTES:
        raise BadRequest("A part of the form has no readable headers.")
    disposition = None
    for line in head.decode("utf-8", "replace").split("\r\n"):
        name, colon, value = line.partition(":")
        if not colon:
            raise BadRequest("A part of the form has a header that cannot be read.")
        if name.strip().lower() == "content-disposition":
            if disposition is not None:
                raise BadRequest("A part of the form has two Content-Disposition headers.")
            disposition = value.strip()
    if disposition is None or disposition.split(";")[0].strip().lower() != "form-data":
        raise BadRequest("Each part of the form needs a Content-Disposition: form-data header.")
    params = _params(disposition)
    if not params.get("name"):
        raise BadRequest("A part of the form has no field name.")
    return params["name"], params.get("filename"), data


def parse_form_data(body: bytes, content_type: str, *, limits: Mapping[str, int]) -> dict[str, Part]:
    """The fields of a ``multipart/form-data`` body, by name; ``limits`` names every field it may have
    and the most bytes each may hold.

    Raises:
        BadRequest: 415 not multipart; 413 a field over its limit; 400 no boundary, a body that is
            not multipart or ends early, a part without a name, a name not in ``limits`` or sent twice.
    """
    delimiter = b"--" + boundary_of(content_type)
    if not body.startswith(delimiter):
        raise BadRequest(f"The body is not {MULTIPART} with the boundary its Content-Type names.")
    fields: dict[str, Part] = {}
    at = len(delimiter)
    while True:
        if body.startswith(b"--", at):  # the closing delimiter; what follows it (an epilogue) is ignored
            return fields
        if not body.startswith(b"\r\n", at):
            raise BadRequest(f"The body is not {MULTIPART} with the boundary its Content-Type names.")
        end = body.find(b"\r\n" + delimiter, at + 2)
        if end < 0:
            raise BadRequest("The form's body ended before its last part did: send it again.")
        name, filename, data = _part(body[at + 2 : end])
        if name not in limits:
            expected = ", ".join(f'"{n}"' for n in limits)
            raise BadRequest(f'The form has no field "{name[:40]}": send only {expected}.')
        if name in fields:
            raise BadRequest(f'The form sent "{name}" twice: send each field once.')
        if len(data) > limits[name]:
            raise BadRequest(
                f'The form field "{name}" is larger than {limits[name]:,} bytes.', status=413, type="too_large"
            )
        fields[name] = Part(name, data, filename)
        at = end + 2 + len(delimiter)
