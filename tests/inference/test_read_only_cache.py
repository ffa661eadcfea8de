"""Serving never writes to the cache: every runtime answers from a warmed cache that it may not change.

The model functions mount EFS after the deploy's warm step has filled it, and
run offline; this is what lets their grant be read-only (``ClientMount`` only:
infra/models.py, tests/infra/test_permissions.py). Here each fast runtime
(ONNX Runtime, CTranslate2, ONNX Runtime GenAI) and torch (a safetensors
snapshot, and a pickle-only one served from its checked conversion) is warmed
from the fake Hub into a fresh ``HF_HOME``, as the warm step does, and then the
real model handler answers in a fresh process with ``HF_HUB_OFFLINE=1``, a Hub
that cannot be reached, and three witnesses of any write under ``HF_HOME``:

- every file and folder is made read-only (``chmod a-w``), unless the tests run
  as root, for whom permissions change nothing;
- an audit hook (``sys.addaudithook``) in that process records each ``open``
  with a write flag and each ``mkdir``, ``rename``, ``remove``, ``rmdir``,
  ``chmod``, ``utime``, ``truncate``, link and ``rmtree`` under ``HF_HOME``: what
  Python code (huggingface_hub's lock files and ``.no_exist`` markers among it)
  would do;
- the tree's listing (each path's type, size, mode, link target, modification
  and change times) before and after: what native code (the runtimes' C++)
  would leave, a file made and removed again included, since that changes its
  folder's times.
"""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from inference.registry import load_registry
from inference.warming import warm_entry
from tests.ct2_models import LINES, build_marian
from tests.fakes.hub import FakeHub
from tests.genai_models import build_qwen
from tests.hub_repos import publish, record

REPO = Path(__file__).resolve().parents[2]
#: Each entry, the runtime it stands for, and what it is asked.
ENTRIES: dict[str, dict[str, Any]] = {
    "ro-onnx": {"task": "text-classification", "repo": "sentiment", "text": "I love how quickly this team ships."},
    "ro-torch": {"task": "text-classification", "repo": "sentiment", "backend": "torch", "text": "I love it."},
    "ro-ct2": {"task": "translation", "repo": "test/marian", "backend": "ctranslate2", "text": LINES[0]},
    "ro-genai": {
        "task": "text-generation",
        "repo": "test/qwen",
        "backend": "onnxruntime-genai",
        "text": "Where is the tower?",
        "parameters": {"max_new_tokens": 4},
    },
    "ro-pickled-torch": {"task": "translation", "repo": "translate-en-fr", "backend": "torch", "text": LINES[1]},
}

#: Runs first in the serving process: record every write under HF_HOME (then it answers, below).
HOOK = r"""
import json, os, sys

home = os.path.realpath(os.environ["HF_HOME"])
writes = []
WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND
#: Audit events that change the file system, and which of their arguments are paths.
PATH_EVENTS = {
    "os.mkdir": (0,), "os.rename": (0, 1), "os.remove": (0,), "os.rmdir": (0,), "os.chmod": (0,),
    "os.chown": (0,), "os.utime": (0,), "os.truncate": (0,), "os.link": (0, 1), "os.symlink": (1,),
    "shutil.rmtree": (0,), "shutil.copyfile": (1,), "shutil.copytree": (1,), "shutil.move": (0, 1),
    "tempfile.mkstemp": (0,), "tempfile.mkdtemp": (0,),
}


def under_home(path):
    if isinstance(path, int) or path is None:
        return False
    try:
        text = os.fsdecode(path)
    except TypeError:
        return False
    full = os.path.abspath(text)
    return full == home or full.startswith(home + os.sep) or os.path.realpath(full).startswith(home + os.sep)


def hook(event, args):
    if event == "open":
        path, mode, flags = args
        if (flags or 0) & WRITE_FLAGS and under_home(path):
            writes.append([event, os.fsdecode(path), str(mode), flags])
    elif event in PATH_EVENTS:
        paths = [args[i] for i in PATH_EVENTS[event] if i < len(args)]
        if any(under_home(path) for path in paths):
            writes.append([event, *[str(path) for path in paths]])


sys.addaudithook(hook)
"""
SERVE = (
    HOOK
    + """
from inference import handler

answer = handler.handler({"text": sys.argv[2]}, None)
with open(sys.argv[1], "w", encoding="utf-8") as out:
    json.dump({"answer": answer, "writes": writes}, out)
"""
)
#: The witnesses' own test: Python writes, and a file native code makes and removes again.
WRITE_SOME = (
    HOOK
    + """
import ctypes
with open(os.path.join(home, "python-wrote-this"), "w") as file:
    file.write("x")
os.mkdir(os.path.join(home, "a-folder"))
os.rmdir(os.path.join(home, "a-folder"))
libc = ctypes.CDLL(None)
native = os.path.join(home, "hub", "native-lock").encode()
os.close(libc.creat(native, 0o644))
libc.unlink(native)
with open(sys.argv[1], "w", encoding="utf-8") as out:
    json.dump({"writes": writes}, out)
"""
)


def listing(home: Path) -> dict[str, tuple[Any, ...]]:
    """Every path under ``home`` (itself included) with what a write would change; not access times."""
    found = {}
    for path in [home, *home.rglob("*")]:
        info = path.lstat()
        target = os.readlink(path) if stat.S_ISLNK(info.st_mode) else None
        found[str(path.relative_to(home))] = (
            stat.S_IFMT(info.st_mode),
            stat.S_IMODE(info.st_mode),
            info.st_size,
            info.st_mtime_ns,
            info.st_ctime_ns,
            target,
        )
    return found


def make_read_only(home: Path, *, writable: bool = False) -> None:
    """``chmod -R a-w`` (or ``u+w`` back, for clean-up), links left alone."""
    for path in [home, *home.rglob("*")]:
        if path.is_symlink():
            continue
        mode = stat.S_IMODE(path.lstat().st_mode)
        path.chmod(mode | stat.S_IWUSR if writable else mode & ~(stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH))


@pytest.fixture(scope="module")
def warmed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, Path]]:
    """A cache the warm step filled for every entry of ``ENTRIES`` (from the fake Hub), and its registry."""
    root = tmp_path_factory.mktemp("read-only")
    home = root / "mnt" / "hf_models"
    home.mkdir(parents=True)
    with FakeHub() as hub, pytest.MonkeyPatch.context() as patch:
        publish(hub, root / "repos", ["sentiment", "translate-en-fr"])
        revisions = {name: record(name).revision for name in ("sentiment", "translate-en-fr")}
        models = {name: record(name).repo for name in revisions}
        revisions["test/marian"] = hub.add_repo("test/marian", build_marian(root / "marian"))
        revisions["test/qwen"] = hub.add_repo("test/qwen", build_qwen(root / "qwen"))
        entries = []
        for name, entry in ENTRIES.items():
            fields = {k: v for k, v in entry.items() if k not in ("repo", "text")}
            repo = entry["repo"]
            entries.append(
                {"name": name, "model": models.get(repo, repo), "revision": revisions[repo], "title": name, **fields}
            )
        registry = root / "models.yaml"
        registry.write_text(yaml.safe_dump({"models": entries}, sort_keys=False), encoding="utf-8")
        hub.use(patch)
        patch.setenv("HF_HOME", str(home))
        patch.delenv("HF_HUB_CACHE", raising=False)
        patch.delenv("HF_HUB_OFFLINE", raising=False)
        for spec in load_registry(registry):
            result = warm_entry(spec, say=lambda line: None)
            assert result.refused is None, (spec.name, result.refused)
    if os.geteuid() != 0:
        make_read_only(home)
    yield home, registry
    make_read_only(home, writable=True)  # so the temporary folder can be removed


def serve(script: str, home: Path, out: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    """Run ``script`` in a fresh process on the cache ``home``, offline, with a Hub that cannot be reached."""
    environment = {
        **os.environ,
        "HF_HOME": str(home),
        "HF_HUB_OFFLINE": "1",
        "HF_ENDPOINT": "http://127.0.0.1:9",  # nothing listens there: a request would fail, not pass unseen
        "PYTHONDONTWRITEBYTECODE": "1",
        **env,
    }
    environment.pop("HF_HUB_CACHE", None)
    return subprocess.run(
        [sys.executable, "-c", script, str(out), *args],
        cwd=REPO,
        env=environment,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_the_witnesses_see_python_and_native_writes(tmp_path: Path) -> None:
    home = tmp_path / "hf_models"
    (home / "hub").mkdir(parents=True)
    before = listing(home)
    out = tmp_path / "writes.json"
    done = serve(WRITE_SOME, home, out)
    assert done.returncode == 0, done.stderr[-3000:]
    events = [event for event, *_ in json.loads(out.read_text(encoding="utf-8"))["writes"]]
    assert events == ["open", "os.mkdir", "os.rmdir"], "the native file is not Python's to see"
    after = listing(home)
    assert after != before and after["hub"] != before["hub"], "the native file changed its folder's times"


@pytest.mark.slow
@pytest.mark.parametrize("name", list(ENTRIES))
def test_each_runtime_answers_from_a_warm_cache_it_never_writes_to(
    warmed: tuple[Path, Path], name: str, tmp_path: Path
) -> None:
    home, registry = warmed
    before = listing(home)
    out = tmp_path / "answer.json"
    done = serve(SERVE, home, out, ENTRIES[name]["text"], MODELS_FILE=str(registry), MODEL_NAME=name)
    assert done.returncode == 0, done.stderr[-3000:]
    outcome = json.loads(out.read_text(encoding="utf-8"))
    answer = outcome["answer"]
    assert "error" not in answer, answer
    assert answer["model"] == name and answer["result"]
    assert outcome["writes"] == [], "the serving process asked to write under HF_HOME"
    assert listing(home) == before, "something under HF_HOME changed while serving"
    if os.geteuid() != 0:
        assert not any(stat.S_IMODE(mode) & 0o222 for _, mode, *_ in before.values()), "the cache was read-only"
