"""Pickle-only snapshots: converted once by ``warm``, served only as safetensors, refused when anything disagrees.

The fake Hub serves tiny models with opus-mt-en-fr's and distilbart's real file
sets (tests/hub_repos/), so the pickles are downloaded, named and linked in the
cache exactly as huggingface_hub does it for the real ones.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import torch

from inference import cli, convert, loader
from inference.errors import ModelLoadError
from inference.registry import DEFAULT_MODELS_FILE, ModelSpec, load_registry
from inference.runners import load_runner, weight_files
from tests.fakes.hub import FakeHub
from tests.fakes.specs import model_spec
from tests.hub_repos import build_repo, publish, record
from tests.tiny_models import write_registry

pytestmark = pytest.mark.slow

SENTENCE = "The meeting has been moved to Thursday afternoon."


@dataclass
class Served:
    hub: FakeHub
    folders: dict[str, Path]
    root: Path


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    root = tmp_path_factory.mktemp("pickle-repos")
    with FakeHub() as hub:
        yield Served(hub, publish(hub, root, ["translate-en-fr", "summarize"]), root)


@pytest.fixture
def hub(served: Served, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> FakeHub:
    """The fake Hub for this process, a fresh cache, and the default registry."""
    served.hub.use(monkeypatch)
    served.hub.clear()
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf-home"))
    monkeypatch.delenv("HF_HUB_CACHE", raising=False)
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setenv("MODELS_FILE", str(DEFAULT_MODELS_FILE))
    return served.hub


def default(name: str) -> ModelSpec:
    return load_registry(DEFAULT_MODELS_FILE).get(name)


def on_torch(name: str) -> ModelSpec:
    """The default entry served from its safetensors with torch (its own backend serves what warm converted)."""
    return dataclasses.replace(default(name), backend="torch", quantize="none")


def warmed(name: str) -> Path:
    """Warm one default entry as ``python -m inference warm NAME`` does; return the folder serving uses."""
    assert cli.main(["warm", name]) == 0
    return loader.weights_path(default(name))


def tokens(folder: Path) -> dict[str, torch.Tensor]:
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(folder, local_files_only=True)(SENTENCE, return_tensors="pt")


@pytest.mark.parametrize("name", ["translate-en-fr", "summarize"])
def test_the_converted_model_answers_exactly_as_the_pickle_did(
    name: str, hub: FakeHub, served: Served, monkeypatch: pytest.MonkeyPatch
) -> None:
    from transformers import AutoModelForSeq2SeqLM

    folder = warmed(name)
    assert folder == loader.conversion_dir(default(name))
    assert not list(folder.glob("*.bin")), "the converted folder holds no pickle"
    converted = AutoModelForSeq2SeqLM.from_pretrained(folder, use_safetensors=True, local_files_only=True).eval()
    pickled = AutoModelForSeq2SeqLM.from_pretrained(served.folders[name], use_safetensors=False).eval()
    inputs = tokens(folder)
    start = torch.tensor([[pickled.config.decoder_start_token_id]])
    before, after = pickled.state_dict(), converted.state_dict()
    assert before.keys() == after.keys() and all(torch.equal(before[k], after[k]) for k in before)
    with torch.inference_mode():
        # The same bits in differently laid-out memory (mapped safetensors, unpickled tensors) may round the last
        # float32 place differently in a matrix product; answers are the same.
        logits = [model(**inputs, decoder_input_ids=start).logits for model in (converted, pickled)]
        assert torch.allclose(*logits, rtol=0, atol=1e-6)
        settings = {"max_new_tokens": 8, "do_sample": False, "num_beams": 1}
        assert torch.equal(converted.generate(**inputs, **settings), pickled.generate(**inputs, **settings))
    # Marian and BART share one embedding matrix between the encoder, the decoder and the output layer.
    shared = converted.get_input_embeddings().weight
    assert converted.get_output_embeddings().weight.data_ptr() == shared.data_ptr()
    assert converted.get_encoder().embed_tokens.weight.data_ptr() == shared.data_ptr()


def test_the_manifest_records_the_sha256_of_the_source_and_of_the_result(hub: FakeHub, served: Served) -> None:
    folder = warmed("translate-en-fr")
    manifest = json.loads((folder / loader.CONVERSION_MANIFEST).read_text())
    source = hashlib.sha256((served.folders["translate-en-fr"] / "pytorch_model.bin").read_bytes()).hexdigest()
    assert manifest["source"] == "Helsinki-NLP/opus-mt-en-fr@dd7f6540a7a48a7f4db59e5c0b9c42c8eea67f18"
    assert manifest["pickles"] == {"pytorch_model.bin": source}
    assert manifest["converted"] == {
        "model.safetensors": hashlib.sha256((folder / "model.safetensors").read_bytes()).hexdigest()
    }
    assert manifest["architecture"] == "MarianMTModel"
    assert {"torch", "transformers", "safetensors"} <= set(manifest["converted_with"])
    assert sorted(p.name for p in folder.iterdir()) == sorted(
        [
            *(set(record("translate-en-fr").files) - {"pytorch_model.bin", ".gitattributes", "README.md"}),
            "model.safetensors",
            "conversion.json",
        ]
    ), "the configs and tokenizer files are copied beside the safetensors"


def test_serving_offline_finds_the_conversion_and_prefetches_it(hub: FakeHub, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = warmed("translate-en-fr")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    spec = on_torch("translate-en-fr")
    assert weight_files(spec) == [folder / "model.safetensors"]
    result = load_runner(spec).run(SENTENCE, dict(spec.parameters))
    assert isinstance(result["translation"], str)


def test_serving_never_downloads_a_pickle_and_says_to_warm(hub: FakeHub) -> None:
    with pytest.raises(ModelLoadError) as caught:
        loader.weights_path(default("summarize"))
    message = str(caught.value)
    assert "summarize: sshleifer/distilbart-cnn-12-6@a4f8f3e has only pickled weights (pytorch_model.bin)" in message
    assert "Run `python -m inference warm summarize` to convert them" in message
    assert not hub.calls(path="/resolve/"), "nothing is downloaded to serve a pickle-only snapshot"


def test_a_safetensors_snapshot_never_fetches_its_pickle(served: Served, hub: FakeHub, tmp_path: Path) -> None:
    repo = record("sentiment")
    hub.add_repo(repo.repo, build_repo(repo, tmp_path / "sentiment"), revision=repo.revision)
    assert cli.main(["warm", "sentiment"]) == 0
    assert hub.calls(path="/resolve/") and not hub.calls(path="pytorch_model.bin")


def test_a_changed_conversion_is_refused_until_warm_converts_again(hub: FakeHub) -> None:
    spec = on_torch("translate-en-fr")
    folder = warmed("translate-en-fr")
    with (folder / "model.safetensors").open("ab") as weights:
        weights.write(b"\0")
    with pytest.raises(ModelLoadError) as caught:
        load_runner(spec)
    assert f"translate-en-fr: the converted weights in {folder} do not match their manifest" in str(caught.value)
    assert "Run `python -m inference warm --force translate-en-fr`" in str(caught.value)
    assert cli.main(["warm", "translate-en-fr"]) == 0, "warm sees the change and converts again"
    assert load_runner(spec).run(SENTENCE, {})["translation"] is not None


def test_a_conversion_of_another_revision_is_refused(hub: FakeHub) -> None:
    folder = warmed("translate-en-fr")
    manifest = json.loads((folder / loader.CONVERSION_MANIFEST).read_text())
    manifest["source"] = "Helsinki-NLP/opus-mt-en-fr@0000000000000000000000000000000000000000"
    (folder / loader.CONVERSION_MANIFEST).write_text(json.dumps(manifest))
    with pytest.raises(ModelLoadError, match="it was converted from Helsinki-NLP/opus-mt-en-fr@0000000"):
        loader.weights_path(default("translate-en-fr"))


def test_warm_keeps_a_current_conversion_and_force_makes_it_again(hub: FakeHub) -> None:
    weights = warmed("translate-en-fr") / "model.safetensors"
    first = weights.stat().st_ino
    assert cli.main(["warm", "translate-en-fr"]) == 0
    assert weights.stat().st_ino == first
    assert cli.main(["warm", "--force", "translate-en-fr"]) == 0
    assert weights.stat().st_ino != first


def test_a_pickle_that_is_not_what_the_hub_lists_is_not_converted(hub: FakeHub) -> None:
    spec = default("translate-en-fr")
    snapshot = loader.download(spec, for_conversion=True)
    blob = (snapshot / "pytorch_model.bin").resolve()
    blob.chmod(0o644)
    blob.write_bytes(blob.read_bytes() + b"\0")
    with pytest.raises(ModelLoadError, match=r"pytorch_model\.bin in the cache does not have the sha256 the Hub lists"):
        convert.convert(spec, snapshot)


class _RunsCode:
    """Unpickling this calls ``os.system``: what a malicious checkpoint does."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[object, tuple[str]]:
        return os.system, (f"touch {self.marker}",)


def hub_entry(name: str, repo: str, revision: str) -> dict[str, object]:
    return {"name": name, "task": "translation", "model": repo, "revision": revision, "memory": 1024}


def test_a_pickle_that_runs_code_is_refused_and_the_code_never_runs(
    served: Served, hub: FakeHub, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "evil"
    shutil.copytree(served.folders["translate-en-fr"], folder)
    marker = tmp_path / "the-code-ran"
    state = torch.load(folder / "pytorch_model.bin", weights_only=True)
    torch.save({**state, "payload": _RunsCode(marker)}, folder / "pytorch_model.bin")
    revision = hub.add_repo("owner/evil-opus", folder)
    monkeypatch.setenv(
        "MODELS_FILE", str(write_registry(tmp_path / "models.yaml", [hub_entry("evil", "owner/evil-opus", revision)]))
    )
    assert cli.main(["warm", "evil"]) == 1
    assert not marker.exists()
    with pytest.raises(ModelLoadError, match=r"evil: pytorch_model\.bin holds more than tensors"):
        convert.convert(load_registry().get("evil"), loader.download(load_registry().get("evil"), for_conversion=True))


def test_a_checkpoint_that_lacks_a_weight_is_refused(
    served: Served, hub: FakeHub, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "partial"
    shutil.copytree(served.folders["translate-en-fr"], folder)
    state = torch.load(folder / "pytorch_model.bin", weights_only=True)
    del state["model.encoder.layers.0.fc1.weight"]
    torch.save(state, folder / "pytorch_model.bin")
    revision = hub.add_repo("owner/partial-opus", folder)
    monkeypatch.setenv(
        "MODELS_FILE",
        str(write_registry(tmp_path / "models.yaml", [hub_entry("partial", "owner/partial-opus", revision)])),
    )
    spec = load_registry().get("partial")
    with pytest.raises(
        ModelLoadError, match=r"lack or misshape model\.encoder\.layers\.0\.fc1\.weight of MarianMTModel"
    ):
        convert.convert(spec, loader.download(spec, for_conversion=True))
    assert not loader.conversion_dir(spec).exists()


def test_a_checkpoint_in_torchs_old_tar_format_converts(
    served: Served, hub: FakeHub, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "legacy"
    shutil.copytree(served.folders["translate-en-fr"], folder)
    state = torch.load(folder / "pytorch_model.bin", weights_only=True)
    torch.save(state, folder / "pytorch_model.bin", _use_new_zipfile_serialization=False)
    revision = hub.add_repo("owner/legacy-opus", folder)
    monkeypatch.setenv(
        "MODELS_FILE",
        str(write_registry(tmp_path / "models.yaml", [hub_entry("legacy", "owner/legacy-opus", revision)])),
    )
    assert cli.main(["warm", "legacy"]) == 0
    assert load_runner(load_registry().get("legacy")).run(SENTENCE, {})["translation"] is not None


def test_a_local_pickle_only_folder_is_refused_with_the_reason(served: Served, tmp_path: Path) -> None:
    spec = model_spec("local-opus", folder=served.folders["translate-en-fr"], task="translation")
    with pytest.raises(ModelLoadError) as caught:
        loader.weights_path(spec)
    assert "has only pickled weights (pytorch_model.bin)" in str(caught.value)
    assert "`warm` converts pinned Hub snapshots only" in str(caught.value)


def test_a_conversion_from_another_pickle_is_refused(hub: FakeHub) -> None:
    folder = warmed("translate-en-fr")
    manifest = json.loads((folder / loader.CONVERSION_MANIFEST).read_text())
    manifest["pickles"] = {"pytorch_model.bin": "0" * 64}
    (folder / loader.CONVERSION_MANIFEST).write_text(json.dumps(manifest))
    with pytest.raises(
        ModelLoadError, match=r"the snapshot's pytorch_model\.bin is not the file it was converted from"
    ):
        loader.weights_path(default("translate-en-fr"))


def test_a_checkpoint_in_shards_converts(
    served: Served, hub: FakeHub, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "sharded"
    shutil.copytree(served.folders["translate-en-fr"], folder)
    state = torch.load(folder / "pytorch_model.bin", weights_only=True)
    (folder / "pytorch_model.bin").unlink()
    names = sorted(state)
    shards = {"pytorch_model-00001-of-00002.bin": names[::2], "pytorch_model-00002-of-00002.bin": names[1::2]}
    for shard, keys in shards.items():
        torch.save({key: state[key] for key in keys}, folder / shard)
    index = {"metadata": {}, "weight_map": {key: shard for shard, keys in shards.items() for key in keys}}
    (folder / "pytorch_model.bin.index.json").write_text(json.dumps(index))
    revision = hub.add_repo("owner/sharded-opus", folder)
    registry = write_registry(tmp_path / "models.yaml", [hub_entry("sharded", "owner/sharded-opus", revision)])
    monkeypatch.setenv("MODELS_FILE", str(registry))
    assert cli.main(["warm", "sharded"]) == 0
    spec = load_registry().get("sharded")
    manifest = json.loads((loader.conversion_dir(spec) / loader.CONVERSION_MANIFEST).read_text())
    assert sorted(manifest["pickles"]) == sorted(shards)
    assert not (loader.conversion_dir(spec) / "pytorch_model.bin.index.json").exists()
    assert load_runner(spec).run(SENTENCE, {})["translation"] is not None
