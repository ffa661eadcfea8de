"""Where a file waits between the router and its model: an S3 bucket in AWS, a folder locally.

The router puts an upload (:func:`inference.media.upload_key`) and passes its key; the model gets it,
and may put an annotated copy (:func:`inference.media.annotated_key`) that the router gets back to
post in Slack. Files are kept a day: the bucket's lifecycle rule expires them, and the folder sweeps
out older ones whenever it stores a new one. Both refuse keys this project did not make
(:func:`inference.media.check_key`), so no request can name a path or another object.

boto3 is imported only by :class:`S3Store`, on first use.
"""

from __future__ import annotations

import logging
import os
import tempfile
import time
from collections.abc import Mapping
from functools import cached_property
from pathlib import Path
from typing import Any, Protocol

from inference.errors import InputTooLong, InvalidInput
from inference.media import FileRef, check_file, check_key, clean_name, describe_size, upload_key

logger = logging.getLogger(__name__)

#: The bucket (AWS) or the folder (locally) a model function reads files from.
MEDIA_BUCKET_ENV, MEDIA_DIR_ENV = "MEDIA_BUCKET", "MEDIA_DIR"
#: How long a stored file is kept: as the bucket's lifecycle rule (infra), so both agree.
EXPIRY_DAYS = 1
EXPIRY_SECONDS = EXPIRY_DAYS * 86_400


class FileGone(InvalidInput):
    """The key names no stored file: it expired (after :data:`EXPIRY_DAYS`), or never was."""

    def __init__(self) -> None:
        super().__init__(f"The file is no longer stored (files are kept {EXPIRY_DAYS} day); send it again.")


class MediaStore(Protocol):
    """Stores files by key for a day."""

    def put(self, key: str, data: bytes, *, mime: str) -> None:
        """Store ``data`` under ``key``."""
        ...

    def get(self, key: str, *, max_bytes: int) -> bytes:
        """The file under ``key``.

        Raises:
            FileGone: there is none.
            InputTooLong: it is larger than ``max_bytes`` (it is not read).
        """
        ...


def _too_large(size: int, max_bytes: int) -> InputTooLong:
    return InputTooLong(f"The stored file is {describe_size(size)}, more than the {describe_size(max_bytes)} allowed.")


class FolderStore:
    """Files under a local folder (``DATA_DIR/media`` for ``python -m bot serve``), written atomically."""

    def __init__(self, root: Path, *, clock: Any = time.time) -> None:
        self.root, self._clock = Path(root), clock

    def _path(self, key: str) -> Path:
        return self.root / check_key(key)

    def put(self, key: str, data: bytes, *, mime: str) -> None:
        path = self._path(key)
        self.sweep()
        path.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=".", suffix=".part")
        try:
            with os.fdopen(handle, "wb") as file:
                file.write(data)
            os.replace(temporary, path)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise

    def get(self, key: str, *, max_bytes: int) -> bytes:
        path = self._path(key)
        try:
            size = path.stat().st_size
            if size > max_bytes:
                raise _too_large(size, max_bytes)
            return path.read_bytes()
        except FileNotFoundError:
            raise FileGone() from None

    def sweep(self) -> int:
        """Delete the files older than :data:`EXPIRY_SECONDS`, and their folders once empty; how many files went.

        A folder goes only when it has been unchanged as long, so one another request just made stays.
        """
        cutoff, removed = self._clock() - EXPIRY_SECONDS, 0
        if not self.root.is_dir():
            return 0
        for folder in sorted(self.root.glob("*/*")):
            for path in folder.iterdir():
                try:
                    if path.stat().st_mtime < cutoff:
                        path.unlink()
                        removed += 1
                except FileNotFoundError:
                    continue
            try:
                if folder.stat().st_mtime < cutoff:
                    folder.rmdir()  # only when empty
            except OSError:
                pass
        return removed


class S3Store:
    """Files in the stack's media bucket (encrypted, private, TLS only, expiring after a day: ``infra/media.py``)."""

    def __init__(self, bucket: str, *, client: Any = None) -> None:
        self.bucket = bucket
        if client is not None:
            self.__dict__["client"] = client

    @cached_property
    def client(self) -> Any:
        import boto3

        return boto3.client("s3")

    def put(self, key: str, data: bytes, *, mime: str) -> None:
        self.client.put_object(Bucket=self.bucket, Key=check_key(key), Body=data, ContentType=mime)

    def get(self, key: str, *, max_bytes: int) -> bytes:
        from botocore.exceptions import ClientError

        try:
            response = self.client.get_object(Bucket=self.bucket, Key=check_key(key))
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code")
            if code in ("AccessDenied", "403"):
                # Neither side may list the bucket (infra/media.py), so S3 answers a missing key so too; a broken
                # grant or endpoint policy would read the same, so the operator hears of it here.
                logger.warning(
                    "s3://%s/%s: AccessDenied, taken as an expired file (or check the grants)", self.bucket, key
                )
                raise FileGone() from None
            if code in ("NoSuchKey", "404", "NotFound"):
                raise FileGone() from None
            raise
        size = int(response.get("ContentLength") or 0)
        body = response["Body"]
        try:
            if size > max_bytes:
                raise _too_large(size, max_bytes)
            data = body.read(max_bytes + 1)
        finally:
            body.close()
        if len(data) > max_bytes:
            raise _too_large(len(data), max_bytes)
        return data


def store_upload(store: MediaStore, data: bytes, *, kind: str, model: str, name: str, request_id: str) -> FileRef:
    """Check ``data`` by its content for ``model``, which reads ``kind`` files, store it for a day, and return what
    a request carries: the one way a file is handed to a model (the router's Slack files and form uploads,
    ``python -m inference run --file``).

    Raises:
        InvalidInput: the file is empty; UnsupportedFile: of another kind, or a type it cannot read.
        InputTooLong: the file is larger than its kind's cap.
    """
    media_type = check_file(data, kind=kind, model=model)
    key = upload_key(request_id, media_type)
    store.put(key, data, mime=media_type.mime)
    return FileRef(key, media_type, clean_name(name, media_type), len(data))


def store_from_env(environ: Mapping[str, str] = os.environ) -> MediaStore | None:
    """The model side's store: the bucket ``MEDIA_BUCKET`` names, else the folder ``MEDIA_DIR`` names, else none."""
    if environ.get(MEDIA_BUCKET_ENV):
        return S3Store(environ[MEDIA_BUCKET_ENV])
    if environ.get(MEDIA_DIR_ENV):
        return FolderStore(Path(environ[MEDIA_DIR_ENV]))
    return None
