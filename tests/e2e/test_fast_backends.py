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
from inference.registry import load_registry
from tests.conftest import ROOT, start_server, stop_server
from tests.fakes.slack_api import FakeSlackApi

pytestmark = [pytest.mark.slow, pytest.mark.e2e]

#: Runs the Lambda handler on every entry named in argv, each as a fresh container, noting after each answer
#: whether torch or transformers had been imported.
PROBE = """
import json, os, sys
from inference import handler
from inference.service import LoadOnce
report = {}
for name in sys.argv[1:]:
    os.environ["MODEL_NAME"] = name
    handler._spec.cache_clear()
    handler._runner = LoadOnce(handler._load)
    response = handler.handler({"text": handler._spec().example})
    heavy = sorted({m.split(".")[0] for m in sys.modules} & {"torch", "transformers"})
    report[name] = {"response": response, "heavy": heavy}
print(json.dumps(report))
"""


def fast_names(registry: Path) -> list[str]:
    names = [spec.name for spec in load_registry(registry) if spec.backend != TORCH]
    assert names
    return names


def env(registry: Path) -> dict[str, str]:
    return {**os.environ, "MODELS_FILE": str(registry), "HF_HUB_OFFLINE": "1"}


def test_the_handler_answers_every_fast_entry_without_importing_torch_or_transformers(fast_registry: Path) -> None:
    names = fast_names(fast_registry)
    done = subprocess.run(
        [sys.executable, "-c", PROBE, *names],
        cwd=ROOT,
        env=env(fast_registry),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(done.stdout.splitlines()[-1])
    for name in names:
        assert "result" in report[name]["response"], (name, report[name]["response"].get("error"))
        assert report[name]["heavy"] == [], name


def test_python_m_inference_run_answers_with_a_fast_entry(fast_registry: Path) -> None:
    spec = load_registry(fast_registry).get(fast_names(fast_registry)[0])
    done = subprocess.run(
        [sys.executable, "-m", "inference", "run", spec.name, spec.example],
        cwd=ROOT,
        env=env(fast_registry),
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
