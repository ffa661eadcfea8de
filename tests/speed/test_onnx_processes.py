"""The ONNX backend in fresh processes: the Lambda handler, ``python -m inference run``, ``python -m bot serve``."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

from tests.conftest import start_server, stop_server
from tests.fakes.slack_api import FakeSlackApi

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
#: Runs the Lambda handler once, then reports which heavy packages the process imported.
HANDLER_PROBE = """
import json, sys
from inference.handler import handler
response = handler({"text": sys.argv[1]}, None)
heavy = sorted({m.split(".")[0] for m in sys.modules} & {"torch", "transformers"})
print(json.dumps({"response": response, "heavy": heavy}))
"""


def _env(registry: Path, **extra: str) -> dict[str, str]:
    return {**os.environ, "MODELS_FILE": str(registry), "HF_HUB_OFFLINE": "1", **extra}


def _python(registry: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    """A fresh ``python *args`` against ``registry``, offline."""
    return subprocess.run(
        [sys.executable, *args],
        cwd=ROOT,
        env=_env(registry, **env),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_the_handler_serves_onnx_without_importing_torch_or_transformers(onnx_models: Path) -> None:
    completed = _python(
        onnx_models, "-c", HANDLER_PROBE, "I love how quickly this team ships.", MODEL_NAME="onnx-sentiment"
    )
    assert completed.returncode == 0, completed.stderr
    report = json.loads(completed.stdout)
    assert report["heavy"] == []
    assert {label["label"] for label in report["response"]["result"]["labels"]} == {"NEGATIVE", "POSITIVE"}


def test_python_m_inference_run_answers_with_an_onnx_entry(onnx_models: Path) -> None:
    completed = _python(
        onnx_models, "-m", "inference", "run", "onnx-similarity", "A man is eating food. | A man is eating bread."
    )
    assert completed.returncode == 0, completed.stderr
    response = json.loads(completed.stdout)
    assert response["model"] == "onnx-similarity"
    [score] = response["result"]["scores"]
    assert score["sentence"] == "A man is eating bread."


def test_python_m_inference_run_explains_a_missing_export(onnx_models: Path) -> None:
    completed = _python(onnx_models, "-m", "inference", "run", "onnx-not-exported", "hello")
    assert completed.returncode == 1
    error = json.loads(completed.stdout)["error"]
    assert error["type"] == "model_load_failed"
    assert "python -m inference warm onnx-not-exported" in error["message"]


def test_bot_serve_answers_the_form_with_an_onnx_model(onnx_models: Path, tmp_path: Path) -> None:
    with FakeSlackApi() as slack:
        server = start_server(registry=onnx_models, slack=slack, workdir=tmp_path)
        try:
            request = urllib.request.Request(
                f"{server.url}/go",
                data=json.dumps({"model": "onnx-qa", "text": "Where is the tower? | The tower is in Paris."}).encode(),
                headers={"Content-Type": "application/json"},
                method="POST",
            )
            with urllib.request.urlopen(request, timeout=60) as answer:
                body = json.loads(answer.read())
        finally:
            stop_server(server)
    assert body["model"] == "onnx-qa"
    assert set(body["result"]) == {"answer", "score", "start", "end", "truncated"}
