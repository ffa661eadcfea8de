"""The offline deploy's path against moto's S3: ``warm --to-s3`` on a machine, the warm step's copy into EFS.

``python -m inference warm --to-s3 s3://bucket/prefix sentiment`` fills a cache
from the fake Hub and copies the entry's snapshot and conversion to S3; the warm
handler, with ``WARM_SOURCE`` set, no Hub and ``HF_HUB_OFFLINE=1`` (an offline
stack), copies them into an empty ``HF_HOME`` and the model answers from it.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

from inference import cli, s3_cache, warm_handler
from inference.registry import DEFAULT_MODELS_FILE, load_registry
from tests.fakes.hub import FakeHub
from tests.fakes.slack_client import LambdaContext
from tests.hub_repos import publish
from tests.inference.test_warm_handler import ENTRY, answer_offline, resource_event

BUCKET, PREFIX = "hf-cache-test", "deploys/cache"
REVISION = load_registry(DEFAULT_MODELS_FILE).get(ENTRY).revision


@pytest.fixture
def s3(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": "eu-west-1",
    }.items():
        monkeypatch.setenv(name, value)
    with mock_aws():
        client = boto3.client("s3", region_name="eu-west-1")
        client.create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
        yield client


def keys(client: Any) -> list[str]:
    pages = client.get_paginator("list_objects_v2").paginate(Bucket=BUCKET, Prefix=f"{PREFIX}/")
    return [item["Key"][len(PREFIX) + 1 :] for page in pages for item in page.get("Contents", [])]


def use_home(monkeypatch: pytest.MonkeyPatch, home: Path) -> None:
    monkeypatch.setenv("HF_HOME", str(home))
    monkeypatch.delenv("HF_HUB_CACHE", raising=False)
    monkeypatch.setenv("MODELS_FILE", str(DEFAULT_MODELS_FILE))


@pytest.mark.slow
def test_warm_to_s3_then_the_warm_step_fills_an_offline_cache_that_answers(
    s3: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    with FakeHub() as hub:
        publish(hub, tmp_path / "repos", [ENTRY])
        with monkeypatch.context() as machine:
            hub.use(machine)
            use_home(machine, tmp_path / "laptop")
            machine.delenv("HF_HUB_OFFLINE", raising=False)
            assert cli.main(["warm", "--to-s3", f"s3://{BUCKET}/{PREFIX}/", ENTRY]) == 0
    assert f"{ENTRY}: " in capsys.readouterr().out
    stored = keys(s3)
    repo = "hub/models--distilbert--distilbert-base-uncased-finetuned-sst-2-english"
    assert f"{repo}/snapshots/{REVISION}/config.json" in stored
    assert not [key for key in stored if "/trees/" in key], "huggingface_hub's list of the revision's files stays"
    records = [key for key in stored if key.startswith("conversions/") and key.endswith("/warm.json")]
    assert len(records) == 1 and "/onnxruntime-" in records[0] and "/int8/" in records[0]
    assert not [key for key in stored if key.endswith((".bin", ".h5", ".ot", ".incomplete"))]

    # The deploy's warm step in an offline stack: no Hub, an empty EFS, the S3 prefix as its source.
    efs = tmp_path / "efs"
    use_home(monkeypatch, efs)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_ENDPOINT", "http://127.0.0.1:9")
    monkeypatch.setenv(warm_handler.WARM_SOURCE_ENV, f"s3://{BUCKET}/{PREFIX}")
    context = LambdaContext(function_name="hfslackbot-warm", deadline=time.monotonic() + 900)
    result = warm_handler.handler(resource_event("Create"), context)
    assert Path(result["Data"]["Folder"]).is_relative_to(efs)
    answer = answer_offline(monkeypatch, ENTRY, "I love how quickly this team ships.")
    assert "error" not in answer, answer

    spec = load_registry().get(ENTRY)
    again = s3_cache.restore(spec, bucket=BUCKET, prefix=PREFIX, client=s3)
    assert again.files == 0, "a second copy (a resumed one) copies only what is missing"


def test_upload_copies_records_last(s3: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    use_home(monkeypatch, tmp_path / "home")
    spec = load_registry().get(ENTRY)
    snapshot = tmp_path / "home" / "hub" / f"models--{spec.model.replace('/', '--')}" / "snapshots" / REVISION
    snapshot.mkdir(parents=True)
    (snapshot / "config.json").write_text("{}")
    from inference.conversions import backend_folder

    folder = backend_folder(spec)
    folder.mkdir(parents=True)
    for name in ("warm.json", "model.onnx", "tokenizer.json"):
        (folder / name).write_text(name)
    sent: list[str] = []

    class Recording:
        def upload_file(self, path: str, bucket: str, key: str) -> None:
            sent.append(key.rsplit("/", 1)[1])
            s3.upload_file(path, bucket, key)

    copied = s3_cache.upload(spec, bucket=BUCKET, prefix=PREFIX, client=Recording())
    assert copied.files == 4 and sent[-1] == "warm.json"


def test_restore_refuses_a_prefix_without_the_snapshot_naming_the_command(
    s3: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    use_home(monkeypatch, tmp_path / "home")
    spec = load_registry().get(ENTRY)
    with pytest.raises(s3_cache.S3CacheError) as failure:
        s3_cache.restore(spec, bucket=BUCKET, prefix=PREFIX, client=s3)
    assert str(failure.value).startswith(f"{ENTRY}: s3://{BUCKET}/{PREFIX} holds no snapshot of ")
    assert f"python -m inference warm --to-s3 s3://{BUCKET}/{PREFIX} {ENTRY}" in str(failure.value)


def test_restore_never_writes_outside_the_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    use_home(monkeypatch, tmp_path / "home")
    spec = load_registry().get(ENTRY)
    for key in ("hub/../../etc/passwd", "conversions/../../x", "/abs"):
        with pytest.raises(s3_cache.S3CacheError, match="leaves the cache"):
            s3_cache._destination(key, spec)
    assert s3_cache._destination("hub/models--a--b/snapshots/c/config.json", spec) == (
        tmp_path / "home" / "hub" / "models--a--b" / "snapshots" / "c" / "config.json"
    )


@pytest.mark.parametrize(
    ("url", "parsed"),
    [("s3://bucket/a/b/", ("bucket", "a/b")), ("s3://my.bucket-1/cache", ("my.bucket-1", "cache"))],
)
def test_an_s3_url_is_a_bucket_and_a_prefix(url: str, parsed: tuple[str, str]) -> None:
    assert s3_cache.parse_s3_url(url) == parsed


@pytest.mark.parametrize("url", ["s3://bucket", "s3://bucket/", "https://bucket/x", "s3://B/x", "s3://b/../x"])
def test_other_urls_are_refused(url: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(ValueError, match="expected s3://BUCKET/PREFIX"):
        s3_cache.parse_s3_url(url)
    with pytest.raises(SystemExit):
        cli.main(["warm", "--to-s3", url])
    assert "expected s3://BUCKET/PREFIX" in capsys.readouterr().err


def test_a_local_folder_entry_is_not_copied(tmp_path: Path) -> None:
    from dataclasses import replace

    spec = replace(load_registry(DEFAULT_MODELS_FILE).get(ENTRY), local_path=tmp_path, revision=None)
    with pytest.raises(s3_cache.S3CacheError, match="only pinned Hub entries are deployed"):
        s3_cache.upload(spec, bucket=BUCKET, prefix=PREFIX, client=object())


def test_warm_to_s3_names_the_entry_it_could_not_upload_and_exits_1(
    s3: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from inference import warming

    use_home(monkeypatch, tmp_path / "home")
    monkeypatch.setattr(warming, "warm_entry", lambda spec, **_: warming.Warmed(spec.name, tmp_path))
    snapshot = tmp_path / "home" / "hub" / "models--distilbert--distilbert-base-uncased-finetuned-sst-2-english"
    (snapshot / "snapshots" / REVISION).mkdir(parents=True)
    (snapshot / "snapshots" / REVISION / "config.json").write_text("{}")
    assert cli.main(["warm", "--to-s3", "s3://no-such-bucket-here/cache", ENTRY]) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"error: {ENTRY}: cannot upload ") and "NoSuchBucket" in err
    assert cli.main(["warm", "--to-s3", f"s3://{BUCKET}/{PREFIX}", "qa"]) == 1
    assert "error: qa: its snapshot is not in the cache" in capsys.readouterr().err
