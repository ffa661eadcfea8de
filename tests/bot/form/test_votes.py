"""Who may vote on a form answer, and how often: one client cannot skew /go/stats or the export.

The server issues every browser a signed voter cookie (on its first page load, or with an answer);
a form answer takes feedback only from the voter that asked for it, and feedback is limited per
voter and per client address (issue 19, item 1).
"""

from __future__ import annotations

import hashlib
import hmac

import pytest

from bot.core.config import Secrets, Settings
from bot.form.feedback import VOTER_COOKIE, VOTER_MAX_AGE_SECONDS, FeedbackLimits, new_voter
from bot.form.passcode import sign
from tests.bot.form.conftest import CLIENT_IP, ManualClock, body, make_request

UP = {"vote": "up"}


def page_cookie(call, feedback, **overrides) -> str:
    """Load the page as a new browser; the ``name=value`` pair of the voter cookie it was given."""
    (set_cookie,) = call(make_request("GET", "/go"), feedback=feedback, **overrides).cookies
    return set_cookie.split(";")[0]


def ask(call, feedback, cookie: str, source_ip: str = CLIENT_IP, **overrides) -> str:
    """Run the model as the browser with ``cookie``; the answer's request id."""
    request = make_request(
        "POST", json_body={"model": "tiny-sentiment", "text": "I love it."}, cookie=cookie, source_ip=source_ip
    )
    answer = body(call(request, feedback=feedback, **overrides))
    assert answer["feedback"] is True
    return answer["request_id"]


def send(call, feedback, data: dict, cookie: str = "", source_ip: str = CLIENT_IP, **overrides):
    request = make_request("POST", "/go/feedback", json_body=data, cookie=cookie, source_ip=source_ip)
    return call(request, feedback=feedback, **overrides)


def test_twenty_votes_without_a_voter_cookie_count_nothing(call, feedback):
    """The reproduction: 20 posts without ``go_voter`` used to mint 20 voters and tally 20 up."""
    request_id = ask(call, feedback, page_cookie(call, feedback))

    answers = [send(call, feedback, {"request_id": request_id, **UP}) for _ in range(20)]

    assert {a.status for a in answers} == {403}
    assert {body(a)["error"]["type"] for a in answers} == {"no_voter"}
    assert all(a.cookies == [] for a in answers)
    assert feedback.tally(request_id)["up"] == 0
    assert feedback.model_tallies(["tiny-sentiment"]) == {}


def test_twenty_fresh_voters_cannot_vote_on_an_answer_they_did_not_ask_for(call, feedback):
    request_id = ask(call, feedback, page_cookie(call, feedback))

    answers = [send(call, feedback, {"request_id": request_id, **UP}, page_cookie(call, feedback)) for _ in range(20)]

    assert {a.status for a in answers} == {403}
    assert {body(a)["error"]["type"] for a in answers} == {"not_your_answer"}
    assert feedback.votes() == []


def test_the_browser_that_asked_has_one_vote_however_often_it_posts(call, feedback):
    cookie = page_cookie(call, feedback)
    request_id = ask(call, feedback, cookie)

    answers = [send(call, feedback, {"request_id": request_id, **UP}, cookie) for _ in range(20)]

    assert {a.status for a in answers} == {200}
    assert body(answers[-1])["tally"] == {"up": 1, "down": 0, "comments": 0}
    assert feedback.model_tallies(["tiny-sentiment"]) == {"tiny-sentiment": {"up": 1, "down": 0}}
    assert len(feedback.votes()) == 1, "the export has one row"


def test_the_page_issues_a_signed_strict_voter_cookie_once(call, feedback):
    first = call(make_request("GET", "/go"), feedback=feedback)
    (set_cookie,) = first.cookies
    attributes = [part.strip() for part in set_cookie.split(";")]
    name, _, value = attributes[0].partition("=")
    voter, _, signature = value.partition(".")

    again = call(make_request("GET", "/go", cookie=attributes[0]), feedback=feedback)

    assert name == VOTER_COOKIE
    assert len(voter) == 22 and len(signature) == 43
    assert set(attributes[1:]) == {
        "Path=/",
        f"Max-Age={VOTER_MAX_AGE_SECONDS}",
        "HttpOnly",
        "SameSite=Strict",
        "Secure",
    }
    assert again.cookies == []


def test_local_mode_leaves_out_secure(call, feedback, settings):
    local = Settings(secrets=settings.secrets, local=True)

    (set_cookie,) = call(make_request("GET", "/go"), feedback=feedback, settings=local).cookies

    assert "Secure" not in set_cookie
    assert "HttpOnly" in set_cookie


def test_a_run_without_a_voter_cookie_issues_one_that_may_vote_on_its_answer(call, feedback):
    """A client that never loaded the page (``python -m bot invoke``, a script) gets its voter with the answer."""
    response = call(make_request("POST", json_body={"model": "tiny-sentiment", "text": "hi"}), feedback=feedback)
    (set_cookie,) = response.cookies

    voted = send(call, feedback, {"request_id": body(response)["request_id"], **UP}, set_cookie.split(";")[0])

    assert voted.status == 200
    assert body(voted)["tally"]["up"] == 1


def _forged(settings: Settings) -> dict[str, str]:
    voter, set_cookie = new_voter(settings)
    other = new_voter(Settings(secrets=Secrets(signing_secret="another-deployment")))[1].split(";")[0]
    signature = set_cookie.split(";")[0].rpartition(".")[2]
    return {
        "unsigned": f"{VOTER_COOKIE}={voter}",
        "wrong-signature": f"{VOTER_COOKIE}={voter}.{'A' * 43}",
        "another-deployment": other,
        "signature-of-another-id": f"{VOTER_COOKIE}={'B' * 22}.{signature}",
        "malformed": f"{VOTER_COOKIE}=x;y",
    }


@pytest.mark.parametrize(
    "case", ["unsigned", "wrong-signature", "another-deployment", "signature-of-another-id", "malformed"]
)
def test_a_voter_cookie_this_server_did_not_sign_is_refused(call, feedback, settings, case):
    request_id = ask(call, feedback, page_cookie(call, feedback))

    response = send(call, feedback, {"request_id": request_id, **UP}, _forged(settings)[case])

    assert response.status == 403
    assert body(response)["error"]["type"] == "no_voter"
    assert "reload" in body(response)["error"]["message"]
    assert feedback.votes() == []


def test_without_a_signing_secret_voters_are_signed_with_a_key_of_this_process(call, feedback):
    """A form-only local server has no Slack secret; a cookie signed as if the secret were empty is a forgery."""
    bare = Settings(secrets=Secrets(), local=True)
    cookie = page_cookie(call, feedback, settings=bare)
    request_id = ask(call, feedback, cookie, settings=bare)
    voter = cookie.partition("=")[2].partition(".")[0]
    empty_secret_key = hmac.new(b"", b"go-form-voter-cookie", hashlib.sha256).digest()
    forged = f"{VOTER_COOKIE}={voter}.{sign(empty_secret_key, voter)}"

    assert send(call, feedback, {"request_id": request_id, "vote": "down"}, forged, settings=bare).status == 403
    assert send(call, feedback, {"request_id": request_id, **UP}, cookie, settings=bare).status == 200


def test_feedback_is_limited_per_voter(call, feedback, clock: ManualClock):
    limits = FeedbackLimits(per_voter=3, per_address=100, window=600, clock=clock)
    cookie = page_cookie(call, feedback)
    request_id = ask(call, feedback, cookie)
    for vote in ("up", "down", "up"):
        assert (
            send(call, feedback, {"request_id": request_id, "vote": vote}, cookie, feedback_limits=limits).status == 200
        )

    refused = send(call, feedback, {"request_id": request_id, "vote": "down"}, cookie, feedback_limits=limits)
    clock.now += 600
    later = send(call, feedback, {"request_id": request_id, "comment": "fine"}, cookie, feedback_limits=limits)

    assert refused.status == 429
    assert refused.headers["Retry-After"] == "600"
    assert body(refused)["error"] == {
        "type": "too_much_feedback",
        "message": "That is a lot of feedback from here in one hour. Try again in about 10 minute(s).",
    }
    assert later.status == 200
    assert body(later)["tally"] == {"up": 1, "down": 0, "comments": 1}, "the refused vote changed nothing"


def test_feedback_is_limited_per_address_however_many_voters_it_has(call, feedback, clock: ManualClock):
    limits = FeedbackLimits(per_voter=100, per_address=3, window=600, clock=clock)
    browsers = [page_cookie(call, feedback) for _ in range(5)]
    asked = [(cookie, ask(call, feedback, cookie)) for cookie in browsers]

    statuses = [
        send(call, feedback, {"request_id": rid, **UP}, cookie, feedback_limits=limits).status for cookie, rid in asked
    ]
    elsewhere_cookie = page_cookie(call, feedback)
    elsewhere = ask(call, feedback, elsewhere_cookie, source_ip="198.51.100.7")
    other_address = send(
        call, feedback, {"request_id": elsewhere, **UP}, elsewhere_cookie, "198.51.100.7", feedback_limits=limits
    )

    assert statuses == [200, 200, 200, 429, 429]
    assert other_address.status == 200
    assert sum(t["up"] for t in feedback.model_tallies(["tiny-sentiment"]).values()) == 4
