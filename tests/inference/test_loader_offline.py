"""Offline, ``download(for_conversion=True)`` finds what an online one fetched, through huggingface_hub's real cache.

An online download leaves huggingface_hub's list of the revision's files
(``trees/<revision>.json``) in the cache. Asking offline for the pickle patterns
of a snapshot that has safetensors beside a ``pytorch_model.bin`` (sentiment's
pin) would make huggingface_hub call it incomplete, for a pickle ``warm`` never
fetched; a pickle-only snapshot (translate-en-fr's) needs its pickle and has it.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from inference import loader
from inference.registry import DEFAULT_MODELS_FILE, load_registry
from tests.fakes.hub import FakeHub
from tests.hub_repos import publish

ENTRIES = ["sentiment", "translate-en-fr"]


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FakeHub]:
    with FakeHub() as fake:
        publish(fake, tmp_path_factory.mktemp("offline-repos"), ENTRIES)
        yield fake


@pytest.mark.slow
@pytest.mark.parametrize("name", ENTRIES)
def test_offline_a_conversion_finds_the_snapshot_an_online_download_filled(
    hub: FakeHub, name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf_home"))
    monkeypatch.delenv("HF_HUB_CACHE", raising=False)
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    spec = load_registry(DEFAULT_MODELS_FILE).get(name)
    with pytest.MonkeyPatch.context() as online:
        hub.use(online)
        fetched = loader.download(spec, for_conversion=True)
    assert list((loader.repo_folder(spec) / "trees").glob("*.json")), "huggingface_hub listed the revision's files"
    names = {path.name for path in fetched.iterdir()}
    pickle_only = not loader.has_safetensors(names)
    assert ("pytorch_model.bin" in names) is pickle_only, "the pickle is fetched only when there is nothing else"

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    hub.clear()
    assert loader.download(spec, for_conversion=True) == fetched
    assert hub.calls() == []
