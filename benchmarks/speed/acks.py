"""Warm ack latency: signed slash commands into the router while Slack and the model each take 2 s.

``python -m benchmarks.speed.acks --requests 500 --mode local`` prints one JSON
line. The router is built in this process as ``python -m bot serve`` builds it
(``--mode local``: lazy work on threads) or as the Lambda entry builds it
(``--mode lambda``: lazy work re-invokes the function through a fake boto3
client that accepts at once). Slack is the fake Web API on 127.0.0.1 with 2 s
of latency on every method, and the model invoker sleeps 2 s per call, so any
ack that waited on either would show it. Commands are sent one after another;
each ack is timed around ``Router.handle``. The run ends with ``os._exit`` so
the lazy work still queued behind the slow fakes is dropped, not waited for.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks.speed.probe import Context, FakeLambdaClient
from benchmarks.speed.stats import percentile
from bot.app import build_bolt_app, build_services
from bot.core.config import Secrets, Settings
from bot.router import Router
from bot.stores.state import SqliteStateStore
from inference.registry import load_registry
from tests.fakes.signing import FORM, signed_headers
from tests.fakes.slack_api import FakeSlackApi
from tests.fakes.slack_client import api_gateway_event, slash_command_body

SLOW_SECONDS = 2.0
SIGNING_SECRET = "bench-signing-secret-0123456789"
BOT_TOKEN = "xoxb-bench-token-0123456789"


class SlowInvoker:
    """A model that takes ``SLOW_SECONDS`` to accept every invocation."""

    def invoke_async(self, model: str, payload: dict[str, Any]) -> None:
        time.sleep(SLOW_SECONDS)

    def invoke_sync(self, model: str, payload: dict[str, Any], *, timeout: float) -> dict[str, Any]:
        time.sleep(SLOW_SECONDS)
        return {"model": model, "result": {}, "timings": {}}


def _router(slack: FakeSlackApi, data_dir: Path, *, lambda_mode: bool) -> Router:
    settings = Settings(
        secrets=Secrets(bot_token=BOT_TOKEN, signing_secret=SIGNING_SECRET),
        slack_api_url=slack.base_url,
        data_dir=data_dir,
        local=not lambda_mode,
    )
    services = build_services(settings, load_registry(), SlowInvoker(), SqliteStateStore(data_dir / "state.sqlite"))
    router = Router(services, build_bolt_app(services), lambda_mode=lambda_mode)
    if lambda_mode:
        router.app.listener_runner.lazy_listener_runner.lambda_client = FakeLambdaClient()
    return router


def _command(index: int, command: str) -> dict[str, Any]:
    body = slash_command_body(command, f"Request {index}: what a great day", channel_id=f"C{index:06d}")
    return api_gateway_event("POST", "/slack/events", body, signed_headers(body, SIGNING_SECRET, content_type=FORM))


def measure(requests: int, *, lambda_mode: bool) -> dict[str, Any]:
    """Ack ``requests`` commands (after a few untimed ones) and return p50, p99 and the maximum, in ms."""
    commands = [spec.command for spec in load_registry()]
    # Lazy work is still writing to the data folder when the measuring ends: its removal must not fail the run.
    with (
        FakeSlackApi(expect_token=BOT_TOKEN) as slack,
        tempfile.TemporaryDirectory(ignore_cleanup_errors=True) as data,
    ):
        slack.set_latency(SLOW_SECONDS)
        router = _router(slack, Path(data), lambda_mode=lambda_mode)
        statuses, latencies = [], []
        for index in range(-5, requests):  # the first five warm the router up and are not counted
            event = _command(index + 5, commands[index % len(commands)])
            started = time.perf_counter()
            response = router.handle(event, Context())
            elapsed = (time.perf_counter() - started) * 1000
            if index >= 0:
                latencies.append(elapsed)
                statuses.append(response["statusCode"])
        slack_calls = len(slack.calls())
    return {
        "mode": "lambda" if lambda_mode else "local",
        "requests": requests,
        "acked": statuses.count(200),
        "p50_ms": percentile(latencies, 50),
        "p99_ms": percentile(latencies, 99),
        "max_ms": max(latencies),
        "slack_and_model_seconds": SLOW_SECONDS,
        #: Calls the lazy work made to the slow Slack while the acks were timed: it ran alongside them.
        "slack_calls_meanwhile": slack_calls,
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.speed.acks", description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=500)
    parser.add_argument("--mode", choices=("local", "lambda"), default="local")
    args = parser.parse_args(argv)
    print(json.dumps(measure(args.requests, lambda_mode=args.mode == "lambda")), flush=True)
    sys.stdout.flush()
    os._exit(0)  # lazy work is still sleeping on the slow fakes; nothing of it is measured


if __name__ == "__main__":
    main()
