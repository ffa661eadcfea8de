"""In-process router fixtures: real Services over a fake Slack API and a recording invoker.

The invoker is still this module's :class:`RecordingInvoker`, whose calls are ``(kind, model, payload)``,
because ``slack/test_listeners.py``, ``slack/test_assistant.py`` and ``slack/test_conversation.py``
unpack them so; ``test_router.py`` and ``slack/test_runs.py`` already override the fixture with the
shared :class:`tests.fakes.invoker.FakeInvoker` (four-field calls). Once those three unpack four
fields, this fixture returns a ``FakeInvoker`` and the class and the overrides go.

:func:`wait_idle` is the in-process counterpart of ``tests.conftest.BotServer.wait_idle``: it waits on
an :class:`~bot.local.workers.Activity` until nothing is in flight, where a test would otherwise sleep.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from bot.app import build_services
from bot.core.config import Secrets, Settings
from bot.core.services import Services
from bot.local.workers import Activity
from bot.stores.state import SqliteStateStore
from inference.registry import load_registry
from tests.fakes.signing import SIGNING_SECRET
from tests.fakes.slack_api import FakeSlackApi

BOT_TOKEN = "xoxb-unit-token-0123456789"
#: Bounds a wait for work on other threads, so a test whose work never ends fails instead of hanging.
IDLE_WAIT_SECONDS = 10.0


def wait_idle(activity: Activity, timeout: float = IDLE_WAIT_SECONDS) -> None:
    """Wait until ``activity`` has nothing in flight (a failed assertion naming what still is, after ``timeout``)."""
    deadline = time.monotonic() + timeout
    while not (snapshot := activity.snapshot())["idle"]:
        assert time.monotonic() < deadline, f"still busy after {timeout:.0f} s: {snapshot}"
        time.sleep(0.01)


@dataclass
class RecordingInvoker:
    """Records what the router asks of the models; ``fail`` makes the next call raise (see the module's docstring)."""

    calls: list[tuple[str, str, dict[str, Any]]] = field(default_factory=list)
    fail: Exception | None = None

    def invoke_async(self, model: str, payload: dict[str, Any]) -> None:
        if self.fail:
            raise self.fail
        self.calls.append(("async", model, payload))

    def invoke_sync(self, model: str, payload: dict[str, Any], *, timeout: float) -> dict[str, Any]:
        self.calls.append(("sync", model, payload))
        return {"model": model, "task": "text-classification", "result": {"labels": []}, "timings": {}}


@pytest.fixture
def slack() -> Iterator[FakeSlackApi]:
    """The fake Web API; a test fails if the bot sent it anything Slack would refuse or cut."""
    with FakeSlackApi(expect_token=BOT_TOKEN) as api:
        yield api
        found = api.take_violations()
        assert not found, "Block Kit limits broken:\n" + "\n".join(map(str, found))


@pytest.fixture
def invoker() -> RecordingInvoker:
    return RecordingInvoker()


@pytest.fixture
def services(slack: FakeSlackApi, invoker: RecordingInvoker, tmp_path: Path) -> Services:
    settings = Settings(
        secrets=Secrets(bot_token=BOT_TOKEN, signing_secret=SIGNING_SECRET),
        slack_api_url=slack.base_url,
        data_dir=tmp_path,
        local=True,
    )
    return build_services(settings, load_registry(), invoker, SqliteStateStore(tmp_path / "state.sqlite"))
