"""A Slack message's file, found and downloaded safely, on its way to a model.

A file model (:func:`bot.core.uploads.reads_files`) reads the file of the message that mentions the
bot, of the thread's parent, or of the message a shortcut was run on. Finding it is pure
(:func:`pick_file`, for the plan); getting it is the lazy half's, never the ack's:
:func:`fetch_file` takes the event's file object (or asks ``files.info`` when the event has only a
stub), downloads it with the bot token and hands the bytes to :func:`bot.core.uploads.put_file`.

The bot token goes only to Slack's file host and to the Slack API the bot is configured with
(``SLACK_API_URL``; in tests, the fake on 127.0.0.1): a URL is compared with them as a whole
(scheme, host and port, read once by :func:`bot.core.slack_ops.url_origin`, the host as written
lower case), and any other is never fetched. ``url_private_download`` is preferred because it answers
with the bytes, where ``url_private`` answers some files with a 302 to another host (curie-eng/curie#2715,
measured against Slack, 2026-09-15). A redirect is still followed, at most :data:`MAX_REDIRECTS` hops,
each checked again, since on Enterprise Grid ``files.slack.com`` redirects to ``files-origin.slack.com``
(NousResearch/hermes-agent#114483); that host is accepted as a hop, never as where a download starts.
The size Slack states is checked before anything is fetched, the bytes are counted against the kind's
cap while they arrive, and the whole download has a deadline.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Iterable
from dataclasses import dataclass
from http.client import HTTPException
from typing import Any
from urllib.error import HTTPError, URLError
from urllib.parse import urlsplit
from urllib.request import HTTPRedirectHandler, OpenerDirector, Request, build_opener

from bot.core.services import Services
from bot.core.slack_ops import SlackError, url_origin
from bot.core.uploads import put_file
from inference.media import HEAD_BYTES, FileRef, check_size
from inference.registry import ModelSpec
from inference.tasks import media_kind

logger = logging.getLogger(__name__)

Origin = tuple[str, str, int]
#: Where Slack serves files from.
SLACK_FILES: Origin = ("https", "files.slack.com", 443)
#: Where a download from :data:`SLACK_FILES` may be redirected (Enterprise Grid), and only redirected.
SLACK_FILE_REDIRECTS: frozenset[Origin] = frozenset({("https", "files-origin.slack.com", 443)})
MAX_REDIRECTS = 3
#: Seconds for each connect and read, and for the whole download.
SOCKET_SECONDS, DOWNLOAD_SECONDS = 10.0, 30.0
CHUNK_BYTES = 64 * 1024
#: A Slack file id (``F0123ABCD``).
_FILE_ID = re.compile(r"^F[A-Z0-9]{2,40}$")
#: What an HTML page (Slack's sign-in page, where a file was expected) starts with, in lower case.
_HTML_STARTS = (b"<!doctype html", b"<html", b"<head", b"<!--")

CANT_READ = "I can't read that file"
#: Why Slack would not hand a file over, by its error code.
_REFUSALS = {
    "file_not_found": "Slack says it does not exist (or I may not see it). Share it in a channel I'm in.",
    "file_deleted": "it was deleted.",
    "not_in_channel": "I'm not in the channel it was shared in. Invite me, or share it again where I am.",
    "missing_scope": "this app may not read files yet (it needs the `files:read` scope; reinstall it).",
}


class FileProblem(Exception):
    """A file that cannot reach its model; ``str()`` says why, in words for the thread."""


@dataclass(frozen=True)
class SlackFile:
    """What the bot needs of a Slack file object: where to download it, how large Slack says it is, its name."""

    id: str
    url: str
    size: int | None
    name: str

    @classmethod
    def of(cls, value: dict[str, Any]) -> SlackFile | None:
        """The file, or None for a stub (``file_access: check_file_info``, or no URL): ask ``files.info``."""
        url = value.get("url_private_download") or value.get("url_private")
        if value.get("file_access") == "check_file_info" or not isinstance(url, str) or not url:
            return None
        size = value.get("size")
        known = size if isinstance(size, int) and not isinstance(size, bool) and size >= 0 else None
        return cls(str(value.get("id", "")), url, known, str(value.get("name") or value.get("title") or ""))


def message_files(message: object) -> list[dict[str, Any]]:
    """The file objects of a message or event (its ``files``); none where it has none or they are malformed."""
    files = message.get("files") if isinstance(message, dict) else None
    return [f for f in files if isinstance(f, dict)] if isinstance(files, list) else []


def pick_file(files: Iterable[dict[str, Any]], kind: str | None) -> dict[str, Any] | None:
    """The file a model of ``kind`` reads: the first Slack calls that kind (any image or audio when
    ``kind`` is None), else the first file at all, whose content then says what it is."""
    listed = [f for f in files if f.get("mode") != "tombstone"]
    kinds = (kind,) if kind else ("image", "audio")
    typed = [f for f in listed if str(f.get("mimetype", "")).split("/", 1)[0] in kinds]
    return (typed or listed or [None])[0]


def file_id(value: dict[str, Any]) -> str | None:
    """The file's id, if it is one Slack would make (it goes into a modal's metadata and ``files.info``)."""
    found = value.get("id")
    return found if isinstance(found, str) and _FILE_ID.fullmatch(found) else None


def file_origins(api_url: str) -> frozenset[Origin]:
    """Where a download may start: Slack's file host and the Slack API the bot is configured with."""
    api = url_origin(api_url)
    return frozenset({SLACK_FILES} | ({api} if api else set()))


def origin_of(url: str) -> Origin | None:
    """(scheme, host, port) of ``url``; None where parsers could read it apart, or its host is not written
    as compared (upper case, a trailing dot): such a URL is never Slack's own."""
    origin = url_origin(url)
    if origin is None:
        return None
    parts = urlsplit(url)
    written = parts.netloc if parts.port is None else parts.netloc.rsplit(":", 1)[0]
    return origin if written == origin[1] else None


class _CheckedRedirects(HTTPRedirectHandler):
    """Follow a redirect only to an allowed origin, and only a few times; anything else ends the download."""

    max_redirections = MAX_REDIRECTS

    def __init__(self, allowed: frozenset[Origin]) -> None:
        self.allowed = allowed

    def redirect_request(self, req: Request, fp: Any, code: int, msg: str, headers: Any, newurl: str) -> Any:
        origin = origin_of(newurl)
        if origin not in self.allowed:
            logger.warning("file download redirected off Slack (%s): not followed", origin or "unreadable URL")
            raise FileProblem(f"{CANT_READ}: Slack sent it from somewhere else, and I only read files from Slack.")
        return super().redirect_request(req, fp, code, msg, headers, newurl)


def _opener(origins: frozenset[Origin]) -> OpenerDirector:
    return build_opener(_CheckedRedirects(origins | SLACK_FILE_REDIRECTS))


def _looks_like_html(head: bytes) -> bool:
    return head.lstrip(b"\xef\xbb\xbf \t\r\n").lower().startswith(_HTML_STARTS)


def download(
    file: SlackFile,
    *,
    token: str,
    origins: frozenset[Origin],
    kind: str,
    model: str,
    opener: OpenerDirector | None = None,
) -> bytes:
    """The file's bytes, fetched with the bot token from an allowed origin only.

    Raises:
        InputTooLong: Slack says it is larger than ``kind``'s cap (nothing is fetched), or it grew past it.
        FileProblem: its URL is not Slack's; Slack refused (401, 403, 404), sent a page instead of the file,
            or did not send it in time.
    """
    if file.size is not None:
        check_size(file.size, kind=kind, model=model)
    if origin_of(file.url) not in origins:
        logger.warning("file %s is not on Slack's file host: not fetched", file.id or "?")
        raise FileProblem(f"{CANT_READ}: it is not stored on Slack, and I only read files from Slack.")
    deadline = time.monotonic() + DOWNLOAD_SECONDS
    request = Request(file.url, headers={"Authorization": f"Bearer {token}"})  # noqa: S310 (origin checked above)
    chunks: list[bytes] = []
    total = 0
    try:
        with (opener or _opener(origins)).open(request, timeout=SOCKET_SECONDS) as response:
            length = response.headers.get("Content-Length", "")
            if length.isdigit():
                check_size(int(length), kind=kind, model=model)
            while chunk := response.read1(CHUNK_BYTES):  # one socket read each: the deadline holds
                total += len(chunk)
                check_size(total, kind=kind, model=model)
                if time.monotonic() > deadline:
                    raise FileProblem(f"{CANT_READ}: Slack took too long to send it. Try again in a moment.")
                chunks.append(chunk)
    except HTTPError as exc:
        exc.close()
        if exc.code in (401, 403, 404, 410):
            raise FileProblem(
                f"{CANT_READ}: Slack would not hand it over (HTTP {exc.code}). Share it in a channel I'm in, or share it again."
            ) from None
        raise FileProblem(f"{CANT_READ}: Slack did not send it (HTTP {exc.code}). Try again in a moment.") from None
    except (URLError, HTTPException, OSError) as exc:
        logger.warning("file download failed: %s", type(exc).__name__)
        raise FileProblem(f"{CANT_READ}: Slack did not send it. Try again in a moment.") from None
    data = b"".join(chunks)
    if _looks_like_html(data[:HEAD_BYTES]):
        raise FileProblem(
            f"{CANT_READ}: Slack sent a sign-in page instead of the file, so I may not read it. "
            "Share it in a channel I'm in, or share it again."
        )
    return data


def resolve(services: Services, value: dict[str, Any]) -> SlackFile:
    """The event's file, asking ``files.info`` when the event carries only a stub.

    Raises:
        FileProblem: Slack would not say where the file is.
    """
    found = SlackFile.of(value)
    if found is not None:
        return found
    identifier = file_id(value)
    if identifier is None:
        raise FileProblem(f"{CANT_READ}: Slack did not say which file it is.")
    try:
        info = services.slack.file_info(identifier)
    except SlackError as exc:
        reason = _REFUSALS.get(exc.error, "Slack would not say where it is. Try again in a moment.")
        raise FileProblem(f"{CANT_READ}: {reason}") from exc
    found = SlackFile.of(info)
    if found is None:
        raise FileProblem(f"{CANT_READ}: Slack did not say where it is.")
    return found


def fetch_file(services: Services, spec: ModelSpec, value: dict[str, Any], *, request_id: str) -> FileRef:
    """Download a message's file for ``spec`` and store it for the model (:func:`bot.core.uploads.put_file`).

    Raises:
        FileProblem: the file could not be had from Slack (see :func:`download`).
        InvalidInput: it is not a file ``spec`` reads (by its content), or larger than the kind's cap.
    """
    kind = media_kind(spec.task)
    if kind is None:
        raise FileProblem(f"{spec.name} reads text, not files.")
    found = resolve(services, value)
    data = download(
        found,
        token=services.settings.secrets.bot_token,
        origins=file_origins(services.settings.slack_api_url),
        kind=kind,
        model=spec.name,
    )
    return put_file(services.media, spec, data, name=found.name, request_id=request_id)
