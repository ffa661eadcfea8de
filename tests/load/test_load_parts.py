"""The load command's parts, without a server: traffic, tallies, faults, report sections, /proc."""

from __future__ import annotations

import itertools
import os
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.webhook import WebhookClient

from benchmarks.load import _ms_summary, summarize
from benchmarks.load_outcomes import Outcome, collect
from benchmarks.load_traffic import plan_requests, send
from benchmarks.markdown_section import markers, replace_section, write_section
from benchmarks.process_memory import TreeMemorySampler, child_pids, parent_pid, peak_rss_kib
from benchmarks.slack_faults import SCHEDULE, FaultInjector
from inference.registry import ModelSpec, load_registry
from tests.fakes.slack_api import FakeSlackApi
from tests.fakes.slack_client import HttpResult

TOKEN = "xoxb-load-parts"


@pytest.fixture
def slack() -> Iterator[FakeSlackApi]:
    with FakeSlackApi(expect_token=TOKEN) as api:
        yield api


@pytest.fixture
def models() -> list[ModelSpec]:
    return list(load_registry())[:2]


def web(slack: FakeSlackApi) -> WebClient:
    return WebClient(token=TOKEN, base_url=slack.base_url, retry_handlers=[])


def outcome(request_id: str) -> dict[str, Any]:
    return {
        "text": "Answer: POSITIVE",
        "blocks": [{"type": "context", "elements": [{"type": "mrkdwn", "text": f"request `{request_id}`"}]}],
    }


# -- traffic -----------------------------------------------------------------------------------


def test_requests_cycle_kinds_and_models_each_in_its_own_channel(models: list[ModelSpec]) -> None:
    urls = iter(f"http://127.0.0.1:9/response/{n}" for n in range(100))
    planned = plan_requests(12, models, run="T", new_response_url=lambda: next(urls))
    assert [r.kind for r in planned[:6]] == ["command", "hf", "mention"] * 2
    assert [r.model for r in planned[:6]] == [models[0].name] * 3 + [models[1].name] * 3
    assert len({r.channel for r in planned}) == 12
    assert len({r.event_id for r in planned}) == 12
    hf, mention = planned[1], planned[2]
    assert hf.command == "/hf" and hf.text.startswith(f"{models[0].name} ")
    assert mention.text.startswith(f"<@UBOT> {models[0].name} ") and mention.ts and not mention.response_url
    assert all(r.response_url for r in planned if r.kind != "mention")


class ScriptedSender:
    """Answers each post with the next status in ``statuses``; records what was sent."""

    def __init__(self, *statuses: int) -> None:
        self.statuses = list(statuses)
        self.sent: list[dict[str, Any]] = []

    def _answer(self, **sent: Any) -> HttpResult:
        self.sent.append(sent)
        return HttpResult(status=self.statuses.pop(0), headers={}, body="", elapsed=0.01)

    def event(self, event: dict[str, Any], **fields: Any) -> HttpResult:
        return self._answer(event=event, **fields)

    def command(self, command: str, text: str, **fields: Any) -> HttpResult:
        return self._answer(command=command, text=text, **fields)


def test_a_mention_whose_ack_failed_is_redelivered_like_slack_does(models: list[ModelSpec]) -> None:
    [mention] = plan_requests(1, models, run="T", new_response_url=str, kinds=("mention",))
    sender = ScriptedSender(500, 200)
    send(sender, mention)  # type: ignore[arg-type]
    assert mention.ack_status == 500 and mention.acked and mention.redeliveries == 1
    first, retry = sender.sent
    assert first["event_id"] == retry["event_id"] == mention.event_id
    assert first["retry_num"] is None and retry["retry_num"] == 1


def test_a_failed_command_is_not_redelivered(models: list[ModelSpec]) -> None:
    [command] = plan_requests(1, models, run="T", new_response_url=lambda: "http://127.0.0.1:9/r", kinds=("command",))
    sender = ScriptedSender(500)
    send(sender, command)  # type: ignore[arg-type]
    assert not command.acked and command.redeliveries == 0 and len(sender.sent) == 1


# -- tallies -----------------------------------------------------------------------------------


def test_outcomes_are_counted_per_request_whatever_the_route(slack: FakeSlackApi, models: list[ModelSpec]) -> None:
    planned = plan_requests(4, models, run="T", new_response_url=slack.new_response_url, kinds=("command",))
    once, twice, in_placeholder, by_url = planned
    client = web(slack)
    for request in (once, twice, in_placeholder):
        ts = client.chat_postMessage(channel=request.channel, text="⏳ working")["ts"]
        if request is in_placeholder:
            client.chat_update(channel=request.channel, ts=ts, **outcome("c"))
        else:
            client.chat_postMessage(channel=request.channel, thread_ts=ts, **outcome("a"))
    client.chat_postMessage(channel=twice.channel, **outcome("b"))
    slack.fail("response_url", status=500)
    hook = WebhookClient(by_url.response_url)
    assert hook.send_dict(outcome("d")).status_code == 500  # refused: not an outcome
    assert hook.send_dict(outcome("d")).status_code == 200
    found = collect(slack, planned)
    assert [found[r.index].delivered for r in planned] == [1, 2, 1, 1]
    assert all(found[r.index].answered_at is not None for r in planned)
    assert found[once.index].placeholder_at is not None


def test_summary_counts_lost_duplicated_and_unacked(models: list[ModelSpec]) -> None:
    planned = plan_requests(4, models, run="T", new_response_url=str, kinds=("mention",))
    for request in planned:
        request.sent_at, request.ack_status, request.ack_seconds, request.acked = 10.0, 200, 0.1, True
    planned[3].ack_status, planned[3].acked = None, False
    outcomes = {0: Outcome(1, 0, 10.2, 11.0), 1: Outcome(0), 2: Outcome(2, 1, 10.2, 12.0), 3: Outcome(0)}
    figures, problems = summarize(planned, outcomes, Counter({"429": 3}))
    assert (figures["lost"], figures["duplicated"], figures["not_acked"]) == (1, 1, 1)
    assert figures["answered_exactly_once"] == 1 and figures["answered_with_error"] == 1
    assert figures["faults_injected"] == {"429": 3, "500": 0}
    assert figures["end_to_end_latency_ms"]["max"] == 2000.0
    assert [p["channel"] for p in problems] == [planned[i].channel for i in (1, 2, 3)]


def test_a_latency_nobody_measured_is_none() -> None:
    assert _ms_summary([]) == {"count": 0, "p50": None, "p99": None, "max": None}


# -- faults ------------------------------------------------------------------------------------


def test_faults_stay_spaced_even_when_traffic_is_thin(slack: FakeSlackApi) -> None:
    injector = FaultInjector(slack, spacing=2, latency=(0.0, 0.0))
    client = web(slack)

    def post() -> str | None:
        try:
            client.chat_postMessage(channel="C1", text="hi")
        except SlackApiError as exc:
            return str(exc.response.status_code)
        return None

    results = []
    for _ in range(12):
        for _ in SCHEDULE:
            injector.tick()  # however often it ticks, a fault waits for `spacing` clean calls
        results.append(post())
    faulted = [i for i, r in enumerate(results) if r]
    assert faulted and all(b - a > 2 for a, b in itertools.pairwise(faulted))
    assert set(filter(None, results)) <= {"429", "500"}
    assert sum(injector.stop().values()) == len(faulted)
    assert post() is None  # healed


# -- report section ----------------------------------------------------------------------------


def test_section_is_replaced_in_place_or_appended(tmp_path: Path) -> None:
    begin, end = markers("figures")
    document = f"# Title\n\n{begin}\nold\n{end}\n\n## Prose\n"
    assert replace_section(document, "figures", "new") == f"# Title\n\n{begin}\nnew\n{end}\n\n## Prose\n"
    assert replace_section("# Title\n", "figures", "new") == f"# Title\n\n{begin}\nnew\n{end}\n"
    path = tmp_path / "docs" / "report.md"
    write_section(path, "figures", "first")
    write_section(path, "figures", "second")
    assert path.read_text() == f"{begin}\nsecond\n{end}\n"


@pytest.mark.parametrize("broken", ["{end}\n{begin}\n", "{begin}\n{end}\n{begin}\n{end}\n", "{begin}\n"])
def test_broken_markers_are_refused(broken: str) -> None:
    begin, end = markers("figures")
    with pytest.raises(ValueError, match="figures"):
        replace_section(broken.format(begin=begin, end=end), "figures", "new")


# -- /proc ---------------------------------------------------------------------------------------


def fake_process(proc: Path, pid: int, ppid: int, *, hwm_kib: int, command: str) -> None:
    folder = proc / str(pid)
    folder.mkdir(parents=True)
    (folder / "stat").write_text(f"{pid} (odd (name) x) S {ppid} {pid} {pid} 0 -1\n")
    (folder / "status").write_text(f"Name:\tpython\nVmPeak:\t 9 kB\nVmHWM:\t {hwm_kib} kB\nVmRSS:\t 1 kB\n")
    (folder / "cmdline").write_bytes(command.replace(" ", "\0").encode() + b"\0")


def test_peaks_of_a_process_tree_from_proc(tmp_path: Path) -> None:
    fake_process(tmp_path, 10, 1, hwm_kib=50_000, command="python -m bot serve")
    fake_process(tmp_path, 11, 10, hwm_kib=300_000, command="python -c from multiprocessing.spawn import spawn_main")
    fake_process(tmp_path, 12, 10, hwm_kib=9_000, command="python -c from multiprocessing.resource_tracker import main")
    fake_process(tmp_path, 13, 11, hwm_kib=1, command="grandchild")
    assert parent_pid(10, proc=tmp_path) == 1 and child_pids(10, proc=tmp_path) == [11, 12]
    assert peak_rss_kib(11, proc=tmp_path) == 300_000 and peak_rss_kib(99, proc=tmp_path) is None
    sampler = TreeMemorySampler(10, proc=tmp_path)
    sampler.sample()
    (tmp_path / "11" / "status").write_text("VmHWM:\t 400000 kB\n")
    peaks = sampler.stop()
    assert peaks.root_kib == 50_000
    assert peaks.children_kib == {11: 400_000, 12: 9_000}
    assert peaks.workers_kib() == {11: 400_000}


def test_this_process_has_a_peak() -> None:
    assert (peak_rss_kib(os.getpid()) or 0) > 1000
