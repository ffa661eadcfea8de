"""Session fixtures shared by the router's end-to-end tests.

``bot_server`` runs ``python -m bot serve`` in a subprocess, exactly as the
README tells people to, with the tiny test models (``MODELS_FILE``), a fake
Slack Web API on 127.0.0.1 (``SLACK_API_URL``) and a fresh data folder.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from bot.local.server import ACTIVITY_PATH
from inference.registry import load_registry
from tests.fakes.signing import SIGNING_SECRET
from tests.fakes.slack_api import FakeSlackApi
from tests.fakes.slack_client import SlackSender
from tests.tiny_models import build_tiny_models, warm, write_registry

ROOT = Path(__file__).resolve().parent.parent
BOT_TOKEN = "xoxb-test-token-0123456789"
PASSCODE = "open-sesame-42"
STARTUP_SECONDS = 60
#: How long :meth:`BotServer.wait_idle` waits: a model's first request starts its worker and loads it.
IDLE_WAIT_SECONDS = 90.0


@pytest.fixture(scope="session", autouse=True)
def session_hf_home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """``HF_HOME`` for the session, inherited by every process it starts: what ``warm`` converts from the
    tests' local models goes there, never into the developer's own cache. A test may set its own."""
    home = tmp_path_factory.mktemp("hf-home")
    previous = os.environ.get("HF_HOME")
    os.environ["HF_HOME"] = str(home)
    yield home
    if previous is None:
        os.environ.pop("HF_HOME", None)
    else:
        os.environ["HF_HOME"] = previous


@pytest.fixture(scope="session")
def tiny_registry(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A registry of tiny random-weight models, one per task, built once per session."""
    return build_tiny_models(tmp_path_factory.mktemp("tiny-models"))


@pytest.fixture(scope="session")
def fast_registry(tiny_registry: Path) -> Path:
    """The tiny models with each entry on its task's default backend (a fast runtime where one serves the task),
    warmed into the session's ``HF_HOME``, as ``python -m inference warm`` would."""
    entries = yaml.safe_load(tiny_registry.read_text(encoding="utf-8"))["models"]
    path = write_registry(
        tiny_registry.with_name("fast.yaml"), [{k: v for k, v in e.items() if k != "backend"} for e in entries]
    )
    warm(load_registry(path))
    return path


@dataclass
class BotServer:
    """A running local server and everything a test needs to talk to it."""

    url: str
    slack: FakeSlackApi
    sender: SlackSender
    process: subprocess.Popen[str]
    log_path: Path
    data_dir: Path
    #: The registry file it serves (``MODELS_FILE``), for commands that must read the same one.
    registry: Path

    def logs(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def worker_pids(self) -> set[int]:
        """The model worker processes: the server's children started by multiprocessing's spawn.

        Read from /proc (no psutil); multiprocessing's resource tracker, also a child, is left out.
        """
        found = set()
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
                command = (entry / "cmdline").read_bytes()
            except (OSError, IndexError, ValueError):
                continue  # gone, or not ours to read
            if parent == self.process.pid and b"spawn_main" in command:
                found.add(int(entry.name))
        return found

    def activity(self) -> dict[str, Any]:
        """The work in flight (lazy listeners, model jobs, deliveries) and ``idle``, as the server counts it."""
        with urllib.request.urlopen(self.url + ACTIVITY_PATH, timeout=10) as response:
            return json.loads(response.read())

    def wait_idle(self, timeout: float = IDLE_WAIT_SECONDS) -> None:
        """Wait until nothing is in flight: no lazy listener, no model job queued or running, no delivery.

        What a test asserting "no second answer arrived" waits for: every request it sent was acked, so
        all the work it started is counted, and once none is left, every answer there will be is posted.

        Raises:
            AssertionError: still busy after ``timeout`` seconds (the message says with what).
        """
        deadline = time.monotonic() + timeout
        while not (activity := self.activity())["idle"]:
            if time.monotonic() > deadline:
                raise AssertionError(f"the server was still busy after {timeout:.0f} s: {activity}")
            time.sleep(0.05)


def start_server(
    *, registry: Path, slack: FakeSlackApi, workdir: Path, extra_env: dict[str, str] | None = None
) -> BotServer:
    """Start ``python -m bot serve --port 0`` and wait for it to print its URL."""
    log_path = workdir / "server.log"
    env = {
        **os.environ,
        "MODELS_FILE": str(registry),
        "SLACK_API_URL": slack.base_url,
        "SLACK_SIGNING_SECRET": SIGNING_SECRET,
        "SLACK_BOT_TOKEN": BOT_TOKEN,
        "DATA_DIR": str(workdir / "data"),
        "HF_HUB_OFFLINE": "1",
        "PYTHONUNBUFFERED": "1",
        "FORM_WAIT_SECONDS": "20",
        **(extra_env or {}),
    }
    log = log_path.open("w", encoding="utf-8")
    process = subprocess.Popen(
        [sys.executable, "-m", "bot", "serve", "--port", "0"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=log,
        text=True,
    )
    deadline = time.monotonic() + STARTUP_SECONDS
    url = ""
    assert process.stdout is not None
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            break
        match = re.search(r"Serving on (http://\S+)", line)
        if match:
            url = match.group(1)
            break
    if not url:
        process.kill()
        raise RuntimeError(f"bot serve did not start:\n{log_path.read_text()}")
    sender = SlackSender(url, SIGNING_SECRET, response_urls=slack.new_response_url)
    return BotServer(
        url=url,
        slack=slack,
        sender=sender,
        process=process,
        log_path=log_path,
        data_dir=workdir / "data",
        registry=registry,
    )


def stop_server(server: BotServer) -> None:
    server.process.terminate()
    try:
        server.process.wait(10)
    except subprocess.TimeoutExpired:
        server.process.kill()


@pytest.fixture(scope="session")
def fake_slack() -> Iterator[FakeSlackApi]:
    with FakeSlackApi(expect_token=BOT_TOKEN) as api:
        yield api


@pytest.fixture(scope="session")
def bot_server(
    tiny_registry: Path, fake_slack: FakeSlackApi, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[BotServer]:
    """One local server for the session; tests reset the fake Slack API as they need."""
    server = start_server(registry=tiny_registry, slack=fake_slack, workdir=tmp_path_factory.mktemp("bot-server"))
    yield server
    stop_server(server)
