"""Partial answers in Slack: sequences, duplicates, late partials, the final replace, rate limits, splitting."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest

from bot.core.services import Services
from bot.slack.delivery import deliver_record
from bot.slack.streaming import (
    PART_LIMIT,
    STILL_WRITING,
    deliver_partial,
    is_partial_record,
    markdown_escape,
    split_text,
)
from tests.fakes.destinations import destination_record
from tests.fakes.slack_api import FakeSlackApi

CHANNEL = "C123"


def text_of(message: dict[str, Any]) -> str:
    return message["text"] + json.dumps(message.get("blocks", []), ensure_ascii=False)


def start(services: Services, request_id: str = "req-1") -> dict[str, Any]:
    """A placeholder in the channel and the reply target a run would carry."""
    ts = services.slack.post(CHANNEL, {"text": "⏳ working"})
    return {
        "request_id": request_id,
        "source": "mention",
        "user": "U123",
        "channel": CHANNEL,
        "thread_ts": ts,
        "placeholder_ts": ts,
        "mode": "thread",
        "started_at": time.time(),
    }


def partial(reply: dict[str, Any], sequence: int, text: str) -> dict[str, Any]:
    return {"partial": {"model": "ask", "sequence": sequence, "text": text}, "reply": reply}


def final(reply: dict[str, Any], text: str = "The tower is in Paris.", **response: Any) -> dict[str, Any]:
    body = {"model": "ask", "task": "text-generation", "result": {"text": text}, "timings": {}, "reply": reply}
    return destination_record({"text": "Where is the tower?", "reply": reply}, {**body, **response})


def replies(slack: FakeSlackApi, reply: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        m for m in slack.messages(CHANNEL) if m.get("thread_ts") == reply["thread_ts"] and m["ts"] != m["thread_ts"]
    ]


def test_a_partial_record_is_told_from_destination_records_and_http_events() -> None:
    reply = {"request_id": "r"}
    assert is_partial_record(partial(reply, 1, "hi"))
    assert not is_partial_record(final(reply))
    assert not is_partial_record({"httpMethod": "POST", "partial": {}, "reply": {}, "body": "{}"})
    assert not is_partial_record({"partial": "text", "reply": reply})


def test_partials_grow_one_message_and_the_answer_replaces_it_once(slack: FakeSlackApi, services: Services) -> None:
    reply = start(services)
    deliver_partial(services, partial(reply, 1, "The"))
    deliver_partial(services, partial(reply, 3, "The tower is"))
    deliver_partial(services, partial(reply, 2, "The tower"))  # late: older than what is shown
    deliver_partial(services, partial(reply, 3, "The tower is"))  # a duplicate
    [streamed] = replies(slack, reply)
    assert "The tower is" in text_of(streamed) and STILL_WRITING in text_of(streamed)
    assert len(slack.calls("chat.update")) == 1  # seq 1 posted, seq 3 updated, 2 and the duplicate ignored

    deliver_record(services, final(reply))
    deliver_record(services, final(reply))  # a retried record: still one answer
    deliver_partial(services, partial(reply, 4, "The tower is in"))  # after the answer: ignored
    [answer] = replies(slack, reply)
    assert answer["ts"] == streamed["ts"]
    assert "The tower is in Paris." in text_of(answer) and STILL_WRITING not in text_of(answer)
    assert any(b.get("type") == "actions" for b in answer["blocks"])  # the feedback buttons
    assert "Answered in" in text_of(slack.messages(CHANNEL)[0])  # the placeholder marked done


def test_a_failure_part_way_replaces_the_half_answer_with_the_error(slack: FakeSlackApi, services: Services) -> None:
    reply = start(services)
    deliver_partial(services, partial(reply, 1, "The tower is"))
    arn = "arn:aws:lambda:us-east-1:123456789012:function:hf-slack-ask:$LATEST"  # the chat model's function
    failed = destination_record(
        {"text": "Where is the tower?", "reply": reply}, failed=True, requestContext={"functionArn": arn}
    )
    deliver_record(services, failed)
    [answer] = replies(slack, reply)
    assert "could not answer" in text_of(answer) and "The tower is" not in text_of(answer)
    assert STILL_WRITING not in text_of(answer)


def test_a_rate_limit_holds_partials_back_and_never_the_answer(slack: FakeSlackApi, services: Services) -> None:
    reply = start(services)
    deliver_partial(services, partial(reply, 1, "One"))
    slack.limit_rate("chat.update", 1, 2.0)
    deliver_partial(services, partial(reply, 2, "One two"))  # shown: the first update in the window
    deliver_partial(services, partial(reply, 3, "One two three"))  # 429: held back, not retried
    deliver_partial(services, partial(reply, 4, "One two three four"))  # within Retry-After: not even tried
    updates = slack.calls("chat.update")
    assert [c.fault for c in updates] == [None, "429"]
    deliver_record(services, final(reply, "One two three four five."))  # waits out the 429 and lands
    [answer] = replies(slack, reply)
    assert "One two three four five." in text_of(answer)


def test_slacks_streaming_methods_are_used_where_allowed(slack: FakeSlackApi, services: Services) -> None:
    slack.allow_streaming()
    reply = start(services)
    deliver_partial(services, partial(reply, 1, "The *tower*"))
    deliver_partial(services, partial(reply, 2, "The *tower* <!channel>"))
    [started] = slack.calls("chat.startStream")
    assert started.params["recipient_user_id"] == "U123" and started.params["recipient_team_id"]
    assert started.params["markdown_text"] == markdown_escape("The *tower*") == "The \\*tower\\*"
    [appended] = slack.calls("chat.appendStream")
    assert appended.params["markdown_text"] == " &lt;\\!channel&gt;"
    deliver_record(services, final(reply, "The tower is in Paris."))
    assert len(slack.calls("chat.stopStream")) == 1
    [answer] = replies(slack, reply)
    assert "The tower is in Paris." in text_of(answer) and answer["blocks"]


def test_where_streaming_is_refused_the_message_is_updated(slack: FakeSlackApi, services: Services) -> None:
    reply = start(services)
    deliver_partial(services, partial(reply, 1, "One"))
    deliver_partial(services, partial(reply, 2, "One two"))
    assert len(slack.calls("chat.startStream")) == 1  # tried once, refused
    assert len(slack.calls("chat.postMessage")) == 2 and len(slack.calls("chat.update")) == 1
    second = start(services, "req-2")
    deliver_partial(services, partial(second, 1, "Again"))
    assert len(slack.calls("chat.startStream")) == 1  # this conversation is remembered


def test_partial_text_is_escaped(slack: FakeSlackApi, services: Services) -> None:
    reply = start(services)
    deliver_partial(services, partial(reply, 1, "<!channel> & <https://evil|click>"))
    [streamed] = replies(slack, reply)
    assert "<!channel>" not in streamed["text"] and "&lt;!channel&gt;" in streamed["text"]


def test_a_long_answer_is_split_into_messages_within_slacks_limits(slack: FakeSlackApi, services: Services) -> None:
    reply = start(services)
    words = " ".join(f"word{n}" for n in range(1500))  # about 11,000 characters
    deliver_partial(services, partial(reply, 1, words[:5000]))
    deliver_record(services, final(reply, words))
    messages = replies(slack, reply)
    assert len(messages) == len(split_text(words)) >= 3
    shown = " ".join(" ".join(b["text"] for b in json_texts(m)) for m in messages)
    assert "word0 " in shown and "word1499" in shown
    assert "part 2 of" in text_of(messages[1])


def json_texts(message: dict[str, Any]) -> list[dict[str, Any]]:
    found = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if node.get("type") == "text":
                found.append(node)
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(message["blocks"])
    return found


@pytest.mark.parametrize(
    "text",
    ["short", "a" * 9000, ("paragraph one. " * 100 + "\n\n") * 6, "line\n" * 2000],
)
def test_split_text_keeps_every_word_within_the_limit(text: str) -> None:
    parts = split_text(text)
    assert all(len(p) + 3 * (p.count("\n") + 1) <= PART_LIMIT for p in parts)
    assert "".join(text.split()) == "".join("".join(parts).split())


def test_split_text_cuts_at_a_paragraph_when_it_can() -> None:
    first, second = "a " * 800, "b " * 800
    assert split_text(f"{first}\n\n{second}") == [first.strip(), second.strip()]


def test_the_form_keeps_the_newest_text(services: Services) -> None:
    from bot.form.routes import keep_partial

    reply = {"request_id": "f1", "source": "form", "stream": "s" * 32}
    keep_partial(services.store, partial(reply, 2, "newer"))
    keep_partial(services.store, partial(reply, 1, "older"))
    keep_partial(services.store, partial(reply, 2, "newer, again"))  # a duplicate sequence
    assert services.store.fields("form-stream:" + "s" * 32)["text"] == "newer"
    deliver_partial(services, partial(reply, 3, "not Slack's"))  # the Slack side leaves the form's alone
    assert services.store.fields("form-stream:" + "s" * 32)["text"] == "newer"


def test_each_text_task_splits_its_own_field() -> None:
    from bot.slack.streaming import split_result

    long = "word " * 2000
    for task, field in (("text-generation", "text"), ("summarization", "summary"), ("translation", "translation")):
        shown, parts = split_result(task, {field: long})
        assert len(parts) >= 3 and shown[field] == parts[0]
    assert split_result("text-classification", {"labels": []}) == ({"labels": []}, [])
    assert split_result("summarization", {"summary": "short"}) == ({"summary": "short"}, [])


def test_an_answer_from_a_model_that_never_streams_touches_no_stream_state(
    slack: FakeSlackApi, services: Services
) -> None:
    reply = start(services)
    record = destination_record({"text": "I love it", "reply": reply})  # the sentiment sample's result
    deliver_record(services, record)
    assert services.store.fields("stream:req-1") == {}
    assert len(replies(slack, reply)) == 1
