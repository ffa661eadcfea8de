"""Exporting to ONNX: what ``warm`` writes, where, when it exports again, and what it refuses."""

from __future__ import annotations

import dataclasses
import json
import shutil
from importlib.metadata import version
from pathlib import Path

import pytest

from inference import cli, onnx_export
from inference.conversions import RECORD, Record, backend_folder, convert_entry, home
from inference.errors import ModelLoadError
from inference.registry import Registry
from inference.runners import load_runner
from inference.runners.onnx_files import MANIFEST, MODEL_FILE, TOKENIZER_FILE, OnnxManifest
from tests.fakes.specs import PIN, model_spec
from tests.tiny_models import minilm_dir

pytestmark = pytest.mark.slow


def _files(folder: Path) -> dict[str, tuple[int, int]]:
    return {
        path.relative_to(folder).as_posix(): (path.stat().st_size, path.stat().st_mtime_ns)
        for path in folder.rglob("*")
    }


def test_export_sits_under_hf_home_keyed_by_folder_runtime_quantization_and_task(onnx_registry: Registry) -> None:
    spec = onnx_registry.get("onnx-sentiment")
    folder = backend_folder(spec)
    made_for = f"onnxruntime-{version('onnxruntime')}"
    assert folder.relative_to(home() / "conversions").parts[0] == "local--classifier"
    assert folder.relative_to(home() / "conversions").parts[2:] == (made_for, "none", "text-classification")
    # Weights sit in a side file that ONNX Runtime maps instead of copying; everyone may read them.
    assert {p.name for p in folder.iterdir()} == {MODEL_FILE, f"{MODEL_FILE}.data", TOKENIZER_FILE, MANIFEST, RECORD}
    assert all(p.stat().st_mode & 0o444 == 0o444 for p in folder.iterdir())
    manifest = OnnxManifest.read(folder)
    assert manifest.labels == {"0": "NEGATIVE", "1": "POSITIVE"}
    assert manifest.limit == 32  # the classifier's tokenizer limit, as the torch runner reads it
    assert manifest.inputs == ["input_ids", "attention_mask"]  # the tokenizer's model_input_names
    record = Record.read(folder)
    assert (record.entry, record.backend, record.runtime, record.quantize, record.task, record.refused) == (
        "onnx-sentiment",
        "onnx",
        "onnxruntime",
        "none",
        "text-classification",
        None,
    )
    assert record.source == str(spec.local_path)


def test_the_int8_graph_is_its_own_conversion_and_smaller(onnx_registry: Registry) -> None:
    int8 = backend_folder(onnx_registry.get("onnx-features"))
    fp32 = backend_folder(dataclasses.replace(onnx_registry.get("onnx-features"), quantize="none"))
    assert int8.parent.name == "int8" and fp32.parent.name == "none"
    assert not (fp32 / MODEL_FILE).exists(), "only the int8 graph was asked for"
    assert {p.name for p in int8.iterdir()} >= {MODEL_FILE, f"{MODEL_FILE}.data"}
    similarity = backend_folder(onnx_registry.get("onnx-similarity"))  # the same encoder, in fp32
    assert (int8 / f"{MODEL_FILE}.data").stat().st_size < (similarity / f"{MODEL_FILE}.data").stat().st_size


def test_warm_never_writes_into_the_model_folder(minilm_onnx: Registry, onnx_registry: Registry) -> None:
    """Not into an installed package's folder (all-MiniLM), not into a local model folder."""
    assert minilm_onnx.get("minilm").local_path == minilm_dir()
    assert not [p for p in minilm_dir().rglob("*") if "onnx" in p.name]
    spec = onnx_registry.get("onnx-similarity")
    assert spec.local_path is not None
    before = _files(spec.local_path)
    convert_entry(spec, spec.local_path, force=True)
    assert _files(spec.local_path) == before


def test_hub_exports_are_keyed_by_revision(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    spec = model_spec(backend="onnx", quantize="int8")  # owner/model, pinned at PIN
    runtime = f"onnxruntime-{version('onnxruntime')}"
    expected = tmp_path / "hf" / "conversions" / "models--owner--model" / PIN / runtime / "int8" / "text-classification"
    assert backend_folder(spec) == expected


def test_warm_keeps_a_current_export_and_redoes_it_with_force(
    onnx_models: Path, onnx_registry: Registry, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("MODELS_FILE", str(onnx_models))
    spec = onnx_registry.get("onnx-similarity")
    graph = backend_folder(spec) / MODEL_FILE
    before = graph.stat().st_mtime_ns
    assert cli.main(["warm", "onnx-similarity"]) == 0
    assert graph.stat().st_mtime_ns == before
    assert f"onnx-similarity: onnx conversion ready in {backend_folder(spec)}" in capsys.readouterr().out
    assert cli.main(["warm", "--force", "onnx-similarity"]) == 0
    assert graph.stat().st_mtime_ns != before
    assert load_runner(spec).run("A man is eating food. | A man is eating bread.", {})["scores"]
    assert not [p for p in backend_folder(spec).parent.iterdir() if p.name.startswith(".")]  # no staging left


def test_an_edited_model_folder_is_not_served_its_old_export(onnx_registry: Registry, tmp_path: Path) -> None:
    spec = onnx_registry.get("onnx-sentiment")
    assert spec.local_path is not None
    copy = tmp_path / "classifier"
    shutil.copytree(spec.local_path, copy)
    edited = dataclasses.replace(spec, local_path=copy)
    convert_entry(edited, copy)
    assert load_runner(edited).run("great news", {})["labels"]
    config = copy / "config.json"
    config.write_text(config.read_text() + "\n")
    with pytest.raises(ModelLoadError, match=r"no onnx conversion .* `python -m inference warm onnx-sentiment`"):
        load_runner(edited)


def test_a_missing_export_says_which_command_makes_it(onnx_registry: Registry) -> None:
    spec = onnx_registry.get("onnx-not-exported")
    with pytest.raises(ModelLoadError, match=r"no onnx conversion .* `python -m inference warm onnx-not-exported`"):
        load_runner(spec)
    int8 = dataclasses.replace(onnx_registry.get("onnx-similarity"), quantize="int8")
    with pytest.raises(ModelLoadError, match=r"\(int8\) in .* `python -m inference warm onnx-similarity`"):
        load_runner(int8)


def test_an_export_of_another_format_is_not_used(onnx_registry: Registry, tmp_path: Path) -> None:
    spec = onnx_registry.get("onnx-sentiment")
    assert spec.local_path is not None
    copy = tmp_path / "classifier"
    shutil.copytree(spec.local_path, copy)
    spec = dataclasses.replace(spec, local_path=copy)
    folder, _ = convert_entry(spec, copy)
    manifest = json.loads((folder / MANIFEST).read_text())
    (folder / MANIFEST).write_text(json.dumps({**manifest, "format": 99}))
    with pytest.raises(ModelLoadError, match=r"cannot be read .* `python -m inference warm --force onnx-sentiment`"):
        load_runner(spec)
    record = json.loads((folder / RECORD).read_text())
    (folder / RECORD).write_text(json.dumps({**record, "format": 99}))
    with pytest.raises(ModelLoadError, match=r"cannot be read .* `python -m inference warm onnx-sentiment`"):
        load_runner(spec)


def test_without_the_exporters_packages_warm_says_what_to_install(
    onnx_registry: Registry, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = onnx_export.importlib.util.find_spec
    monkeypatch.setattr(
        onnx_export.importlib.util, "find_spec", lambda name: None if name == "onnxscript" else real(name)
    )
    spec = onnx_registry.get("onnx-similarity")
    with pytest.raises(ModelLoadError, match=r"needs onnxscript, .* inference/requirements-convert\.txt"):
        convert_entry(spec, spec.local_path or Path(), force=True)
    assert load_runner(spec), "a failed export leaves the previous one in place"
