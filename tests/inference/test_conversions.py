"""The conversion frame: defaults by task, where conversions live, how warm builds them, falls back, and serves them.

A fake backend (tests/inference/fake_backend.py) is registered in the one
table, as a new runtime would be, so the frame is tested without any runtime's cost.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from inference import cli, conversions, runners
from inference.backends import BACKENDS, PREFERRED, Backend, default_backend
from inference.conversions import RECORD, ConversionRefused, Record, backend_folder, convert_entry, find, staged
from inference.errors import ModelLoadError
from inference.registry import Registry, load_registry
from inference.runners import load_runner
from inference.service import handle
from tests.inference import fake_backend
from tests.tiny_models import write_registry

PIN = "0123456789abcdef0123456789abcdef01234567"
FAKE = Backend(
    runners={"text-classification": "tests.inference.fake_backend:EchoRunner"},
    converter="tests.inference.fake_backend",
    runtime="PyYAML",
    quantizations=("int8", "none"),
)


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """The fake backend in the table, the preferred one for text classification; a fresh HF_HOME."""
    monkeypatch.setitem(BACKENDS, "fake", FAKE)
    monkeypatch.setitem(PREFERRED, "text-classification", "fake")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf-home"))
    fake_backend.CALLS.clear()
    classifier = tmp_path / "classifier"
    classifier.mkdir()
    (classifier / "config.json").write_text("{}")
    (classifier / "model.safetensors").write_bytes(b"")
    return classifier


def registry(folder: Path, *names: str, at: Path | None = None, **fields: object) -> Registry:
    """Text-classification entries over the model ``folder``, one per name, on their default backend.

    The file is ``at``, else ``models.yaml`` beside the folder.
    """
    entries = [{"name": name, "task": "text-classification", "model": str(folder), **fields} for name in names]
    return load_registry(write_registry(at or folder.parent / "models.yaml", entries))


def test_a_task_defaults_to_its_fast_backend_once_the_table_has_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(PREFERRED, "summarization", "not-in-the-table")
    assert default_backend("summarization") == "torch"
    monkeypatch.setitem(BACKENDS, "fake", FAKE)
    monkeypatch.setitem(PREFERRED, "text-classification", "fake")
    assert default_backend("text-classification") == "fake"
    assert default_backend("question-answering") == "onnx"


def test_the_backend_defaults_its_quantization(fake: Path) -> None:
    specs = registry(fake, "default", "named")
    assert (specs.get("default").backend, specs.get("default").quantize) == ("fake", "int8")
    explicit = registry(fake, "plain", quantize="none").get("plain")
    assert explicit.quantize == "none"


def test_conversions_are_keyed_by_source_runtime_version_quantization_and_task_where_it_matters(
    fake: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    spec = registry(fake, "one").get("one")
    hub = dataclasses.replace(spec, model="owner/model", revision=PIN, local_path=None)
    yaml_version = conversions.runtime_version("PyYAML")
    assert (
        backend_folder(hub)
        == fake.parent / "hf-home" / "conversions" / "models--owner--model" / PIN / f"PyYAML-{yaml_version}" / "int8"
    )
    assert backend_folder(dataclasses.replace(hub, revision="f" * 40)) != backend_folder(hub)
    assert backend_folder(dataclasses.replace(hub, quantize="none")).name == "none"
    assert backend_folder(dataclasses.replace(hub, task="zero-shot-classification")) == backend_folder(hub)
    monkeypatch.setitem(BACKENDS, "fake", dataclasses.replace(FAKE, per_task=True))
    assert backend_folder(hub).name == "text-classification"
    monkeypatch.setattr(conversions, "version", lambda name: "99.0")
    assert backend_folder(hub).parent.parent.name == "PyYAML-99.0"


def test_a_runtime_that_is_not_installed_is_named(fake: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    spec = registry(fake, "one").get("one")
    monkeypatch.setitem(BACKENDS, "fake", dataclasses.replace(FAKE, runtime="no-such-runtime"))
    with pytest.raises(ModelLoadError, match=r"one: the no-such-runtime package is not installed in this environment"):
        load_runner(spec)


def test_warm_converts_once_and_again_with_force_and_serving_reads_it(
    fake: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    specs = registry(fake, "echo")
    monkeypatch.setenv("MODELS_FILE", str(specs.path))
    assert cli.main(["warm", "echo"]) == 0
    spec = specs.get("echo")
    folder = backend_folder(spec)
    assert f"echo: fake conversion ready in {folder}" in capsys.readouterr().out
    assert load_runner(spec).run("hi", {})["labels"][0]["label"] == "text-classification int8 from classifier"
    record = Record.read(folder)
    assert (record.entry, record.backend, record.runtime, record.quantize, record.refused) == (
        "echo",
        "fake",
        "PyYAML",
        "int8",
        None,
    )
    assert sorted(path.name for path in folder.iterdir()) == [fake_backend.MADE, "partial.bin", RECORD]
    assert all(path.stat().st_mode & 0o444 == 0o444 for path in folder.iterdir())
    assert cli.main(["warm", "echo"]) == 0
    assert fake_backend.CALLS == ["echo"], "a finished conversion is kept"
    assert cli.main(["warm", "--force", "echo"]) == 0
    assert fake_backend.CALLS == ["echo", "echo"]
    assert [path.name for path in folder.parent.iterdir()] == [folder.name], "no staging folder is left"


def test_serving_never_converts_and_names_the_warm_command(fake: Path) -> None:
    spec = registry(fake, "echo").get("echo")
    response = handle({"text": "hi"}, spec=spec, get_runner=lambda: load_runner(spec))
    assert response["error"]["type"] == "model_load_failed"
    assert "there is no fake conversion" in response["error"]["message"]
    assert "`python -m inference warm echo`" in response["error"]["message"]
    assert fake_backend.CALLS == []


def test_a_failed_conversion_leaves_nothing_and_warm_names_it(
    fake: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    specs = registry(fake, "fail-one", "echo", quantize="none")
    echo = registry(fake, "echo", at=fake.parent / "echo.yaml").get("echo")  # the same model, in int8
    path = write_registry(
        specs.path,
        [
            {"name": "fail-one", "task": "text-classification", "model": str(fake), "quantize": "none"},
            {"name": "echo", "task": "text-classification", "model": str(fake)},
        ],
    )
    monkeypatch.setenv("MODELS_FILE", str(path))
    assert cli.main(["warm"]) == 1
    assert capsys.readouterr().err == "error: fail-one: the fake converter broke\n"
    assert not backend_folder(specs.get("fail-one")).exists()
    assert backend_folder(echo).is_dir(), "the other entries are still warmed"


def test_a_refusal_is_recorded_and_warm_says_the_entry_falls_back_on_torch(
    fake: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    specs = registry(fake, "refuse-me")
    monkeypatch.setenv("MODELS_FILE", str(specs.path))
    assert cli.main(["warm"]) == 0
    out = capsys.readouterr().out
    reason = "FakeArchitecture is not one this runtime serves"
    assert f"refuse-me: fake cannot serve it, so it is served with torch: {reason}" in out
    assert out.splitlines()[-1] == (
        f"1 entry fell back to torch: refuse-me ({reason}). The serving image has no torch: in AWS, set "
        "`backend: torch` on it so that its function runs the conversion image."
    )
    folder, record = find(specs.get("refuse-me"))
    assert record.refused == reason
    assert [path.name for path in folder.iterdir()] == [RECORD], "nothing half-made is kept"
    assert cli.main(["warm", "refuse-me"]) == 0
    assert fake_backend.CALLS == ["refuse-me"], "a refusal is not asked again without --force"


@pytest.mark.slow
def test_an_entry_warm_refused_is_served_with_torch_where_torch_is_installed(
    fake: Path, tiny_registry: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    classifier = tiny_registry.parent / "classifier"
    spec = registry(classifier, "refuse-me", at=fake.parent / "models.yaml").get("refuse-me")
    assert spec.local_path is not None
    convert_entry(spec, spec.local_path)
    labels = {label["label"] for label in load_runner(spec).run("great news", {})["labels"]}
    assert labels == {"NEGATIVE", "POSITIVE"}, "the tiny classifier, through the torch runner"
    monkeypatch.setattr(runners, "_torch_available", lambda: False)
    with pytest.raises(
        ModelLoadError, match=r"refuse-me: `warm` could not convert it for fake \(FakeArchitecture"
    ) as caught:
        load_runner(spec)
    assert "set `backend: torch` for refuse-me, so that its function runs the conversion image" in str(caught.value)


def test_staged_replaces_the_folder_whole_or_not_at_all(tmp_path: Path) -> None:
    target = tmp_path / "conversion"
    with staged(target) as staging:
        (staging / "a").write_text("first")
    assert (target / "a").read_text() == "first"
    with pytest.raises(RuntimeError), staged(target) as staging:
        (staging / "a").write_text("half")
        raise RuntimeError("the converter failed")
    assert (target / "a").read_text() == "first"
    with staged(target) as staging:
        (staging / "b").write_text("second")
    assert [path.name for path in target.iterdir()] == ["b"]
    assert [path.name for path in tmp_path.iterdir()] == ["conversion"]


def test_a_record_of_another_format_is_not_a_conversion(fake: Path) -> None:
    spec = registry(fake, "echo").get("echo")
    folder = backend_folder(spec)
    folder.mkdir(parents=True)
    (folder / RECORD).write_text(json.dumps({"format": 0}))
    with pytest.raises(ModelLoadError, match=r"echo: the conversion in .* cannot be read \(.*format-1"):
        find(spec)


def test_a_refusal_carries_its_reason() -> None:
    assert ConversionRefused("MarianMTModel is not supported").reason == "MarianMTModel is not supported"
