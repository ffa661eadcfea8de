"""Feedback and comparison, end to end through `python -m bot serve` and the fake Slack API."""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import ROOT, BotServer
from tests.e2e.test_slack import flat, mention, placeholder, submit_last_view, wait_for_reply
from tests.fakes.slack_client import FORM, interaction_body

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


def answered(server: BotServer, channel: str) -> dict[str, Any]:
    server.sender.command("/tiny-sentiment", "Great demo today", channel_id=channel)
    parent = placeholder(server, channel)
    [answer] = wait_for_reply(server, channel, parent["ts"])
    return answer


def feedback_buttons(message: dict[str, Any]) -> dict[str, dict[str, Any]]:
    [block] = [b for b in message["blocks"] if str(b.get("block_id", "")).startswith("feedback:")]
    return {e["action_id"]: e for e in block["elements"]}


def click(server: BotServer, channel: str, message: dict[str, Any], action_id: str, user: str) -> None:
    button = feedback_buttons(message)[action_id]
    payload = {
        "type": "block_actions",
        "team": {"id": "T0001"},
        "user": {"id": user},
        "channel": {"id": channel},
        "trigger_id": "trig-" + uuid.uuid4().hex,
        "container": {"type": "message", "message_ts": message["ts"], "channel_id": channel},
        "message": {k: message[k] for k in ("ts", "text", "blocks", "thread_ts") if k in message},
        "response_url": server.slack.new_response_url(),
        "actions": [
            {
                "action_id": action_id,
                "block_id": f"feedback:{button['value']}",
                "value": button["value"],
                "type": "button",
            }
        ],
    }
    assert server.sender.post(interaction_body(payload), FORM).status == 200


def current(server: BotServer, channel: str, ts: str) -> dict[str, Any]:
    return next(m for m in server.slack.messages(channel) if m["ts"] == ts)


def export(server: BotServer, *args: str) -> str:
    env = {"DATA_DIR": str(server.data_dir), "MODELS_FILE": str(server.registry), "PATH": "/usr/bin:/bin"}
    return subprocess.run(
        [sys.executable, "-m", "bot", "feedback", "export", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout


def test_votes_are_stored_counted_and_changed(server: BotServer, channel: str) -> None:
    answer = answered(server, channel)
    request_id = feedback_buttons(answer)["feedback_up"]["value"]
    click(server, channel, answer, "feedback_up", "U1")
    assert server.slack.wait_for(lambda: "👍 1" in flat(current(server, channel, answer["ts"])), 20)
    click(server, channel, current(server, channel, answer["ts"]), "feedback_up", "U2")
    assert server.slack.wait_for(lambda: "👍 2" in flat(current(server, channel, answer["ts"])), 20)
    click(server, channel, current(server, channel, answer["ts"]), "feedback_down", "U1")  # U1 changes their mind
    assert server.slack.wait_for(
        lambda: (
            "👍 1" in flat(current(server, channel, answer["ts"]))
            and "👎 1" in flat(current(server, channel, answer["ts"]))
        ),
        20,
    )
    rows = [json.loads(line) for line in export(server, "--format", "jsonl").splitlines()]
    mine = [r for r in rows if r["request_id"] == request_id]
    assert sorted((r["voter"], r["vote"]) for r in mine) == [("U1", "down"), ("U2", "up")]
    assert {r["model"] for r in mine} == {"tiny-sentiment"} and mine[0]["input"] == "Great demo today"
    assert mine[0]["task"] == "text-classification" and mine[0]["channel"] == channel


def test_comment_modal_is_stored_and_exported(server: BotServer, channel: str) -> None:
    answer = answered(server, channel)
    request_id = feedback_buttons(answer)["feedback_comment"]["value"]
    before = len(server.slack.calls("views.open"))
    click(server, channel, answer, "feedback_comment", "U3")
    assert server.slack.wait_for(lambda: len(server.slack.calls("views.open")) > before, 20)
    values = {"comment_block": {"comment_input": {"type": "plain_text_input", "value": "Too confident <b>"}}}
    assert submit_last_view(server, user="U3", values=values).status == 200

    def stored() -> bool:
        return any(
            r["request_id"] == request_id and r["comment"] == "Too confident <b>"
            for r in map(json.loads, export(server, "--format", "jsonl").splitlines())
        )

    assert server.slack.wait_for(stored, 20)
    csv_text = export(server, "--model", "tiny-sentiment")
    assert csv_text.splitlines()[0].startswith("request_id,model,revision,task,vote,comment")
    assert "Too confident <b>" in csv_text
    assert export(server, "--model", "tiny-qa", "--format", "jsonl").strip() == "" or request_id not in export(
        server, "--model", "tiny-qa"
    )


def test_compare_posts_one_reply_filled_per_model(server: BotServer, channel: str) -> None:
    response = server.sender.command("/hf", "compare tiny-sentiment,tiny-broken What a launch", channel_id=channel)
    assert response.status == 200 and response.body == ""
    parent = placeholder(server, channel)
    [comparison] = wait_for_reply(server, channel, parent["ts"])

    def finished() -> bool:
        text = flat(current(server, channel, comparison["ts"]))
        return "2 of 2 answered" in text

    assert server.slack.wait_for(finished, 90)
    text = flat(current(server, channel, comparison["ts"]))
    assert "POSITIVE" in text or "NEGATIVE" in text
    assert "could not be loaded" in text
    assert len(feedback_buttons_all(current(server, channel, comparison["ts"]))) == 1  # only the answered column
    updates = [c for c in server.slack.calls("chat.update") if c.params.get("ts") == comparison["ts"]]
    assert len(updates) >= 2
    server.wait_idle()
    assert len(wait_for_reply(server, channel, parent["ts"])) == 1  # one reply, updated in place
    assert server.slack.wait_for(lambda: "Answered in" in flat(current(server, channel, parent["ts"])), 20)


def feedback_buttons_all(message: dict[str, Any]) -> list[dict[str, Any]]:
    return [b for b in message["blocks"] if str(b.get("block_id", "")).startswith("feedback:")]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("compare tiny-sentiment hi", "two or three different models"),
        ("compare tiny-sentiment,tiny-sentiment hi", "two or three different models"),
        ("compare tiny-sentiment,nope hi", "No model called `nope`"),
        ("compare tiny-sentiment,tiny-qa no separator", "can't take this input"),
        ("compare tiny-sentiment,tiny-ner", "no text to compare"),
    ],
)
def test_compare_explains_what_cannot_run(server: BotServer, text: str, expected: str) -> None:
    body = server.sender.command("/hf", text).json()
    assert body["response_type"] == "ephemeral" and expected in json.dumps(body)


def test_mention_compare(server: BotServer, channel: str) -> None:
    ts = "1700001234.000100"
    server.sender.event(mention(channel, "compare tiny-sentiment,tiny-zero-shot great news | good, bad", ts=ts))
    replies = wait_for_reply(server, channel, ts, count=2)
    comparison = replies[1]
    assert server.slack.wait_for(lambda: "2 of 2 answered" in flat(current(server, channel, comparison["ts"])), 90)


def test_home_shows_votes_per_model(server: BotServer, channel: str) -> None:
    answer = answered(server, channel)
    click(server, channel, answer, "feedback_up", "U9")
    assert server.slack.wait_for(lambda: "👍 1" in flat(current(server, channel, answer["ts"])), 20)
    before = len(server.slack.calls("views.publish"))
    server.sender.event({"type": "app_home_opened", "user": "U9", "channel": "D1", "tab": "home", "event_ts": "1.2"})
    assert server.slack.wait_for(lambda: len(server.slack.calls("views.publish")) > before, 20)
    assert "👍" in json.dumps(server.slack.calls("views.publish")[-1].params["view"], ensure_ascii=False)


def test_export_path_is_the_data_folder(server: BotServer) -> None:
    assert (Path(server.data_dir) / "feedback.sqlite").exists()
