"""Every task on a fast backend answers end to end, without torch: the Lambda handler, ``inference run``, the form.

``fast_registry`` (tests/conftest.py) puts each tiny model on its task's default
backend and warms it; a backend added to inference/backends.py joins these
tests with its first entry.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

from inference.backends import TORCH
from inference.media import AUDIO, IMAGE
from inference.registry import load_registry
from inference.tasks import media_kind
from tests.conftest import ROOT, start_server, stop_server
from tests.fakes.slack_api import FakeSlackApi
from tests.probes import probe

pytestmark = [pytest.mark.slow, pytest.mark.e2e]

#: Runs the Lambda handler on every entry named in argv, each as a fresh container, noting after each answer
#: whether torch or transformers had been imported. An entry that reads a file gets a sample one, stored
#: where the handler reads files (MEDIA_DIR) as the router stores it.
PROBE = """
import json, os, sys
from pathlib import Path
from inference import handler
from inference.media import FileRef, sniff, upload_key
from inference.media_store import FolderStore
from inference.service import LoadOnce
from inference.tasks import media_kind
from tests.e2e.test_fast_backends import sample_file
store = FolderStore(Path(os.environ["MEDIA_DIR"]))
report = {}
for name in sys.argv[1:]:
    os.environ["MODEL_NAME"] = name
    handler._spec.cache_clear()
    handler._runner = LoadOnce(handler._load)
    event = {"text": handler._spec().example}
    kind = media_kind(handler._spec().task)
    if kind is not None:
        data = sample_file(kind)
        key = upload_key("probe", sniff(data))
        store.put(key, data, mime=sniff(data).mime)
        event["file"] = FileRef(key, sniff(data), "sample", len(data)).to_event()
    response = handler.handler(event)
    heavy = sorted({m.split(".")[0] for m in sys.modules} & {"torch", "transformers"})
    report[name] = {"response": response, "heavy": heavy}
print(json.dumps(report))
"""


def sample_file(kind: str) -> bytes:
    """A file of ``kind`` for an entry that reads one: a small photo-like PNG, or two seconds of a tone as WAV."""
    from tests.speech_models import make_wav
    from tests.vision_models import make_image

    return make_image(width=96, height=64) if kind == IMAGE else make_wav(2.0)


def fast_names(registry: Path) -> list[str]:
    names = [spec.name for spec in load_registry(registry) if spec.backend != TORCH]
    assert names
    return names


def env(registry: Path, media: Path) -> dict[str, str]:
    return {**os.environ, "MODELS_FILE": str(registry), "HF_HUB_OFFLINE": "1", "MEDIA_DIR": str(media)}


def test_the_handler_answers_every_fast_entry_without_importing_torch_or_transformers(
    fast_registry: Path, tmp_path: Path
) -> None:
    names = fast_names(fast_registry)
    assert {media_kind(load_registry(fast_registry).get(name).task) for name in names} >= {IMAGE, AUDIO}
    report = probe(PROBE, *names, env=env(fast_registry, tmp_path / "media"), timeout=300)
    for name in names:
        assert "result" in report[name]["response"], (name, report[name]["response"].get("error"))
        assert report[name]["heavy"] == [], name


def test_python_m_inference_run_answers_with_a_fast_entry(fast_registry: Path, tmp_path: Path) -> None:
    spec = load_registry(fast_registry).get(fast_names(fast_registry)[0])
    done = subprocess.run(
        [sys.executable, "-m", "inference", "run", spec.name, spec.example],
        cwd=ROOT,
        env=env(fast_registry, tmp_path),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert json.loads(done.stdout)["model"] == spec.name


def test_the_form_of_bot_serve_answers_every_fast_entry(fast_registry: Path, tmp_path: Path) -> None:
    registry = load_registry(fast_registry)
    with FakeSlackApi() as slack:
        server = start_server(registry=fast_registry, slack=slack, workdir=tmp_path)
        try:
            for name in fast_names(fast_registry):
                if media_kind(registry.get(name).task) is not None:
                    continue  # the form's uploads: tests/e2e/test_media_form.py
                request = urllib.request.Request(
                    f"{server.url}/go",
                    data=json.dumps({"model": name, "text": registry.get(name).example}).encode(),
                    headers={"Content-Type": "application/json"},
                    method="POST",
                )
                with urllib.request.urlopen(request, timeout=120) as answer:
                    body = json.loads(answer.read())
                assert "result" in body, (name, body)
        finally:
            stop_server(server)
