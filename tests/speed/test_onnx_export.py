"""Exporting to ONNX: what ``warm`` writes, where, when it exports again, and what it refuses."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from inference import cli, onnx_export
from inference.errors import ModelLoadError
from inference.onnx_export import export_model, is_current
from inference.registry import ModelSpec, Registry
from inference.runners import load_runner
from inference.runners.onnx_files import (
    INT8_FILE,
    MANIFEST,
    MODEL_FILE,
    TOKENIZER_FILE,
    OnnxManifest,
    export_dir,
)

pytestmark = pytest.mark.slow

PIN = "0123456789abcdef0123456789abcdef01234567"


def test_export_sits_beside_the_weights_with_its_tokenizer_and_manifest(onnx_registry: Registry) -> None:
    spec = onnx_registry.get("onnx-sentiment")
    folder = export_dir(spec)
    assert folder == spec.local_path / "onnx-export" / "text-classification"
    # Weights sit in a side file that ONNX Runtime maps instead of copying; everyone may read them.
    assert {p.name for p in folder.iterdir()} == {MODEL_FILE, f"{MODEL_FILE}.data", TOKENIZER_FILE, MANIFEST}
    assert all(p.stat().st_mode & 0o444 == 0o444 for p in folder.iterdir())
    manifest = OnnxManifest.read(folder)
    assert manifest.task == "text-classification"
    assert manifest.labels == {"0": "NEGATIVE", "1": "POSITIVE"}
    assert manifest.limit == 32  # the classifier's tokenizer limit, as the torch runner reads it
    assert manifest.inputs == ["input_ids", "attention_mask"]  # the tokenizer's model_input_names
    assert not manifest.int8


def test_int8_graph_is_written_only_when_the_entry_asks(onnx_registry: Registry) -> None:
    features = export_dir(onnx_registry.get("onnx-features"))
    assert (features / INT8_FILE).is_file() and OnnxManifest.read(features).int8
    assert not (export_dir(onnx_registry.get("onnx-similarity")) / INT8_FILE).exists()
    int8_weights, weights = (features / f"{name}.data" for name in (INT8_FILE, MODEL_FILE))
    assert int8_weights.stat().st_size < weights.stat().st_size


def test_hub_exports_sit_in_the_cache_beside_the_snapshot_keyed_by_revision(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    monkeypatch.delenv("HF_HUB_CACHE", raising=False)
    spec = ModelSpec(
        name="sentiment",
        task="text-classification",
        model="owner/model",
        revision=PIN,
        title="",
        description="",
        example="",
        memory=1024,
        timeout=60,
        command="/sentiment",
        backend="onnx",
    )
    expected = tmp_path / "hf" / "hub" / "models--owner--model" / "onnx-export" / PIN / "text-classification"
    assert export_dir(spec) == expected


def test_warm_keeps_a_current_export_and_redoes_it_with_force(
    onnx_models: Path, onnx_registry: Registry, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("MODELS_FILE", str(onnx_models))
    spec = onnx_registry.get("onnx-similarity")
    graph = export_dir(spec) / MODEL_FILE
    before = graph.stat().st_mtime_ns
    assert cli.main(["warm", "onnx-similarity"]) == 0
    assert graph.stat().st_mtime_ns == before
    assert f"onnx-similarity: ONNX export ready in {export_dir(spec)}" in capsys.readouterr().out
    assert cli.main(["warm", "--force", "onnx-similarity"]) == 0
    assert graph.stat().st_mtime_ns != before
    assert is_current(spec, export_dir(spec))
    assert not [p for p in export_dir(spec).parent.iterdir() if p.name.startswith(".")]  # no staging left behind


def test_generation_tasks_are_refused_naming_the_entry(
    onnx_models: Path, onnx_registry: Registry, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    spec = onnx_registry.get("onnx-summarize")
    for attempt in (load_runner, export_model):
        with pytest.raises(ModelLoadError, match=r"onnx-summarize: the onnx backend does not serve summarization"):
            attempt(spec)
    monkeypatch.setenv("MODELS_FILE", str(onnx_models))
    assert cli.main(["warm", "onnx-summarize"]) == 1
    assert "set `backend: torch` for this entry" in capsys.readouterr().err


def test_a_missing_export_says_which_command_makes_it(onnx_registry: Registry, tmp_path: Path) -> None:
    spec = dataclasses.replace(onnx_registry.get("onnx-sentiment"), local_path=tmp_path)
    with pytest.raises(ModelLoadError, match=r"no ONNX export .* `python -m inference warm onnx-sentiment`"):
        load_runner(spec)


def test_an_entry_asking_for_int8_needs_the_int8_graph(onnx_registry: Registry) -> None:
    spec = onnx_registry.get("onnx-similarity")
    int8 = dataclasses.replace(spec, parameters={"onnx_quantize": True})
    assert not is_current(int8, export_dir(int8))
    with pytest.raises(ModelLoadError, match=r"has no int8 graph\. Run `python -m inference warm onnx-similarity`"):
        load_runner(int8)
    with pytest.raises(ModelLoadError, match=r"`onnx_quantize` must be true or false"):
        load_runner(dataclasses.replace(spec, parameters={"onnx_quantize": "yes"}))


def test_an_export_for_another_task_or_format_is_not_used(onnx_registry: Registry, tmp_path: Path) -> None:
    source = export_dir(onnx_registry.get("onnx-sentiment"))
    spec = dataclasses.replace(onnx_registry.get("onnx-sentiment"), local_path=tmp_path)
    folder = export_dir(spec)
    folder.mkdir(parents=True)
    manifest = json.loads((source / MANIFEST).read_text())
    (folder / MANIFEST).write_text(json.dumps({**manifest, "task": "zero-shot-classification"}))
    with pytest.raises(ModelLoadError, match="was made for zero-shot-classification"):
        load_runner(spec)
    (folder / MANIFEST).write_text(json.dumps({**manifest, "format": 99}))
    with pytest.raises(ModelLoadError, match="cannot be read"):
        load_runner(spec)


def test_without_the_exporters_packages_warm_says_what_to_install(
    onnx_registry: Registry, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = onnx_export.importlib.util.find_spec
    monkeypatch.setattr(
        onnx_export.importlib.util, "find_spec", lambda name: None if name == "onnxscript" else real(name)
    )
    with pytest.raises(ModelLoadError, match=r"needs onnxscript, .* `pip install onnxscript`"):
        export_model(onnx_registry.get("onnx-similarity"), force=True)


def test_exporting_again_for_an_fp32_entry_keeps_the_int8_graph_another_entry_runs(onnx_registry: Registry) -> None:
    int8_entry = onnx_registry.get("onnx-features")
    fp32_twin = dataclasses.replace(int8_entry, name="features-fp32", parameters={})
    folder = export_model(fp32_twin, force=True)
    assert (folder / INT8_FILE).is_file() and OnnxManifest.read(folder).int8
    assert load_runner(int8_entry).run("A man is eating food.", {})["dimensions"] == 32
