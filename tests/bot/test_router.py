"""The router's own decisions: which entry point an answered request counts as (Bolt's re-invocations,
Slack's retries and refusals do not count), and one parse of a Slack body for the whole request."""

from __future__ import annotations

from typing import Any

import pytest
import slack_bolt.request.request

import bot.router as router_module
from bot.app import build_bolt_app
from bot.core.http import Request
from bot.core.services import Services
from bot.local.workers import Activity, count_listener_work
from bot.router import Router, check_slack_body, entry_point
from tests.bot.conftest import wait_idle
from tests.fakes.invoker import FakeInvoker
from tests.fakes.signing import FORM, SIGNING_SECRET, signed_headers
from tests.fakes.slack_client import api_gateway_event, event_callback_body, interaction_body, slash_command_body


def request(body: str, content_type: str, path: str = "/slack/events", **headers: str) -> Request:
    return Request(method="POST", path=path, body=body.encode(), headers={"content-type": content_type, **headers})


@pytest.mark.parametrize(
    ("req", "status", "expected"),
    [
        (request(slash_command_body("/qa", "x"), "application/x-www-form-urlencoded"), 200, "slash_command"),
        (request(slash_command_body("/qa", "the payload"), "application/x-www-form-urlencoded"), 200, "slash_command"),
        (request(event_callback_body({"type": "app_mention", "text": "hi"}), "application/json"), 200, "mention"),
        (request(interaction_body({"type": "message_action"}), "application/x-www-form-urlencoded"), 200, "shortcut"),
        (
            request(
                interaction_body(
                    {"type": "view_submission", "view": {"type": "modal", "callback_id": "run_model_modal"}}
                ),
                "application/x-www-form-urlencoded",
            ),
            200,
            "shortcut",
        ),
        (
            request(
                interaction_body({"type": "block_actions", "actions": [{"action_id": "vote_up"}]}),
                "application/x-www-form-urlencoded",
            ),
            200,
            "feedback",
        ),
        (
            request(
                interaction_body(
                    {"type": "view_submission", "view": {"type": "modal", "callback_id": "feedback_comment_modal"}}
                ),
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
    body = check_slack_body(req) if req.path == "/slack/events" else None
    assert entry_point(req, status, body) == expected


# -- a Slack body is parsed once per request ---------------------------------------------------


@pytest.fixture
def activity() -> Activity:
    """The router's lazy listeners in flight, as local mode counts them."""
    return Activity()


@pytest.fixture
def local_router(services: Services, activity: Activity) -> Router:
    router = Router(services, build_bolt_app(services), lambda_mode=False)
    count_listener_work(router.app, activity)
    return router


def signed_event(body: str, secret: str = SIGNING_SECRET) -> dict[str, Any]:
    return api_gateway_event("POST", "/slack/events", body, signed_headers(body, secret, content_type=FORM))


def test_bolt_runs_on_the_routers_one_parse_ack_and_lazy_half_alike(
    local_router: Router, invoker: FakeInvoker, activity: Activity, monkeypatch: pytest.MonkeyPatch
) -> None:
    parses: list[str] = []
    real = router_module.check_slack_body
    monkeypatch.setattr(router_module, "check_slack_body", lambda request: parses.append("router") or real(request))
    bolts_parser = slack_bolt.request.request.parse_body
    monkeypatch.setattr(
        slack_bolt.request.request, "parse_body", lambda *args: parses.append("bolt") or bolts_parser(*args)
    )
    response = local_router.handle(signed_event(slash_command_body("/sentiment", "What a day", channel_id="C1")))
    assert response["statusCode"] == 200
    invoker.wait_for_calls(1)  # the lazy half ran, in a thread, on a copy of the request
    wait_idle(activity)  # and has ended
    assert parses == ["router"]


def test_a_command_whose_text_says_payload_is_still_a_command(
    local_router: Router, invoker: FakeInvoker, activity: Activity
) -> None:
    """Bolt's own parser reads a form body holding the word "payload" anywhere as empty (a 404)."""
    response = local_router.handle(signed_event(slash_command_body("/sentiment", "the payload is late")))
    assert response["statusCode"] == 200
    invoker.wait_for_calls(1)
    wait_idle(activity)  # the lazy half has ended: no other call is still to come
    [(kind, model, payload, _)] = invoker.calls
    assert (kind, model, payload["text"]) == ("async", "sentiment", "the payload is late")


def test_the_signature_is_still_checked_over_the_body_as_received(
    local_router: Router, invoker: FakeInvoker, activity: Activity
) -> None:
    body = slash_command_body("/sentiment", "hi")
    forged = signed_event(body, secret="not-the-signing-secret-0123456789")
    assert local_router.handle(forged)["statusCode"] == 401
    tampered = signed_event(body)
    tampered["body"] = body.replace("hi", "ho")
    assert local_router.handle(tampered)["statusCode"] == 401
    wait_idle(activity)  # had either been let in, its lazy half would be counted until it invoked the model
    assert invoker.calls == []
