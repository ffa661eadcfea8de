"""A server whose registry adds models that fail on purpose, for the end-to-end tests.

Every message, blocks array and view the bot sends (Web API calls, ``response_url``
posts, acks) is checked against Block Kit's limits as it goes; a test fails on
teardown if anything it (or the test before it, still finishing) sent broke one.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from tests.conftest import BOT_TOKEN, BotServer, start_server, stop_server
from tests.fakes.slack_api import FakeSlackApi


@pytest.fixture(scope="session")
def e2e_registry(tiny_registry: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny models plus ``tiny-broken`` (weights missing), ``tiny-slow`` (1 s timeout) and
    ``tiny-crash`` (a classifier only the worker-crash test uses)."""
    data = yaml.safe_load(tiny_registry.read_text())
    for entry in data["models"]:
        entry["model"] = str((tiny_registry.parent / entry["model"]).resolve())
    base = dict(data["models"][0])
    folder = tmp_path_factory.mktemp("e2e-registry")
    (folder / "broken").mkdir()
    data["models"] += [
        {**base, "name": "tiny-broken", "model": str(folder / "broken"), "title": "Broken model"},
        {**base, "name": "tiny-slow", "timeout": 1, "title": "Slow model"},
        {**base, "name": "tiny-crash", "title": "Model whose worker gets killed"},
    ]
    path = folder / "models.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


@pytest.fixture(scope="session")
def server(e2e_registry: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[BotServer]:
    with FakeSlackApi(expect_token=BOT_TOKEN) as slack:
        running = start_server(registry=e2e_registry, slack=slack, workdir=tmp_path_factory.mktemp("e2e"))
        yield running
        stop_server(running)
        assert_within_limits(running)


@pytest.fixture(autouse=True)
def healthy_slack(request: pytest.FixtureRequest) -> Iterator[None]:
    """Every test starts and ends with a Slack that answers at once, and fails if it broke a Block Kit limit."""
    if "server" not in request.fixturenames:
        yield
        return
    server: BotServer = request.getfixturevalue("server")
    server.slack.heal()
    yield
    server.slack.heal()
    assert_within_limits(server)


def assert_within_limits(server: BotServer) -> None:
    """Fail on whatever the bot sent since the last check that Slack would refuse or cut."""
    found = server.slack.take_violations() + server.sender.take_violations()
    assert not found, "Block Kit limits broken:\n" + "\n".join(map(str, found))


@pytest.fixture
def channel() -> str:
    """A fresh channel per test, so tests sharing one server never see each other's messages."""
    return "C" + uuid.uuid4().hex[:10].upper()
