"""Load run: hundreds of concurrent Slack requests into ``python -m bot serve``, with a flaky Slack.

Usage::

    python -m benchmarks.load [--quick] [--requests N] [--concurrency C]
                              [--out docs/reliability.md] [--json benchmarks/load-results.json]

It builds the tiny test models, starts a fake Slack Web API on 127.0.0.1 that
answers slowly (0.2 to 0.5 s) and now and then with 429 (``Retry-After: 1``) or
500, starts ``python -m bot serve`` against it, warms one worker per model,
then sends every request at once from ``--concurrency`` threads: slash
commands, ``/hf`` commands and mentions, spread over four models, and chat
requests to a tiny chat model (its command, a mention in a thread, a reply
continuing a conversation), whose tokens are slowed so that answers stream
(partial updates) before the final one. It waits (bounded) until each request
has its answer, then reports whether each got exactly one, how many partials
came and that none came after the final answer, how fast the acks and answers
came, and the peak memory of the server and its model workers. Only loopback;
every wait is bounded.

Exit status: 0 when every request was acked and answered exactly once, no
partial came after a final answer or was left showing, and the server kept
running; 1 otherwise, 2 when the run could not start.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml

from benchmarks.load_outcomes import Outcome, collect, wait_for_outcomes
from benchmarks.load_traffic import ACK_LIMIT_SECONDS, CHAT_TASK, LoadRequest, plan_requests, seed_threads, send_all
from benchmarks.machine import describe_machine, git_revision
from benchmarks.markdown_section import write_section
from benchmarks.process_memory import TreeMemorySampler, TreePeaks
from benchmarks.slack_faults import RETRY_AFTER_SECONDS, FaultInjector
from bot.stores.stats import percentile
from inference.registry import ModelSpec, load_registry
from tests.conftest import BOT_TOKEN, BotServer, start_server, stop_server
from tests.fakes.slack_api import FakeSlackApi
from tests.tiny_models import build_tiny_models, write_registry

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_REPORT = ROOT / "docs" / "reliability.md"
DEFAULT_JSON = ROOT / "benchmarks" / "load-results.json"
SECTION = "load-figures"
MODELS = ("tiny-sentiment", "tiny-qa", "tiny-similarity", "tiny-zero-shot", "tiny-ask")
#: The chat model writes this many tokens, each slowed by this many seconds in its worker (a
#: ``sitecustomize`` hook on the server's ``PYTHONPATH``), and its text so far is passed on this often:
#: about 0.8 s of writing per answer, time for partials; tiny random weights would answer in milliseconds.
CHAT_MODEL = "tiny-ask"
CHAT_TOKENS = 10
TOKEN_DELAY_SECONDS = 0.08
PARTIAL_INTERVAL_SECONDS = 0.25
TOKEN_HOOK = """
import os, time
_delay = float(os.environ.get("LOAD_TOKEN_DELAY_SECONDS") or 0)
if _delay:
    import inference.service as service
    _call = service.Partials.__call__

    def call(self, text):
        time.sleep(_delay)
        return _call(self, text)

    service.Partials.__call__ = call
"""
SLACK_LATENCY_SECONDS = (0.2, 0.5)
#: At least this many clean calls of a method between two faulted ones.
FAULT_SPACING = 4
FULL = {"requests": 200, "concurrency": 200, "deadline": 240.0}
QUICK = {"requests": 40, "concurrency": 40, "deadline": 120.0}
WARM_UP_SECONDS = 180.0
#: After the last answer, how long to keep watching for a second one.
SETTLE_SECONDS = 3.0
MAX_LISTED_PROBLEMS = 20


def _ms_summary(seconds: Sequence[float]) -> dict[str, float | None]:
    def ms(value: float | None) -> float | None:
        return None if value is None else round(value * 1000, 1)

    return {
        "count": len(seconds),
        "p50": ms(percentile(seconds, 50) if seconds else None),
        "p99": ms(percentile(seconds, 99) if seconds else None),
        "max": ms(max(seconds) if seconds else None),
    }


def _mib(kib: int) -> float:
    return round(kib / 1024, 1)


def _slow_chat(registry_path: Path) -> Path:
    """A registry beside ``registry_path`` whose chat model always writes :data:`CHAT_TOKENS` tokens, greedily."""
    document = yaml.safe_load(registry_path.read_text(encoding="utf-8"))
    for entry in document["models"]:
        if entry["name"] == CHAT_MODEL:
            entry["parameters"] = {"max_new_tokens": CHAT_TOKENS, "min_new_tokens": CHAT_TOKENS, "do_sample": False}
    return write_registry(registry_path.with_name("load-models.yaml"), document["models"])


def _hook_env(workdir: Path) -> dict[str, str]:
    """The server's environment for slowed tokens and frequent partials (the hook is a ``sitecustomize``)."""
    hook = workdir / "hook"
    hook.mkdir(parents=True, exist_ok=True)
    (hook / "sitecustomize.py").write_text(TOKEN_HOOK, encoding="utf-8")
    path = os.pathsep.join(p for p in (str(hook), str(ROOT), os.environ.get("PYTHONPATH", "")) if p)
    return {
        "PYTHONPATH": path,
        "LOAD_TOKEN_DELAY_SECONDS": str(TOKEN_DELAY_SECONDS),
        "PARTIAL_INTERVAL_SECONDS": str(PARTIAL_INTERVAL_SECONDS),
    }


def warm_up(server: BotServer, models: Sequence[ModelSpec]) -> float:
    """One command per model, so every worker has loaded its model; the seconds it took.

    Raises:
        RuntimeError: a model did not answer in time (the server log says why).
    """
    started = time.monotonic()
    requests = plan_requests(
        len(models), models, run="WARM", new_response_url=server.slack.new_response_url, kinds=("command",)
    )
    send_all(server.sender, requests, concurrency=len(requests))
    found = wait_for_outcomes(server.slack, requests, timeout=WARM_UP_SECONDS)
    missing = [r.model for r in requests if not found[r.index].delivered]
    if missing:
        tail = "\n".join(server.logs().splitlines()[-20:])
        raise RuntimeError(f"no answer from {', '.join(missing)} while warming up; the server's log ends with:\n{tail}")
    return time.monotonic() - started


def summarize(
    requests: Sequence[LoadRequest],
    outcomes: dict[int, Outcome],
    faults: Counter[str],
    chat_models: frozenset[str] = frozenset({CHAT_MODEL}),
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The figures of one run, and the requests that did not end in exactly one outcome (or had a late partial)."""
    acked = [r for r in requests if r.acked]
    ack_times = [r.ack_seconds for r in requests if r.ack_status == 200 and r.ack_seconds is not None]
    placeholder = [o.placeholder_at - r.sent_at for r in acked if (o := outcomes[r.index]).placeholder_at and r.sent_at]
    end_to_end = [o.answered_at - r.sent_at for r in acked if (o := outcomes[r.index]).answered_at and r.sent_at]
    first_partial = [
        o.first_partial_at - r.sent_at for r in acked if (o := outcomes[r.index]).first_partial_at and r.sent_at
    ]
    chat = [r for r in requests if r.model in chat_models]
    problems = []
    for request in requests:
        outcome = outcomes[request.index]
        clean = not (outcome.partials_after_final or outcome.frozen_partials)
        if request.acked and outcome.delivered == 1 and clean:
            continue
        problems.append(
            {
                "kind": request.kind,
                "model": request.model,
                "channel": request.channel,
                "ack_status": request.ack_status,
                "ack_error": request.ack_error,
                "redeliveries": request.redeliveries,
                "outcomes": outcome.delivered,
                "partials": outcome.partials,
                "partials_after_final": outcome.partials_after_final,
                "frozen_partials": outcome.frozen_partials,
            }
        )
    figures = {
        "sent": len(requests),
        "by_kind": dict(Counter(r.kind for r in requests)),
        "acked": len(acked),
        "acked_first_time_within_3s": sum(
            1 for r in requests if r.ack_status == 200 and (r.ack_seconds or 0) < ACK_LIMIT_SECONDS
        ),
        "redeliveries": sum(r.redeliveries for r in requests),
        "not_acked": len(requests) - len(acked),
        "answered_exactly_once": sum(1 for r in requests if outcomes[r.index].delivered == 1),
        "answered_with_error": sum(1 for r in requests if outcomes[r.index].errors),
        "lost": sum(1 for r in acked if outcomes[r.index].delivered == 0),
        "duplicated": sum(1 for r in requests if outcomes[r.index].delivered > 1),
        "ack_latency_ms": _ms_summary(ack_times),
        "placeholder_latency_ms": _ms_summary(placeholder),
        "end_to_end_latency_ms": _ms_summary(end_to_end),
        "faults_injected": {"429": faults.get("429", 0), "500": faults.get("500", 0)},
        "chat": {
            "sent": len(chat),
            "by_kind": dict(Counter(r.kind for r in chat)),
            "final_exactly_once": sum(1 for r in chat if outcomes[r.index].delivered == 1),
            "final_with_feedback": sum(1 for r in chat if outcomes[r.index].with_feedback == 1),
            "lost": sum(1 for r in chat if r.acked and outcomes[r.index].delivered == 0),
            "duplicated": sum(1 for r in chat if outcomes[r.index].delivered > 1),
            "with_partials": sum(1 for r in chat if outcomes[r.index].partials),
            "partials": sum(outcomes[r.index].partials for r in chat),
            "partials_by_streaming_methods": sum(outcomes[r.index].streamed_partials for r in chat),
            "partials_max": max((outcomes[r.index].partials for r in chat), default=0),
            "partials_after_final": sum(outcomes[r.index].partials_after_final for r in requests),
            "frozen_partials": sum(outcomes[r.index].frozen_partials for r in requests),
            "first_partial_latency_ms": _ms_summary(first_partial),
        },
    }
    return figures, problems


def _memory(peaks: TreePeaks) -> dict[str, Any]:
    workers = peaks.workers_kib()
    return {
        "server_peak_rss_mib": _mib(peaks.root_kib),
        "worker_count": len(workers),
        "worker_peak_rss_mib": sorted((_mib(kib) for kib in workers.values()), reverse=True),
        "workers_peak_rss_mib_total": _mib(sum(workers.values())),
        "other_children_peak_rss_mib": _mib(sum(k for pid, k in peaks.children_kib.items() if pid not in workers)),
    }


def log(message: str) -> None:
    """Progress on stderr; the figures go to stdout."""
    print(f"[load] {message}", file=sys.stderr, flush=True)


def run_load(*, mode: str, requests: int, concurrency: int, deadline: float, workdir: Path) -> dict[str, Any]:
    """Build, start, load, measure, stop; the full report as a JSON-ready dict."""
    started_at = datetime.now(UTC)
    load_before = os.getloadavg()[0]  # other work on the machine skews every figure; say how busy it was
    log(f"building tiny models in {workdir}")
    registry_path = _slow_chat(build_tiny_models(workdir / "models"))
    registry = load_registry(registry_path)
    models = [spec for name in MODELS if (spec := registry.find(name)) is not None]
    with FakeSlackApi(expect_token=BOT_TOKEN) as slack:
        log("starting python -m bot serve")
        server = start_server(registry=registry_path, slack=slack, workdir=workdir, extra_env=_hook_env(workdir))
        sampler = TreeMemorySampler(server.process.pid).start()
        try:
            slack.set_latency(SLACK_LATENCY_SECONDS[0])
            log(f"warming up {len(models)} model workers")
            warm_seconds = warm_up(server, models)
            plan = plan_requests(requests, models, run="LOAD", new_response_url=slack.new_response_url)
            seed_threads(slack, plan)
            slack.allow_streaming()  # the streaming methods, where Slack allows them; a refused start falls back
            injector = FaultInjector(slack, latency=SLACK_LATENCY_SECONDS, spacing=FAULT_SPACING).start()
            log(f"sending {len(plan)} requests from {concurrency} threads")
            burst_started = time.monotonic()
            send_all(server.sender, plan, concurrency=concurrency)
            acked = [r for r in plan if r.acked]
            log(f"{len(acked)} acked; waiting up to {deadline:.0f} s for the answers")
            wait_for_outcomes(slack, acked, timeout=deadline)
            faults = injector.stop()
            time.sleep(SETTLE_SECONDS)
            outcomes = collect(slack, plan)
            web_api_calls = sum(1 for call in slack.calls() if call.at >= burst_started)
            server_exit = server.process.poll()  # None: still serving, as it should be
        finally:
            peaks = sampler.stop()
            stop_server(server)
    chat_models = frozenset(spec.name for spec in models if spec.task == CHAT_TASK)
    figures, problems = summarize(plan, outcomes, faults, chat_models)
    answered = [o.answered_at for o in outcomes.values() if o.answered_at is not None]
    figures["burst_seconds"] = round(max(answered, default=burst_started) - burst_started, 1)
    figures["web_api_calls"] = web_api_calls
    figures["warm_up_seconds"] = round(warm_seconds, 1)
    figures["server_exit_code"] = server_exit
    late = figures["chat"]["partials_after_final"] or figures["chat"]["frozen_partials"]
    passed = server_exit is None and not (figures["not_acked"] or figures["lost"] or figures["duplicated"] or late)
    return {
        "mode": mode,
        "passed": passed,
        "generated_at": started_at.isoformat(timespec="seconds"),
        "commit": git_revision(),
        "machine": {**describe_machine(), "load_average_1m_at_start": round(load_before, 2)},
        "settings": {
            "requests": requests,
            "concurrency": concurrency,
            "models": [spec.name for spec in models],
            "slack_latency_seconds": list(SLACK_LATENCY_SECONDS),
            "retry_after_seconds": RETRY_AFTER_SECONDS,
            "fault_spacing": FAULT_SPACING,
            "chat_model": {
                "name": CHAT_MODEL,
                "tokens": CHAT_TOKENS,
                "token_delay_seconds": TOKEN_DELAY_SECONDS,
                "partial_interval_seconds": PARTIAL_INTERVAL_SECONDS,
            },
            "answer_deadline_seconds": deadline,
        },
        "results": figures,
        "memory": _memory(peaks),
        "problems": problems[:MAX_LISTED_PROBLEMS],
    }


def _ms(summary: dict[str, Any]) -> str:
    parts = [summary[k] for k in ("p50", "p99", "max")]
    if any(p is None for p in parts):
        return "n/a"
    return " / ".join(f"{p:,.0f} ms" for p in parts)


def figure_rows(report: dict[str, Any]) -> list[tuple[str, str]]:
    """The figures as (label, value) rows, for the terminal and for Markdown alike."""
    r, m = report["results"], report["memory"]
    kinds, chat = r["by_kind"], r["chat"]
    chat_kinds = chat["by_kind"]
    workers = ", ".join(f"{v:,.0f}" for v in m["worker_peak_rss_mib"]) or "none"
    return [
        (
            "Requests sent (commands / `/hf` commands / mentions / mentions in a thread / thread replies)",
            f"{r['sent']} ({kinds.get('command', 0)} / {kinds.get('hf', 0)} / {kinds.get('mention', 0)}"
            f" / {kinds.get('thread-mention', 0)} / {kinds.get('reply', 0)})",
        ),
        (
            "Chat requests (its command / mentions in a thread / thread replies)",
            f"{chat['sent']} ({chat_kinds.get('command', 0)} / {chat_kinds.get('thread-mention', 0)}"
            f" / {chat_kinds.get('reply', 0)})",
        ),
        ("Acked with HTTP 200 at the first delivery, within 3 s", f"{r['acked_first_time_within_3s']}"),
        (
            "Events (mentions, thread replies) redelivered as Slack does (ack failed or over 3 s)",
            str(r["redeliveries"]),
        ),
        ("Acked at last (HTTP 200 to some delivery)", str(r["acked"])),
        (
            "Answered exactly once (of which plain-words errors)",
            f"{r['answered_exactly_once']} ({r['answered_with_error']})",
        ),
        ("Lost (acked, never answered)", str(r["lost"])),
        ("Duplicated (answered more than once)", str(r["duplicated"])),
        (
            "Chat: final answer exactly once (with its feedback buttons) / lost / duplicated",
            f"{chat['final_exactly_once']} ({chat['final_with_feedback']}) / {chat['lost']} / {chat['duplicated']}",
        ),
        (
            "Chat: requests that streamed / partials shown (most for one request; by the streaming methods)",
            f"{chat['with_partials']} / {chat['partials']} ({chat['partials_max']};"
            f" {chat['partials_by_streaming_methods']})",
        ),
        (
            "Partials after the final answer / left showing at the end",
            f"{chat['partials_after_final']} / {chat['frozen_partials']}",
        ),
        ("Chat: first partial latency p50 / p99 / max", _ms(chat["first_partial_latency_ms"])),
        ("Ack latency p50 / p99 / max", _ms(r["ack_latency_ms"])),
        ("Placeholder latency p50 / p99 / max", _ms(r["placeholder_latency_ms"])),
        ("End-to-end latency p50 / p99 / max", _ms(r["end_to_end_latency_ms"])),
        (
            "Faults injected: 429 (Retry-After 1 s) / 500, of all Web API calls",
            f"{r['faults_injected']['429']} / {r['faults_injected']['500']} of {r['web_api_calls']}",
        ),
        ("First request sent to last answer posted", f"{r['burst_seconds']:.1f} s"),
        ("Peak RSS of the server process", f"{m['server_peak_rss_mib']:,.0f} MiB"),
        (f"Peak RSS of the {m['worker_count']} model workers (each)", f"{workers} MiB"),
        ("Peak RSS of the model workers together", f"{m['workers_peak_rss_mib_total']:,.0f} MiB"),
    ]


def render_table(report: dict[str, Any]) -> str:
    """A plain-text table for the terminal."""
    rows = figure_rows(report)
    width = max(len(label) for label, _ in rows)
    lines = [f"{label.ljust(width)}  {value}" for label, value in rows]
    verdict = (
        "PASS: every request acked and answered exactly once, no partial after it"
        if report["passed"]
        else "FAIL: see problems"
    )
    return "\n".join([*lines, verdict])


def render_markdown(report: dict[str, Any], *, results_link: str = "../benchmarks/load-results.json") -> str:
    """The generated section of ``docs/reliability.md``; ``results_link`` points at the JSON from there."""
    s, machine = report["settings"], report["machine"]
    memory = machine["memory_mib"]
    memory_text = f"{memory / 1024:.1f} GiB" if memory else "unknown memory"
    rows = "\n".join(f"| {label} | {value} |" for label, value in figure_rows(report))
    r = report["results"]
    verdict = (
        "**Result: every request was acked and answered exactly once, and no partial came after a final answer.**"
        if report["passed"]
        else f"**Result: {r['not_acked']} not acked, {r['lost']} lost, {r['duplicated']} duplicated, "
        f"{r['chat']['partials_after_final']} partials after the final answer, "
        f"{r['chat']['frozen_partials']} left showing** "
        "(the first of them are listed under `problems` in the JSON results)."
    )
    if r["server_exit_code"] is not None:
        verdict += f" **The server exited during the run, with status {r['server_exit_code']}.**"
    models = ", ".join(f"`{name}`" for name in s["models"])
    chat = s["chat_model"]
    command = "python -m benchmarks.load" + (" --quick" if report["mode"] == "quick" else "")
    raw = f" Raw figures: [`{Path(results_link).name}`]({results_link})." if results_link else ""
    return f"""## Load figures

Produced by `{command}` ({report["mode"]} mode) on {report["generated_at"][:10]} at commit `{report["commit"] or "unknown"}`, on {machine["cpus"]} CPUs ({machine["cpu_model"]}) with {memory_text}, {machine["system"]}, Python {machine["python"]}; the 1-minute load average was {machine["load_average_1m_at_start"]} when it started.{raw}

Setup: `python -m bot serve` with the tiny test models {models}, each worker warmed by one request first (the warm-up took {report["results"]["warm_up_seconds"]:.0f} s and is not counted). The fake Slack Web API on 127.0.0.1 answers every call after {s["slack_latency_seconds"][0]} to {s["slack_latency_seconds"][1]} s, and answers at most one call in {s["fault_spacing"] + 1} of each of `chat.postMessage`, `chat.update`, `chat.startStream` and `chat.appendStream` with a 429 (`Retry-After: {s["retry_after_seconds"]}`) or a 500 (the streaming methods are allowed; a refused `chat.startStream` makes the bot stream by `chat.update` in that conversation). {s["requests"]} signed requests were sent from {s["concurrency"]} threads at once, each in its own channel (a mention in its own thread), so every message can be traced to its request. The chat model `{chat["name"]}` writes {chat["tokens"]} tokens, each slowed by {chat["token_delay_seconds"]} s in its worker, and passes its text so far on every {chat["partial_interval_seconds"]} s, so answers stream: it is asked by its command, by a mention in a thread someone started, and by a reply (no mention) in a thread its earlier answer started, which continues that conversation. A *partial* is a message showing the text so far (no feedback buttons, no request id); the *final answer* replaces it once, with the feedback buttons. A partial counts as after the final answer when its call reaches the fake after the final answer's call. Latencies run from the moment a request is sent: the ack until its HTTP response arrives, the placeholder, the first partial and the answer until the fake Slack API receives the call that posts them.

| Figure | Value |
|---|---|
{rows}

{verdict}
"""


def write_outputs(report: dict[str, Any], *, markdown: Path | None, json_path: Path | None) -> None:
    if json_path is not None:
        json_path.parent.mkdir(parents=True, exist_ok=True)
        json_path.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    if markdown is not None:
        link = os.path.relpath(json_path, markdown.parent) if json_path is not None else ""
        write_section(markdown, SECTION, render_markdown(report, results_link=link))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.load", description=__doc__.split("\n\n")[0], allow_abbrev=False
    )
    parser.add_argument(
        "--quick", action="store_true", help=f"{QUICK['requests']} requests instead of {FULL['requests']}"
    )
    parser.add_argument("--requests", type=int, help="how many requests to send")
    parser.add_argument("--concurrency", type=int, help="how many to have in flight at once")
    parser.add_argument("--deadline", type=float, help="seconds to wait for the answers")
    parser.add_argument("--out", type=Path, default=DEFAULT_REPORT, help="Markdown report to update (section only)")
    parser.add_argument("--json", type=Path, default=DEFAULT_JSON, help="where to write the raw figures")
    parser.add_argument("--workdir", type=Path, help="keep models, server log and state here (default: a temp dir)")
    args = parser.parse_args(argv)
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")  # here and in the server: the figures stay readable
    preset = QUICK if args.quick else FULL
    requests = args.requests or preset["requests"]
    if requests < 1 or (args.concurrency is not None and args.concurrency < 1):
        parser.error("--requests and --concurrency must be at least 1")
    options = {
        "mode": "quick" if args.quick else "full",
        "requests": requests,
        "concurrency": args.concurrency or min(preset["concurrency"], requests),
        "deadline": args.deadline or preset["deadline"],
    }
    try:
        if args.workdir is not None:
            args.workdir.mkdir(parents=True, exist_ok=True)
            report = run_load(**options, workdir=args.workdir)
        else:
            with tempfile.TemporaryDirectory(prefix="hf-slack-load-") as tmp:
                report = run_load(**options, workdir=Path(tmp))
    except RuntimeError as exc:  # the server did not start, or a model never answered its warm-up
        print(f"error: {exc}", file=sys.stderr)
        return 2
    write_outputs(report, markdown=args.out, json_path=args.json)
    print(render_table(report))
    for problem in report["problems"]:
        print(f"  problem: {json.dumps(problem)}", file=sys.stderr)
    return 0 if report["passed"] else 1


if __name__ == "__main__":
    sys.exit(main())
