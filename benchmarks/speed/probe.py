"""What runs inside each fresh process the speed benchmark starts: ``python -m benchmarks.speed.probe KIND``.

A probe prints ``READY`` the moment its first answer exists (the parent times
the process from its start to that line), then one JSON line with what it
measured afterwards: warm latencies and the process's peak resident memory.
Nothing is imported before the work being timed except the standard library
modules below, which Python has loaded at start-up anyway.

Kinds:
  ``router``        import ``bot.handler`` and handle one signed slash command
                    (the proxy event arrives on stdin; the Lambda client is faked)
  ``transformers``  ``from transformers import pipeline``: the router's baseline
  ``ours NAME``     the model Lambda's handler (``inference.handler``) on registry entry NAME
  ``seed``          the seed-style handler (:mod:`benchmarks.speed.seed_handler`)
Model kinds read the request from ``BENCH_EVENT`` and run ``BENCH_WARM`` warm requests. With
``BENCH_DECODE`` (``{"long": event, "short": event, "runs": n}``) they then answer the long and the short
request in turn, ``runs`` times each, for the decode figure (the long one writes more tokens than the short).
"""

from __future__ import annotations

import json
import os
import sys
import time
from typing import Any

READY = "READY"


class FakeLambdaClient:
    """boto3's Lambda client for the router's self-invocation: accepted at once, sent nowhere."""

    def invoke(self, **_: Any) -> dict[str, Any]:
        return {"StatusCode": 202}


class Context:
    """The few fields of a Lambda context that Bolt's adapter reads."""

    function_name = "hf-slack-router"
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:hf-slack-router"
    aws_request_id = "00000000-0000-4000-8000-000000000000"

    def get_remaining_time_in_millis(self) -> int:
        return 30_000


def peak_rss_kib() -> int:
    """This process's resident-set high-water mark (``VmHWM``), in KiB."""
    with open("/proc/self/status", encoding="utf-8") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return 0


def _ready(answer: Any) -> None:
    print(READY, flush=True)
    if isinstance(answer, dict) and "error" in answer:
        raise SystemExit(f"the probe's request failed: {answer['error']}")


def _router() -> dict[str, Any]:
    event = json.loads(sys.stdin.read())
    import bot.handler

    bot.handler.router().app.listener_runner.lazy_listener_runner.lambda_client = FakeLambdaClient()
    response = bot.handler.handler(event, Context())
    _ready(response)
    return {"status": response["statusCode"]}


def _transformers() -> dict[str, Any]:
    from transformers import pipeline

    _ready(pipeline)
    return {}


def _timed_ms(handler: Any, event: dict[str, Any]) -> float:
    started = time.perf_counter()
    answer = handler(event, None)
    elapsed = (time.perf_counter() - started) * 1000
    if isinstance(answer, dict) and "error" in answer:
        raise SystemExit(f"the probe's request failed: {answer['error']}")
    return elapsed


def _model(handler: Any) -> dict[str, Any]:
    event = json.loads(os.environ["BENCH_EVENT"])
    _ready(handler(event, None))
    report: dict[str, Any] = {
        "warm_ms": [_timed_ms(handler, event) for _ in range(int(os.environ.get("BENCH_WARM", "0")))]
    }
    if os.environ.get("BENCH_DECODE"):
        decode = json.loads(os.environ["BENCH_DECODE"])
        long_ms, short_ms = [], []
        for _ in range(decode["runs"]):
            long_ms.append(_timed_ms(handler, decode["long"]))
            short_ms.append(_timed_ms(handler, decode["short"]))
        report["decode"] = {"long_ms": long_ms, "short_ms": short_ms}
    return report


def main(argv: list[str]) -> None:
    kind = argv[0]
    if kind == "router":
        report = _router()
    elif kind == "transformers":
        report = _transformers()
    elif kind == "ours":
        os.environ["MODEL_NAME"] = argv[1]
        from inference.handler import handler

        report = _model(handler)
    elif kind == "seed":
        from benchmarks.speed.seed_handler import handler

        report = _model(handler)
    else:
        raise SystemExit(f"unknown probe {kind!r}")
    print(json.dumps({**report, "peak_rss_kib": peak_rss_kib()}), flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
