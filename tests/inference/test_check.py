"""``python -m inference check``, run as a person runs it, against a fake Hub serving the real repositories' file sets.

It passes on the default registry; it fails, naming the entry, on a pickle-only
model that cannot be converted, on a sentencepiece model whose tokenizer
cannot load, and on a file task's model without the tokenizer or the image
processor or feature extractor it needs (an image classifier or detector
needs no tokenizer); an unreachable Hub is one line. Never a traceback.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from inference.registry import DEFAULT_MODELS_FILE, load_registry
from tests.conftest import ROOT
from tests.fakes.hub import FakeHub
from tests.hub_repos import publish, record
from tests.tiny_models import write_registry


@dataclass
class Served:
    hub: FakeHub
    folders: dict[str, Path]


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    with FakeHub() as hub:
        yield Served(hub, publish(hub, tmp_path_factory.mktemp("real-file-sets")))


def check(
    hub_url: str, tmp_path: Path, *names: str, registry: Path | None = None, **env: str
) -> subprocess.CompletedProcess[str]:
    environment = {
        **os.environ,
        "HF_ENDPOINT": hub_url,
        "HF_HOME": str(tmp_path / "hf-home"),
        "MODELS_FILE": str(registry or DEFAULT_MODELS_FILE),
        **env,
    }
    environment.pop("HF_HUB_OFFLINE", None)
    return subprocess.run(
        [sys.executable, "-m", "inference", "check", *names],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
    )


def made_by_warm(name: str) -> str:
    """What the verdict adds for a default entry on a converted backend (nothing for torch)."""
    spec = load_registry(DEFAULT_MODELS_FILE).get(name)
    return "" if spec.backend == "torch" else f"; its {spec.backend} conversion ({spec.quantize}) is made by `warm`"


def blocks(stdout: str) -> dict[str, dict[str, str]]:
    """Each entry's lines as {label: value}, by entry name."""
    found: dict[str, dict[str, str]] = {}
    current: dict[str, str] = {}
    for line in stdout.splitlines():
        if line.startswith("  "):
            label, _, value = line.strip().partition(" ")
            current[label] = value.strip()
        elif ": " in line and not line.startswith(("All ", "error")) and "entries will not load" not in line:
            current = found.setdefault(line.split(":", 1)[0], {})
    return found


def test_the_default_registry_passes_with_what_each_entry_is(served: Served, tmp_path: Path) -> None:
    done = check(served.hub.url, tmp_path)
    assert (done.returncode, done.stderr) == (0, ""), done.stdout + done.stderr
    reports = blocks(done.stdout)
    assert list(reports) == load_registry(DEFAULT_MODELS_FILE).names
    for spec in load_registry(DEFAULT_MODELS_FILE):
        assert reports[spec.name]["revision"] == f"{spec.revision} found"
        assert reports[spec.name]["model"] == record(spec.name).architecture
        assert reports[spec.name]["download"].endswith("files")
    assert reports["translate-en-fr"]["weights"] == "pickle only (pytorch_model.bin)"
    assert reports["translate-en-fr"]["tokenizer"] == "sentencepiece (Marian: source.spm, target.spm, vocab.json)"
    assert reports["translate-en-fr"]["verdict"] == (
        "will load: pickle only, converted to safetensors by `python -m inference warm translate-en-fr`"
        + made_by_warm("translate-en-fr")
    )
    assert reports["summarize"]["tokenizer"] == "BPE vocab.json + merges.txt (the fast tokenizer is built from them)"
    assert reports["sentiment"]["weights"] == "safetensors"
    assert reports["sentiment"]["tokenizer"] == "WordPiece vocab.txt (the fast tokenizer is built from it)"
    assert reports["ask"]["verdict"] == "will load" + made_by_warm("ask")
    assert reports["sentiment"]["verdict"] == "will load; its onnx conversion (int8) is made by `warm`"
    assert "processor" not in reports["sentiment"], "a text task reads no file"
    for name in ("classify-image", "detect"):
        task = load_registry(DEFAULT_MODELS_FILE).get(name).task
        assert reports[name]["tokenizer"] == f"none ({task} reads and writes no text)"
    for name in ("classify-image", "detect", "label-image", "caption"):
        assert reports[name]["processor"] == "preprocessor_config.json (image processor)", name
    for name in ("label-image", "caption", "transcribe"):
        assert reports[name]["tokenizer"] == "tokenizer.json (fast tokenizer)", name
    assert reports["transcribe"]["processor"] == "preprocessor_config.json (feature extractor)"
    assert reports["caption"]["verdict"] == "will load"  # torch: nothing to convert
    count = len(load_registry(DEFAULT_MODELS_FILE))
    assert done.stdout.splitlines()[-1] == f"All {count} entries will load as configured."


def test_the_download_size_is_what_warm_fetches(served: Served, tmp_path: Path) -> None:
    """Safetensors repositories: configs, tokenizer and safetensors, never the pickle or other formats beside them."""
    done = check(served.hub.url, tmp_path, "sentiment", "translate-en-fr")
    sentiment = served.folders["sentiment"]
    fetched = ["config.json", "model.safetensors", "onnx/tokenizer.json", "tokenizer_config.json", "vocab.txt"]
    size = sum((sentiment / name).stat().st_size for name in fetched)
    assert blocks(done.stdout)["sentiment"]["download"] == f"{size / 1e6:,.1f} MB in 5 files"
    opus = served.folders["translate-en-fr"]
    size = sum(path.stat().st_size for path in opus.iterdir() if path.name not in {".gitattributes", "README.md"})
    assert blocks(done.stdout)["translate-en-fr"]["download"] == f"{size / 1e6:,.1f} MB in 7 files"


def entry(name: str, repo: str, revision: str, task: str = "translation", **extra: Any) -> dict[str, Any]:
    return {"name": name, "task": task, "model": repo, "revision": revision, "memory": 1024, **extra}


def variant(
    served: Served, tmp_path: Path, name: str, *, drop: tuple[str, ...] = (), config: dict[str, Any] | None = None
) -> str:
    """Publish a copy of opus-mt-en-fr's file set with files dropped or config.json changed; return the revision."""
    folder = tmp_path / name
    shutil.copytree(served.folders["translate-en-fr"], folder)
    for file in drop:
        (folder / file).unlink()
    if config is not None:
        (folder / "config.json").write_text(json.dumps(config), encoding="utf-8")
    return served.hub.add_repo(f"owner/{name}", folder)


def test_pickle_only_models_that_would_not_load_fail_naming_each(served: Served, tmp_path: Path) -> None:
    marian = json.loads((served.folders["translate-en-fr"] / "config.json").read_text())
    entries = [
        entry("translate-en-fr", record("translate-en-fr").repo, record("translate-en-fr").revision),
        # warm converts pinned Hub snapshots only: a local folder with a pickle is refused.
        {"name": "local-opus", "task": "translation", "model": str(served.folders["translate-en-fr"])},
        # no architecture to load the pickle into.
        entry(
            "no-architecture",
            "owner/no-architecture",
            variant(
                served, tmp_path, "no-architecture", config={k: v for k, v in marian.items() if k != "architectures"}
            ),
        ),
        # other frameworks' weights only: nothing to serve or convert.
        entry("tf-only", "owner/tf-only", variant(served, tmp_path, "tf-only", drop=("pytorch_model.bin",))),
    ]
    done = check(served.hub.url, tmp_path, registry=write_registry(tmp_path / "models.yaml", entries))
    assert done.returncode == 1
    assert "Traceback" not in done.stderr
    errors = done.stderr.splitlines()
    assert [line.split(":", 2)[1].strip() for line in errors] == [
        "local-opus",
        "no-architecture",
        "tf-only",
    ]
    assert all(line.startswith("error: ") for line in errors)
    assert "has only pickled weights (pytorch_model.bin), and `warm` converts pinned Hub snapshots only" in errors[0]
    assert "its pickled weights cannot be converted: its config.json names no architecture" in errors[1]
    assert "has no safetensors weights, and no PyTorch weights (pytorch_model.bin) to convert" in errors[2]
    reports = blocks(done.stdout)
    assert reports["translate-en-fr"]["verdict"].startswith("will load: pickle only")
    assert reports["tf-only"]["verdict"].startswith("will NOT load: ")
    assert done.stdout.splitlines()[-1] == ("3 of 4 entries will not load: local-opus, no-architecture, tf-only.")


def test_a_sentencepiece_tokenizer_that_cannot_load_fails_naming_the_entry(served: Served, tmp_path: Path) -> None:
    registry = write_registry(
        tmp_path / "models.yaml",
        [
            entry(
                "opus-without-target",
                "owner/opus-without-target",
                variant(served, tmp_path, "opus-without-target", drop=("target.spm",)),
            )
        ],
    )
    done = check(served.hub.url, tmp_path, registry=registry)
    assert done.returncode == 1
    assert done.stderr == "error: opus-without-target: its Marian tokenizer lacks target.spm\n"


def test_a_sentencepiece_model_without_the_sentencepiece_package_fails_naming_the_entry(
    served: Served, tmp_path: Path
) -> None:
    """As in an environment without the package (what the model image was before): importing it fails."""
    shadow = tmp_path / "no-sentencepiece" / "sentencepiece"
    shadow.mkdir(parents=True)
    (shadow / "__init__.py").write_text("raise ImportError(\"No module named 'sentencepiece'\")\n", encoding="utf-8")
    done = check(served.hub.url, tmp_path, "translate-en-fr", "sentiment", PYTHONPATH=str(shadow.parent))
    assert done.returncode == 1
    assert done.stderr.startswith("error: translate-en-fr: its tokenizer needs the sentencepiece package, which cannot")
    assert done.stderr.count("\n") == 1, "only the sentencepiece model fails"
    assert blocks(done.stdout)["sentiment"]["verdict"] == "will load" + made_by_warm("sentiment")


def file_model_variant(served: Served, tmp_path: Path, entry_name: str, *, drop: tuple[str, ...]) -> str:
    """Publish a copy of a default file entry's file set without the files ``drop`` names; return the revision."""
    folder = tmp_path / f"{entry_name}-without"
    shutil.copytree(served.folders[entry_name], folder, ignore=shutil.ignore_patterns(*drop))
    return served.hub.add_repo(f"owner/{entry_name}-without", folder)


def test_a_file_task_without_what_it_needs_to_read_fails_naming_the_entry(served: Served, tmp_path: Path) -> None:
    """An image classifier needs an image processor but no tokenizer; CLIP needs both; Whisper a feature extractor."""
    tokenizer_files = ("tokenizer*", "vocab.json", "merges.txt", "special_tokens_map.json")
    entries = [
        entry("vit-no-processor", "owner/classify-image-without", "", task="image-classification"),
        entry("clip-no-tokenizer", "owner/label-image-without", "", task="zero-shot-image-classification"),
        entry("whisper-no-extractor", "owner/transcribe-without", "", task="automatic-speech-recognition"),
    ]
    entries[0]["revision"] = file_model_variant(served, tmp_path, "classify-image", drop=("preprocessor_config.json",))
    entries[1]["revision"] = file_model_variant(served, tmp_path, "label-image", drop=tokenizer_files)
    entries[2]["revision"] = file_model_variant(served, tmp_path, "transcribe", drop=("preprocessor_config.json",))
    done = check(served.hub.url, tmp_path, registry=write_registry(tmp_path / "models.yaml", entries))
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert done.stderr.splitlines() == [
        "error: vit-no-processor: it has no preprocessor_config.json, the image processor that image-classification "
        "needs to read its image",
        "error: clip-no-tokenizer: it has no tokenizer files (tokenizer.json, vocab.txt, vocab.json + merges.txt, "
        "sentencepiece)",
        "error: whisper-no-extractor: it has no preprocessor_config.json, the feature extractor that "
        "automatic-speech-recognition needs to read its audio",
    ]
    reports = blocks(done.stdout)
    assert reports["vit-no-processor"]["processor"] == "none"
    assert reports["vit-no-processor"]["tokenizer"] == "none (image-classification reads and writes no text)"
    assert reports["clip-no-tokenizer"]["processor"] == "preprocessor_config.json (image processor)"


def test_a_revision_the_hub_does_not_have_is_named(served: Served, tmp_path: Path) -> None:
    missing = "0123456789abcdef0123456789abcdef01234567"
    registry = write_registry(tmp_path / "models.yaml", [entry("gone", record("translate-en-fr").repo, missing)])
    done = check(served.hub.url, tmp_path, registry=registry)
    assert done.returncode == 1
    assert done.stderr.startswith(
        "error: gone: cannot download Helsinki-NLP/opus-mt-en-fr@0123456: the Hub has no revision"
    )
    assert done.stderr.count("\n") == 1


def test_an_unreachable_hub_is_one_line(tmp_path: Path) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{probe.getsockname()[1]}"
    done = check(closed, tmp_path)
    assert done.returncode == 1
    assert done.stdout == ""
    assert done.stderr.startswith(f"error: cannot reach the Hugging Face Hub at {closed} (")
    assert done.stderr.endswith("check the network (or HF_ENDPOINT) and try again.\n")
    assert done.stderr.count("\n") == 1 and "Traceback" not in done.stderr


def test_only_the_named_entries_are_checked(served: Served, tmp_path: Path) -> None:
    done = check(served.hub.url, tmp_path, "qa")
    assert (done.returncode, list(blocks(done.stdout))) == (0, ["qa"])
    assert check(served.hub.url, tmp_path, "nope").returncode == 2
