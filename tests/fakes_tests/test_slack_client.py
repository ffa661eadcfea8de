"""Requests built and sent like Slack's, checked against slack_sdk, Bolt and the router's request type."""

from __future__ import annotations

import base64
import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs

import pytest
from slack_bolt import App
from slack_bolt.adapter.aws_lambda.handler import SlackRequestHandler, to_bolt_request
from slack_sdk import WebClient
from slack_sdk.signature import SignatureVerifier

from bot.core.http import Request
from tests.events import load_event
from tests.fakes.signing import FORM, JSON, SIGNING_SECRET, signed_headers
from tests.fakes.slack_api import FakeSlackApi
from tests.fakes.slack_client import (
    LambdaContext,
    SlackSender,
    api_gateway_event,
    event_callback_body,
    interaction_body,
    slash_command_body,
    url_verification_body,
)

TOKEN = "xoxb-test"


class Recorder:
    """A loopback server that keeps each request's raw header names and body, and answers ``status``."""

    def __init__(self) -> None:
        self.requests: list[tuple[str, list[tuple[str, str]], bytes]] = []
        self.status = 200
        recorder = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                recorder.requests.append((self.path, list(self.headers.items()), body))
                payload = b'{"error": "nope"}' if recorder.status >= 400 else b"{}"
                self.send_response(recorder.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()

    def last(self) -> tuple[str, dict[str, str], bytes]:
        path, headers, body = self.requests[-1]
        return path, {k.lower(): v for k, v in headers}, body


@pytest.fixture
def recorder() -> Iterator[Recorder]:
    server = Recorder()
    yield server
    server.server.shutdown()
    server.server.server_close()


def test_slash_command_body_has_slacks_fields() -> None:
    first = parse_qs(slash_command_body("/sentiment", "I <3 it & more", channel_id="C999", user_name="bob"))
    second = parse_qs(slash_command_body("/sentiment", "again"))
    assert first["command"] == ["/sentiment"]
    assert first["text"] == ["I <3 it & more"]
    assert (first["channel_id"], first["user_id"], first["team_id"]) == (["C999"], ["U123"], ["T0001"])
    assert first["user_name"] == ["bob"]
    assert first["response_url"] == ["http://127.0.0.1:9/response/unused"]
    assert first["trigger_id"] != second["trigger_id"]


def test_event_callback_and_interaction_bodies() -> None:
    event = load_event("app_mention")["event"]
    envelope = json.loads(event_callback_body(event))
    again = json.loads(event_callback_body(event, event_id="Ev42"))
    payload = load_event("message_shortcut")

    assert envelope["type"] == "event_callback" and envelope["event"] == event
    assert envelope["event_id"].startswith("Ev") and again["event_id"] == "Ev42"
    assert json.loads(parse_qs(interaction_body(payload))["payload"][0]) == payload
    assert json.loads(url_verification_body("abc")) == {
        "token": "fake-verification-token",
        "challenge": "abc",
        "type": "url_verification",
    }


def test_sender_signs_commands_as_slack_does(recorder: Recorder) -> None:
    urls = iter(["http://127.0.0.1:1/response/a"])
    sender = SlackSender(recorder.url, SIGNING_SECRET, response_urls=lambda: next(urls))
    result = sender.command("/sentiment", "I love it")

    path, headers, body = recorder.last()
    assert path == "/slack/events"
    assert headers["content-type"] == FORM
    assert SignatureVerifier(SIGNING_SECRET).is_valid_request(body, headers)
    assert parse_qs(body.decode())["response_url"] == ["http://127.0.0.1:1/response/a"]
    assert (result.status, result.json()) == (200, {})
    assert result.elapsed > 0


def test_sender_marks_retries(recorder: Recorder) -> None:
    sender = SlackSender(recorder.url, SIGNING_SECRET)
    event = load_event("app_mention")["event"]
    sender.event(event, event_id="Ev1")
    sender.event(event, event_id="Ev1", retry_num=2)

    first, second = ({k.lower(): v for k, v in h} for _, h, _ in recorder.requests)
    assert "x-slack-retry-num" not in first
    assert (second["x-slack-retry-num"], second["x-slack-retry-reason"]) == ("2", "http_timeout")
    assert json.loads(recorder.requests[1][2])["event_id"] == "Ev1"
    assert SignatureVerifier(SIGNING_SECRET).is_valid_request(recorder.requests[1][2], second)


def test_extra_headers_replace_remove_and_keep_their_case(recorder: Recorder) -> None:
    SlackSender(recorder.url, SIGNING_SECRET).post(
        "text=x", FORM, extra_headers={"x-SLACK-signature": "v0=forged", "X-Slack-Request-Timestamp": None}
    )
    _, raw_headers, _ = recorder.requests[-1]
    names = [name for name, _ in raw_headers]
    assert ("x-SLACK-signature", "v0=forged") in raw_headers
    assert "X-Slack-Signature" not in names
    assert not any(name.lower() == "x-slack-request-timestamp" for name in names)


def test_client_errors_come_back_as_results(recorder: Recorder) -> None:
    recorder.status = 401
    result = SlackSender(recorder.url, SIGNING_SECRET).interaction(load_event("block_actions"))
    assert result.status == 401
    assert result.json() == {"error": "nope"}
    assert result.headers["content-type"] == "application/json"


def test_sender_refuses_non_http_urls() -> None:
    with pytest.raises(ValueError):
        SlackSender("https://example.com", SIGNING_SECRET)


def test_api_gateway_event_round_trips_through_the_router_request() -> None:
    body = slash_command_body("/sentiment", "caf\u00e9")
    event = api_gateway_event(
        "POST", "/slack/events", body, signed_headers(body, SIGNING_SECRET), query={"a": "1"}, source_ip="198.51.100.9"
    )
    request = Request.from_event(event)

    assert (request.method, request.path, request.query) == ("POST", "/slack/events", {"a": "1"})
    assert request.body == body.encode()
    assert SignatureVerifier(SIGNING_SECRET).is_valid_request(request.body, request.headers)
    assert event["requestContext"]["identity"]["sourceIp"] == "198.51.100.9"
    assert event["requestContext"]["path"] == "/prod/slack/events"
    assert event["headers"]["X-Forwarded-For"] == "198.51.100.9"


def test_api_gateway_event_base64_keeps_any_bytes() -> None:
    raw = b"\xff\xfe not utf-8"
    event = api_gateway_event("POST", "/go", raw, {"Content-Type": "application/octet-stream"}, base64=True)
    assert event["isBase64Encoded"] is True
    assert base64.b64decode(event["body"]) == raw
    assert Request.from_event(event).body == raw


def test_api_gateway_event_fits_bolts_lambda_adapter() -> None:
    body = url_verification_body("xyz")
    request = to_bolt_request(
        api_gateway_event("POST", "/slack/events", body, signed_headers(body, SIGNING_SECRET, content_type=JSON))
    )
    assert request.raw_body == body
    assert request.body["challenge"] == "xyz"


def test_bolt_app_runs_against_the_doubles() -> None:
    """A real Bolt app, fed through its Lambda adapter, answers into the fake Slack API."""
    with FakeSlackApi(expect_token=TOKEN) as fake:
        app = App(
            client=WebClient(token=TOKEN, base_url=fake.base_url),
            signing_secret=SIGNING_SECRET,
            process_before_response=True,
        )

        @app.command("/sentiment")
        def command(ack: Any, command: dict[str, Any], say: Any, respond: Any) -> None:
            ack()
            placeholder = say(f"Running sentiment on {command['text']}")
            say(text="POSITIVE 0.99", thread_ts=placeholder["ts"])
            respond("done")

        response_url = fake.new_response_url()
        body = slash_command_body("/sentiment", "I love it", response_url=response_url)
        event = api_gateway_event("POST", "/slack/events", body, signed_headers(body, SIGNING_SECRET))
        answer = SlackRequestHandler(app).handle(event, LambdaContext())

        forged = api_gateway_event("POST", "/slack/events", body, signed_headers(body, "wrong-secret"))
        refused = SlackRequestHandler(app).handle(forged, LambdaContext())

        assert answer["statusCode"] == 200
        assert refused["statusCode"] == 401
        placeholder, reply = fake.messages("C123")
        assert reply["thread_ts"] == placeholder["ts"]
        assert [p.body["text"] for p in fake.response_posts(response_url)] == ["done"]


def test_lambda_context_counts_down() -> None:
    assert LambdaContext().get_remaining_time_in_millis() == 900_000
    assert 0 < LambdaContext(deadline=time.monotonic() + 10).get_remaining_time_in_millis() <= 10_000
    assert LambdaContext(deadline=0.0).get_remaining_time_in_millis() == 0
