"""Summarization and translation on CTranslate2 in fresh processes: ``warm``, the Lambda handler, ``run``, ``bot serve``.

The entries are the default setup (int8, the backend's default) over a tiny
Marian and a tiny BART with opus-mt's and distilbart's file sets, and a BART
whose generation config suppresses tokens, which CTranslate2 cannot do, so that
``warm`` says it serves it with torch instead.
"""

from __future__ import annotations

import json
import subprocess
import urllib.request
from pathlib import Path

import pytest

from tests.conftest import start_server, stop_server
from tests.ct2_models import build_ct2_models
from tests.fakes.slack_api import FakeSlackApi
from tests.speed.processes import offline_python, probe_handler

pytestmark = pytest.mark.slow

LINE = "The meeting has been moved to Thursday afternoon."
REFUSAL = "its generation config sets suppress_tokens, which the CTranslate2 runner does not apply"


@pytest.fixture(scope="module")
def warmed(
    tmp_path_factory: pytest.TempPathFactory, tiny_registry: Path
) -> tuple[Path, subprocess.CompletedProcess[str]]:
    """The CTranslate2 registry, and what ``python -m inference warm`` said converting three of its entries."""
    registry = build_ct2_models(tmp_path_factory.mktemp("ct2-processes"), tiny_registry.parent)
    return registry, offline_python(
        registry, "-m", "inference", "warm", "ct2-marian-int8", "ct2-bart-int8", "ct2-suppressing"
    )


def test_warm_converts_and_says_which_entry_falls_back_to_torch(
    warmed: tuple[Path, subprocess.CompletedProcess[str]],
) -> None:
    _, completed = warmed
    assert completed.returncode == 0, completed.stderr
    for entry in ("ct2-marian-int8", "ct2-bart-int8"):
        assert f"{entry}: ctranslate2 conversion ready in" in completed.stdout
    assert f"ct2-suppressing: ctranslate2 cannot serve it, so it is served with torch: {REFUSAL}" in completed.stdout
    assert f"1 entry fell back to torch: ct2-suppressing ({REFUSAL})" in completed.stdout


@pytest.mark.parametrize(("entry", "key"), [("ct2-marian-int8", "translation"), ("ct2-bart-int8", "summary")])
def test_the_handler_answers_without_importing_torch_or_transformers(
    warmed: tuple[Path, subprocess.CompletedProcess[str]], entry: str, key: str
) -> None:
    registry, _ = warmed
    completed = probe_handler(registry, entry, {"text": LINE, "parameters": {"max_new_tokens": 8}})
    assert completed.returncode == 0, completed.stderr
    report = json.loads(completed.stdout)
    assert report["heavy"] == []
    assert set(report["response"]["result"]) == {key, "chunks"}


@pytest.mark.parametrize("entry", ["ct2-marian-int8", "ct2-suppressing"])
def test_python_m_inference_run_answers_offline_on_ctranslate2_or_its_torch_fallback(
    warmed: tuple[Path, subprocess.CompletedProcess[str]], entry: str
) -> None:
    registry, _ = warmed
    completed = offline_python(registry, "-m", "inference", "run", entry, LINE, "--param", "max_new_tokens=4")
    assert completed.returncode == 0, completed.stderr
    response = json.loads(completed.stdout)
    assert response["model"] == entry
    assert response["result"]["chunks"] == 1


def test_python_m_inference_run_names_warm_when_nothing_was_converted(
    warmed: tuple[Path, subprocess.CompletedProcess[str]],
) -> None:
    registry, _ = warmed
    completed = offline_python(registry, "-m", "inference", "run", "ct2-marian", LINE)
    assert completed.returncode == 1
    error = json.loads(completed.stdout)["error"]
    assert error["type"] == "model_load_failed"
    assert "python -m inference warm ct2-marian" in error["message"]


def test_bot_serve_answers_the_form_with_both_models(
    warmed: tuple[Path, subprocess.CompletedProcess[str]], tmp_path: Path
) -> None:
    registry, _ = warmed
    answers = {}
    with FakeSlackApi() as slack:
        server = start_server(registry=registry, slack=slack, workdir=tmp_path)
        try:
            for entry in ("ct2-marian-int8", "ct2-bart-int8"):
                request = urllib.request.Request(
                    f"{server.url}/go",
                    data=json.dumps({"model": entry, "text": LINE}).encode(),
                    headers={"Content-Type": "application/json"},
                    method="POST",
                )
                with urllib.request.urlopen(request, timeout=60) as answer:
                    answers[entry] = json.loads(answer.read())
        finally:
            stop_server(server)
    assert isinstance(answers["ct2-marian-int8"]["result"]["translation"], str)
    assert isinstance(answers["ct2-bart-int8"]["result"]["summary"], str)
