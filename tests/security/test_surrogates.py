"""Text that is not Unicode characters: lone surrogates, which JSON's ``\\ud800`` escapes can carry.

No UTF-8 body can hold a lone surrogate, but a JSON string can spell one, and
a tokenizer fails on it with a TypeError (the form used to answer 502 "The
model failed", count a model failure and print a traceback in the worker).
The router refuses such text where it enters, before any model runs: the form
with a 400, Slack with its usual polite message. The model side refuses it
as ``invalid_input`` too, for a direct invocation.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
import uuid
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from inference.registry import load_registry
from inference.service import handle, parse_event
from tests.conftest import BotServer
from tests.events import load_event
from tests.fakes.signing import JSON
from tests.fakes.slack_client import api_gateway_event, event_callback_body
from tests.security.conftest import ROOT, InProcess, response_text, signed_event
from tests.security.test_fuzz import FUZZ

NOT_UNICODE = "not valid Unicode"
#: Raw JSON bodies, as a client writes them: ``\\ud800`` is the escape, not a character.
FORM_CASES = [
    pytest.param("/go", r'{"model": "similarity", "text": "a | b\ud800"}', id="form-lone-high-surrogate"),
    pytest.param("/go", r'{"model": "sentiment", "text": "\udc00 starts it"}', id="form-lone-low-surrogate"),
    pytest.param("/go", r'{"model": "qa", "text": "Where? | \ude00\ud83d reversed"}', id="form-reversed-pair"),
    pytest.param(
        "/go/compare-check",
        r'{"models": ["sentiment", "similarity"], "text": "a | b\ud800"}',
        id="form-compare-lone-surrogate",
    ),
]


def go(path: str, raw: str) -> dict[str, Any]:
    return api_gateway_event("POST", path, raw, {"Content-Type": "application/json"})


@pytest.mark.parametrize(("path", "raw"), FORM_CASES)
def test_the_form_refuses_lone_surrogates_before_any_model_runs(lambda_router: InProcess, path: str, raw: str) -> None:
    result = lambda_router.handle(go(path, raw))
    assert result["statusCode"] == 400, result["body"]
    assert json.loads(result["body"])["error"]["type"] in {"invalid_input", "cannot_compare"}
    assert NOT_UNICODE in response_text(result)
    assert lambda_router.models.calls == []


def test_the_message_says_where_the_surrogate_is(lambda_router: InProcess) -> None:
    result = lambda_router.handle(go("/go", r'{"model": "similarity", "text": "a | b\ud800"}'))
    assert "character 6 is U+D800" in response_text(result)


def test_a_surrogate_pair_is_one_character_and_is_accepted(lambda_router: InProcess) -> None:
    """``\\ud83d\\ude00`` is how JSON spells 😀: valid, and it reaches the model as the emoji."""
    result = lambda_router.handle(go("/go", r'{"model": "sentiment", "text": "happy \ud83d\ude00"}'))
    assert result["statusCode"] == 200
    [(_, _, payload, _)] = lambda_router.models.calls
    assert payload["text"] == "happy 😀"


@FUZZ
@given(
    before=st.text(max_size=20),
    surrogate=st.characters(categories=["Cs"]),
    after=st.text(max_size=20),
    model=st.sampled_from(["sentiment", "similarity", "qa", "zero-shot", "summarize"]),
)
def test_any_text_holding_a_lone_surrogate_is_a_400(
    shared_router: InProcess, before: str, surrogate: str, after: str, model: str
) -> None:
    shared_router.models.clear()
    result = shared_router.handle(go("/go", json.dumps({"model": model, "text": f"{before}{surrogate}{after} | x"})))
    assert (result["statusCode"], NOT_UNICODE in response_text(result)) == (400, True)
    assert shared_router.models.calls == []


def mention(env: InProcess, text: str, **event: str) -> dict[str, Any]:
    ts = f"{int(time.time())}.{uuid.uuid4().int % 1_000_000:06d}"
    body = {"type": "app_mention", "user": "U7", "text": f"<@UBOT> {text}", "ts": ts, "channel": "C1", **event}
    return signed_event(event_callback_body({**body, "event_ts": ts}), JSON)


def json_command(env: InProcess, name: str, text: str) -> dict[str, Any]:
    """A command whose body is JSON: Bolt reads it, so a lone surrogate can reach the listener."""
    fields = load_event("slash_command", command=name, text=text, response_url=env.slack.new_response_url())
    return signed_event(json.dumps({**fields, "trigger_id": uuid.uuid4().hex}), JSON)


def posted(env: InProcess) -> str:
    messages = [json.dumps(m, ensure_ascii=False) for m in env.slack.messages()]
    return "\n".join(messages + [json.dumps(p.body) for p in env.slack.response_posts()])


@pytest.mark.parametrize(
    ("name", "text"),
    [
        pytest.param("/similarity", "a | b\ud800", id="slack-command-lone-surrogate"),
        pytest.param("/hf", "qa Where? | \udc00", id="slack-hf-lone-surrogate"),
        pytest.param("/hf", "compare sentiment,similarity a | b\ud800", id="slack-compare-lone-surrogate"),
    ],
)
def test_a_slack_command_with_a_lone_surrogate_is_told_why(lambda_router: InProcess, name: str, text: str) -> None:
    result = lambda_router.handle(json_command(lambda_router, name, text))
    assert result["statusCode"] == 200
    assert json.loads(result["body"])["response_type"] == "ephemeral"
    assert NOT_UNICODE in response_text(result)
    lambda_router.run_lazy()
    assert lambda_router.models.calls == []


def test_a_mention_with_a_lone_surrogate_is_told_why_in_the_thread(lambda_router: InProcess) -> None:
    env = lambda_router
    assert env.handle(mention(env, "sentiment so good \ud83d"))["statusCode"] == 200
    env.run_lazy()
    assert NOT_UNICODE in posted(env)
    assert env.models.calls == []


def test_a_thread_holding_a_lone_surrogate_is_told_why(lambda_router: InProcess) -> None:
    """``@bot summarize`` in a thread reads the thread from Slack's API: that text is checked too."""
    env = lambda_router
    parent = f"{int(time.time()) - 60}.000100"
    env.slack.set_thread("C1", parent, [{"user": "U2", "text": "the plan \udc00 is late"}])
    assert env.handle(mention(env, "summarize", thread_ts=parent))["statusCode"] == 200
    env.run_lazy()
    assert NOT_UNICODE in posted(env)
    assert env.models.calls == []


SPEC = load_registry(ROOT / "inference" / "models.yaml").get("similarity")


@pytest.mark.parametrize("field", ["text", "inputs"])
def test_the_model_side_calls_it_invalid_input_without_loading_the_model(field: str) -> None:
    def never_load() -> Any:
        raise AssertionError("the model was loaded for text it cannot read")

    answer = handle({field: "a | b\ud800", "reply": {"request_id": "r1"}}, spec=SPEC, get_runner=never_load)
    assert answer["error"]["type"] == "invalid_input"
    assert NOT_UNICODE in answer["error"]["message"]
    assert answer["reply"] == {"request_id": "r1"}


def test_parse_event_still_takes_a_surrogate_pair() -> None:
    assert parse_event({"text": json.loads(r'"\ud83d\ude00"')}) == ("😀", {})


@pytest.mark.e2e
def test_the_real_server_answers_400_and_starts_no_model(bot_server: BotServer) -> None:
    """The reported request, to ``python -m bot serve``: a 400, and no model worker fails on it."""
    raw = rb'{"model": "tiny-similarity", "text": "a | b\ud800"}'
    request = urllib.request.Request(bot_server.url + "/go", raw, {"Content-Type": "application/json"})
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request, timeout=30)
    assert refused.value.code == 400
    assert NOT_UNICODE in json.loads(refused.value.read())["error"]["message"]
    assert "Traceback" not in bot_server.logs() and "model_failed" not in bot_server.logs()
