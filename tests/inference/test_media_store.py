"""Files wait a day for their model, in a folder locally and in S3 in AWS, under keys this project made only."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

from inference import media
from inference.errors import InputTooLong, InvalidInput
from inference.media_store import EXPIRY_SECONDS, FileGone, FolderStore, S3Store, store_from_env

KEY = media.upload_key("ab12cd34", media.PNG)
BUCKET = "hf-media-test"


@pytest.fixture
def s3() -> Iterator[Any]:
    with mock_aws():
        client = boto3.client("s3", region_name="us-east-1")
        client.create_bucket(Bucket=BUCKET)
        yield client


@pytest.fixture(params=["folder", "s3"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Any]:
    if request.param == "folder":
        yield FolderStore(tmp_path / "media")
        return
    with mock_aws():
        client = boto3.client("s3", region_name="us-east-1")
        client.create_bucket(Bucket=BUCKET)
        yield S3Store(BUCKET, client=client)


def test_a_stored_file_comes_back_whole(store: Any) -> None:
    store.put(KEY, b"\x89PNG\r\n\x1a\n data", mime="image/png")
    assert store.get(KEY, max_bytes=100) == b"\x89PNG\r\n\x1a\n data"


def test_a_file_never_stored_or_expired_is_gone_in_words(store: Any) -> None:
    with pytest.raises(FileGone, match=r"no longer stored \(files are kept 1 day\); send it again"):
        store.get(KEY, max_bytes=100)
    assert isinstance(FileGone(), InvalidInput)


def test_a_stored_file_larger_than_asked_is_refused_unread(store: Any) -> None:
    store.put(KEY, bytes(2048), mime="image/png")
    with pytest.raises(InputTooLong, match="more than the 1 KB allowed"):
        store.get(KEY, max_bytes=1024)


@pytest.mark.parametrize("key", ["../outside.png", "uploads/ab/../../x.png", "annotated", "/tmp/x"])
def test_no_key_but_ours_reaches_the_store(store: Any, key: str) -> None:
    with pytest.raises(InvalidInput, match="not the key of a stored file"):
        store.put(key, b"x", mime="image/png")
    with pytest.raises(InvalidInput, match="not the key of a stored file"):
        store.get(key, max_bytes=10)


def test_the_bucket_keeps_the_type_by_content(s3: Any) -> None:
    S3Store(BUCKET, client=s3).put(KEY, b"\x89PNG\r\n\x1a\n", mime="image/png")
    assert s3.head_object(Bucket=BUCKET, Key=KEY)["ContentType"] == "image/png"


def test_the_folder_writes_atomically_and_sweeps_out_a_day_old_files(tmp_path: Path) -> None:
    now = [time.time()]
    store = FolderStore(tmp_path, clock=lambda: now[0])
    old = media.upload_key("0ld", media.PNG)
    store.put(old, b"old", mime="image/png")
    for path in (tmp_path / old, (tmp_path / old).parent):
        os.utime(path, (now[0] - EXPIRY_SECONDS - 1,) * 2)
    store.put(KEY, b"new", mime="image/png")
    assert not (tmp_path / old).exists()
    assert (tmp_path / old).parent.exists()  # changed just now (its file went): kept until a sweep a day on
    assert store.get(KEY, max_bytes=10) == b"new"
    assert not list(tmp_path.rglob(".*.part"))
    now[0] += EXPIRY_SECONDS + 10
    assert store.sweep() == 1
    assert not (tmp_path / old).parent.exists()
    with pytest.raises(FileGone):
        store.get(KEY, max_bytes=10)


def test_the_model_side_finds_its_store_in_the_environment(tmp_path: Path) -> None:
    assert store_from_env({}) is None
    folder = store_from_env({"MEDIA_DIR": str(tmp_path)})
    assert isinstance(folder, FolderStore) and folder.root == tmp_path
    bucket = store_from_env({"MEDIA_BUCKET": BUCKET, "MEDIA_DIR": str(tmp_path)})
    assert isinstance(bucket, S3Store) and bucket.bucket == BUCKET


def test_a_missing_key_the_function_may_not_list_is_gone_too(caplog: pytest.LogCaptureFixture) -> None:
    """Without ``s3:ListBucket`` (neither side has it), S3 answers a missing key with AccessDenied, not NoSuchKey."""
    from botocore.exceptions import ClientError

    class Denying:
        def get_object(self, **_: Any) -> Any:
            raise ClientError({"Error": {"Code": "AccessDenied", "Message": "Access Denied"}}, "GetObject")

    with pytest.raises(FileGone):
        S3Store(BUCKET, client=Denying()).get(KEY, max_bytes=10)
    assert "AccessDenied, taken as an expired file (or check the grants)" in caplog.text  # an operator can tell
