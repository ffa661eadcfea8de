"""The Block Kit check refuses each over-limit payload and passes each one at its limit."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from slack_sdk import WebClient
from slack_sdk.webhook import WebhookClient

from tests.fakes.block_kit import ack_problems, message_problems, view_problems
from tests.fakes.signing import JSON, SIGNING_SECRET
from tests.fakes.slack_api import FakeSlackApi
from tests.fakes.slack_client import SlackSender

TOKEN = "xoxb-test"


def section(text: str) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text}}


def header(text: str) -> dict[str, Any]:
    return {"type": "header", "text": {"type": "plain_text", "text": text}}


def context(text: str) -> dict[str, Any]:
    return {"type": "context", "elements": [{"type": "mrkdwn", "text": text}]}


def buttons(text: str = "👍 1", value: str = "r1", kind: str = "button") -> dict[str, Any]:
    button = {"type": kind, "action_id": "vote", "value": value, "text": {"type": "plain_text", "text": text}}
    return {"type": "actions", "elements": [button]}


def picker(option_text: str = "Sentiment", option_value: str = "sentiment") -> dict[str, Any]:
    option = {"text": {"type": "plain_text", "text": option_text}, "value": option_value}
    element = {"type": "static_select", "action_id": "model", "options": [option]}
    return {"type": "input", "block_id": "model", "label": {"type": "plain_text", "text": "Model"}, "element": element}


def message(*blocks: dict[str, Any], text: str = "fallback") -> dict[str, Any]:
    return {"text": text, "blocks": list(blocks)}


def modal(*blocks: dict[str, Any], title: str = "Run a model", **fields: Any) -> dict[str, Any]:
    return {"type": "modal", "title": {"type": "plain_text", "text": title}, "blocks": list(blocks), **fields}


AT_LIMIT_MESSAGES = {
    "section 3,000": message(section("s" * 3000)),
    "header 150": message(header("h" * 150)),
    "button text 75, value 2,000": message(buttons("b" * 75, "v" * 2000)),
    "50 blocks": message(*[section("x")] * 50),
    "context text 3,000": message(context("c" * 3000)),
    "text 40,000": message(text="t" * 40_000),
}
OVER_LIMIT_MESSAGES = {
    "section 3,001": (message(section("s" * 3001)), "cannot exceed 3000"),
    "header 151": (message(header("h" * 151)), "cannot exceed 150"),
    "button text 76": (message(buttons("b" * 76)), "cannot exceed 75"),
    "button value 2,001": (message(buttons(value="v" * 2001)), "cannot exceed 2000"),
    "51 blocks": (message(*[section("x")] * 51), "blocks in a message is 51"),
    "context text 3,001": (message(context("c" * 3001)), "text is 3,001"),
    "empty section text": (message(section("")), "text is 0"),
    "text 40,001": (message(text="t" * 40_001), "text (Slack truncates beyond) is 40,001"),
    "unknown block": (message({"type": "sektion", "text": "x"}), "knows no block"),
    "unknown element": (message(buttons(kind="buton")), "knows no element elements[0]"),
    "blocks as a string": ({"text": "x", "blocks": "[{"}, "not a list"),
}
AT_LIMIT_VIEWS = {
    "title 24, private_metadata 3,000": modal(section("x"), title="t" * 24, private_metadata="m" * 3000),
    "100 blocks": modal(*[section("x")] * 100),
    "option text 75, value 150": modal(picker("o" * 75, "v" * 150)),
}
OVER_LIMIT_VIEWS = {
    "title 25": (modal(section("x"), title="t" * 25), "title must be between 1 and 24"),
    "private_metadata 3,001": (modal(section("x"), private_metadata="m" * 3001), "private_metadata cannot exceed"),
    "101 blocks": (modal(*[section("x")] * 101), "between 1 and 100 blocks"),
    "submit 25": (modal(section("x"), submit={"type": "plain_text", "text": "s" * 25}), "submit cannot exceed 24"),
    "section 3,001 in a view": (modal(section("s" * 3001)), "cannot exceed 3000"),
    "option text 76": (modal(picker(option_text="o" * 76)), "option 0: text attribute cannot exceed 75"),
    "option value 151": (modal(picker(option_value="v" * 151)), "option 0: value attribute cannot exceed 150"),
    "no type": ({"title": "Run", "blocks": [section("x")]}, "view:"),
    "no blocks": ({"type": "home"}, "blocks must be a list"),
}


@pytest.mark.parametrize("payload", AT_LIMIT_MESSAGES.values(), ids=AT_LIMIT_MESSAGES.keys())
def test_messages_at_the_limits_pass(payload: dict[str, Any]) -> None:
    assert message_problems(payload) == []


@pytest.mark.parametrize(("payload", "problem"), OVER_LIMIT_MESSAGES.values(), ids=OVER_LIMIT_MESSAGES.keys())
def test_messages_over_a_limit_are_refused(payload: dict[str, Any], problem: str) -> None:
    [found] = message_problems(payload)
    assert problem in found


@pytest.mark.parametrize("payload", AT_LIMIT_VIEWS.values(), ids=AT_LIMIT_VIEWS.keys())
def test_views_at_the_limits_pass(payload: dict[str, Any]) -> None:
    assert view_problems(payload) == []


@pytest.mark.parametrize(("payload", "problem"), OVER_LIMIT_VIEWS.values(), ids=OVER_LIMIT_VIEWS.keys())
def test_views_over_a_limit_are_refused(payload: dict[str, Any], problem: str) -> None:
    found = view_problems(payload)
    assert any(problem in p for p in found), found


def test_ack_bodies_are_checked_as_messages_or_views() -> None:
    assert ack_problems({"response_type": "ephemeral", "text": "hi", "blocks": [section("x")]}) == []
    assert ack_problems({"response_action": "errors", "errors": {"model": "Pick a model."}}) == []
    assert ack_problems({"challenge": "abc"}) == []
    assert ack_problems({"text": "hi", "blocks": [section("s" * 3001)]})
    assert ack_problems({"response_action": "update", "view": modal(section("x"), title="t" * 25)})


@pytest.fixture
def fake() -> Iterator[FakeSlackApi]:
    with FakeSlackApi(expect_token=TOKEN) as api:
        yield api


def test_the_fake_records_what_breaks_a_limit_and_answers_as_usual(fake: FakeSlackApi) -> None:
    web = WebClient(token=TOKEN, base_url=fake.base_url)
    posted = web.chat_postMessage(channel="C1", text="hi", blocks=[section("fine")])
    assert fake.take_violations() == []

    web.chat_update(channel="C1", ts=posted["ts"], text="hi", blocks=[header("h" * 151)])
    web.chat_postEphemeral(channel="C1", user="U1", text="hi", blocks=[section("x")] * 51)
    web.views_open(trigger_id="t1", view=modal(section("x"), private_metadata="m" * 3001))
    web.views_publish(user_id="U1", view={"type": "home", "blocks": [buttons("b" * 76)]})
    url = fake.new_response_url()
    assert WebhookClient(url).send_dict({"text": "hi", "blocks": [section("")]}).status_code == 200

    found = {v.where: v.problem for v in fake.take_violations()}
    assert list(found) == ["chat.update", "chat.postEphemeral", "views.open", "views.publish", "response_url"]
    assert "cannot exceed 150" in found["chat.update"] and "text is 0" in found["response_url"]
    assert fake.take_violations() == []  # taken once


class JsonAnswers:
    """A loopback server answering every POST with ``body`` as JSON, the way the bot acks."""

    def __init__(self, body: dict[str, Any]) -> None:
        payload = json.dumps(body).encode()

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                self.rfile.read(int(self.headers["Content-Length"]))
                self.send_response(200)
                self.send_header("Content-Type", "application/json;charset=utf-8")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.mark.parametrize(
    ("ack", "broken"),
    [
        ({"response_type": "ephemeral", "text": "hi", "blocks": [section("x")]}, False),
        (message(header("h" * 151)), True),
    ],
)
def test_the_sender_records_acks_that_break_a_limit(ack: dict[str, Any], broken: bool) -> None:
    bot = JsonAnswers(ack)
    try:
        sender = SlackSender(bot.url, SIGNING_SECRET)
        assert sender.post("{}", JSON).json() == ack
        found = sender.take_violations()
    finally:
        bot.close()
    assert [v.where for v in found] == (["ack"] if broken else [])
