"""Time to the first visible words against time to the whole answer, for a chat model that streams.

```bash
python -m benchmarks.streaming                    # the Qwen2.5-0.5B shape (benchmarks/.cache, as the speed benchmark)
python -m benchmarks.streaming --smoke            # the tests' tiny chat model: seconds, checks the harness only
python -m benchmarks.streaming --runs 5 --tokens 64 --json /tmp/streaming.json
```

It starts a fake Slack Web API and ``python -m bot serve`` with one chat entry on onnxruntime-genai
(int4, two vCPUs' worth of threads, greedy), warms its worker with one mention, then sends mentions
one at a time and reads, from the fake's own record of each call (its arrival time), when the first
words became visible in the thread (the first ``chat.startStream`` or ``chat.postMessage`` of the
text so far) and when the whole answer did (the update that carries the feedback buttons). The same
runs are then made on a second server whose partials are held back past the answer
(``PARTIAL_INTERVAL_SECONDS`` of an hour): the whole answer as it arrives without streaming.
Times run from the moment the mention is sent. The figures are printed, and written as JSON with
``--json``; nothing else is rewritten.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml

from benchmarks.machine import describe_machine, git_revision
from benchmarks.speed.fixtures import DEFAULT_CACHE, TWO_VCPUS_MB, prepare
from bot.stores.stats import percentile
from tests.conftest import BOT_TOKEN, BotServer, start_server, stop_server
from tests.fakes.slack_api import FakeSlackApi

#: What the partial messages say under the text (bot.slack.streaming.STILL_WRITING).
STILL_WRITING = "still writing"
PROMPT = "Where is the Eiffel tower, and how tall is it?"


def _registry(path: Path, chat: Path, *, tokens: int) -> Path:
    entry = {
        "name": "chat",
        "task": "text-generation",
        "model": str(chat),
        "title": "Chat (Qwen2.5-0.5B shape)",
        "memory": TWO_VCPUS_MB,
        "timeout": 900,
        "parameters": {"do_sample": False, "max_new_tokens": tokens, "min_new_tokens": tokens},
    }
    path.write_text(yaml.safe_dump({"models": [entry]}, sort_keys=False), encoding="utf-8")
    return path


def _mention(channel: str, ts: str) -> dict[str, Any]:
    return {
        "type": "app_mention",
        "user": "U7",
        "text": f"<@UBOT> chat {PROMPT}",
        "ts": ts,
        "channel": channel,
        "event_ts": ts,
    }


def _one(server: BotServer, channel: str, *, timeout: float = 600) -> dict[str, float | None]:
    """Send one mention; seconds to the first words shown and to the whole answer, from the fake's record."""
    ts = f"{int(time.time())}.{time.time_ns() % 1_000_000:06d}"
    sent = time.monotonic()
    server.sender.event(_mention(channel, ts))
    first: float | None = None
    deadline = sent + timeout
    while time.monotonic() < deadline:
        calls = [c for c in server.slack.calls() if c.params.get("channel") == channel]
        for call in calls:
            body = json.dumps(call.params, ensure_ascii=False)
            streamed = call.method == "chat.startStream" or STILL_WRITING in body
            if first is None and streamed:
                first = call.at - sent
            if call.method in {"chat.update", "chat.postMessage"} and '"actions"' in body:
                return {"first_words_s": first, "whole_answer_s": call.at - sent}
            if call.method in {"chat.update", "chat.postMessage"} and "could not answer" in body:
                raise RuntimeError(f"the model answered with an error: {call.params.get('text', '')}")
        time.sleep(0.02)
    raise TimeoutError(f"no answer within {timeout:.0f} s")


def _series(registry: Path, workdir: Path, *, runs: int, interval: str) -> list[dict[str, float | None]]:
    workdir.mkdir(parents=True, exist_ok=True)
    with FakeSlackApi(expect_token=BOT_TOKEN) as slack:
        server = start_server(
            registry=registry, slack=slack, workdir=workdir, extra_env={"PARTIAL_INTERVAL_SECONDS": interval}
        )
        try:
            _one(server, "CWARM")  # the worker starts and loads the model
            return [_one(server, f"CRUN{n}") for n in range(runs)]
        finally:
            stop_server(server)


def _median(values: list[float | None]) -> float | None:
    known = [v for v in values if v is not None]
    return percentile(known, 50) if known else None


def run(*, smoke: bool, runs: int, tokens: int, cache: Path) -> dict[str, Any]:
    models = prepare(cache, smoke=smoke)
    with tempfile.TemporaryDirectory() as scratch:
        root = Path(scratch)
        registry = _registry(root / "models.yaml", models.chat, tokens=tokens)
        streamed = _series(registry, root / "streamed", runs=runs, interval="1")
        whole = _series(registry, root / "whole", runs=runs, interval="3600")
    return {
        "machine": describe_machine(),
        "commit": git_revision(),
        "model": "qwen2-smoke" if smoke else "qwen2.5-0.5b-instruct-shaped (int4)",
        "tokens": tokens,
        "runs": runs,
        "streaming": streamed,
        "without_streaming": whole,
        "median": {
            "first_words_s": _median([r["first_words_s"] for r in streamed]),
            "whole_answer_s": _median([r["whole_answer_s"] for r in streamed]),
            "whole_answer_without_streaming_s": _median([r["whole_answer_s"] for r in whole]),
        },
    }


def render(report: dict[str, Any]) -> str:
    def s(value: float | None) -> str:
        return "none" if value is None else f"{value:.2f} s"

    median = report["median"]
    rows = [
        ("First visible words in Slack (streaming)", s(median["first_words_s"])),
        ("Whole answer in Slack (streaming)", s(median["whole_answer_s"])),
        (
            "Whole answer in Slack (partials held back: as before streaming)",
            s(median["whole_answer_without_streaming_s"]),
        ),
    ]
    head = (
        f"{report['model']}, {report['tokens']} tokens, greedy; median of {report['runs']} mentions, warm worker, "
        f"fake Slack; commit {report['commit']}"
    )
    return "\n".join([head, "", "| Figure | Value |", "|---|---|", *(f"| {k} | {v} |" for k, v in rows)])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.streaming", description=__doc__.split("\n")[0])
    parser.add_argument("--smoke", action="store_true", help="the tests' tiny chat model instead of the Qwen shape")
    parser.add_argument("--runs", type=int, default=3, help="mentions per series (default 3)")
    parser.add_argument(
        "--tokens", type=int, default=64, help="tokens each answer has (default 64; the shaped model reads 512 in all)"
    )
    parser.add_argument("--cache", type=Path, default=DEFAULT_CACHE, help="where the prepared models are kept")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args(argv)
    report = run(smoke=args.smoke, runs=args.runs, tokens=args.tokens, cache=args.cache)
    print(render(report))
    if args.json:
        args.json.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
