"""Every default registry entry answers through the model handler from the files its Hub repository really has.

tests/hub_repos/ records each default entry's repository at its pin; the fake
Hub serves a tiny model with exactly that file set at that pin. ``python -m
inference warm`` fills a fresh cache (converting the two pickle-only ones), and
then, offline as on Lambda, ``inference.handler.handler`` answers each entry's
own example. The last test does the same in a new virtual environment that holds
only ``inference/requirements.txt``, as the model image does.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from inference import cli, handler, loader
from inference.check import tokenizer_kind
from inference.registry import DEFAULT_MODELS_FILE, load_registry
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
#: Runs each default entry's example through the Lambda handler, each as a fresh container; prints the answers.
ANSWER_EVERY_ENTRY = """
import json, os, sys
from inference import handler
from inference.registry import load_registry
from inference.service import LoadOnce
answers = {}
for spec in load_registry():
    os.environ["MODEL_NAME"] = spec.name
    handler._spec.cache_clear()
    handler._runner = LoadOnce(handler._load)
    answers[spec.name] = handler.handler({"text": spec.example})
print(json.dumps({"prefix": sys.prefix, "answers": answers}))
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


@pytest.mark.slow
def test_every_default_entry_answers_through_the_model_handler(
    served: tuple[FakeHub, dict[str, Path]],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    use_registry: Callable[[Path, str], None],
) -> None:
    hub, _ = served
    hub.use(monkeypatch)
    hub.clear()
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf-home"))
    monkeypatch.delenv("HF_HUB_CACHE", raising=False)
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setenv("MODELS_FILE", str(DEFAULT_MODELS_FILE))
    assert cli.main(["warm"]) == 0
    pickles = sorted(
        call.path.split("/resolve/")[0] for call in hub.calls("GET", "/resolve/") if call.path.endswith(".bin")
    )
    assert pickles == ["/Helsinki-NLP/opus-mt-en-fr", "/sshleifer/distilbart-cnn-12-6"], "pickles only to convert"

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


@pytest.mark.slow
def test_every_default_entry_answers_in_an_environment_with_only_the_image_requirements(
    served: tuple[FakeHub, dict[str, Path]], tmp_path: Path
) -> None:
    """As inference/Dockerfile installs it: CPU torch alone from PyTorch's index, then inference/requirements.txt."""
    hub, _ = served
    import torch

    started = time.monotonic()
    venv = tmp_path / "image-venv"
    base = {"PATH": "/usr/bin:/bin", "HOME": os.environ.get("HOME", str(tmp_path))}
    pip_env = {**os.environ, "PIP_DISABLE_PIP_VERSION_CHECK": "1"}
    run([sys.executable, "-m", "venv", str(venv)], env=pip_env)
    python = str(venv / "bin" / "python")
    pip = [python, "-m", "pip", "install", "--quiet"]
    torch_pin = f"torch=={torch.__version__.split('+')[0]}"
    run(
        [*pip, "--no-deps", torch_pin, "--index-url", "https://download.pytorch.org/whl/cpu"],
        env=pip_env,
        timeout=INSTALL_SECONDS,
    )
    run([*pip, "-r", str(ROOT / "inference" / "requirements.txt")], env=pip_env, timeout=INSTALL_SECONDS)
    installed = time.monotonic()

    env = {**base, "HF_HOME": str(tmp_path / "hf-home"), "HF_ENDPOINT": hub.url, "PYTHONUNBUFFERED": "1"}
    run([python, "-m", "inference", "check"], env=env)
    run([python, "-m", "inference", "warm"], env=env)
    answered = run(
        [python, "-c", ANSWER_EVERY_ENTRY], env={**env, "HF_HUB_OFFLINE": "1", "HF_ENDPOINT": "http://127.0.0.1:9"}
    )
    done = json.loads(answered.stdout.splitlines()[-1])
    assert Path(done["prefix"]) == venv
    for name, response in done["answers"].items():
        assert "result" in response, (name, response)
    assert list(done["answers"]) == load_registry(DEFAULT_MODELS_FILE).names
    print(
        f"image venv: installed in {installed - started:.0f} s, checked, warmed and answered in {time.monotonic() - installed:.0f} s"
    )
