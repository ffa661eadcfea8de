"""The registry loader turns each mistake into one error that names the entry."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from inference.backends import BACKENDS, TORCH
from inference.errors import RegistryError
from inference.registry import DEFAULT_MODELS_FILE, MB_PER_VCPU, load_registry
from inference.tasks import media_kind
from tests.tiny_models import write_registry

PIN = "0123456789abcdef0123456789abcdef01234567"


def hub_entry(name: str = "good", **fields: Any) -> dict[str, Any]:
    return {"name": name, "task": "text-classification", "model": "owner/model", "revision": PIN, **fields}


def load(tmp_path: Path, *entries: dict[str, Any]) -> Any:
    return load_registry(write_registry(tmp_path / "models.yaml", list(entries)))


def test_the_default_registry_is_valid_and_pinned() -> None:
    registry = load_registry(DEFAULT_MODELS_FILE)
    assert len(registry) >= 8
    assert len({spec.task for spec in registry}) >= 7
    for spec in registry:
        assert spec.local_path is None and re.fullmatch(r"[0-9a-f]{40}", spec.revision or ""), spec.name
        assert spec.title and spec.description, spec.name
        assert spec.example or media_kind(spec.task), f"{spec.name}: a text entry shows an example"


def test_every_default_entry_is_served_on_a_fast_runtime_where_its_task_has_one() -> None:
    """Issue 14: no default entry needs torch where a fast runtime serves its task, so those functions run the
    serving image. Captioning has no fast runtime yet (README, "Backends"): its entry runs the conversion image."""
    torch_entries = {spec.task for spec in load_registry(DEFAULT_MODELS_FILE) if spec.backend == "torch"}
    assert torch_entries == {"image-to-text"}
    assert [name for name, backend in BACKENDS.items() if "image-to-text" in backend.runners] == [TORCH]


def test_models_file_env_points_at_another_registry(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = write_registry(tmp_path / "other.yaml", [hub_entry("other")])
    monkeypatch.setenv("MODELS_FILE", str(path))
    assert load_registry().names == ["other"]


def test_a_valid_entry_gets_defaults_and_an_alias_resolves(tmp_path: Path) -> None:
    spec = load(tmp_path, hub_entry(task="ner")).get("good")
    assert (spec.task, spec.command, spec.title) == ("token-classification", "/good", "good")
    assert (spec.backend, spec.quantize) == ("onnx", "int8")


def test_the_default_memory_is_one_full_vcpu_wherever_it_is_written(tmp_path: Path) -> None:
    """One source for the default size: the code, and every document that states it agrees with it."""
    spec = load(tmp_path, hub_entry()).get("good")
    assert (spec.memory, MB_PER_VCPU) == (1769, 1769)
    root = DEFAULT_MODELS_FILE.parent.parent
    registry_text = DEFAULT_MODELS_FILE.read_text(encoding="utf-8")
    assert "\ndefaults:" not in registry_text, "the default registry must not restate the code's defaults"
    assert f"one full vCPU ({MB_PER_VCPU} MB)" in registry_text
    assert f"the default, {MB_PER_VCPU}, is one full vCPU" in (root / "README.md").read_text(encoding="utf-8")
    sizing = (root / "docs" / "sizing.md").read_text(encoding="utf-8")
    assert f"One full vCPU ({MB_PER_VCPU:,} MB) is therefore the cheapest setting" in sizing
    assert "and that is the default" in sizing


def test_a_local_folder_needs_no_revision(tmp_path: Path) -> None:
    (tmp_path / "weights").mkdir()
    spec = load(tmp_path, {"name": "local", "task": "fill-mask", "model": "./weights"}).get("local")
    assert spec.local_path == (tmp_path / "weights").resolve()


@pytest.mark.parametrize(
    ("entries", "message"),
    [
        ([hub_entry(task="image-segmentation")], r"entry 1 \('good'\): unknown task 'image-segmentation'"),
        ([hub_entry(), hub_entry()], r"entry 2 \('good'\): duplicate name"),
        (
            [hub_entry("one", command="/same"), hub_entry("two", command="/same")],
            r"entry 2 \('two'\): command /same is already used by 'one'",
        ),
        ([hub_entry("Bad_Name")], r"entry 1 \('Bad_Name'\): `name` must be a slug"),
        ([hub_entry("-dash")], r"entry 1 \('-dash'\): `name` must be a slug"),
        ([hub_entry("help")], r"entry 1 \('help'\): `name` 'help' is reserved"),
        ([{"name": "nomodel", "task": "fill-mask"}], r"entry 1 \('nomodel'\): `model` is missing"),
        ([hub_entry(model="bare-name")], r"entry 1 \('good'\): `model` 'bare-name' is neither a Hub id"),
        ([hub_entry(revision=None)], r"entry 1 \('good'\): `revision` must pin a Hub model"),
        ([hub_entry(revision="0123456")], r"entry 1 \('good'\): `revision` must pin a Hub model"),
        ([hub_entry(command="/" + "a" * 32)], r"entry 1 \('good'\): command '/a{32}' must start with '/'"),
        ([hub_entry(command="no-slash")], r"entry 1 \('good'\): command 'no-slash' must start with '/'"),
        ([hub_entry(trust_remote_code=True)], r"entry 1 \('good'\): trust_remote_code is refused"),
        ([hub_entry(memory=64)], r"entry 1 \('good'\): `memory` must be a whole number from 128 to 10240, got 64"),
        ([hub_entry(memory="big")], r"entry 1 \('good'\): `memory` must be a whole number"),
        ([hub_entry(memory=True)], r"entry 1 \('good'\): `memory` must be a whole number"),
        ([hub_entry(timeout=0)], r"entry 1 \('good'\): `timeout` must be a whole number from 1 to 900, got 0"),
        ([hub_entry(timeout=901)], r"entry 1 \('good'\): `timeout` must be a whole number from 1 to 900"),
        ([hub_entry(colour="red")], r"entry 1 \('good'\): unknown field\(s\) colour"),
        (
            [hub_entry(backend="tensorflow")],
            r"entry 1 \('good'\): unknown backend 'tensorflow'; available: torch, onnx",
        ),
        (
            [hub_entry(task="summarization", backend="onnx")],
            r"entry 1 \('good'\): the onnx backend does not serve summarization; backends that do: torch",
        ),
        ([hub_entry(quantize="int4")], r"entry 1 \('good'\): `quantize` must be one of int8, none with the onnx"),
        ([hub_entry(backend="torch", quantize="int8")], r"`quantize` must be one of none with the torch backend"),
        (
            [hub_entry(parameters={"onnx_quantize": True})],
            r"entry 1 \('good'\): `parameters.onnx_quantize` is no longer read: .* `quantize: int8`",
        ),
        ([hub_entry(max_chars=0)], r"entry 1 \('good'\): `max_chars` must be a positive whole number"),
        ([hub_entry(parameters=["a"])], r"entry 1 \('good'\): `parameters` must be a mapping"),
        ([hub_entry("fine"), "just a string"], r"entry 2: must be a mapping of fields, got str"),
    ],
)
def test_invalid_entries_name_the_entry(tmp_path: Path, entries: list[Any], message: str) -> None:
    with pytest.raises(RegistryError, match=message):
        load(tmp_path, *entries)


def test_a_file_that_is_not_yaml(tmp_path: Path) -> None:
    path = tmp_path / "models.yaml"
    path.write_text("models: [unclosed\n", encoding="utf-8")
    with pytest.raises(RegistryError, match=r"models\.yaml is not valid YAML"):
        load_registry(path)


@pytest.mark.parametrize("text", ["", "models: []\n", "- name: a\n", "models: just text\n"])
def test_a_file_without_a_models_list(tmp_path: Path, text: str) -> None:
    path = tmp_path / "models.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(RegistryError, match="expected a top-level `models:` list"):
        load_registry(path)


def test_a_missing_file(tmp_path: Path) -> None:
    with pytest.raises(RegistryError, match=r"cannot read registry .*missing\.yaml: No such file or directory"):
        load_registry(tmp_path / "missing.yaml")


@pytest.mark.parametrize(
    ("defaults", "message"),
    [
        (["not", "a", "mapping"], "`defaults` must be a mapping"),
        ({"model": "owner/name"}, "`defaults` cannot set model"),
        ({"memroy": 512}, "`defaults` cannot set memroy"),
        ({"trust_remote_code": False}, "trust_remote_code is refused"),
    ],
)
def test_defaults_are_checked_too(tmp_path: Path, defaults: Any, message: str) -> None:
    import yaml

    path = tmp_path / "models.yaml"
    entry = {"name": "a", "task": "text-classification", "model": "o/m", "revision": "0" * 40}
    path.write_text(yaml.safe_dump({"defaults": defaults, "models": [entry]}))
    with pytest.raises(RegistryError, match=re.escape(message)):
        load_registry(path)
