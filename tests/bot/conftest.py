"""In-process router fixtures: real Services over a fake Slack API and the shared invoker fake
(:class:`tests.fakes.invoker.FakeInvoker`).

:func:`wait_idle` is the in-process counterpart of ``tests.conftest.BotServer.wait_idle``: it waits on
an :class:`~bot.local.workers.Activity` until nothing is in flight, where a test would otherwise sleep.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.app import build_bolt_app, build_services
from bot.core.config import Secrets, Settings
from bot.core.invoker import LambdaInvoker
from bot.core.services import Services
from bot.local.workers import Activity
from bot.router import Router
from bot.stores.state import SqliteStateStore
from inference.registry import load_registry
from tests.fakes.invoker import FakeInvoker, FakeLambdaClient
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


@pytest.fixture
def slack() -> Iterator[FakeSlackApi]:
    """The fake Web API; a test fails if the bot sent it anything Slack would refuse or cut."""
    with FakeSlackApi(expect_token=BOT_TOKEN) as api:
        yield api
        found = api.take_violations()
        assert not found, "Block Kit limits broken:\n" + "\n".join(map(str, found))


@pytest.fixture
def invoker() -> FakeInvoker:
    """The shared fake of the models, under ``services``: every call recorded as a four-field Call."""
    return FakeInvoker()


@pytest.fixture
def services(slack: FakeSlackApi, invoker: FakeInvoker, tmp_path: Path) -> Services:
    settings = Settings(
        secrets=Secrets(bot_token=BOT_TOKEN, signing_secret=SIGNING_SECRET),
        slack_api_url=slack.base_url,
        data_dir=tmp_path,
        local=True,
    )
    return build_services(settings, load_registry(), invoker, SqliteStateStore(tmp_path / "state.sqlite"))


@pytest.fixture
def aws(services: Services) -> tuple[Router, FakeLambdaClient]:
    """The router in Lambda mode over ``services``: models and Bolt's lazy self-invocations go to one fake client."""
    client = FakeLambdaClient()
    services.invoker = LambdaInvoker("hf-test", client=client)
    router = Router(services, build_bolt_app(services), lambda_mode=True)
    router.app.listener_runner.lazy_listener_runner.lambda_client = client
    return router, client
