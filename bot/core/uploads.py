"""A file on its way to a model: checked by content, stored, and named in the request.

Slack's files (:mod:`bot.slack.files`) and the form's uploads (:mod:`bot.form.routes`) both come here
once their bytes are in hand, so one check decides what a model is sent and one message says why not.
"""

from __future__ import annotations

from inference.errors import InvalidInput
from inference.media import FileRef
from inference.media_store import MediaStore, store_upload
from inference.registry import ModelSpec
from inference.tasks import media_kind


def reads_files(spec: ModelSpec) -> bool:
    """Whether ``spec``'s task reads a file (an image, audio) rather than text alone."""
    return media_kind(spec.task) is not None


def put_file(media: MediaStore, spec: ModelSpec, data: bytes, *, name: str, request_id: str) -> FileRef:
    """Check ``data`` for ``spec`` by its content, store it in ``media`` for a day and return what the request
    carries (Slack's files and the form's uploads alike).

    Raises:
        InvalidInput: ``spec`` reads text, or the file is empty, of another kind, or a type it cannot read.
        InputTooLong: the file is larger than its kind's cap.
    """
    kind = media_kind(spec.task)
    if kind is None:
        raise InvalidInput(f"{spec.name} reads text, not files: type the text instead.")
    return store_upload(media, data, kind=kind, model=spec.name, name=name, request_id=request_id)
