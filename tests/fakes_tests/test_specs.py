"""The ModelSpec factory gives what the registry would make of the same entry."""

from __future__ import annotations

from pathlib import Path

from inference.registry import parse_registry
from tests.fakes.specs import PIN, model_spec


def parsed(entry: dict, base: Path) -> object:
    """The one entry as the registry builds it (its backend, quantization and limits named as a test would)."""
    pinned = {"backend": "torch", "quantize": "none", "memory": 1024, "timeout": 60, **entry}
    (spec,) = parse_registry({"models": [pinned]}, base=base, path=base / "models.yaml").models
    return spec


def test_a_hub_entry(tmp_path: Path) -> None:
    entry = {"name": "sentiment", "task": "text-classification", "model": "owner/model", "revision": PIN}
    assert model_spec() == parsed(entry, tmp_path)


def test_a_folder_entry(tmp_path: Path) -> None:
    folder = tmp_path / "weights"
    folder.mkdir()
    entry = {"name": "local-qa", "task": "question-answering", "model": str(folder)}
    assert model_spec("local-qa", folder=folder, task="question-answering") == parsed(entry, tmp_path)


def test_fields_override_the_defaults() -> None:
    spec = model_spec("m", timeout=5, max_chars=10)
    assert (spec.name, spec.command, spec.title, spec.timeout, spec.max_chars) == ("m", "/m", "m", 5, 10)
