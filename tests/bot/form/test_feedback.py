"""Feedback on form answers: answers are remembered, POST /go/feedback takes votes and comments.

Every request here carries one browser's signed voter cookie; how voters are issued, and who may
vote how often, is tested in ``test_votes.py``.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from bot.core.config import Secrets, Settings
from bot.form.feedback import MAX_COMMENT_CHARS, new_voter
from bot.form.passcode import session_cookie
from bot.stores.feedback import Answer
from inference.registry import parse_registry
from tests.bot.form.conftest import body, make_request
from tests.fakes.signing import SIGNING_SECRET

RESULT = {"labels": [{"label": "POSITIVE", "score": 0.98}]}
VOTER, _SET_COOKIE = new_voter(Settings(secrets=Secrets(signing_secret=SIGNING_SECRET)))
#: The ``name=value`` pair the browser sends back.
BROWSER = _SET_COOKIE.split(";")[0]


def run(call, feedback, text="I love it.", **overrides):
    request = make_request("POST", json_body={"model": "tiny-sentiment", "text": text}, cookie=BROWSER)
    return body(call(request, feedback=feedback, **overrides))


def send(call, feedback, json_body=None, *, cookie=BROWSER, raw=None, content_type="application/json", **overrides):
    request = make_request(
        "POST", "/go/feedback", json_body=json_body, raw=raw, content_type=content_type, cookie=cookie
    )
    return call(request, feedback=feedback, **overrides)


def test_an_answer_is_remembered_with_what_was_asked_and_said(call, feedback):
    answer = run(call, feedback, text="  I love it. ")

    assert answer["feedback"] is True
    stored = feedback.answer(answer["request_id"])
    assert stored == Answer(
        request_id=answer["request_id"],
        model="tiny-sentiment",
        revision="0" * 40,
        task="text-classification",
        input="I love it.",
        output=RESULT,
        source="form",
        created_at=stored.created_at,
        asked_by=f"form:{VOTER}",
    )


def test_feedback_store_text_off_keeps_only_a_hash(call, feedback, settings):
    private = Settings(secrets=settings.secrets, feedback_store_text=False)
    answer = run(call, feedback, text="my secret plans", settings=private)

    stored = feedback.answer(answer["request_id"])
    assert stored.input == "sha256:" + hashlib.sha256(b"my secret plans").hexdigest()
    assert stored.input_hashed


def test_a_registry_entry_can_keep_only_a_hash(call, feedback):
    entry = {
        "name": "tiny-sentiment",
        "task": "text-classification",
        "model": "test/tiny-sentiment",
        "revision": "0" * 40,
        "store_text": False,
    }
    registry = parse_registry({"models": [entry]}, base=Path("."), path=Path("private.yaml"))
    answer = run(call, feedback, text="my secret plans", registry=registry)

    assert feedback.answer(answer["request_id"]).input_hashed


def test_without_a_store_answers_carry_no_feedback_and_the_route_is_absent(call):
    assert run(call, None)["feedback"] is False
    assert send(call, None, {"request_id": "abc", "vote": "up"}).status == 404


def test_a_store_fault_still_gives_the_answer_without_feedback(call, feedback, monkeypatch):
    def broken(answer):
        raise OSError("disk full")

    monkeypatch.setattr(feedback, "record_answer", broken)
    response = call(make_request("POST", json_body={"model": "tiny-sentiment", "text": "hi"}), feedback=feedback)

    assert response.status == 200
    assert body(response)["result"] == RESULT
    assert body(response)["feedback"] is False


def test_a_vote_returns_the_tally_and_is_kept_under_the_voter(call, feedback):
    request_id = run(call, feedback)["request_id"]

    response = send(call, feedback, {"request_id": request_id, "vote": "up"})

    assert response.status == 200
    assert body(response) == {"tally": {"up": 1, "down": 0, "comments": 0}}
    assert response.cookies == []
    ((vote),) = feedback.votes()
    assert (vote.voter, vote.vote, vote.answer.source) == (f"form:{VOTER}", "up", "form")


def test_voting_again_changes_the_vote(call, feedback):
    request_id = run(call, feedback)["request_id"]
    send(call, feedback, {"request_id": request_id, "vote": "up"})

    again = send(call, feedback, {"request_id": request_id, "vote": "down"})

    assert body(again) == {"tally": {"up": 0, "down": 1, "comments": 0}}
    assert [v.vote for v in feedback.votes()] == ["down"]


def test_a_comment_is_kept_beside_the_vote(call, feedback):
    request_id = run(call, feedback)["request_id"]
    send(call, feedback, {"request_id": request_id, "vote": "up"})

    response = send(call, feedback, {"request_id": request_id, "comment": "  Spot on, <b>thanks</b>.\n"})

    assert body(response) == {"tally": {"up": 1, "down": 0, "comments": 1}}
    ((vote),) = feedback.votes()
    assert (vote.vote, vote.comment) == ("up", "Spot on, <b>thanks</b>.")


def test_a_comment_alone_counts_no_vote(call, feedback):
    request_id = run(call, feedback)["request_id"]

    response = send(call, feedback, {"request_id": request_id, "comment": "Too slow."})

    assert body(response) == {"tally": {"up": 0, "down": 0, "comments": 1}}


def test_an_unknown_request_id_is_a_404(call, feedback):
    response = send(call, feedback, {"request_id": "0123456789ab", "vote": "up"})

    assert response.status == 404
    assert body(response)["error"]["type"] == "not_found"
    assert feedback.votes() == []


def test_slack_answers_cannot_be_voted_on_from_the_form(call, feedback):
    slack_answer = Answer(
        request_id="fromslack123",
        model="tiny-sentiment",
        revision=None,
        task="t",
        input="x",
        output={},
        source="mention",
    )
    feedback.record_answer(slack_answer)

    response = send(call, feedback, {"request_id": "fromslack123", "vote": "up"})

    assert response.status == 404
    assert feedback.votes() == []


@pytest.mark.parametrize(
    "data",
    [
        {"vote": "up"},
        {"request_id": 7, "vote": "up"},
        {"request_id": "", "vote": "up"},
        {"request_id": "../../etc", "vote": "up"},
        {"request_id": "a" * 65, "vote": "up"},
        {"request_id": "{id}"},
        {"request_id": "{id}", "vote": "sideways"},
        {"request_id": "{id}", "vote": None},
        {"request_id": "{id}", "vote": ["up"]},
        {"request_id": "{id}", "vote": "up", "comment": "both"},
        {"request_id": "{id}", "comment": ""},
        {"request_id": "{id}", "comment": "   \n"},
        {"request_id": "{id}", "comment": 42},
        {"request_id": "{id}", "comment": "x" * (MAX_COMMENT_CHARS + 1)},
    ],
)
def test_bad_input_is_a_400_and_records_nothing(call, feedback, data):
    request_id = run(call, feedback)["request_id"]
    data = {k: request_id if v == "{id}" else v for k, v in data.items()}

    response = send(call, feedback, data)

    assert response.status == 400
    assert body(response)["error"]["message"]
    assert feedback.votes() == []


@pytest.mark.parametrize(
    ("raw", "content_type", "status"),
    [
        (b"[1]", "application/json", 400),
        (b"{not json", "application/json", 400),
        (b'{"request_id": "abc", "comment": "\\ud800"}', "application/json", 400),
        (b'{"request_id": "abc", "vote": "up"}', "text/plain", 415),
        (b'{"request_id": "abc", "comment": "' + b"x" * 70_000 + b'"}', "application/json", 413),
    ],
)
def test_malformed_bodies_are_refused(call, feedback, raw, content_type, status):
    response = send(call, feedback, raw=raw, content_type=content_type)

    assert response.status == status
    assert feedback.votes() == []


def test_a_lone_surrogate_in_a_comment_on_a_real_answer_is_a_400(call, feedback):
    request_id = run(call, feedback)["request_id"]
    raw = b'{"request_id": "%s", "comment": "ok \\udc00"}' % request_id.encode()

    response = send(call, feedback, raw=raw)

    assert response.status == 400
    assert feedback.votes() == []


@pytest.mark.parametrize("method", ["GET", "PUT", "DELETE"])
def test_only_post_is_allowed(call, feedback, method):
    response = call(make_request(method, "/go/feedback"), feedback=feedback)

    assert response.status == 405
    assert response.headers["Allow"] == "POST"


def test_with_a_passcode_votes_need_the_session(call, feedback, locked_settings, settings):
    request_id = run(call, feedback)["request_id"]
    data = {"request_id": request_id, "vote": "up"}

    refused = send(call, feedback, data, settings=locked_settings)
    session = session_cookie(locked_settings).split(";")[0]
    allowed = send(call, feedback, data, settings=locked_settings, cookie=f"{session}; {BROWSER}")

    assert refused.status == 401
    assert body(refused)["error"]["type"] == "passcode_required"
    assert refused.cookies == []
    assert allowed.status == 200
    assert body(allowed)["tally"]["up"] == 1
