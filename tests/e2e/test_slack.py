"""Slack, end to end: signed requests into `python -m bot serve`, answers out to a fake Slack API."""

from __future__ import annotations

import json
import sqlite3
import time
import uuid
from typing import Any

import pytest

from bot.slack.listeners import SHORTCUT_TEXT_GONE, SHORTCUT_TEXT_KEY
from bot.stores.feedback import SqliteFeedbackStore
from tests.conftest import BotServer
from tests.fakes.slack_client import FORM, JSON, HttpResult, interaction_body, slash_command_body

pytestmark = [pytest.mark.e2e, pytest.mark.slow]
ANSWER_WAIT = 90.0  # generous: the first request of a model starts its worker and loads it


def thread_replies(server: BotServer, channel: str, thread_ts: str) -> list[dict[str, Any]]:
    return [m for m in server.slack.messages(channel) if m.get("thread_ts") == thread_ts and m["ts"] != thread_ts]


def flat(message: dict[str, Any]) -> str:
    """All the text of a message, blocks included."""
    return message.get("text", "") + json.dumps(message.get("blocks", []), ensure_ascii=False)


def wait_for_reply(server: BotServer, channel: str, thread_ts: str, count: int = 1) -> list[dict[str, Any]]:
    assert server.slack.wait_for(lambda: len(thread_replies(server, channel, thread_ts)) >= count, ANSWER_WAIT)
    return thread_replies(server, channel, thread_ts)


def mention(channel: str, text: str, *, ts: str, thread_ts: str | None = None, user: str = "U7") -> dict[str, Any]:
    """An app_mention event as Slack sends it: ``text`` after the bot's mention, in ``thread_ts`` if given."""
    event = {
        "type": "app_mention",
        "user": user,
        "text": f"<@UBOT> {text}",
        "ts": ts,
        "channel": channel,
        "event_ts": ts,
    }
    if thread_ts:
        event["thread_ts"] = thread_ts
    return event


def placeholder(server: BotServer, channel: str) -> dict[str, Any]:
    assert server.slack.wait_for(lambda: any("thread_ts" not in m for m in server.slack.messages(channel)), 20)
    return next(m for m in server.slack.messages(channel) if "thread_ts" not in m)


def test_slash_command_posts_placeholder_then_threaded_answer(server: BotServer, channel: str) -> None:
    response = server.sender.command("/tiny-sentiment", "I love this team", channel_id=channel, user_id="U42")
    assert response.status == 200
    assert response.body == ""
    parent = placeholder(server, channel)
    assert "<@U42>" in flat(parent) and "I love this team" in flat(parent)
    [answer] = wait_for_reply(server, channel, parent["ts"])
    text = flat(answer)
    assert "POSITIVE" in text or "NEGATIVE" in text
    assert server.slack.wait_for(lambda: "Answered in" in flat(server.slack.messages(channel)[0]), 10)


def test_hf_command_runs_any_model(server: BotServer, channel: str) -> None:
    server.sender.command("/hf", "tiny-qa Where is the tower? | The tower is in Paris.", channel_id=channel)
    parent = placeholder(server, channel)
    [answer] = wait_for_reply(server, channel, parent["ts"])
    assert "confident" in flat(answer)


@pytest.mark.parametrize("text", ["", "help", "   "])
def test_empty_or_help_gives_usage_ephemerally(server: BotServer, channel: str, text: str) -> None:
    response = server.sender.command("/tiny-qa", text, channel_id=channel)
    assert response.status == 200
    body = response.json()
    assert body["response_type"] == "ephemeral"
    assert "question | context" in json.dumps(body)
    server.wait_idle()
    assert server.slack.messages(channel) == []


def test_hf_help_lists_every_model(server: BotServer) -> None:
    body = server.sender.command("/hf", "help").json()
    for name in ("tiny-sentiment", "tiny-qa", "tiny-summarize"):
        assert f"/{name}" in json.dumps(body)


def test_unknown_model_and_command_get_help(server: BotServer) -> None:
    body = server.sender.command("/hf", "nope some text").json()
    assert "no model called `nope`" in json.dumps(body)
    body = server.sender.command("/not-ours", "text").json()
    assert "not a command of this app" in json.dumps(body)


def test_bad_input_is_explained_before_any_invocation(server: BotServer, channel: str) -> None:
    body = server.sender.command("/tiny-qa", "no separator here", channel_id=channel).json()
    assert body["response_type"] == "ephemeral"
    assert "question | context" in json.dumps(body)
    body = server.sender.command("/tiny-sentiment", "x" * 30_000, channel_id=channel).json()
    assert "at most" in json.dumps(body)


def test_ack_is_fast_while_slack_is_slow(server: BotServer, channel: str) -> None:
    """Structural, not a benchmark: any Slack call on the ack path would take 2 s by itself."""
    server.slack.set_latency(2.0)
    response = server.sender.command("/tiny-sentiment", "fast ack please", channel_id=channel)
    assert response.status == 200
    assert response.elapsed < 2.0
    parent = placeholder(server, channel)
    wait_for_reply(server, channel, parent["ts"])


def test_mention_answers_in_its_thread(server: BotServer, channel: str) -> None:
    ts = f"{int(time.time())}.000200"
    event = mention(channel, "tiny-sentiment what a day", ts=ts)
    assert server.sender.event(event).status == 200
    replies = wait_for_reply(server, channel, ts, count=2)
    assert any("POSITIVE" in flat(m) or "NEGATIVE" in flat(m) for m in replies)


def test_retried_event_answers_once(server: BotServer, channel: str) -> None:
    ts = f"{int(time.time())}.000300"
    event = mention(channel, "tiny-sentiment once only", ts=ts)
    event_id = "Ev" + uuid.uuid4().hex[:10].upper()
    assert server.sender.event(event, event_id=event_id).status == 200
    for retry in (1, 2, 3):
        assert server.sender.event(event, event_id=event_id, retry_num=retry).status == 200
    wait_for_reply(server, channel, ts, count=2)
    server.wait_idle()
    replies = thread_replies(server, channel, ts)
    assert len(replies) == 2, [flat(m) for m in replies]  # one placeholder, one answer


def test_same_command_delivered_twice_answers_once(server: BotServer, channel: str) -> None:
    body = slash_command_body("/tiny-sentiment", "twice", channel_id=channel, trigger_id="trig-" + uuid.uuid4().hex)
    assert server.sender.post(body, FORM).status == 200
    assert server.sender.post(body, FORM).status == 200
    parent = placeholder(server, channel)
    wait_for_reply(server, channel, parent["ts"])
    server.wait_idle()
    assert len([m for m in server.slack.messages(channel) if "thread_ts" not in m]) == 1
    assert len(thread_replies(server, channel, parent["ts"])) == 1


def test_mention_in_thread_without_text_runs_on_the_thread(server: BotServer, channel: str) -> None:
    parent_ts = f"{int(time.time())}.000400"
    server.slack.set_thread(
        channel,
        parent_ts,
        [{"user": "U1", "text": "The tower is tall."}, {"user": "U2", "text": "It is in Paris."}],
    )
    ts = f"{int(time.time())}.000900"
    event = mention(channel, "tiny-summarize", ts=ts, thread_ts=parent_ts)
    server.sender.event(event)
    assert server.slack.wait_for(lambda: server.slack.calls("conversations.replies"), 20)
    replies = wait_for_reply(server, channel, parent_ts, count=2)
    assert any("Tiny summarization" in flat(m) for m in replies)
    placeholder_text = flat(replies[0])
    assert "The tower is tall." in placeholder_text and "It is in Paris." in placeholder_text


def test_mention_help_and_unknown_model(server: BotServer, channel: str) -> None:
    ts = f"{int(time.time())}.000500"
    server.sender.event(mention(channel, "frobnicate this", ts=ts))
    [reply] = wait_for_reply(server, channel, ts)
    assert "don't know a model called `frobnicate`" in flat(reply)
    assert "/tiny-sentiment" in flat(reply)


def run_shortcut(server: BotServer, channel: str, text: str) -> tuple[str, dict[str, Any]]:
    """Run the message shortcut on a message saying ``text``: the message's ts and the modal opened."""
    message_ts = f"{int(time.time())}.{uuid.uuid4().int % 1_000_000:06d}"
    shortcut = {
        "type": "message_action",
        "callback_id": "run_model_on_message",
        "trigger_id": "trig-" + uuid.uuid4().hex,
        "team": {"id": "T0001"},
        "user": {"id": "U9"},
        "channel": {"id": channel},
        "message": {"type": "message", "user": "U1", "ts": message_ts, "text": text},
        "response_url": server.slack.new_response_url(),
    }
    before = len(server.slack.calls("views.open"))
    assert server.sender.post(interaction_body(shortcut), FORM).status == 200
    assert server.slack.wait_for(lambda: len(server.slack.calls("views.open")) > before, 20)
    return message_ts, server.slack.calls("views.open")[-1].params["view"]


SENTIMENT_PICKED = {
    "model_block": {"model_select": {"type": "static_select", "selected_option": {"value": "tiny-sentiment"}}}
}
JAPANESE = ("今日のデモはとても良かったです。チームの皆さん、ありがとう。" * 30)[:598]
QUOTED = '"Ship it?" "Yes, the \\tests\\ pass."\n"Sure?" "Sure."\n' * 120
EMOJI = "🎉🚀 great 👍🏽 demo 👩‍💻\n" * 200


def test_message_shortcut_opens_modal_and_answers_in_thread(server: BotServer, channel: str) -> None:
    message_ts, _ = run_shortcut(server, channel, "I really enjoyed the demo")
    view_id = "V" + uuid.uuid4().hex[:8]
    assert submit_last_view(server, user="U9", values=SENTIMENT_PICKED, view_id=view_id).status == 200
    assert submit_last_view(server, user="U9", values=SENTIMENT_PICKED, view_id=view_id).status == 200  # twice
    replies = wait_for_reply(server, channel, message_ts, count=2)
    assert any("POSITIVE" in flat(m) or "NEGATIVE" in flat(m) for m in replies)
    server.wait_idle()
    assert len(thread_replies(server, channel, message_ts)) == 2  # one placeholder, one answer


@pytest.mark.parametrize("text", [JAPANESE, QUOTED, EMOJI], ids=["japanese-598", "quotes-newlines", "emoji"])
def test_message_shortcut_runs_the_model_on_the_whole_message(server: BotServer, channel: str, text: str) -> None:
    """Whatever the text, the modal opens within Slack's limits and the model reads all of it."""
    message_ts, view = run_shortcut(server, channel, text)
    assert len(view["private_metadata"]) < 200  # only ids: the text stays with the router
    assert submit_last_view(server, user="U9", values=SENTIMENT_PICKED).status == 200
    replies = wait_for_reply(server, channel, message_ts, count=2)
    [request_id] = [
        b["block_id"].removeprefix("feedback:")
        for m in replies
        for b in m.get("blocks", [])
        if b.get("block_id", "").startswith("feedback:")
    ]
    answers = SqliteFeedbackStore(server.data_dir / "feedback.sqlite")
    assert server.slack.wait_for(lambda: answers.answer(request_id) is not None, 10)
    assert answers.answer(request_id).input == text.strip()


def test_message_shortcut_on_a_message_longer_than_the_model_takes_says_so(server: BotServer, channel: str) -> None:
    message_ts, view = run_shortcut(server, channel, "word " * 8000)  # 40,000 characters
    assert len(view["private_metadata"]) < 200
    response = submit_last_view(server, user="U9", values=SENTIMENT_PICKED)
    assert response.status == 200
    body = response.json()
    assert body["response_action"] == "errors"
    assert "39,999 characters long; tiny-sentiment accepts at most 20,000" in body["errors"]["model_block"]
    server.wait_idle()
    assert thread_replies(server, channel, message_ts) == []


@pytest.mark.parametrize("how", ["expired", "missing"])
def test_message_shortcut_whose_text_is_gone_asks_to_run_it_again(server: BotServer, channel: str, how: str) -> None:
    message_ts, view = run_shortcut(server, channel, "Keep this for a while")
    metadata = json.loads(view["private_metadata"])
    if how == "expired":
        db = sqlite3.connect(server.data_dir / "state.sqlite")
        with db:
            db.execute("UPDATE fields SET expires_at = 0 WHERE pk = ?", (SHORTCUT_TEXT_KEY + metadata["text_key"],))
        db.close()
    else:
        del metadata["text_key"]
        view["private_metadata"] = json.dumps(metadata)
    response = submit_last_view(server, user="U9", values=SENTIMENT_PICKED, view=view)
    assert response.json() == {"response_action": "errors", "errors": {"model_block": SHORTCUT_TEXT_GONE}}
    server.wait_idle()
    assert thread_replies(server, channel, message_ts) == []


def test_failing_model_reports_in_thread_with_request_id(server: BotServer, channel: str) -> None:
    server.sender.command("/tiny-broken", "anything", channel_id=channel)
    parent = placeholder(server, channel)
    [reply] = wait_for_reply(server, channel, parent["ts"])
    text = flat(reply)
    assert "could not answer" in text and "could not be loaded" in text
    assert "request `" in text
    assert server.slack.wait_for(lambda: "Failed in" in flat(server.slack.messages(channel)[0]), 10)


def test_timed_out_model_reports_and_next_request_gets_a_fresh_worker(server: BotServer, channel: str) -> None:
    server.sender.command("/tiny-slow", "first", channel_id=channel)
    parent = placeholder(server, channel)
    [reply] = wait_for_reply(server, channel, parent["ts"])
    assert "ran out of time" in flat(reply)
    server.sender.command("/tiny-slow", "second", channel_id=channel)
    assert server.slack.wait_for(
        lambda: len([m for m in server.slack.messages(channel) if "thread_ts" not in m]) == 2, 20
    )
    second = [m for m in server.slack.messages(channel) if "thread_ts" not in m][1]
    [reply] = wait_for_reply(server, channel, second["ts"])
    assert "ran out of time" in flat(reply)  # a fresh worker loads again, and again takes longer than 1 s


def test_app_home_lists_models_with_usage(server: BotServer) -> None:
    before = len(server.slack.calls("views.publish"))
    server.sender.event({"type": "app_home_opened", "user": "U5", "channel": "D1", "tab": "home", "event_ts": "1.1"})
    assert server.slack.wait_for(lambda: len(server.slack.calls("views.publish")) > before, 20)
    view = server.slack.calls("views.publish")[-1].params["view"]
    text = json.dumps(view)
    assert "tiny-sentiment" in text and "used" in text


def test_not_in_channel_falls_back_to_response_url(server: BotServer, channel: str) -> None:
    server.slack.fail("chat.postMessage", error="not_in_channel", times=1)
    url = server.slack.new_response_url()
    server.sender.command("/tiny-sentiment", "private channel", channel_id=channel, response_url=url)
    assert server.slack.wait_for(lambda: len(server.slack.response_posts(url)) >= 2, ANSWER_WAIT)
    posts = [json.dumps(p.body) for p in server.slack.response_posts(url)]
    assert "private channel" in posts[0]
    assert "POSITIVE" in posts[1] or "NEGATIVE" in posts[1]


def test_user_text_cannot_ping_or_forge_links(server: BotServer, channel: str) -> None:
    server.sender.command("/tiny-sentiment", "<!channel> hi <https://evil.example|click> & <@U1>", channel_id=channel)
    parent = placeholder(server, channel)
    wait_for_reply(server, channel, parent["ts"])
    for message in server.slack.messages(channel):
        text = flat(message)
        assert "<!channel>" not in text and "<https://evil" not in text and "<!" not in text


@pytest.mark.parametrize(
    ("headers", "status"),
    [
        ({"X-Slack-Signature": None}, 401),
        ({"X-Slack-Signature": "v0=" + "0" * 64}, 401),
        ({"X-Slack-Request-Timestamp": None}, 401),
    ],
)
def test_bad_signatures_are_refused(server: BotServer, headers: dict[str, str | None], status: int) -> None:
    body = slash_command_body("/tiny-sentiment", "hi")
    assert server.sender.post(body, FORM, extra_headers=headers).status == status


def test_stale_timestamp_is_refused(server: BotServer) -> None:
    body = slash_command_body("/tiny-sentiment", "hi")
    assert server.sender.post(body, FORM, timestamp=int(time.time()) - 6 * 60).status == 401


def test_malformed_bodies_get_4xx(server: BotServer) -> None:
    assert server.sender.post("{not json", JSON).status in (400, 401, 404)
    assert server.sender.post(b"\xff\xfe\x00", FORM).status in (400, 401, 404)


def test_url_verification(server: BotServer) -> None:
    response = server.sender.post(json.dumps({"type": "url_verification", "challenge": "abc123", "token": "t"}), JSON)
    assert response.status == 200 and "abc123" in response.body


def submit_last_view(
    server: BotServer, *, user: str, values: dict[str, Any], view_id: str = "", view: dict[str, Any] | None = None
) -> HttpResult:
    """Submit the modal the bot opened last (or ``view``), with ``values`` as its state, as Slack would."""
    view = view or server.slack.calls("views.open")[-1].params["view"]
    submission = {
        "type": "view_submission",
        "team": {"id": "T0001"},
        "user": {"id": user},
        "view": {
            "id": view_id or "V" + uuid.uuid4().hex[:8],
            "type": "modal",
            "callback_id": view["callback_id"],
            "private_metadata": view["private_metadata"],
            "state": {"values": values},
        },
    }
    return server.sender.post(interaction_body(submission), FORM)
