"""POST /go/compare-check: whether the chosen models can all take the text, before the page fans out."""

from __future__ import annotations

import pytest

from bot.form.passcode import session_cookie
from tests.bot.form.conftest import body, make_request


def check(call, json_body=None, *, cookie="", **overrides):
    return call(make_request("POST", "/go/compare-check", json_body=json_body, cookie=cookie), **overrides)


def test_models_that_can_take_the_text_are_ok(call, invoker):
    response = check(call, {"models": ["tiny-sentiment", "hostile"], "text": "The tower is tall."})

    assert response.status == 200
    assert body(response) == {"ok": True}
    assert invoker.calls == []


def test_three_models_are_the_most(call):
    response = check(call, {"models": ["tiny-sentiment", "hostile", "tiny-qa"], "text": "Where? | Here."})

    assert response.status == 200


@pytest.mark.parametrize(
    ("models", "text", "message"),
    [
        (["tiny-sentiment"], "hi", "Compare two or three different models."),
        (["tiny-sentiment", "tiny-sentiment"], "hi", "Compare two or three different models."),
        (["tiny-sentiment", "tiny-qa", "hostile", "tiny-sentiment"], "hi", "Compare two or three different models."),
        ([], "hi", "Compare two or three different models."),
        (["tiny-sentiment", "nope"], "hi", "No model called `nope`."),
        (["tiny-sentiment", "hostile"], "  ", "There is no text to compare on."),
    ],
)
def test_comparisons_that_cannot_run_say_why_without_slack_usage(call, invoker, models, text, message):
    response = check(call, {"models": models, "text": text})

    assert response.status == 400
    error = body(response)["error"]
    assert error == {"type": "cannot_compare", "message": message}
    assert invoker.calls == []


def test_an_input_one_model_cannot_take_names_that_model(call):
    response = check(call, {"models": ["tiny-sentiment", "tiny-qa"], "text": "no question mark here"})

    assert response.status == 400
    message = body(response)["error"]["message"]
    assert message.startswith("`tiny-qa` (question-answering) can't take this input:")
    assert message.endswith("These models do: question-answering, text-classification.")


@pytest.mark.parametrize(
    "data",
    [
        {"text": "hi"},
        {"models": "tiny-sentiment,hostile", "text": "hi"},
        {"models": ["tiny-sentiment", 7], "text": "hi"},
        {"models": ["tiny-sentiment", "hostile"]},
        {"models": ["tiny-sentiment", "hostile"], "text": ["hi"]},
    ],
)
def test_bodies_of_the_wrong_shape_are_400s(call, data):
    response = check(call, data)

    assert response.status == 400
    assert body(response)["error"]["type"] == "bad_request"


def test_only_post_is_allowed(call):
    response = call(make_request("GET", "/go/compare-check"))

    assert response.status == 405
    assert response.headers["Allow"] == "POST"


def test_with_a_passcode_the_check_needs_the_session(call, locked_settings):
    data = {"models": ["tiny-sentiment", "hostile"], "text": "hi"}

    refused = check(call, data, settings=locked_settings)
    session = session_cookie(locked_settings).split(";")[0]
    allowed = check(call, data, cookie=session, settings=locked_settings)

    assert refused.status == 401
    assert body(refused)["error"]["type"] == "passcode_required"
    assert allowed.status == 200
