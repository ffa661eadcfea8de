"""Every default registry entry answers through the model handler from the files its Hub repository really has.

tests/hub_repos/ records each default entry's repository at its pin; the fake
Hub serves a tiny model with exactly that file set at that pin. ``python -m
inference warm`` fills a fresh cache (converting the two pickle-only ones to
safetensors, and each entry for its backend), and then, offline as on Lambda,
``inference.handler.handler`` answers each entry's own example. The last tests
run what each image holds as plain Python, in a new virtual environment holding
only its requirements: the serving image's (no torch, no transformers) answers
every entry on a fast backend, and the tiny models on every fast task; the
conversion image's checks, warms and answers every entry.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from inference import cli, handler, loader
from inference.backends import default_backend
from inference.check import tokenizer_kind
from inference.registry import DEFAULT_MODELS_FILE, load_registry
from inference.tasks import TASKS
from tests.conftest import ROOT
from tests.fakes.hub import FakeHub
from tests.hub_repos import TOKENIZERS, publish, records

#: How each recorded tokenizer kind reads to ``inference check``.
CHECK_SAYS = {
    "wordpiece-vocab": "WordPiece vocab.txt",
    "wordpiece-json": "tokenizer.json",
    "bpe-vocab-merges": "BPE vocab.json + merges.txt",
    "bpe-json": "tokenizer.json",
    "marian-sentencepiece": "sentencepiece (Marian",
}
#: Runs each entry's example through the Lambda handler, each as a fresh container (only the entries on a fast
#: backend with ``fast`` as argv[1]); prints the answers and whether torch or transformers could be imported.
ANSWER_EVERY_ENTRY = """
import importlib.util, json, os, sys
from inference import handler
from inference.registry import load_registry
from inference.service import LoadOnce
answers = {}
for spec in load_registry():
    if sys.argv[1:] == ["fast"] and spec.backend == "torch":
        continue
    os.environ["MODEL_NAME"] = spec.name
    handler._spec.cache_clear()
    handler._runner = LoadOnce(handler._load)
    answers[spec.name] = handler.handler({"text": spec.example})
heavy = ["torch", "transformers"]
print(json.dumps({
    "prefix": sys.prefix,
    "answers": answers,
    "importable": [name for name in heavy if importlib.util.find_spec(name) is not None],
    "imported": sorted({name.split(".")[0] for name in sys.modules} & set(heavy)),
}))
"""
INSTALL_SECONDS = 600


def test_every_default_entry_has_a_record_of_its_pinned_repository() -> None:
    pinned = {spec.name: (spec.model, spec.revision) for spec in load_registry(DEFAULT_MODELS_FILE)}
    assert {repo.entry: (repo.repo, repo.revision) for repo in records()} == pinned
    for repo in records():
        assert repo.sources, f"{repo.entry}: say where the facts come from"
        assert repo.tokenizer in TOKENIZERS
        assert repo.weights == ("safetensors" if loader.has_safetensors(repo.files) else "pickle"), repo.entry
        if repo.weights == "pickle":
            assert loader.pickle_files(repo.files) == ["pytorch_model.bin"], repo.entry
        assert tokenizer_kind(list(repo.files))[0].startswith(CHECK_SAYS[repo.tokenizer]), repo.entry


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[FakeHub, dict[str, Path]]]:
    with FakeHub() as hub:
        yield hub, publish(hub, tmp_path_factory.mktemp("real-file-sets"))


@pytest.mark.slow
def test_each_tiny_model_has_exactly_the_recorded_files(served: tuple[FakeHub, dict[str, Path]]) -> None:
    _, folders = served
    for repo in records():
        built = {
            path.relative_to(folders[repo.entry]).as_posix()
            for path in folders[repo.entry].rglob("*")
            if path.is_file()
        }
        assert built == set(repo.files), repo.entry


@pytest.fixture(scope="module")
def warmed(served: tuple[FakeHub, dict[str, Path]], tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """``HF_HOME`` after ``python -m inference warm`` of the default registry from the fake Hub (in this venv)."""
    hub, _ = served
    home = tmp_path_factory.mktemp("warmed") / "hf-home"
    with pytest.MonkeyPatch.context() as patch:
        hub.use(patch)
        patch.setenv("HF_HOME", str(home))
        patch.delenv("HF_HUB_CACHE", raising=False)
        patch.delenv("HF_HUB_OFFLINE", raising=False)
        patch.setenv("MODELS_FILE", str(DEFAULT_MODELS_FILE))
        hub.clear()
        assert cli.main(["warm"]) == 0
        pickles = sorted(
            call.path.split("/resolve/")[0] for call in hub.calls("GET", "/resolve/") if call.path.endswith(".bin")
        )
        assert pickles == ["/Helsinki-NLP/opus-mt-en-fr", "/sshleifer/distilbart-cnn-12-6"], "pickles only to convert"
    yield home


@pytest.mark.slow
def test_every_default_entry_answers_through_the_model_handler(
    served: tuple[FakeHub, dict[str, Path]],
    warmed: Path,
    monkeypatch: pytest.MonkeyPatch,
    use_registry: Callable[[Path, str], None],
) -> None:
    hub, _ = served
    hub.use(monkeypatch)
    monkeypatch.setenv("HF_HOME", str(warmed))
    monkeypatch.delenv("HF_HUB_CACHE", raising=False)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")  # as on Lambda: nothing but the cache
    hub.clear()
    for spec in load_registry(DEFAULT_MODELS_FILE):
        use_registry(DEFAULT_MODELS_FILE, spec.name)
        response = handler.handler({"text": spec.example})
        assert "result" in response, (spec.name, response)
        served_from = loader.weights_path(spec)
        if spec.name in ("translate-en-fr", "summarize"):
            assert served_from == loader.conversion_dir(spec), spec.name
        else:
            assert served_from.parent.name == "snapshots", spec.name
    assert not hub.calls(), "serving asked the Hub for nothing"


def run(command: list[str], *, env: dict[str, str], timeout: float = 300) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout, check=False)
    assert done.returncode == 0, f"{command}\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    return done


def image_venv(folder: Path, *requirements: str, cpu_torch: bool = False) -> str:
    """A new virtual environment holding only ``requirements`` (files in inference/), as the image installs them;
    returns its python. pip takes what its cache holds."""
    pip_env = {**os.environ, "PIP_DISABLE_PIP_VERSION_CHECK": "1"}
    run([sys.executable, "-m", "venv", str(folder)], env=pip_env)
    python = str(folder / "bin" / "python")
    pip = [python, "-m", "pip", "install", "--quiet"]
    if cpu_torch:
        import torch

        torch_pin = f"torch=={torch.__version__.split('+')[0]}"
        run(
            [*pip, "--no-deps", torch_pin, "--index-url", "https://download.pytorch.org/whl/cpu"],
            env=pip_env,
            timeout=INSTALL_SECONDS,
        )
    files = [arg for name in requirements for arg in ("-r", str(ROOT / "inference" / name))]
    run([*pip, *files], env=pip_env, timeout=INSTALL_SECONDS)
    return python


def answers(python: str, registry: Path, hf_home: Path, *args: str) -> dict[str, Any]:
    """What the handler in ``python``'s environment answers for each entry of ``registry``, offline."""
    env = {
        "PATH": "/usr/bin:/bin",
        "HOME": str(hf_home.parent),
        "HF_HOME": str(hf_home),
        "HF_HUB_OFFLINE": "1",
        "HF_ENDPOINT": "http://127.0.0.1:9",
        "MODELS_FILE": str(registry),
    }
    done: dict[str, Any] = json.loads(run([python, "-c", ANSWER_EVERY_ENTRY, *args], env=env).stdout.splitlines()[-1])
    assert Path(done["prefix"]) == Path(python).parent.parent
    for name, response in done["answers"].items():
        assert "result" in response, (name, response.get("error"))
    return done


@pytest.mark.slow
def test_the_serving_environment_answers_every_fast_entry_without_torch_or_transformers(
    warmed: Path, fast_registry: Path, session_hf_home: Path, tmp_path: Path
) -> None:
    """As inference/Dockerfile installs it: inference/requirements.txt alone. The conversions come from this venv's warm."""
    python = image_venv(tmp_path / "serving-venv", "requirements.txt")
    for heavy in ("torch", "transformers"):
        refused = subprocess.run([python, "-c", f"import {heavy}"], capture_output=True, text=True, check=False)
        assert f"No module named '{heavy}'" in refused.stderr
    default = answers(python, DEFAULT_MODELS_FILE, warmed, "fast")
    fast = [spec.name for spec in load_registry(DEFAULT_MODELS_FILE) if spec.backend != "torch"]
    assert list(default["answers"]) == fast and fast
    tiny = answers(python, fast_registry, session_hf_home, "fast")
    served = {load_registry(fast_registry).get(name).task for name in tiny["answers"]}
    assert served == {task for task in TASKS if default_backend(task) != "torch"}, "every task on a fast backend"
    for done in (default, tiny):
        assert (done["importable"], done["imported"]) == ([], [])


@pytest.mark.slow
def test_every_default_entry_answers_in_an_environment_with_only_the_conversion_image_requirements(
    served: tuple[FakeHub, dict[str, Path]], tmp_path: Path
) -> None:
    """As inference/Dockerfile.convert installs it: CPU torch alone from PyTorch's index, then both requirements files."""
    hub, _ = served
    started = time.monotonic()
    python = image_venv(tmp_path / "conversion-venv", "requirements.txt", "requirements-convert.txt", cpu_torch=True)
    installed = time.monotonic()
    base = {
        "PATH": "/usr/bin:/bin",
        "HOME": str(tmp_path),
        "PYTHONUNBUFFERED": "1",
        "MODELS_FILE": str(DEFAULT_MODELS_FILE),
    }
    env = {**base, "HF_HOME": str(tmp_path / "hf-home"), "HF_ENDPOINT": hub.url}
    run([python, "-m", "inference", "check"], env=env)
    run([python, "-m", "inference", "warm"], env=env, timeout=900)
    done = answers(python, DEFAULT_MODELS_FILE, tmp_path / "hf-home")
    assert list(done["answers"]) == load_registry(DEFAULT_MODELS_FILE).names
    print(
        f"conversion venv: installed in {installed - started:.0f} s, checked, warmed and answered in {time.monotonic() - installed:.0f} s"
    )
