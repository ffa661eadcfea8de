"""SlackOps' one failure contract: each method returns what it was asked for, or raises CannotPost
(this route is closed to the bot) or SlackUnavailable (anything else, once the retries are spent)."""

from __future__ import annotations

import types
from collections.abc import Callable
from typing import Any

import pytest
import slack_sdk.http_retry.builtin_handlers
import slack_sdk.http_retry.handler

from bot.core.slack_ops import CannotPost, SlackError, SlackOps, SlackUnavailable, make_client
from bot.slack.ui import comment_modal
from tests.bot.conftest import BOT_TOKEN
from tests.fakes.slack_api import RESPONSE_URL, FakeSlackApi

MESSAGE = {"text": "hello"}
HOME = {"type": "home", "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": "models"}}]}
THREAD = ("C1", "1700000000.000001")

#: Each operation as a test drives it: its Web API method (the fake's fault name) and the call.
Call = Callable[[SlackOps, FakeSlackApi], Any]
OPERATIONS: dict[str, tuple[str, Call]] = {
    "post": ("chat.postMessage", lambda ops, api: ops.post("C1", MESSAGE)),
    "post in a thread": ("chat.postMessage", lambda ops, api: ops.post("C1", MESSAGE, thread_ts=THREAD[1])),
    "update": ("chat.update", lambda ops, api: ops.update("C1", ops.post("C1", MESSAGE), {"text": "edited"})),
    "post_ephemeral": ("chat.postEphemeral", lambda ops, api: ops.post_ephemeral("C1", "U1", MESSAGE)),
    "thread_text": ("conversations.replies", lambda ops, api: ops.thread_text(*THREAD)),
    "open_view": ("views.open", lambda ops, api: ops.open_view("trigger-1", comment_modal(private_metadata="{}"))),
    "publish_home": ("views.publish", lambda ops, api: ops.publish_home("U1", HOME)),
    "respond": (RESPONSE_URL, lambda ops, api: ops.respond(api.new_response_url(), MESSAGE)),
    "respond ephemerally": (
        RESPONSE_URL,
        lambda ops, api: ops.respond(api.new_response_url(), MESSAGE, ephemeral=True),
    ),
}
#: Faults and the error each must become. A ``response_url`` has no Web API error codes: Slack
#: answers a post it will not take with an HTTP status, covered in the tests after these.
FAULTS: dict[str, tuple[dict[str, Any], type[SlackError], int]] = {
    # name: (FakeSlackApi.fail arguments, the error raised, how many calls reach Slack)
    "cannot post here": ({"error": "not_in_channel"}, CannotPost, 1),
    "another API error": ({"error": "invalid_blocks"}, SlackUnavailable, 1),
    "server errors": ({"status": 500}, SlackUnavailable, 3),  # the first try and two retries
    "dropped connections": ({"drop": True}, SlackUnavailable, 3),
    "429 until the retries run out": ({"status": 429, "retry_after": 0}, SlackUnavailable, 5),
}
WEB_API_FAULTS = list(FAULTS)
RESPONSE_URL_FAULTS = ["server errors", "dropped connections", "429 until the retries run out"]


@pytest.fixture
def ops(slack: FakeSlackApi, monkeypatch: pytest.MonkeyPatch) -> SlackOps:
    """SlackOps with the bot's own retry handlers, whose waits between tries take no time here."""
    no_wait = types.SimpleNamespace(sleep=lambda seconds: None)
    monkeypatch.setattr(slack_sdk.http_retry.handler, "time", no_wait)
    monkeypatch.setattr(slack_sdk.http_retry.builtin_handlers, "time", no_wait)
    slack.set_thread(*THREAD, [{"user": "U1", "text": "first"}, {"user": "U2", "text": "second"}])
    return SlackOps(make_client(BOT_TOKEN, slack.base_url), api_url=slack.base_url)


def calls_to(slack: FakeSlackApi, method: str) -> int:
    return len(slack.response_posts()) if method == RESPONSE_URL else len(slack.calls(method))


@pytest.mark.parametrize("operation", OPERATIONS)
def test_a_call_that_returns_has_done_what_it_was_asked(ops: SlackOps, slack: FakeSlackApi, operation: str) -> None:
    method, call = OPERATIONS[operation]
    result = call(ops, slack)
    if operation.startswith("post") and operation != "post_ephemeral":
        assert isinstance(result, str) and any(m["ts"] == result for m in slack.messages("C1"))
    elif operation == "thread_text":
        assert result == "first\n\nsecond"
    else:
        assert result is None
    assert calls_to(slack, method) >= 1


@pytest.mark.parametrize("fault", WEB_API_FAULTS)
@pytest.mark.parametrize("operation", [name for name, (method, _) in OPERATIONS.items() if method != RESPONSE_URL])
def test_every_web_api_failure_is_one_of_the_two_errors(
    ops: SlackOps, slack: FakeSlackApi, operation: str, fault: str
) -> None:
    method, call = OPERATIONS[operation]
    arguments, expected, reached = FAULTS[fault]
    before = calls_to(slack, method) if operation != "update" else 0
    slack.fail(method, times=None, **arguments)
    with pytest.raises(expected) as raised:
        call(ops, slack)
    assert type(raised.value) is expected  # CannotPost is never a SlackUnavailable, nor the reverse
    assert raised.value.method == method
    if "error" in arguments:
        assert raised.value.error == arguments["error"]
    assert calls_to(slack, method) - before == reached


@pytest.mark.parametrize("fault", RESPONSE_URL_FAULTS)
def test_a_failing_response_url_is_unavailable_after_its_retries(
    ops: SlackOps, slack: FakeSlackApi, fault: str
) -> None:
    arguments, expected, reached = FAULTS[fault]
    slack.fail(RESPONSE_URL, times=None, **arguments)
    with pytest.raises(expected) as raised:
        ops.respond(slack.new_response_url(), MESSAGE)
    assert raised.value.method == RESPONSE_URL
    assert len(slack.response_posts()) == reached


def test_a_response_url_slack_no_longer_takes_cannot_be_posted_to(ops: SlackOps, slack: FakeSlackApi) -> None:
    """Slack answers 404 once a response_url has expired (the fake: one it never handed out)."""
    with pytest.raises(CannotPost):
        ops.respond(f"{slack.origin}/response/expired", MESSAGE)


@pytest.mark.parametrize(
    "url", ["", "http://169.254.169.254/latest/meta-data", "https://hooks.slack.com@evil.example/x", "https://x\\@y/"]
)
def test_a_response_url_that_is_missing_or_not_slacks_is_refused_without_a_request(
    ops: SlackOps, slack: FakeSlackApi, url: str
) -> None:
    with pytest.raises(CannotPost):
        ops.respond(url, MESSAGE)
    assert slack.response_posts() == []


def test_a_rate_limit_that_lifts_within_the_retries_is_no_failure(ops: SlackOps, slack: FakeSlackApi) -> None:
    slack.fail("chat.postMessage", status=429, retry_after=0, times=4)
    assert ops.post("C1", MESSAGE)
    assert [c.fault for c in slack.calls("chat.postMessage")] == ["429"] * 4 + [None]


def test_the_errors_say_which_call_failed_and_why(ops: SlackOps, slack: FakeSlackApi) -> None:
    slack.fail("chat.update", error="cant_update_message")
    with pytest.raises(CannotPost, match=r"chat\.update failed: cant_update_message"):
        ops.update("C1", "1700000000.000100", MESSAGE)
