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
from benchmarks.load_traffic import CHAT_TASK, plan_requests, seed_threads, send
from benchmarks.markdown_section import markers, replace_section, write_section
from benchmarks.process_memory import TreeMemorySampler, child_pids, parent_pid, peak_rss_kib
from benchmarks.slack_faults import SCHEDULE, FaultInjector
from bot.slack.streaming import STILL_WRITING
from bot.slack.ui import FEEDBACK_BLOCK
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
        "blocks": [
            {"type": "context", "elements": [{"type": "mrkdwn", "text": f"request `{request_id}`"}]},
            {"type": "actions", "block_id": f"{FEEDBACK_BLOCK}{request_id}", "elements": []},
        ],
    }


def partial(text: str) -> dict[str, Any]:
    """The text so far, as the bot shows it while the model writes (no request id, no buttons)."""
    return {"text": text, "blocks": [{"type": "context", "elements": [{"type": "mrkdwn", "text": STILL_WRITING}]}]}


@pytest.fixture
def chat_models(models: list[ModelSpec]) -> list[ModelSpec]:
    chat = next(spec for spec in load_registry() if spec.task == CHAT_TASK)
    return [models[0], chat]


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


def test_a_chat_model_is_asked_by_command_in_a_thread_and_by_a_reply(
    slack: FakeSlackApi, chat_models: list[ModelSpec]
) -> None:
    planned = plan_requests(6, chat_models, run="T", new_response_url=slack.new_response_url)
    other, chat = planned[:3], planned[3:]
    assert [r.kind for r in other] == ["command", "hf", "mention"]
    assert [r.kind for r in chat] == ["command", "reply", "thread-mention"]
    command, reply, in_thread = chat
    assert command.response_url and not command.thread_ts
    assert reply.thread_ts and reply.ts != reply.thread_ts and "<@" not in reply.text and not reply.response_url
    assert in_thread.thread_ts and in_thread.text.startswith(f"<@UBOT> {in_thread.model} ")
    seed_threads(slack, planned)
    client = web(slack)
    [question] = client.conversations_replies(channel=in_thread.channel, ts=in_thread.thread_ts)["messages"]
    assert question["user"] == in_thread.user
    placeholder, answer = client.conversations_replies(channel=reply.channel, ts=reply.thread_ts)["messages"]
    assert placeholder["bot_id"] and " asked " in placeholder["text"]
    assert any(b.get("block_id", "").startswith(FEEDBACK_BLOCK) for b in answer["blocks"])
    assert f"`{reply.model}`" in str(answer["blocks"])
    assert collect(slack, planned)[reply.index].delivered == 0  # a seeded turn is no outcome


def test_a_thread_reply_is_sent_as_a_message_event_in_the_bots_thread(chat_models: list[ModelSpec]) -> None:
    reply = next(r for r in plan_requests(6, chat_models, run="T", new_response_url=str) if r.kind == "reply")
    sender = ScriptedSender(500, 200)
    send(sender, reply)  # type: ignore[arg-type]
    event = sender.sent[0]["event"]
    assert event["type"] == "message" and event["thread_ts"] == reply.thread_ts
    assert event["parent_user_id"] == "UBOT" and event["channel_type"] == "channel"
    assert reply.redeliveries == 1 and reply.acked  # redelivered like any event


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


def test_partials_are_told_from_the_final_answer(slack: FakeSlackApi, models: list[ModelSpec]) -> None:
    planned = plan_requests(4, models, run="T", new_response_url=slack.new_response_url, kinds=("mention",))
    by_update, by_stream, late, frozen = planned
    client = web(slack)
    slack.allow_streaming()
    ts = client.chat_postMessage(channel=by_update.channel, thread_ts=by_update.ts, **partial("The"))["ts"]
    client.chat_update(channel=by_update.channel, ts=ts, **partial("The tower"))
    client.chat_update(channel=by_update.channel, ts=ts, **outcome("u"))
    start = dict(channel=by_stream.channel, thread_ts=by_stream.ts, recipient_user_id="U1", recipient_team_id="T1")
    ts = client.api_call("chat.startStream", json={**start, "markdown_text": "The"})["ts"]
    client.api_call("chat.appendStream", json={"channel": by_stream.channel, "ts": ts, "markdown_text": " tower"})
    client.api_call("chat.stopStream", json={"channel": by_stream.channel, "ts": ts})
    client.chat_update(channel=by_stream.channel, ts=ts, **outcome("s"))
    ts = client.chat_postMessage(channel=late.channel, thread_ts=late.ts, **outcome("l"))["ts"]
    client.chat_postMessage(channel=late.channel, thread_ts=late.ts, **partial("The"))  # after the answer
    client.chat_postMessage(channel=frozen.channel, thread_ts=frozen.ts, **partial("The"))
    client.chat_postMessage(channel=frozen.channel, thread_ts=frozen.ts, **outcome("f"))
    found = collect(slack, planned)
    assert [found[r.index].delivered for r in planned] == [1, 1, 1, 1]
    assert [found[r.index].with_feedback for r in planned] == [1, 1, 1, 1]
    assert [found[r.index].partials for r in planned] == [2, 2, 1, 1]
    assert [found[r.index].streamed_partials for r in planned] == [0, 2, 0, 0]
    assert [found[r.index].partials_after_final for r in planned] == [0, 0, 1, 0]
    assert [found[r.index].frozen_partials for r in planned] == [0, 0, 1, 1]
    assert all(found[r.index].first_partial_at is not None for r in planned)


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
    assert figures["chat"]["sent"] == 0  # none of these is the chat model's


def test_summary_counts_chat_partials_and_a_partial_after_the_final(chat_models: list[ModelSpec]) -> None:
    planned = plan_requests(6, chat_models, run="T", new_response_url=str)
    for request in planned:
        request.sent_at, request.ack_status, request.ack_seconds, request.acked = 10.0, 200, 0.1, True
    outcomes = {r.index: Outcome(1, 0, 10.2, 12.0, with_feedback=1) for r in planned}
    outcomes[3] = Outcome(1, 0, 10.2, 12.0, with_feedback=1, partials=3, first_partial_at=10.5)
    outcomes[4] = Outcome(1, 0, 10.2, 12.0, with_feedback=1, partials=2, first_partial_at=11.0, partials_after_final=1)
    figures, problems = summarize(planned, outcomes, Counter(), frozenset({chat_models[1].name}))
    chat = figures["chat"]
    assert chat["sent"] == 3 and chat["by_kind"] == {"command": 1, "reply": 1, "thread-mention": 1}
    assert (chat["final_exactly_once"], chat["final_with_feedback"], chat["lost"], chat["duplicated"]) == (3, 3, 0, 0)
    assert (chat["with_partials"], chat["partials"], chat["partials_max"]) == (2, 5, 3)
    assert chat["partials_after_final"] == 1 and chat["frozen_partials"] == 0
    assert chat["first_partial_latency_ms"]["max"] == 1000.0
    assert [p["channel"] for p in problems] == [planned[4].channel]


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
