"""A server whose registry adds two models that fail on purpose, for the end-to-end tests."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from tests.conftest import BotServer, start_server, stop_server
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
    with FakeSlackApi(expect_token="xoxb-test-token-0123456789") as slack:
        running = start_server(registry=e2e_registry, slack=slack, workdir=tmp_path_factory.mktemp("e2e"))
        yield running
        stop_server(running)


@pytest.fixture(autouse=True)
def healthy_slack(request: pytest.FixtureRequest) -> Iterator[None]:
    """Every test starts and ends with a Slack that answers at once."""
    if "server" not in request.fixturenames:
        yield
        return
    slack: FakeSlackApi = request.getfixturevalue("server").slack
    slack.heal()
    yield
    slack.heal()


@pytest.fixture
def channel() -> str:
    """A fresh channel per test, so tests sharing one server never see each other's messages."""
    return "C" + uuid.uuid4().hex[:10].upper()
