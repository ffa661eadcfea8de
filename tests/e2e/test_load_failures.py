"""A model that cannot be loaded says why, on the form, in Slack and at the terminal, within one form wait;
one that is downloading says how far it has come.

The first server runs a registry entry pinned to a Hub model, with ``HF_ENDPOINT`` pointing at a closed
loopback port and an empty ``HF_HOME``: the Hub cannot be reached, as on this machine. The last test
serves a tiny model from the fake Hub, slowly.
"""

from __future__ import annotations

import json
import re
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import BOT_TOKEN, ROOT, BotServer, start_server, stop_server
from tests.e2e.test_slack import flat, placeholder, wait_for_reply
from tests.fakes.hub import FakeHub
from tests.fakes.slack_api import FakeSlackApi
from tests.tiny_models import write_registry

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

PIN = "0123456789abcdef0123456789abcdef01234567"
#: The server's form wait in these tests (tests/conftest.py sets FORM_WAIT_SECONDS=20).
FORM_WAIT = 20.0


def closed_port() -> int:
    """A loopback port nobody listens on (connections are refused at once)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


UNREACHABLE_HUB = f"http://127.0.0.1:{closed_port()}"


@pytest.fixture(scope="module")
def unreachable_hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BotServer]:
    workdir = tmp_path_factory.mktemp("unreachable-hub")
    # The torch backend: the only one that downloads on first use (a fast one serves only what warm converted).
    entry = {
        "name": "hub-sentiment",
        "task": "text-classification",
        "model": "owner/model",
        "revision": PIN,
        "backend": "torch",
    }
    registry = write_registry(workdir / "models.yaml", [entry])
    env = {"HF_ENDPOINT": UNREACHABLE_HUB, "HF_HUB_OFFLINE": "0", "HF_HOME": str(workdir / "hf-home")}
    with FakeSlackApi(expect_token=BOT_TOKEN) as slack:
        server = start_server(registry=registry, slack=slack, workdir=workdir, extra_env=env)
        yield server
        stop_server(server)


def post_go(server: BotServer, body: dict[str, Any]) -> tuple[int, dict[str, Any], float]:
    started = time.monotonic()
    request = urllib.request.Request(
        server.url + "/go", data=json.dumps(body).encode(), headers={"Content-Type": "application/json"}
    )
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            status, payload = response.status, response.read()
    except urllib.error.HTTPError as error:
        status, payload = error.code, error.read()
    return status, json.loads(payload), time.monotonic() - started


def test_the_form_says_why_within_one_wait_and_then_at_once(unreachable_hub: BotServer) -> None:
    status, body, took = post_go(unreachable_hub, {"model": "hub-sentiment", "text": "I love it"})
    assert status == 502, body
    assert took < FORM_WAIT, f"the first answer took {took:.1f} s, longer than the form waits"
    message = body["error"]["message"]
    assert body["error"]["type"] == "model_load_failed"
    assert message.startswith("The model could not be loaded: ")
    assert f"cannot reach the Hugging Face Hub at {UNREACHABLE_HUB}" in message
    assert "python -m inference warm hub-sentiment" in message

    status, body, took = post_go(unreachable_hub, {"model": "hub-sentiment", "text": "again"})
    assert status == 502 and took < 5, "a failed load is remembered: the next request answers at once"
    assert "the next attempt to load it is in" in body["error"]["message"]


def test_slack_gets_the_reason_in_the_thread(unreachable_hub: BotServer) -> None:
    channel = "CLOADFAIL"
    assert unreachable_hub.sender.command("/hub-sentiment", "I love it", channel_id=channel).status == 200
    parent = placeholder(unreachable_hub, channel)
    [reply] = wait_for_reply(unreachable_hub, channel, parent["ts"])
    assert "could not be loaded" in flat(reply) and "cannot reach the Hugging Face Hub" in flat(reply)


def test_bot_invoke_prints_the_reason_and_fails(unreachable_hub: BotServer) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "bot", "invoke", "hub-sentiment", "I love it", "--url", unreachable_hub.url],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1
    assert "could not be loaded" in result.stdout + result.stderr
    assert "Traceback" not in result.stderr


def test_inference_run_fails_in_seconds_with_one_message(tmp_path: Path) -> None:
    # The torch backend: the only one that downloads on first use (a fast one serves only what warm converted).
    entry = {
        "name": "hub-sentiment",
        "task": "text-classification",
        "model": "owner/model",
        "revision": PIN,
        "backend": "torch",
    }
    registry = write_registry(tmp_path / "models.yaml", [entry])
    env = {
        "PATH": "/usr/bin:/bin",
        "MODELS_FILE": str(registry),
        "HF_ENDPOINT": UNREACHABLE_HUB,
        "HF_HOME": str(tmp_path / "hf-home"),
    }
    started = time.monotonic()
    result = subprocess.run(
        [sys.executable, "-m", "inference", "run", "hub-sentiment", "I love it"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    took = time.monotonic() - started
    assert result.returncode == 1
    assert took < 10, f"took {took:.1f} s (huggingface_hub's retries take 23 s)"
    assert "Retrying in" not in result.stderr and "Traceback" not in result.stderr
    response = json.loads(result.stdout)
    assert "cannot reach the Hugging Face Hub" in response["error"]["message"]
    assert response["timings"]["load_ms"] > 0


def test_a_download_in_progress_reports_how_far_it_has_come(tiny_registry: Path, tmp_path: Path) -> None:
    folder = tiny_registry.parent / "classifier"
    size = sum(path.stat().st_size for path in folder.iterdir() if path.is_file())
    with FakeHub(bytes_per_second=max(1, size // 6)) as hub:  # about six seconds for the whole snapshot
        revision = hub.add_repo("owner/tiny-sentiment", folder)
        entry = {"name": "hub-tiny", "task": "text-classification", "model": "owner/tiny-sentiment", "backend": "torch"}
        registry = write_registry(tmp_path / "models.yaml", [{**entry, "revision": revision}])
        env = {
            "HF_ENDPOINT": hub.url,
            "HF_HUB_OFFLINE": "0",
            "HF_HOME": str(tmp_path / "hf-home"),
            "FORM_WAIT_SECONDS": "1",
        }
        with FakeSlackApi(expect_token=BOT_TOKEN) as slack:
            server = start_server(registry=registry, slack=slack, workdir=tmp_path, extra_env=env)
            try:
                waits: list[str] = []
                deadline = time.monotonic() + 90
                while time.monotonic() < deadline:
                    status, body, _ = post_go(server, {"model": "hub-tiny", "text": "I love it"})
                    if status != 202:
                        break
                    waits.append(body["message"])
                    time.sleep(0.5)
            finally:
                stop_server(server)
    assert status == 200, body
    assert body["result"]["labels"]
    progress = [message for message in waits if "downloading" in message]
    assert progress, f"no progress among the warming-up messages: {waits}"
    assert re.search(r"is loading: downloading \d+ of \d+ files, [\d.,]+ MB of [\d.,]+ MB\. ", progress[-1]), progress[
        -1
    ]
