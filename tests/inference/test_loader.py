"""Finding weights: local folders, the Hub cache, offline mode, and safetensors only.

``snapshot_download`` is patched where the loader uses it (the Hub is unreachable
here) and the tests assert what it was asked for.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from huggingface_hub.errors import LocalEntryNotFoundError

from inference import handler, loader
from inference.errors import ModelLoadError
from tests.fakes.specs import PIN, model_spec
from tests.tiny_models import write_registry


def snapshot(folder: Path, *files: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name in files:
        (folder / name).write_text("{}", encoding="utf-8")
    return folder


class FakeSnapshots:
    """Records ``snapshot_download`` calls; answers from the cache only when ``cached`` is set."""

    def __init__(self, cached: Path | None, fetched: Path | None = None) -> None:
        self.cached, self.fetched = cached, fetched
        self.calls: list[dict[str, Any]] = []

    def __call__(self, repo_id: str, **kwargs: Any) -> str:
        self.calls.append({"repo_id": repo_id, **kwargs})
        if kwargs["local_files_only"]:
            if self.cached is None:
                raise LocalEntryNotFoundError("not cached")
            return str(self.cached)
        assert self.fetched is not None
        return str(self.fetched)


@pytest.fixture
def listed(monkeypatch: pytest.MonkeyPatch) -> None:
    """The Hub lists a snapshot with safetensors (what ``download`` asks before fetching it)."""
    monkeypatch.setattr(loader, "hub_files", lambda spec: [loader.HubFile("model.safetensors", 8, "blob")])


@pytest.fixture
def hf_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / "hf-home"
    monkeypatch.setenv("HF_HOME", str(home))
    monkeypatch.delenv("HF_HUB_CACHE", raising=False)
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    return home


def test_download_asks_for_the_pinned_revision_and_only_safe_files(
    tmp_path: Path, hf_home: Path, monkeypatch: pytest.MonkeyPatch, listed: None
) -> None:
    fake = FakeSnapshots(cached=None, fetched=snapshot(tmp_path / "snap", "config.json", "model.safetensors"))
    monkeypatch.setattr(loader, "snapshot_download", fake)
    assert loader.download(model_spec()) == tmp_path / "snap"
    [call] = fake.calls
    assert call["repo_id"] == "owner/model"
    assert call["revision"] == PIN
    assert call["cache_dir"] == hf_home / "hub"
    assert call["local_files_only"] is False
    assert "*.safetensors" in call["allow_patterns"]
    assert not {"*.bin", "*.pt", "*.pth", "*.ckpt", "*.h5", "*.msgpack"} & set(call["allow_patterns"])


def test_a_warm_cache_never_reaches_for_the_network(
    tmp_path: Path, hf_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake = FakeSnapshots(cached=snapshot(tmp_path / "snap", "config.json", "model.safetensors"))
    monkeypatch.setattr(loader, "snapshot_download", fake)
    assert loader.weights_path(model_spec()) == tmp_path / "snap"
    assert [call["local_files_only"] for call in fake.calls] == [True]


def test_a_cold_cache_downloads_when_online(
    tmp_path: Path, hf_home: Path, monkeypatch: pytest.MonkeyPatch, listed: None
) -> None:
    fake = FakeSnapshots(cached=None, fetched=snapshot(tmp_path / "snap", "model.safetensors"))
    monkeypatch.setattr(loader, "snapshot_download", fake)
    assert loader.weights_path(model_spec()) == tmp_path / "snap"
    assert [call["local_files_only"] for call in fake.calls] == [True, False]


def test_offline_and_not_cached_says_to_warm(hf_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(ModelLoadError) as caught:
        loader.weights_path(model_spec())
    message = str(caught.value)
    assert "sentiment: owner/model@0123456 is not in the model cache" in message
    assert str(hf_home / "hub") in message
    assert "python -m inference warm sentiment" in message


def test_a_snapshot_without_safetensors_is_refused(
    tmp_path: Path, hf_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake = FakeSnapshots(cached=snapshot(tmp_path / "snap", "config.json", "tf_model.h5"))
    monkeypatch.setattr(loader, "snapshot_download", fake)
    with pytest.raises(ModelLoadError, match="owner/model@0123456 has no safetensors weights, and no PyTorch"):
        loader.weights_path(model_spec())


def test_a_pickle_only_snapshot_not_yet_converted_says_to_warm(
    tmp_path: Path, hf_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake = FakeSnapshots(cached=snapshot(tmp_path / "snap", "config.json", "pytorch_model.bin"))
    monkeypatch.setattr(loader, "snapshot_download", fake)
    with pytest.raises(ModelLoadError) as caught:
        loader.weights_path(model_spec())
    assert "owner/model@0123456 has only pickled weights (pytorch_model.bin)" in str(caught.value)
    assert "Run `python -m inference warm sentiment` to convert them" in str(caught.value)


def test_a_local_folder_is_used_as_is(tmp_path: Path) -> None:
    folder = snapshot(tmp_path / "local", "config.json", "model.safetensors")
    assert loader.weights_path(model_spec(revision=None, local_path=folder)) == folder


def test_a_missing_local_folder(tmp_path: Path) -> None:
    with pytest.raises(ModelLoadError, match=r"the model folder .*gone does not exist"):
        loader.weights_path(model_spec(revision=None, local_path=tmp_path / "gone"))


def test_a_local_folder_cannot_be_downloaded(tmp_path: Path) -> None:
    with pytest.raises(ModelLoadError, match="nothing to download"):
        loader.download(model_spec(revision=None, local_path=tmp_path))


def test_hf_hub_cache_wins_over_hf_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "cache"))
    assert loader.cache_dir() == tmp_path / "cache"


def test_offline_missing_model_through_the_handler(
    tmp_path: Path, hf_home: Path, monkeypatch: pytest.MonkeyPatch, use_registry
) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    entry = {"name": "sentiment", "task": "text-classification", "model": "owner/model", "revision": PIN}
    use_registry(write_registry(tmp_path / "models.yaml", [entry]), "sentiment")
    response = handler.handler({"text": "hello", "reply": {"channel": "C1"}}, None)
    assert response["error"]["type"] == "model_load_failed"
    assert "python -m inference warm sentiment" in response["error"]["message"]
    assert response["reply"] == {"channel": "C1"}
