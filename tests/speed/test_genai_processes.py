"""Chat on onnxruntime-genai in fresh processes: ``warm``, the Lambda handler, ``python -m inference run``, ``bot serve``.

The entries are the default chat setup (int4, the backend's default) over a
tiny Qwen2 model, and a GPT-2 the model builder cannot convert, which ``warm``
says it serves with torch instead.
"""

from __future__ import annotations

import json
import subprocess
import urllib.request
from pathlib import Path

import pytest

from tests.conftest import start_server, stop_server
from tests.fakes.slack_api import FakeSlackApi
from tests.genai_models import build_chat_models
from tests.speed.processes import offline_python, probe_handler

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def warmed(
    tmp_path_factory: pytest.TempPathFactory, tiny_registry: Path
) -> tuple[Path, subprocess.CompletedProcess[str]]:
    """The chat registry, and what ``python -m inference warm`` said converting two of its entries."""
    registry = build_chat_models(tmp_path_factory.mktemp("genai-processes"), tiny_registry.parent / "chat")
    return registry, offline_python(registry, "-m", "inference", "warm", "genai-qwen-int4", "genai-gpt2")


def test_warm_converts_the_chat_model_and_says_which_entry_falls_back_to_torch(
    warmed: tuple[Path, subprocess.CompletedProcess[str]],
) -> None:
    _, completed = warmed
    assert completed.returncode == 0, completed.stderr
    assert "genai-qwen-int4: onnxruntime-genai conversion ready in" in completed.stdout
    refusal = "GPT2LMHeadModel is not supported by onnxruntime-genai's model builder"
    assert f"genai-gpt2: onnxruntime-genai cannot serve it, so it is served with torch: {refusal}" in completed.stdout
    assert f"1 entry fell back to torch: genai-gpt2 ({refusal})" in completed.stdout


def test_the_handler_chats_without_importing_torch_or_transformers(
    warmed: tuple[Path, subprocess.CompletedProcess[str]],
) -> None:
    registry, _ = warmed
    completed = probe_handler(
        registry, "genai-qwen-int4", {"text": "Where is the tower?", "parameters": {"max_new_tokens": 8}}
    )
    assert completed.returncode == 0, completed.stderr
    report = json.loads(completed.stdout)
    assert report["heavy"] == []
    assert report["response"]["task"] == "text-generation"
    assert isinstance(report["response"]["result"]["text"], str)


@pytest.mark.parametrize("entry", ["genai-qwen-int4", "genai-gpt2"])
def test_python_m_inference_run_answers_offline_on_genai_or_its_torch_fallback(
    warmed: tuple[Path, subprocess.CompletedProcess[str]], entry: str
) -> None:
    registry, _ = warmed
    completed = offline_python(
        registry, "-m", "inference", "run", entry, "Where is the tower?", "--param", "max_new_tokens=4"
    )
    assert completed.returncode == 0, completed.stderr
    response = json.loads(completed.stdout)
    assert response["model"] == entry
    assert isinstance(response["result"]["text"], str)


def test_python_m_inference_run_names_warm_when_nothing_was_converted(
    warmed: tuple[Path, subprocess.CompletedProcess[str]],
) -> None:
    registry, _ = warmed
    completed = offline_python(registry, "-m", "inference", "run", "genai-llama", "Where is the tower?")
    assert completed.returncode == 1
    error = json.loads(completed.stdout)["error"]
    assert error["type"] == "model_load_failed"
    assert "python -m inference warm genai-llama" in error["message"]


def test_bot_serve_answers_the_form_with_the_chat_model(
    warmed: tuple[Path, subprocess.CompletedProcess[str]], tmp_path: Path
) -> None:
    registry, _ = warmed
    with FakeSlackApi() as slack:
        server = start_server(registry=registry, slack=slack, workdir=tmp_path)
        try:
            request = urllib.request.Request(
                f"{server.url}/go",
                data=json.dumps({"model": "genai-qwen-int4", "text": "Where is the tower?"}).encode(),
                headers={"Content-Type": "application/json"},
                method="POST",
            )
            with urllib.request.urlopen(request, timeout=60) as answer:
                body = json.loads(answer.read())
        finally:
            stop_server(server)
    assert body["model"] == "genai-qwen-int4"
    assert isinstance(body["result"]["text"], str)
