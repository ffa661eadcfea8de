"""A Marian model (opus-mt-en-fr's real file set: pickled weights, sentencepiece tokenizer) end to end.

The fake Hub serves a tiny model with exactly the files Helsinki-NLP/opus-mt-en-fr
has at its pin; ``python -m inference warm translate-en-fr`` converts it, and then,
offline, ``python -m inference run`` and ``python -m bot serve`` (the form and a
slash command) translate with its sentencepiece tokenizer.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from inference.registry import DEFAULT_MODELS_FILE
from tests.conftest import BOT_TOKEN, ROOT, BotServer, start_server, stop_server
from tests.e2e.test_load_failures import post_go
from tests.e2e.test_slack import flat, placeholder, wait_for_reply
from tests.fakes.hub import FakeHub
from tests.fakes.slack_api import FakeSlackApi
from tests.hub_repos import publish
from tests.tiny_models import write_registry

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

NAME = "translate-en-fr"
TEXT = "The meeting has been moved to Thursday afternoon."


@dataclass
class Warmed:
    registry: Path
    hf_home: Path


@pytest.fixture(scope="module")
def warmed(tmp_path_factory: pytest.TempPathFactory) -> Warmed:
    """The default registry's translate-en-fr entry alone, its cache filled by warm from the fake Hub."""
    root = tmp_path_factory.mktemp("marian")
    [default] = [e for e in yaml.safe_load(DEFAULT_MODELS_FILE.read_text())["models"] if e["name"] == NAME]
    registry = write_registry(root / "models.yaml", [default])
    with FakeHub() as hub:
        publish(hub, root / "repos", [NAME])
        env = {**os.environ, "MODELS_FILE": str(registry), "HF_HOME": str(root / "hf-home"), "HF_ENDPOINT": hub.url}
        env.pop("HF_HUB_OFFLINE", None)
        done = subprocess.run(
            [sys.executable, "-m", "inference", "warm", NAME],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"{NAME}: converting its pickled weights to safetensors" in done.stdout
    return Warmed(registry, root / "hf-home")


def test_inference_run_translates_offline(warmed: Warmed) -> None:
    env = {**os.environ, "MODELS_FILE": str(warmed.registry), "HF_HOME": str(warmed.hf_home), "HF_HUB_OFFLINE": "1"}
    done = subprocess.run(
        [sys.executable, "-m", "inference", "run", NAME, TEXT],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Traceback" not in done.stderr
    response = json.loads(done.stdout)
    assert response["model"] == NAME and response["revision"] == "dd7f6540a7a48a7f4db59e5c0b9c42c8eea67f18"
    assert isinstance(response["result"]["translation"], str) and response["result"]["translation"]


@pytest.fixture(scope="module")
def marian_server(warmed: Warmed, tmp_path_factory: pytest.TempPathFactory) -> Iterator[BotServer]:
    env = {"HF_HOME": str(warmed.hf_home), "HF_HUB_OFFLINE": "1"}
    with FakeSlackApi(expect_token=BOT_TOKEN) as slack:
        server = start_server(
            registry=warmed.registry, slack=slack, workdir=tmp_path_factory.mktemp("marian-server"), extra_env=env
        )
        yield server
        stop_server(server)


def test_the_form_translates(marian_server: BotServer) -> None:
    status, body, _ = post_go(marian_server, {"model": NAME, "text": TEXT})
    while status == 202:  # warming up: the page asks again, as the form does
        status, body, _ = post_go(marian_server, {"model": NAME, "text": TEXT})
    assert status == 200, body
    assert isinstance(body["result"]["translation"], str) and body["result"]["translation"]


def test_a_slash_command_gets_the_translation_in_the_thread(marian_server: BotServer) -> None:
    channel = "CMARIAN"
    assert marian_server.sender.command(f"/{NAME}", TEXT, channel_id=channel).status == 200
    parent = placeholder(marian_server, channel)
    [reply] = wait_for_reply(marian_server, channel, parent["ts"])
    _, body, _ = post_go(marian_server, {"model": NAME, "text": TEXT})  # the model is deterministic
    assert body["result"]["translation"] in flat(reply)
