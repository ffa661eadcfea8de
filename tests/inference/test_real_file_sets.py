"""Every default registry entry answers through the model handler from the files its Hub repository really has.

tests/hub_repos/ records each default entry's repository at its pin; the fake
Hub serves a tiny model with exactly that file set at that pin. ``python -m
inference warm`` fills a fresh cache (converting the two pickle-only ones to
safetensors, and each entry for its backend), and then, offline as on Lambda,
``inference.handler.handler`` answers each entry's own example; an entry that
reads a file gets a photo or a recording too, from the store ``MEDIA_DIR``
names, as the router leaves it. The last tests run what each image holds as
plain Python, in a new virtual environment holding only its requirements: the
serving image's (no torch, no transformers) answers every entry on a fast
backend, files and all, and the tiny models on every fast task; the conversion
image's checks, warms and answers every entry.
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
from inference.check import input_files, tokenizer_kind
from inference.media import AUDIO, IMAGE, JPEG, WAV, FileRef, upload_key
from inference.media_store import MEDIA_DIR_ENV, FolderStore
from inference.registry import DEFAULT_MODELS_FILE, ModelSpec, load_registry
from inference.tasks import TASKS, media_kind, parse_input
from tests.conftest import ROOT
from tests.fakes.hub import FakeHub
from tests.hub_repos import TOKENIZERS, publish, record, records
from tests.speech_models import make_wav
from tests.vision_models import make_image

#: How each recorded tokenizer kind reads to ``inference check``.
CHECK_SAYS = {
    "wordpiece-vocab": "WordPiece vocab.txt",
    "wordpiece-json": "tokenizer.json",
    "bpe-vocab-merges": "BPE vocab.json + merges.txt",
    "bpe-json": "tokenizer.json",
    "marian-sentencepiece": "sentencepiece (Marian",
    "clip-bpe": "tokenizer.json",
    "whisper-bpe": "tokenizer.json",
    "none": "none",
}
#: Runs each entry's request (argv[1], a JSON file of them by entry name) through the Lambda handler, each as a
#: fresh container (only the entries on a fast backend with ``fast`` as argv[2]); prints the answers and whether
#: torch or transformers could be imported.
ANSWER_EVERY_ENTRY = """
import importlib.util, json, os, sys
from pathlib import Path
from inference import handler
from inference.registry import load_registry
from inference.service import LoadOnce
requests = json.loads(Path(sys.argv[1]).read_text())
answers = {}
for spec in load_registry():
    if sys.argv[2:] == ["fast"] and spec.backend == "torch":
        continue
    os.environ["MODEL_NAME"] = spec.name
    handler._spec.cache_clear()
    handler._runner = LoadOnce(handler._load)
    answers[spec.name] = handler.handler(requests[spec.name])
heavy = ["torch", "transformers"]
print(json.dumps({
    "prefix": sys.prefix,
    "answers": answers,
    "importable": [name for name in heavy if importlib.util.find_spec(name) is not None],
    "imported": sorted({name.split(".")[0] for name in sys.modules} & set(heavy)),
}))
"""
INSTALL_SECONDS = 600
#: What a file entry is sent: a photo-sized JPEG (wider than tall, larger than any model reads it), and a few
#: seconds of 44.1 kHz speech-band audio, which the speech runners resample to their 16 kHz.
PHOTO, SECONDS = (640, 480), 3.0
MEDIA = {IMAGE: (JPEG, lambda: make_image(*PHOTO, "JPEG")), AUDIO: (WAV, lambda: make_wav(SECONDS, rate=44100))}
#: A tiny model's weights are random, so its detections' scores are low: a detector keeps every box, and draws them.
SETTINGS = {"object-detection": {"threshold": 0.0}}


def entry_requests(registry: Path, media_dir: Path) -> dict[str, dict[str, Any]]:
    """Each entry's request, by name: its example, and for an entry that reads a file the file's reference,
    stored as the router stores an upload, in the folder store at ``media_dir`` (what ``MEDIA_DIR`` names)."""
    store, requests = FolderStore(media_dir), {}
    for spec in load_registry(registry):
        request: dict[str, Any] = {"text": spec.example, "parameters": SETTINGS.get(spec.task, {})}
        kind = media_kind(spec.task)
        if kind is not None:
            media_type, make = MEDIA[kind]
            data = make()
            ref = FileRef(upload_key("5eed", media_type), media_type, f"sample{media_type.extension}", len(data))
            store.put(ref.key, data, mime=media_type.mime)
            request["file"] = ref.to_event()
        requests[spec.name] = request
    return requests


def assert_answers_its_file(spec: ModelSpec, result: dict[str, Any], media_dir: Path) -> None:
    """A default file entry's answer is about what it was sent, in its model's terms: labels from its config (ViT's
    and YOLOS's, commas and "N/A" and all) or the request's, the photo's own size, the recording's length."""
    labels = set(record(spec.name).labels)
    if spec.task == "image-classification":
        assert result["labels"] and {item["label"] for item in result["labels"]} <= labels
    elif spec.task == "zero-shot-image-classification":
        asked = parse_input(spec.task, spec.example, spec.parameters)["candidate_labels"]
        assert sorted(item["label"] for item in result["labels"]) == sorted(asked)
    elif spec.task == "object-detection":
        assert (result["width"], result["height"]) == PHOTO
        assert result["objects"] and {item["label"] for item in result["objects"]} <= labels
        drawn = FolderStore(media_dir).get(result["annotated"]["key"], max_bytes=50_000_000)
        assert drawn.startswith(b"\x89PNG") and result["annotated"]["mime"] == "image/png"
    elif spec.task == "image-to-text":
        assert isinstance(result["caption"], str)
    elif spec.task == "automatic-speech-recognition":
        assert result["duration"] == pytest.approx(SECONDS, abs=0.05) and isinstance(result["text"], str)


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
        task = load_registry(DEFAULT_MODELS_FILE).get(repo.entry).task
        assert input_files(task, list(repo.files))[1] is None, repo.entry
        assert (repo.preprocessor is not None) == (media_kind(task) is not None), f"{repo.entry}: its preprocessor"


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
        recorded = repo.files.get("preprocessor_config.json")
        if recorded is not None:  # the repository's settings, written as transformers writes them: the same bytes
            assert (folders[repo.entry] / "preprocessor_config.json").stat().st_size == recorded, repo.entry


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
    tmp_path: Path,
) -> None:
    hub, _ = served
    hub.use(monkeypatch)
    monkeypatch.setenv("HF_HOME", str(warmed))
    monkeypatch.delenv("HF_HUB_CACHE", raising=False)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")  # as on Lambda: nothing but the cache
    monkeypatch.setenv(MEDIA_DIR_ENV, str(tmp_path / "media"))
    requests = entry_requests(DEFAULT_MODELS_FILE, tmp_path / "media")
    hub.clear()
    for spec in load_registry(DEFAULT_MODELS_FILE):
        use_registry(DEFAULT_MODELS_FILE, spec.name)
        response = handler.handler(requests[spec.name])
        assert "result" in response, (spec.name, response)
        if media_kind(spec.task) is not None:
            assert_answers_its_file(spec, response["result"], tmp_path / "media")
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


def answers(python: str, registry: Path, hf_home: Path, scratch: Path, *args: str) -> dict[str, Any]:
    """What the handler in ``python``'s environment answers for each entry of ``registry``, offline, with the
    files of the entries that read one in a store of their own (``MEDIA_DIR``, in ``scratch``)."""
    media, requests = scratch / f"media-{registry.stem}", scratch / f"requests-{registry.stem}.json"
    requests.write_text(json.dumps(entry_requests(registry, media)), encoding="utf-8")
    env = {
        "PATH": "/usr/bin:/bin",
        "HOME": str(hf_home.parent),
        "HF_HOME": str(hf_home),
        "HF_HUB_OFFLINE": "1",
        "HF_ENDPOINT": "http://127.0.0.1:9",
        "MODELS_FILE": str(registry),
        MEDIA_DIR_ENV: str(media),
    }
    command = [python, "-c", ANSWER_EVERY_ENTRY, str(requests), *args]
    done: dict[str, Any] = json.loads(run(command, env=env).stdout.splitlines()[-1])
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
    default = answers(python, DEFAULT_MODELS_FILE, warmed, tmp_path, "fast")
    fast = [spec.name for spec in load_registry(DEFAULT_MODELS_FILE) if spec.backend != "torch"]
    assert list(default["answers"]) == fast and fast
    for spec in load_registry(DEFAULT_MODELS_FILE):
        if spec.name in fast and media_kind(spec.task) is not None:
            assert_answers_its_file(spec, default["answers"][spec.name]["result"], tmp_path / "media-models")
    tiny = answers(python, fast_registry, session_hf_home, tmp_path, "fast")
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
    done = answers(python, DEFAULT_MODELS_FILE, tmp_path / "hf-home", tmp_path)
    assert list(done["answers"]) == load_registry(DEFAULT_MODELS_FILE).names
    print(
        f"conversion venv: installed in {installed - started:.0f} s, checked, warmed and answered in {time.monotonic() - installed:.0f} s"
    )
