"""The router's own decisions: which entry point an answered request counts as (Bolt's re-invocations,
Slack's retries and refusals do not count)."""

from __future__ import annotations

import pytest

from bot.core.http import Request
from bot.router import entry_point
from tests.fakes.slack_client import event_callback_body, interaction_body, slash_command_body


def request(body: str, content_type: str, path: str = "/slack/events", **headers: str) -> Request:
    return Request(method="POST", path=path, body=body.encode(), headers={"content-type": content_type, **headers})


@pytest.mark.parametrize(
    ("req", "status", "expected"),
    [
        (request(slash_command_body("/qa", "x"), "application/x-www-form-urlencoded"), 200, "slash_command"),
        (request(event_callback_body({"type": "app_mention", "text": "hi"}), "application/json"), 200, "mention"),
        (request(interaction_body({"type": "message_action"}), "application/x-www-form-urlencoded"), 200, "shortcut"),
        (
            request(
                interaction_body({"type": "view_submission", "view": {"callback_id": "run_model_modal"}}),
                "application/x-www-form-urlencoded",
            ),
            200,
            "shortcut",
        ),
        (request(interaction_body({"type": "block_actions"}), "application/x-www-form-urlencoded"), 200, "feedback"),
        (
            request(
                interaction_body({"type": "view_submission", "view": {"callback_id": "feedback_comment_modal"}}),
                "application/x-www-form-urlencoded",
            ),
            200,
            "feedback",
        ),
        (request("{}", "application/json", path="/go"), 200, "form"),
        (request("{}", "application/json", path="/go/feedback"), 200, "feedback"),
        (request("{}", "application/json", path="/go/compare-check"), 200, None),
        (request(slash_command_body("/qa", "x"), "application/x-www-form-urlencoded"), 401, None),
        (
            request(
                slash_command_body("/qa", "x"), "application/x-www-form-urlencoded", **{"x-slack-bolt-lazy-only": "1"}
            ),
            200,
            None,
        ),
        (
            request(slash_command_body("/qa", "x"), "application/x-www-form-urlencoded", **{"x-slack-retry-num": "1"}),
            200,
            None,
        ),
        (request(event_callback_body({"type": "app_home_opened"}), "application/json"), 200, None),
    ],
)
def test_entry_points(req: Request, status: int, expected: str | None) -> None:
    assert entry_point(req, status) == expected
