"""Reading the weights in the background while torch is imported: which files, and never an error."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from inference.conversions import RECORD, backend_folder
from inference.loader import prefetch
from inference.runners import weight_files
from tests.fakes.specs import PIN, model_spec


def touch(folder: Path, *names: str) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for name in names:
        (folder / name).write_bytes(b"x" * 10)


def test_torch_reads_the_safetensors_of_the_local_folder_or_the_pinned_snapshot(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    touch(tmp_path / "local", "model.safetensors", "config.json")
    assert weight_files(model_spec(folder=tmp_path / "local")) == [tmp_path / "local" / "model.safetensors"]
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hub"))
    snapshot = tmp_path / "hub" / "models--owner--model" / "snapshots" / PIN
    touch(snapshot, "model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors", "tokenizer.json")
    assert [p.name for p in weight_files(model_spec())] == [
        "model-00001-of-00002.safetensors",
        "model-00002-of-00002.safetensors",
    ]


def test_nothing_to_read_before_the_cache_is_filled(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "empty"))
    monkeypatch.setenv("HF_HOME", str(tmp_path / "empty"))
    assert weight_files(model_spec()) == []
    assert weight_files(model_spec(backend="onnx", task="sentence-similarity")) == []


def test_a_converted_backend_reads_every_file_of_its_conversion_largest_first(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    int8 = model_spec(backend="onnx", task="sentence-similarity", quantize="int8")
    folder = backend_folder(int8)
    folder.mkdir(parents=True)
    (folder / "model.onnx").write_bytes(b"x" * 10)
    (folder / "model.onnx.data").write_bytes(b"x" * 1000)
    assert weight_files(int8) == [], "a folder without its record is not a finished conversion"
    (folder / RECORD).write_bytes(b"x")
    assert weight_files(int8) == [folder / "model.onnx.data", folder / "model.onnx", folder / RECORD]
    assert weight_files(model_spec(backend="onnx", task="sentence-similarity", quantize="none")) == []


def test_a_prefetch_failure_is_only_logged(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    touch(tmp_path, "a.safetensors")
    with caplog.at_level(logging.INFO, logger="inference.loader"):
        thread = prefetch(lambda: [tmp_path / "a.safetensors", tmp_path / "missing.safetensors"])
        thread.join(timeout=10)
    assert not thread.is_alive()
    assert "prefetching the weights failed" in caplog.text and "missing.safetensors" in caplog.text
