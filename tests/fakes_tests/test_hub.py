"""The fake Hub, driven by huggingface_hub 2.4 itself: model_info, tree listings, downloads and errors."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx2
import numpy as np
import pytest
from huggingface_hub import HfApi, constants, get_hf_file_metadata, hf_hub_download, hf_hub_url, snapshot_download
from huggingface_hub.errors import (
    GatedRepoError,
    HfHubHTTPError,
    LocalEntryNotFoundError,
    RemoteEntryNotFoundError,
    RepositoryNotFoundError,
    RevisionNotFoundError,
)
from huggingface_hub.hf_api import RepoFile, RepoFolder
from safetensors.numpy import save_file

from tests.fakes.hub import FakeHub

REPO = "tiny-org/tiny-bert"
CONFIG = {"architectures": ["BertForMaskedLM"], "model_type": "bert", "hidden_size": 4}
README = "---\nlicense: apache-2.0\npipeline_tag: fill-mask\ntags: [tiny]\n---\n# A tiny model\n"
WEIGHT_FILES = {"model.safetensors", "pytorch_model.bin", "onnx/model.onnx"}  # stored with LFS on the Hub


@pytest.fixture(autouse=True)
def anonymous_online_client(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No token from the environment or a token file, and not offline, whatever the machine has."""
    for name in ("HF_TOKEN", "HUGGING_FACE_HUB_TOKEN", "HF_OIDC_RESOURCE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(constants, "HF_TOKEN_PATH", str(tmp_path / "no-token"))
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    """A tiny model repository: config, safetensors weights, tokenizer, a pickle-named file, a subfolder."""
    root = tmp_path / "repo"
    (root / "onnx").mkdir(parents=True)
    (root / "config.json").write_text(json.dumps(CONFIG))
    save_file(
        {"weight": np.arange(12, dtype=np.float32).reshape(4, 3), "bias": np.ones(3, np.float16)},
        root / "model.safetensors",
    )
    (root / "tokenizer.json").write_text(json.dumps({"version": "1.0", "model": {"vocab": {"[UNK]": 0, "a": 1}}}))
    (root / "pytorch_model.bin").write_bytes(bytes(range(256)) * 4)
    (root / "README.md").write_text(README)
    (root / "onnx" / "model.onnx").write_bytes(b"\x08\x07" * 50)
    return root


@pytest.fixture
def hub() -> Iterator[FakeHub]:
    with FakeHub() as fake:
        yield fake


def files_in(snapshot: str | Path) -> dict[str, bytes]:
    root = Path(snapshot)
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*") if p.is_file()}


def git_hash_object(data: bytes) -> str:
    """git's own blob sha1, to check the fake's oids independently."""
    return (
        subprocess.run(["git", "hash-object", "--stdin"], input=data, capture_output=True, check=True)
        .stdout.decode()
        .strip()
    )


# -- model_info ------------------------------------------------------------------------------


def test_model_info_lists_siblings_and_what_the_hub_computes(hub: FakeHub, folder: Path) -> None:
    sha = hub.add_repo(REPO, folder)
    info = HfApi(endpoint=hub.url).model_info(REPO)

    assert (info.id, info.sha, info.author, info.private, info.gated) == (REPO, sha, "tiny-org", False, False)
    assert sorted(s.rfilename for s in info.siblings) == sorted(files_in(folder))
    assert all(s.size is None and s.lfs is None for s in info.siblings)  # sizes only with files_metadata
    assert (info.pipeline_tag, info.library_name) == ("fill-mask", "transformers")
    assert info.config == {"architectures": ["BertForMaskedLM"], "model_type": "bert"}
    assert info.card_data is not None and info.card_data.license == "apache-2.0"
    assert info.safetensors is not None and info.safetensors.parameters == {"F32": 12, "F16": 3}
    assert info.safetensors.total == 15
    assert {"tiny", "transformers", "safetensors", "bert", "fill-mask", "license:apache-2.0"} <= set(info.tags)
    assert info.last_modified is not None and info.created_at is not None


def test_model_info_files_metadata_has_sizes_blob_ids_and_lfs(hub: FakeHub, folder: Path) -> None:
    hub.add_repo(REPO, folder)
    info = HfApi(endpoint=hub.url).model_info(REPO, files_metadata=True)

    siblings = {s.rfilename: s for s in info.siblings}
    for path, data in files_in(folder).items():
        assert siblings[path].size == len(data), path
        if path in WEIGHT_FILES:
            sha256 = hashlib.sha256(data).hexdigest()
            pointer = f"version https://git-lfs.github.com/spec/v1\noid sha256:{sha256}\nsize {len(data)}\n".encode()
            assert siblings[path].lfs == {"size": len(data), "sha256": sha256, "pointer_size": len(pointer)}
            assert siblings[path].blob_id == git_hash_object(pointer)  # the Hub's blobId is the pointer's
        else:
            assert siblings[path].lfs is None, path
            assert siblings[path].blob_id == git_hash_object(data)
    assert hub.calls("GET")[-1].query == {"blobs": ["true"]}


def test_info_overrides_and_expand(hub: FakeHub, folder: Path) -> None:
    overrides = {"pipeline_tag": "text-classification", "widgetData": [{"text": "I love it"}], "cardData": None}
    sha = hub.add_repo(REPO, folder, info=overrides)
    api = HfApi(endpoint=hub.url)

    info = api.model_info(REPO)
    assert (info.pipeline_tag, info.widget_data, info.card_data) == (
        "text-classification",
        [{"text": "I love it"}],
        None,
    )

    picked = api.model_info(REPO, expand=["sha", "pipeline_tag"])
    assert (picked.sha, picked.pipeline_tag, picked.siblings, picked.config) == (sha, "text-classification", None, None)


# -- tree listings ---------------------------------------------------------------------------


def test_tree_listing_recursive_flat_subfolder_and_paginated(hub: FakeHub, folder: Path) -> None:
    sha = hub.add_repo(REPO, folder)
    api = HfApi(endpoint=hub.url)

    everything = list(api.list_repo_tree(REPO, recursive=True))
    assert sorted(f.path for f in everything if isinstance(f, RepoFile)) == sorted(files_in(folder))
    assert [f.path for f in everything if isinstance(f, RepoFolder)] == ["onnx"]
    by_path = {f.path: f for f in everything if isinstance(f, RepoFile)}
    assert by_path["model.safetensors"].lfs is not None and by_path["config.json"].lfs is None
    assert all(f.xet_hash is None for f in by_path.values())

    top = {f.path for f in api.list_repo_tree(REPO, revision=sha)}
    assert top == {"config.json", "model.safetensors", "tokenizer.json", "pytorch_model.bin", "README.md", "onnx"}
    assert [f.path for f in api.list_repo_tree(REPO, "onnx")] == ["onnx/model.onnx"]

    hub.tree_page_size = 2
    hub.clear()
    assert [f.path for f in api.list_repo_tree(REPO, recursive=True)] == [f.path for f in everything]
    pages = hub.calls("GET", "/tree/")
    assert len(pages) == 4  # 7 entries, 2 per page, following the Link header
    assert [c.query.get("cursor") for c in pages] == [None, ["2"], ["4"], ["6"]]

    expanded = list(api.list_repo_tree(REPO, expand=True))
    assert {f.last_commit.oid for f in expanded if f.last_commit is not None} == {sha}


def test_tree_of_a_missing_folder_is_entry_not_found(hub: FakeHub, folder: Path) -> None:
    hub.add_repo(REPO, folder)
    with pytest.raises(RemoteEntryNotFoundError):
        list(HfApi(endpoint=hub.url).list_repo_tree(REPO, "nowhere"))


# -- downloads -------------------------------------------------------------------------------


def test_snapshot_download_fetches_exactly_the_allowed_files_then_works_offline(
    hub: FakeHub, folder: Path, tmp_path: Path
) -> None:
    sha = hub.add_repo(REPO, folder)
    cache = tmp_path / "cache"
    patterns = ["*.json", "*.safetensors"]

    path = snapshot_download(REPO, revision=sha, cache_dir=cache, allow_patterns=patterns, endpoint=hub.url)

    source = files_in(folder)
    wanted = {"config.json", "model.safetensors", "tokenizer.json"}
    assert Path(path).name == sha
    assert files_in(path) == {name: source[name] for name in wanted}
    assert not hub.calls(path="pytorch_model.bin")
    assert not hub.calls(path="xet")  # plain HTTP: nothing asked for Xet tokens
    blobs = {p.name for p in (cache / "models--tiny-org--tiny-bert" / "blobs").iterdir()}
    assert hashlib.sha256(source["model.safetensors"]).hexdigest() in blobs  # LFS blobs are named by sha256

    hub.clear()
    again = snapshot_download(REPO, revision=sha, cache_dir=cache, allow_patterns=patterns, local_files_only=True)
    assert again == path
    assert hub.calls() == []


def test_local_files_only_without_a_cached_snapshot_raises(tmp_path: Path) -> None:
    with pytest.raises(LocalEntryNotFoundError):
        snapshot_download(REPO, revision="a" * 40, cache_dir=tmp_path, local_files_only=True)


def test_main_follows_the_newest_revision_and_pins_stay_put(hub: FakeHub, folder: Path, tmp_path: Path) -> None:
    old = hub.add_repo(REPO, folder, refs=["v1"])
    (folder / "config.json").write_text(json.dumps({**CONFIG, "hidden_size": 8}))
    new = hub.add_repo(REPO, folder, revision="b" * 40)
    api = HfApi(endpoint=hub.url)

    assert new == "b" * 40 and old != new
    assert api.model_info(REPO).sha == new
    assert api.model_info(REPO, revision="main").sha == new
    assert api.model_info(REPO, revision=old).sha == old
    assert api.model_info(REPO, revision="v1").sha == old

    options: dict[str, Any] = {"cache_dir": tmp_path / "cache", "allow_patterns": ["config.json"], "endpoint": hub.url}
    latest = snapshot_download(REPO, **options)
    pinned = snapshot_download(REPO, revision=old, **options)
    assert Path(latest).name == new and json.loads(Path(latest, "config.json").read_text())["hidden_size"] == 8
    assert Path(pinned).name == old and json.loads(Path(pinned, "config.json").read_text())["hidden_size"] == 4


def test_file_headers_are_what_hf_hub_download_needs(hub: FakeHub, folder: Path) -> None:
    sha = hub.add_repo(REPO, folder)
    weights = (folder / "model.safetensors").read_bytes()
    url = hf_hub_url(REPO, "model.safetensors", revision="main", endpoint=hub.url)

    meta = get_hf_file_metadata(url, endpoint=hub.url)
    assert (meta.commit_hash, meta.size, meta.location) == (sha, len(weights), url)
    assert meta.etag == hashlib.sha256(weights).hexdigest()
    assert meta.xet_file_data is None

    plain = get_hf_file_metadata(hf_hub_url(REPO, "config.json", endpoint=hub.url))
    assert plain.etag == git_hash_object((folder / "config.json").read_bytes())

    head = httpx2.head(url)
    assert not [name for name in head.headers if name.lower().startswith("x-xet")]
    assert head.headers["x-linked-size"] == str(len(weights))

    part = httpx2.get(url, headers={"Range": "bytes=8-15"})
    assert (part.status_code, part.content) == (206, weights[8:16])
    assert part.headers["content-range"] == f"bytes 8-15/{len(weights)}"
    assert httpx2.get(url, headers={"Range": "bytes=-4"}).content == weights[-4:]
    assert httpx2.get(url, headers={"Range": f"bytes={len(weights)}-"}).status_code == 416


def test_throttled_download_takes_the_expected_time_and_shows_progress(
    hub: FakeHub, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    payload = os.urandom(24_000)
    (tmp_path / "repo").mkdir()
    (tmp_path / "repo" / "weights.bin").write_bytes(payload)
    hub.add_repo(REPO, tmp_path / "repo")
    hub.bytes_per_second = 24_000
    # huggingface_hub reads bodies 10 MiB at a time: progress on a small file shows only with smaller reads.
    monkeypatch.setattr(constants, "DOWNLOAD_CHUNK_SIZE", 2_000)
    updates: list[tuple[float, int]] = []

    class Recorder:
        """Just enough of tqdm for http_get: it records each update and when it came."""

        def __init__(self, **kwargs: Any) -> None:
            self.total = kwargs.get("total")

        def __enter__(self) -> Recorder:
            return self

        def __exit__(self, *exc: object) -> None:
            pass

        def update(self, n: int) -> None:
            updates.append((time.monotonic(), n))

    started = time.monotonic()
    path = hf_hub_download(REPO, "weights.bin", cache_dir=tmp_path / "cache", endpoint=hub.url, tqdm_class=Recorder)
    elapsed = time.monotonic() - started

    assert Path(path).read_bytes() == payload
    assert elapsed >= 1.0
    assert sum(n for _, n in updates) == len(payload)
    assert len(updates) >= 10
    assert updates[0][0] - started < elapsed / 2  # the first bytes arrived long before the last


def test_an_interrupted_download_resumes_with_a_range_request(
    hub: FakeHub, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    payload = os.urandom(20_000)
    (tmp_path / "repo").mkdir()
    (tmp_path / "repo" / "big.bin").write_bytes(payload)
    hub.add_repo(REPO, tmp_path / "repo")
    hub.cut_next(after_bytes=5_000, path="big.bin")
    monkeypatch.setattr(constants, "DOWNLOAD_CHUNK_SIZE", 1_000)  # so the first 5,000 bytes reach the file

    path = hf_hub_download(REPO, "big.bin", cache_dir=tmp_path / "cache", endpoint=hub.url)

    assert Path(path).read_bytes() == payload
    first, second = hub.calls("GET", "big.bin")
    assert first.fault == "cut" and "range" not in first.headers
    assert second.fault is None and second.headers["range"] == "bytes=5000-"


def test_fail_next_answers_500_once(hub: FakeHub, folder: Path) -> None:
    sha = hub.add_repo(REPO, folder)
    hub.fail_next(1, 500, path="/api/models/")
    api = HfApi(endpoint=hub.url)

    with pytest.raises(HfHubHTTPError) as failed:
        api.model_info(REPO)
    assert failed.value.response.status_code == 500
    assert api.model_info(REPO).sha == sha
    assert [c.fault for c in hub.calls()] == ["500", None]


# -- errors ----------------------------------------------------------------------------------


def test_unknown_repo_is_repository_not_found(hub: FakeHub, tmp_path: Path) -> None:
    api = HfApi(endpoint=hub.url)
    with pytest.raises(RepositoryNotFoundError) as info_error:
        api.model_info("nobody/nothing")
    with pytest.raises(RepositoryNotFoundError) as snapshot_error:
        snapshot_download("nobody/nothing", cache_dir=tmp_path, endpoint=hub.url)
    with pytest.raises(RepositoryNotFoundError) as file_error:
        hf_hub_download("nobody/nothing", "config.json", cache_dir=tmp_path, endpoint=hub.url)
    for error in (info_error, snapshot_error, file_error):
        assert not isinstance(error.value, GatedRepoError)
        assert error.value.response.status_code == 401  # anonymous, as the Hub answers
    with pytest.raises(RepositoryNotFoundError) as with_token:
        HfApi(endpoint=hub.url, token="hf_someone_else").model_info("nobody/nothing")
    assert with_token.value.response.status_code == 404


def test_unknown_revision_and_file(hub: FakeHub, folder: Path, tmp_path: Path) -> None:
    hub.add_repo(REPO, folder)
    with pytest.raises(RevisionNotFoundError):
        HfApi(endpoint=hub.url).model_info(REPO, revision="no-such-branch")
    with pytest.raises(RevisionNotFoundError):
        snapshot_download(REPO, revision="0" * 40, cache_dir=tmp_path, endpoint=hub.url)
    with pytest.raises(RevisionNotFoundError):
        hf_hub_download(REPO, "config.json", revision="no-such-branch", cache_dir=tmp_path, endpoint=hub.url)
    with pytest.raises(RemoteEntryNotFoundError):
        hf_hub_download(REPO, "missing.txt", cache_dir=tmp_path, endpoint=hub.url)


def test_private_repos_look_missing_without_the_token(hub: FakeHub, folder: Path, tmp_path: Path) -> None:
    sha = hub.add_repo(REPO, folder, private=True)
    with pytest.raises(RepositoryNotFoundError):
        HfApi(endpoint=hub.url).model_info(REPO)
    with pytest.raises(RepositoryNotFoundError):
        HfApi(endpoint=hub.url, token="hf_someone_else").model_info(REPO)
    with pytest.raises(RepositoryNotFoundError):
        snapshot_download(REPO, cache_dir=tmp_path, endpoint=hub.url)

    info = HfApi(endpoint=hub.url, token=hub.token).model_info(REPO)
    assert (info.sha, info.private) == (sha, True)
    path = snapshot_download(REPO, cache_dir=tmp_path, endpoint=hub.url, token=hub.token, allow_patterns=["*.json"])
    assert set(files_in(path)) == {"config.json", "tokenizer.json"}
    assert hub.calls()[-1].headers["authorization"] == f"Bearer {hub.token}"


def test_gated_repos_show_their_info_but_not_their_files(hub: FakeHub, folder: Path, tmp_path: Path) -> None:
    hub.add_repo(REPO, folder, gated=True)
    info = HfApi(endpoint=hub.url).model_info(REPO)
    assert info.gated == "auto" and info.siblings

    with pytest.raises(GatedRepoError) as anonymous:
        hf_hub_download(REPO, "config.json", cache_dir=tmp_path, endpoint=hub.url)
    assert anonymous.value.response.status_code == 401
    with pytest.raises(GatedRepoError) as not_granted:
        hf_hub_download(REPO, "config.json", cache_dir=tmp_path, endpoint=hub.url, token="hf_someone_else")
    assert not_granted.value.response.status_code == 403
    with pytest.raises(GatedRepoError):
        snapshot_download(REPO, cache_dir=tmp_path, endpoint=hub.url)

    path = hf_hub_download(REPO, "config.json", cache_dir=tmp_path, endpoint=hub.url, token=hub.token)
    assert json.loads(Path(path).read_text()) == CONFIG


# -- pointing huggingface_hub at the fake ----------------------------------------------------


def test_use_points_code_without_endpoint_at_the_fake(
    hub: FakeHub, folder: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sha = hub.add_repo(REPO, folder)
    hub.use(monkeypatch)

    assert HfApi().model_info(REPO).sha == sha
    path = snapshot_download(REPO, cache_dir=tmp_path, allow_patterns=["config.json"])
    assert Path(path, "config.json").read_bytes() == (folder / "config.json").read_bytes()
    assert hf_hub_download(REPO, "README.md", cache_dir=tmp_path).endswith("README.md")


def test_a_subprocess_finds_the_fake_through_hf_endpoint(hub: FakeHub, folder: Path) -> None:
    sha = hub.add_repo(REPO, folder)
    unset = ("HF_TOKEN", "HUGGING_FACE_HUB_TOKEN", "HF_OIDC_RESOURCE", "HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE")
    env = {k: v for k, v in os.environ.items() if k not in unset}
    code = f"from huggingface_hub import HfApi; print(HfApi().model_info({REPO!r}).sha)"
    result = subprocess.run(
        [sys.executable, "-c", code], env={**env, "HF_ENDPOINT": hub.url}, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == sha


# -- the fake itself -------------------------------------------------------------------------


def test_add_repo_checks_its_arguments_and_generates_stable_shas(folder: Path, tmp_path: Path) -> None:
    first, second = FakeHub(), FakeHub()
    assert first.add_repo(REPO, folder) == second.add_repo(REPO, folder)  # deterministic, no server needed
    with pytest.raises(ValueError, match="40 lower-case hex"):
        first.add_repo(REPO, folder, revision="abc")
    first.add_repo("o/n", folder, revision="c" * 40)
    with pytest.raises(ValueError, match="already has"):
        first.add_repo("o/n", folder, revision="c" * 40)
    with pytest.raises(ValueError, match="not a folder"):
        first.add_repo(REPO, tmp_path / "missing")
    with pytest.raises(ValueError, match="not a repo id"):
        first.add_repo("a/b/c", folder)


def test_close_cuts_a_throttled_download_short_and_frees_the_port(folder: Path) -> None:
    hub = FakeHub(bytes_per_second=1_000).start()
    hub.add_repo(REPO, folder)
    url = hf_hub_url(REPO, "pytorch_model.bin", endpoint=hub.url)  # 1,024 bytes: a second at this rate
    errors: list[BaseException] = []

    def fetch() -> None:
        try:
            httpx2.get(url, timeout=10)
        except httpx2.HTTPError as exc:
            errors.append(exc)

    downloading = threading.Thread(target=fetch)
    downloading.start()
    deadline = time.monotonic() + 5
    while not hub.calls("GET") and time.monotonic() < deadline:
        time.sleep(0.02)
    time.sleep(0.2)  # well into the body, far from its end
    started = time.monotonic()
    hub.close()
    downloading.join(timeout=5)

    assert time.monotonic() - started < 1.0
    assert not downloading.is_alive() and errors and isinstance(errors[0], httpx2.RemoteProtocolError)
    with pytest.raises(RuntimeError, match="not started"):
        _ = hub.url
    hub.close()  # twice is fine
