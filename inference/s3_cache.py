"""The model cache's part for one entry, copied to an S3 prefix and back: the offline deploy's way to fill EFS.

``python -m inference warm --to-s3 s3://bucket/prefix`` warms the entries on any
machine that reaches the Hub and then :func:`upload` copies, for each entry, what
its function reads from the cache; the deploy's warm step (``-c warm_source=...``)
runs :func:`restore` into the EFS cache through the VPC's S3 gateway endpoint,
then warms the entry offline from what it copied. Under the prefix, keys mirror
the cache, relative to ``HF_HOME``:

- ``hub/models--owner--name/snapshots/<revision>/...``: the pinned snapshot as the cache
  holds it, as plain files (S3 has no links; huggingface_hub reads a snapshot's files
  either way). huggingface_hub's list of the revision's files (``trees/<revision>.json``)
  stays behind: offline, it would call the snapshot incomplete for the files ``warm``
  never fetched (a pickle beside the safetensors, other frameworks' weights);
- ``conversions/...``: the entry's safetensors conversion (a pickle-only snapshot)
  and its backend's conversion (:mod:`inference.conversions`), each keyed by runtime
  version as on disk, so the images' pins must be the machine's (both images and
  ``warm`` install ``inference/requirements.txt``).

A folder's record (``warm.json``, ``conversion.json``) is copied last, in both
directions, so a copy cut short is never taken for a finished conversion; each
file is written beside its place and renamed into it. A file already there with
the same size is not copied again, so a restore that ran out of time resumes.

boto3 is imported when the first client is made (the Lambda base image ships it;
elsewhere ``pip install boto3``); every function takes a ``client`` for tests.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from inference import conversions
from inference.backends import BACKENDS
from inference.errors import ModelLoadError
from inference.registry import ModelSpec

HUB = "hub"
#: Written last: their presence says the folder is complete.
RECORDS = frozenset({conversions.RECORD, "conversion.json"})
#: huggingface_hub's files of a download in progress, never copied.
PARTIAL_SUFFIXES = (".incomplete", ".lock")
_BUCKET = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
#: The S3 calls :func:`restore` makes (the warm function's permissions: infra/warm.py).
RESTORE_CALLS = ("ListObjectsV2", "GetObject")


class S3CacheError(ModelLoadError):
    """Copying an entry's cache to or from S3 failed; the message names the entry and the reason."""


@dataclass(frozen=True)
class Copied:
    """How much one :func:`upload` or :func:`restore` copied (files already in place are not counted)."""

    files: int
    bytes: int

    @property
    def megabytes(self) -> str:
        return f"{self.bytes / 1e6:,.1f} MB"


def parse_s3_url(url: str) -> tuple[str, str]:
    """``s3://bucket/some/prefix`` as ``("bucket", "some/prefix")`` (no slash at either end of the prefix).

    Raises:
        ValueError: not an ``s3://`` URL with a valid bucket name and a prefix.
    """
    scheme, _, rest = url.partition("://")
    bucket, _, prefix = rest.partition("/")
    prefix = prefix.strip("/")
    if scheme != "s3" or not _BUCKET.match(bucket) or not prefix or ".." in prefix.split("/"):
        raise ValueError(f"expected s3://BUCKET/PREFIX (a bucket name and a folder in it), got {url!r}")
    return bucket, prefix


def _client(client: Any) -> Any:
    if client is not None:
        return client
    try:
        import boto3
    except ImportError:  # pragma: no cover - boto3 is in every environment the project runs
        raise S3CacheError("copying the cache to or from S3 needs boto3: pip install boto3") from None
    return boto3.client("s3")


def _parts(spec: ModelSpec) -> list[tuple[Path, str]]:
    """The folders and files of the cache that serving ``spec`` reads, each with its key under the prefix.

    Raises:
        S3CacheError: the entry is a local folder (a deployed entry is a pinned Hub id).
    """
    from inference.loader import cache_dir, conversion_dir, repo_folder

    if spec.local_path or not spec.revision:
        raise S3CacheError(
            f"{spec.name}: the model is the local folder {spec.local_path}; only pinned Hub entries are deployed, "
            "so only they are copied to S3"
        )
    repo = repo_folder(spec)
    hub_key = f"{HUB}/{repo.relative_to(cache_dir()).as_posix()}"
    parts = [(repo / "snapshots" / spec.revision, f"{hub_key}/snapshots/{spec.revision}")]
    folders = [conversion_dir(spec)]
    if BACKENDS[spec.backend].runtime is not None:
        folders.append(conversions.backend_folder(spec))
    home = conversions.home()
    parts += [(folder, folder.relative_to(home).as_posix()) for folder in folders]
    return parts


def _records_last(items: list[tuple[Any, str]]) -> list[tuple[Any, str]]:
    return sorted(items, key=lambda item: (PurePosixPath(item[1]).name in RECORDS, item[1]))


def _local_files(spec: ModelSpec) -> Iterator[tuple[Path, str]]:
    """(file, key) for every file of ``spec``'s part of the cache, links followed, partial downloads left out."""
    for path, key in _parts(spec):
        if path.is_file():
            yield path, key
        elif path.is_dir():
            for file in sorted(path.rglob("*")):
                if file.is_file() and not file.name.endswith(PARTIAL_SUFFIXES):
                    yield file, f"{key}/{file.relative_to(path).as_posix()}"


def upload(spec: ModelSpec, *, bucket: str, prefix: str, client: Any = None) -> Copied:
    """Copy ``spec``'s snapshot and conversions from the local cache to ``s3://bucket/prefix`` (records last).

    Raises:
        S3CacheError: the entry is not warmed here (run ``warm`` first), or S3 refused a file.
    """
    client = _client(client)
    files = _records_last(list(_local_files(spec)))
    snapshot = _parts(spec)[0][0]
    if not snapshot.is_dir():
        raise S3CacheError(f"{spec.name}: its snapshot is not in the cache ({snapshot}): warm it first")
    size = 0
    for path, key in files:
        try:
            client.upload_file(str(path), bucket, f"{prefix}/{key}")
        except Exception as exc:  # botocore's errors (and S3Transfer's) have no common base worth importing
            raise S3CacheError(f"{spec.name}: cannot upload {path} to s3://{bucket}/{prefix}/{key}: {exc}") from exc
        size += path.stat().st_size
    return Copied(files=len(files), bytes=size)


def _remote_files(client: Any, bucket: str, prefix: str, spec: ModelSpec) -> list[tuple[dict[str, Any], str]]:
    """(S3 object, relative key) under each of ``spec``'s parts."""
    found: list[tuple[dict[str, Any], str]] = []
    for _, key in _parts(spec):
        paginator = client.get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=bucket, Prefix=f"{prefix}/{key}"):
            for item in page.get("Contents", []):
                relative = item["Key"][len(prefix) + 1 :]
                if relative == key or relative.startswith(f"{key}/"):
                    found.append((item, relative))
    return found


def _destination(relative: str, spec: ModelSpec) -> Path:
    """Where a key relative to the prefix goes under ``HF_HOME`` (the Hub cache for ``hub/``); never outside it."""
    from inference.loader import cache_dir

    parts = PurePosixPath(relative).parts
    if not parts or any(part in ("", ".", "..") for part in parts) or relative.startswith("/"):
        raise S3CacheError(f"{spec.name}: refusing the S3 key {relative!r}, which leaves the cache")
    if parts[0] == HUB:
        return cache_dir().joinpath(*parts[1:])
    return conversions.home().joinpath(*parts)


def restore(spec: ModelSpec, *, bucket: str, prefix: str, client: Any = None) -> Copied:
    """Copy ``spec``'s snapshot and conversions from ``s3://bucket/prefix`` into the cache (records last).

    Raises:
        S3CacheError: the prefix holds no snapshot of the entry (naming the command that puts it
            there), or S3 refused a call.
    """
    client = _client(client)
    try:
        remote = _records_last(_remote_files(client, bucket, prefix, spec))
    except Exception as exc:
        raise S3CacheError(f"{spec.name}: cannot list s3://{bucket}/{prefix}: {exc}") from exc
    snapshot_key = _parts(spec)[0][1]
    if not any(relative.startswith(f"{snapshot_key}/") for _, relative in remote):
        raise S3CacheError(
            f"{spec.name}: s3://{bucket}/{prefix} holds no snapshot of {spec.model}@{spec.revision}: run "
            f"`python -m inference warm --to-s3 s3://{bucket}/{prefix} {spec.name}` on a machine that reaches the Hub"
        )
    copied = size = 0
    for item, relative in remote:
        path = _destination(relative, spec)
        if path.is_file() and path.stat().st_size == item["Size"]:
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(f".{path.name}.s3-{os.getpid()}")
        try:
            client.download_file(bucket, item["Key"], str(partial))
            partial.chmod(0o644)
            partial.replace(path)
        except Exception as exc:
            partial.unlink(missing_ok=True)
            raise S3CacheError(f"{spec.name}: cannot copy s3://{bucket}/{item['Key']} into {path}: {exc}") from exc
        copied, size = copied + 1, size + int(item["Size"])
    return Copied(files=copied, bytes=size)
