"""The ONNX backend in fresh processes: the Lambda handler, ``python -m inference run``, ``python -m bot serve``."""

from __future__ import annotations

import json
import urllib.request
from pathlib import Path

import pytest

from tests.conftest import start_server, stop_server
from tests.fakes.slack_api import FakeSlackApi
from tests.speed.processes import offline_python, probe_handler

pytestmark = pytest.mark.slow

#: Each process's limit: ONNX answers in seconds.
ONNX_TIMEOUT = 120


def test_the_handler_serves_onnx_without_importing_torch_or_transformers(onnx_models: Path) -> None:
    completed = probe_handler(
        onnx_models, "onnx-sentiment", {"text": "I love how quickly this team ships."}, timeout=ONNX_TIMEOUT
    )
    assert completed.returncode == 0, completed.stderr
    report = json.loads(completed.stdout)
    assert report["heavy"] == []
    assert {label["label"] for label in report["response"]["result"]["labels"]} == {"NEGATIVE", "POSITIVE"}


def test_python_m_inference_run_answers_with_an_onnx_entry(onnx_models: Path) -> None:
    completed = offline_python(
        onnx_models,
        "-m",
        "inference",
        "run",
        "onnx-similarity",
        "A man is eating food. | A man is eating bread.",
        timeout=ONNX_TIMEOUT,
    )
    assert completed.returncode == 0, completed.stderr
    response = json.loads(completed.stdout)
    assert response["model"] == "onnx-similarity"
    [score] = response["result"]["scores"]
    assert score["sentence"] == "A man is eating bread."


def test_python_m_inference_run_explains_a_missing_export(onnx_models: Path) -> None:
    completed = offline_python(
        onnx_models, "-m", "inference", "run", "onnx-not-exported", "hello", timeout=ONNX_TIMEOUT
    )
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
