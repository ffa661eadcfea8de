"""The router in one process, as the Lambda entry builds it, for hostile-input tests.

``lambda_router`` is ``bot.router.Router`` in Lambda mode over the bundled
registry, a fake Slack Web API and the two model doubles of :mod:`tests.fakes.invoker`:
boto3's Lambda client (Bolt's lazy listeners invoke the router itself through it) and the
model invoker (which echoes the text back, as a model that repeats its input would).
``run_lazy`` plays Lambda's part by running the recorded self-invocations.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from bot.app import build_bolt_app, build_services
from bot.core.config import Secrets, Settings
from bot.router import Router
from bot.stores.state import SqliteStateStore
from inference.registry import Registry, load_registry
from tests.fakes.invoker import FakeInvoker, FakeLambdaClient, echo
from tests.fakes.signing import FORM, SIGNING_SECRET, signed_headers
from tests.fakes.slack_api import FakeSlackApi
from tests.fakes.slack_client import LambdaContext, api_gateway_event

ROOT = Path(__file__).resolve().parents[2]
BOT_TOKEN = "xoxb-security-token-8c2e41"
EVENTS = "/slack/events"


@dataclass
class InProcess:
    """The router and its doubles; ``handle`` is what API Gateway's call to the Lambda does."""

    router: Router
    lambdas: FakeLambdaClient
    models: FakeInvoker
    slack: FakeSlackApi

    def handle(self, event: dict[str, Any]) -> dict[str, Any]:
        return self.router.handle(event, LambdaContext())

    def run_lazy(self) -> list[dict[str, Any]]:
        """Run every queued self-invocation, as Lambda would, until none is left; return their results."""
        results = []
        while self.lambdas.invocations:
            invocation = self.lambdas.invocations.pop(0)
            results.append(self.router.handle(invocation["Payload"], LambdaContext()))
        return results


def bundled_registry() -> Registry:
    """The project's own models.yaml, whatever ``MODELS_FILE`` says."""
    return load_registry(ROOT / "inference" / "models.yaml")


def in_process(slack: FakeSlackApi, data_dir: Path, *, passcode: str = "", local: bool = False) -> InProcess:
    """The router as ``bot.handler`` builds it in AWS (or ``python -m bot serve`` with ``local``), over the doubles."""
    settings = Settings(
        secrets=Secrets(bot_token=BOT_TOKEN, signing_secret=SIGNING_SECRET, passcode=passcode),
        local=local,
        slack_api_url=slack.base_url,
        data_dir=data_dir,
    )
    models, lambdas = FakeInvoker(answer=echo), FakeLambdaClient()
    services = build_services(settings, bundled_registry(), models, SqliteStateStore(data_dir / "state.sqlite"))
    router = Router(services, build_bolt_app(services), lambda_mode=True)
    router.app.listener_runner.lazy_listener_runner.lambda_client = lambdas
    return InProcess(router=router, lambdas=lambdas, models=models, slack=slack)


@pytest.fixture(scope="module")
def shared_router(tmp_path_factory: pytest.TempPathFactory) -> Iterator[InProcess]:
    with FakeSlackApi(expect_token=BOT_TOKEN) as slack:
        yield in_process(slack, tmp_path_factory.mktemp("router"))


@pytest.fixture
def lambda_router(shared_router: InProcess) -> InProcess:
    """The module's router with its doubles emptied; every case uses fresh Slack ids, so claims never collide."""
    shared_router.slack.clear()
    shared_router.lambdas.invocations.clear()
    shared_router.models.clear()
    return shared_router


def signed_event(
    body: str | bytes,
    content_type: str = FORM,
    *,
    timestamp: int | None = None,
    secret: str = SIGNING_SECRET,
    headers: dict[str, str] | None = None,
    base64: bool = False,
) -> dict[str, Any]:
    """A proxy event for ``POST /slack/events`` signed as Slack signs (``headers`` are added on top)."""
    signed = signed_headers(body, secret, timestamp=int(time.time()) if timestamp is None else timestamp)
    signed["Content-Type"] = content_type
    return api_gateway_event("POST", EVENTS, body, {**signed, **(headers or {})}, base64=base64)


def response_text(result: dict[str, Any]) -> str:
    """The body of a proxy result as a person would read it: JSON decoded, escapes undone."""
    body = str(result.get("body") or "")
    try:
        return json.dumps(json.loads(body), ensure_ascii=False)
    except json.JSONDecodeError:
        return body


def header(result: dict[str, Any], name: str) -> str:
    """A response header, whatever the case of its name."""
    return next((str(v) for k, v in (result.get("headers") or {}).items() if k.lower() == name.lower()), "")
