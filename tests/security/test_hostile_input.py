"""Hostile and malformed requests through the Lambda entry, each with the exact answer it gets.

Every case goes through ``Router.handle`` as API Gateway's call would, then
Lambda's part is played (the lazy self-invocations run), so what the case makes
the bot post to Slack and ask of the models is checked too. Across all cases:
never a 5xx, JSON answers say so in their content type, and nothing a person
typed reaches Slack or a browser as live markup. docs/security.md lists these
cases by id.
"""

from __future__ import annotations

import base64
import json
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.events import load_event
from tests.fakes.destinations import destination_record
from tests.fakes.invoker import model_answer
from tests.fakes.signing import FORM, JSON, SIGNING_SECRET, signature
from tests.fakes.slack_client import api_gateway_event, event_callback_body, interaction_body, slash_command_body
from tests.security.conftest import EVENTS, InProcess, header, response_text, signed_event
from tests.security.test_spoofing import mrkdwn_texts, rich_elements, spans_exactly

#: Markup a person might type; none of it may come back out unescaped.
MARKUP = "<!channel> <!here> <!everyone> <@UEVIL1> <https://evil.example|click here>"
#: What Slack sends when someone types markup characters themselves: the bot unescapes it for the model.
ENCODED = "&lt;!channel&gt; &lt;script&gt;alert(1)&lt;/script&gt; &lt;https://evil.example|x&gt;"
HTML = "<script>alert('owned')</script><img src=x onerror=alert(1)>"
UNICODE = "I love it 😀👍🏽 \u202egnp.exe\u202c zero\u200bwidth\u200d\ufeffjoin عربى"
#: Substrings that would be live markup in Slack or HTML if they came back out where Slack parses markup.
LIVE_MARKUP = ("<!channel", "<!here", "<!everyone", "<@UEVIL", "<https://evil", "<script", "<img")
#: Model names that look like paths, by case id.
PATHS = {
    "dotdot": "../etc/passwd",
    "inside-a-name": "sentiment/../x",
    "percent-encoded": "%2e%2e%2fetc%2fpasswd",
    "backslashes": "..\\..\\windows",
    "absolute": "/etc/passwd",
}
DEEP = "[" * 100_000 + "]" * 100_000

Event = Callable[[InProcess], dict[str, Any]]


@dataclass(frozen=True)
class Case:
    """One hostile request and the answer it must get.

    ``says`` must appear in the HTTP answer, ``posts`` in what the lazy work
    posts to Slack, and the models are asked exactly ``invokes`` times.
    ``echoes`` marks the one answer whose protocol repeats a field verbatim
    (Slack's ``url_verification`` challenge, to a signed request): it may
    carry markup, as JSON.
    """

    event: Event
    status: int
    says: str = ""
    posts: str = ""
    invokes: int = 0
    echoes: bool = False


def command(text: str, name: str = "/sentiment") -> Event:
    return lambda env: signed_event(slash_command_body(name, text, response_url=env.slack.new_response_url()))


def mention(text: str) -> Event:
    def build(env: InProcess) -> dict[str, Any]:
        ts = f"{int(time.time())}.{uuid.uuid4().int % 1_000_000:06d}"
        event = {"type": "app_mention", "user": "U7", "text": f"<@UBOT> {text}", "ts": ts, "channel": "C1"}
        return signed_event(event_callback_body({**event, "event_ts": ts}), JSON)

    return build


def slack_json(data: Any) -> Event:
    return lambda env: signed_event(json.dumps(data), JSON)


def slack_payload(payload: dict[str, Any]) -> Event:
    return lambda env: signed_event(interaction_body(payload))


def raw_slack(body: str | bytes, content_type: str = FORM, **options: Any) -> Event:
    return lambda env: signed_event(body, content_type, **options)


def unsigned(body: str, headers: dict[str, str]) -> Event:
    return lambda env: api_gateway_event("POST", EVENTS, body, {"Content-Type": FORM, **headers})


def signed_at(timestamp: Callable[[], str], body: str | None = None, sig: str | None = None) -> Event:
    """A command whose timestamp header is ``timestamp()``, signed over it unless ``sig`` is given."""

    def build(env: InProcess) -> dict[str, Any]:
        text = body or slash_command_body("/sentiment", "hi")
        ts = timestamp()
        headers = {"Content-Type": FORM, "X-Slack-Request-Timestamp": ts}
        headers["X-Slack-Signature"] = sig if sig is not None else signature(text, SIGNING_SECRET, ts)
        return api_gateway_event("POST", EVENTS, text, headers)

    return build


def recased(transform: Callable[[str], str]) -> Event:
    """A valid command whose header names are rewritten by ``transform``."""

    def build(env: InProcess) -> dict[str, Any]:
        event = command("I like it")(env)
        event["headers"] = {transform(k): v for k, v in event["headers"].items()}
        return event

    return build


def tampered(env: InProcess) -> dict[str, Any]:
    """A valid signature, replayed over another body."""
    event = command("nice")(env)
    event["body"] = slash_command_body("/sentiment", "not what was signed")
    return event


def old_replay(env: InProcess) -> dict[str, Any]:
    """A request exactly as Slack signed it ten minutes ago."""
    return signed_event(slash_command_body("/sentiment", "hi"), timestamp=int(time.time()) - 600)


def forged_lazy(env: InProcess) -> dict[str, Any]:
    """Bolt's lazy-listener headers sent from outside, without a signature."""
    headers = {"x-slack-bolt-lazy-only": "1", "x-slack-bolt-lazy-function-name": "run_command"}
    return unsigned(slash_command_body("/sentiment", "hi"), headers)(env)


def nested_events(depth: int) -> Event:
    body: dict[str, Any] = {"type": "app_mention", "text": "hi"}
    for _ in range(depth):
        body = {"type": "event_callback", "event": body}
    return slack_json(body)


def huge_mention(env: InProcess) -> dict[str, Any]:
    """About 900 KB of valid JSON: a mention whose text alone is far over the model's limit."""
    return mention("sentiment " + "word " * 180_000)(env)


def form(data: Any, content_type: str = "application/json") -> Event:
    body = data if isinstance(data, str | bytes) else json.dumps(data)
    b64 = isinstance(body, bytes)
    return lambda env: api_gateway_event("POST", "/go", body, {"Content-Type": content_type}, base64=b64)


def request(method: str, path: str) -> Event:
    return lambda env: api_gateway_event(method, path, None, {})


def base64_body(text: str) -> Event:
    def build(env: InProcess) -> dict[str, Any]:
        event = signed_event(text)
        event.update(body="%%%not base64", isBase64Encoded=True)
        return event

    return build


def stale() -> str:
    return str(int(time.time()) - 6 * 60)


def future() -> str:
    return str(int(time.time()) + 10 * 60)


CASES = [
    # Signatures and timestamps.
    pytest.param(Case(unsigned(slash_command_body("/sentiment", "hi"), {}), 401), id="signature-missing"),
    pytest.param(
        Case(signed_at(lambda: str(int(time.time())), sig="v0=" + "0" * 64), 401), id="signature-wrong-digest"
    ),
    pytest.param(
        Case(lambda env: signed_event("command=%2Fsentiment", secret="someone-elses-secret"), 401),
        id="signature-other-secret",
    ),
    pytest.param(Case(signed_at(lambda: str(int(time.time())), sig="v1=abc"), 401), id="signature-other-scheme"),
    pytest.param(
        Case(signed_at(lambda: str(int(time.time())), sig="v0=é" + "0" * 63), 401, says="invalid_signature"),
        id="signature-not-ascii",
    ),
    pytest.param(Case(tampered, 401), id="signature-over-another-body"),
    pytest.param(Case(old_replay, 401), id="replayed-old-signature"),
    pytest.param(Case(signed_at(stale), 401), id="timestamp-stale"),
    pytest.param(Case(signed_at(future), 401), id="timestamp-future"),
    pytest.param(Case(signed_at(lambda: "yesterday"), 401, says="invalid_signature"), id="timestamp-not-a-number"),
    pytest.param(Case(signed_at(lambda: "1.7e9"), 401, says="invalid_signature"), id="timestamp-float"),
    pytest.param(Case(signed_at(lambda: "9" * 5000), 401, says="invalid_signature"), id="timestamp-5000-digits"),
    pytest.param(
        Case(lambda env: {**command("hi")(env), "headers": {"Content-Type": FORM}}, 401), id="timestamp-missing"
    ),
    pytest.param(Case(forged_lazy, 401), id="lazy-headers-forged"),
    pytest.param(Case(recased(str.lower), 200, invokes=1), id="header-names-lower-case"),
    pytest.param(Case(recased(str.upper), 200, invokes=1), id="header-names-upper-case"),
    pytest.param(Case(recased(str.swapcase), 200, invokes=1), id="header-names-swapped-case"),
    # Bodies Slack would never send.
    pytest.param(Case(raw_slack(b"command=\xff\xfe", base64=True), 400, says="UTF-8"), id="slack-form-not-utf8"),
    pytest.param(Case(raw_slack(b'{"type": "\xc3"}', JSON, base64=True), 400, says="UTF-8"), id="slack-json-not-utf8"),
    pytest.param(Case(base64_body("command=%2Fsentiment"), 400, says="base64"), id="body-not-base64"),
    pytest.param(Case(raw_slack('{"type": "event_callback", "event": {', JSON), 400), id="json-truncated"),
    pytest.param(Case(raw_slack("payload=%7B%22type%22%3A%22block_ac"), 400), id="payload-truncated"),
    pytest.param(Case(raw_slack('{"type": "url_verif'), 400), id="form-typed-json-truncated"),
    pytest.param(Case(raw_slack("", JSON), 400), id="json-empty"),
    pytest.param(Case(raw_slack("[1, 2]", JSON), 400, says="object"), id="json-array"),
    pytest.param(Case(raw_slack("payload=%5B1%5D"), 400, says="object"), id="payload-array"),
    pytest.param(Case(raw_slack("command=%2Fsentiment", "text/plain"), 415), id="content-type-text"),
    pytest.param(
        Case(raw_slack("command=%2Fsentiment", "multipart/form-data; boundary=x"), 415), id="content-type-multipart"
    ),
    pytest.param(Case(raw_slack("command=%2Fsentiment", ""), 415), id="content-type-missing"),
    pytest.param(Case(raw_slack("x=" + "a" * 1_000_001), 413, says="too large"), id="body-over-1mb"),
    pytest.param(Case(raw_slack(DEEP, JSON), 400), id="json-100k-nested-arrays"),
    pytest.param(Case(raw_slack("payload=" + "%5B" * 100_000), 400), id="payload-100k-nested-arrays"),
    pytest.param(Case(nested_events(500), 400, says="nested deeper"), id="json-500-nested-events"),
    pytest.param(Case(huge_mention, 200, posts="accepts at most 20,000"), id="json-900kb-mention"),
    pytest.param(Case(command("x" * 30_000), 200, says="accepts at most 20,000"), id="text-over-max-chars"),
    # Slack-shaped on the outside, not inside.
    pytest.param(Case(slack_json({"type": "event_callback", "event": "app_mention"}), 400), id="event-not-object"),
    pytest.param(Case(slack_payload({"type": "view_submission", "view": ["x"]}), 400), id="view-not-object"),
    pytest.param(
        Case(slack_payload({"type": "view_submission", "view": {"callback_id": "run_model_modal"}}), 400),
        id="view-without-type",
    ),
    pytest.param(Case(raw_slack("command=%2Fsentiment&authorizations=x"), 400), id="authorizations-not-list"),
    pytest.param(Case(slack_payload({"type": "block_actions", "actions": []}), 400), id="block-actions-empty"),
    pytest.param(
        Case(slack_payload({"type": "block_actions", "actions": [{"value": "1"}]}), 400), id="block-action-no-id"
    ),
    pytest.param(Case(slack_json({"type": "event_callback", "user": 7}), 400), id="user-a-number"),
    pytest.param(Case(slack_json({"type": None, "response_urls": [{}, {}]}), 400), id="response-urls-several"),
    pytest.param(Case(slack_json({"command": ["/sentiment"], "text": "hi"}), 400), id="command-not-string"),
    pytest.param(Case(slack_payload({"type": "workflow_step_edit", "callback_id": "x"}), 400), id="workflow-step-bare"),
    # Event and payload types this app does not handle.
    pytest.param(
        Case(lambda env: signed_event(event_callback_body({"type": "reaction_added", "user": "U1"}), JSON), 404),
        id="event-type-unknown",
    ),
    pytest.param(Case(slack_payload({"type": "no_such_payload"}), 404), id="payload-type-unknown"),
    pytest.param(
        Case(slack_payload({"type": "block_suggestion", "action_id": "a", "block_id": "b", "value": "x"}), 404),
        id="block-suggestion",
    ),
    pytest.param(Case(slack_json({"type": "event_callback"}), 404), id="event-callback-without-event"),
    pytest.param(
        Case(slack_json({"type": "url_verification", "challenge": "c-123", "token": "t"}), 200, says="c-123"),
        id="url-verification",
    ),
    pytest.param(
        Case(unsigned(json.dumps({"type": "url_verification", "challenge": "c"}), {"Content-Type": JSON}), 401),
        id="url-verification-unsigned",
    ),
    pytest.param(
        Case(slack_json({"type": "url_verification", "challenge": HTML}), 200, says=HTML, echoes=True),
        id="url-verification-html",
    ),
    pytest.param(Case(raw_slack("ssl_check=1&token=x"), 200), id="ssl-check"),
    # Markup, HTML and unusual characters in Slack text.
    pytest.param(
        Case(command(MARKUP), 200, posts="@channel @here @everyone @UEVIL1 click here", invokes=1),
        id="slack-markup-command",
    ),
    pytest.param(
        Case(command(ENCODED), 200, posts="<!channel> <script>alert(1)</script>", invokes=1), id="slack-encoded-markup"
    ),
    pytest.param(Case(mention("sentiment " + MARKUP), 200, posts="@channel", invokes=1), id="slack-markup-mention"),
    pytest.param(Case(command(HTML), 200, posts="onerror=alert(1)", invokes=1), id="slack-raw-html"),
    pytest.param(Case(command(UNICODE), 200, posts="😀👍🏽", invokes=1), id="slack-emoji-rtl-zero-width"),
    pytest.param(
        Case(command("ok", name="/" + "x" * 200), 200, says="not a command of this app"), id="command-unknown"
    ),
    *[
        pytest.param(Case(command(f"{path} hi", name="/hf"), 200, says="no model called"), id=f"hf-model-{key}")
        for key, path in PATHS.items()
    ],
    pytest.param(Case(mention("../etc/passwd hi"), 200, posts="don't know a model called"), id="mention-model-path"),
    # Methods and paths.
    pytest.param(Case(request("GET", EVENTS), 405), id="events-get"),
    pytest.param(Case(request("PUT", EVENTS), 405), id="events-put"),
    pytest.param(Case(request("DELETE", "/go"), 405, says="GET, POST"), id="form-delete"),
    pytest.param(Case(request("OPTIONS", "/go"), 405), id="form-options"),
    pytest.param(Case(request("GET", "/admin"), 404), id="path-unknown"),
    pytest.param(Case(request("GET", "/go/../../etc/passwd"), 404), id="path-traversal"),
    pytest.param(Case(request("GET", "/slack/events/../../go"), 404), id="path-traversal-events"),
    pytest.param(Case(request("GET", "/go/login"), 404), id="login-without-passcode"),
    # The form.
    pytest.param(Case(form({"model": HTML, "text": "hi"}), 400, says="valid_models"), id="form-model-html"),
    *[
        pytest.param(Case(form({"model": path, "text": "hi"}), 400, says="sentiment"), id=f"form-model-{key}")
        for key, path in PATHS.items()
    ],
    pytest.param(Case(form({"model": "sentiment", "text": HTML}), 200, says=HTML, invokes=1), id="form-html-text"),
    pytest.param(Case(form({"model": "sentiment", "text": UNICODE}), 200, says="😀👍🏽", invokes=1), id="form-unicode"),
    pytest.param(
        Case(form({"model": "sentiment", "text": "x" * 20_001}), 413, says="at most 20,000"), id="form-over-max-chars"
    ),
    pytest.param(Case(form({"model": "sentiment", "text": "x" * 70_000}), 413, says="64 KB"), id="form-over-64kb"),
    pytest.param(Case(form("[" * 20_000 + "]" * 20_000), 400, says="not valid JSON"), id="form-20k-nested"),
    pytest.param(Case(form({"model": "sentiment", "text": "hi"}, "text/plain"), 415), id="form-text-plain"),
    pytest.param(Case(form(b'{"model": "\xff"}'), 400, says="UTF-8"), id="form-not-utf8"),
    pytest.param(Case(form([1, 2]), 400, says="object"), id="form-array"),
    pytest.param(Case(form({"model": "sentiment", "text": 5}), 400, says="invalid_input"), id="form-text-number"),
    pytest.param(Case(form({"model": ["sentiment"], "text": "hi"}), 400), id="form-model-list"),
    pytest.param(Case(form({"text": "hi"}), 400, says="model"), id="form-model-missing"),
]


def modal(**view: Any) -> Event:
    """The sample modal submission with ``view`` fields replaced."""
    data = load_event("view_submission")
    data["view"].update(view)
    return slack_payload(data)


#: Signed modal submissions with an inner shape Slack never sends: each gets Slack's polite modal error.
MODAL_CASES = [
    pytest.param(Case(modal(state="x"), 200, says="response_action"), id="modal-state-not-object"),
    pytest.param(Case(modal(state={"values": ["x"]}), 200, says="response_action"), id="modal-values-not-object"),
    pytest.param(
        Case(modal(state={"values": {"model_block": "x"}}), 200, says="response_action"), id="modal-block-not-object"
    ),
    pytest.param(
        Case(
            modal(state={"values": {"model_block": {"model_select": {"selected_option": "x"}}}}),
            200,
            says="response_action",
        ),
        id="modal-option-not-object",
    ),
    pytest.param(Case(modal(private_metadata=True), 200, says="response_action"), id="modal-metadata-not-string"),
    pytest.param(
        Case(modal(private_metadata="[" * 2900 + "]" * 2900), 200, says="response_action"), id="modal-metadata-deep"
    ),
]


@pytest.mark.parametrize("case", CASES)
def test_hostile_request_gets_its_answer(case: Case, lambda_router: InProcess) -> None:
    env = lambda_router
    result = env.handle(case.event(env))
    raw = str(result.get("body") or "")

    assert result["statusCode"] == case.status, raw[:500]
    if raw.startswith(("{", "[")):
        assert header(result, "content-type").startswith("application/json")
    assert case.says in response_text(result)
    if case.echoes:
        assert header(result, "content-type").startswith("application/json")
    else:
        assert not any(markup in raw for markup in LIVE_MARKUP), raw[:500]

    for lazy in env.run_lazy():
        assert lazy["statusCode"] < 500
    bodies = [*env.slack.messages(), *(p.body for p in env.slack.response_posts())]
    assert case.posts in "\n".join(json.dumps(body, ensure_ascii=False) for body in bodies)
    for text in (t for body in bodies for t in parsed(body)):
        assert not any(markup in text for markup in LIVE_MARKUP), text
    assert len(env.models.calls) == case.invokes


@pytest.mark.parametrize("case", MODAL_CASES)
def test_malformed_modal_gets_a_polite_modal_error(case: Case, lambda_router: InProcess) -> None:
    result = lambda_router.handle(case.event(lambda_router))
    assert (result["statusCode"], case.says in response_text(result)) == (case.status, True)


def test_there_are_at_least_forty_cases() -> None:
    assert len(CASES) >= 40


def parsed(message: dict[str, Any]) -> list[str]:
    """What Slack parses for markup in a message: its ``text`` and its mrkdwn objects (rich text it never parses)."""
    return [str(message.get("text", "")), *mrkdwn_texts(message.get("blocks", []))]


def test_unusual_characters_reach_the_model_as_typed(lambda_router: InProcess) -> None:
    env = lambda_router
    assert env.handle(command(UNICODE)(env))["statusCode"] == 200
    env.run_lazy()
    [(_, model, payload, _)] = env.models.calls
    assert (model, payload["text"]) == ("sentiment", UNICODE)


def test_right_to_left_override_stays_inside_the_quote(lambda_router: InProcess) -> None:
    """A U+202E in the text may reverse the quoted text, never the bot's own words around it."""
    env = lambda_router
    env.handle(command(UNICODE)(env))
    env.run_lazy()
    [placeholder] = env.slack.messages()
    assert "\u202e" not in "".join(parsed(placeholder))
    holding = [e["text"] for _, e in rich_elements(placeholder) if "\u202e" in e["text"]]
    assert len(holding) == 1 and spans_exactly(holding[0]), holding


def test_markup_in_a_model_answer_is_escaped_in_the_thread(lambda_router: InProcess) -> None:
    """A model that repeats its input (or invents markup) cannot ping the channel either: rich text is never parsed."""
    env = lambda_router
    env.handle(command(ENCODED)(env))
    env.run_lazy()
    [(_, model, payload, _)] = env.models.calls
    labels = [{"label": payload["text"], "score": 0.9}, {"label": "<!channel>", "score": 0.1}]
    env.router.handle(destination_record(payload, model_answer(model, result={"labels": labels})))
    thread = [m for m in env.slack.messages() if m.get("thread_ts")]
    assert thread, "the answer was not posted"
    assert "<!channel>" in json.dumps(thread, ensure_ascii=False)
    for text in (t for message in thread for t in parsed(message)):
        assert not any(markup in text for markup in LIVE_MARKUP), text


def test_the_form_never_serves_markup_as_html(lambda_router: InProcess) -> None:
    env = lambda_router
    result = env.handle(form({"model": "sentiment", "text": HTML})(env))
    assert header(result, "content-type") == "application/json; charset=utf-8"
    assert header(result, "x-content-type-options") == "nosniff"
    assert "<" not in result["body"] and ">" not in result["body"]
    assert json.loads(result["body"])["result"]["labels"][0]["label"] == HTML


def test_a_path_for_a_model_name_is_never_invoked_or_opened(
    lambda_router: InProcess, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Model names only select registry entries: no file is opened and no function name is built from them."""
    env = lambda_router
    opened: list[str] = []
    real_open = open

    def watching_open(file: Any, *args: Any, **kwargs: Any) -> Any:
        opened.append(str(file))
        return real_open(file, *args, **kwargs)

    monkeypatch.setattr("builtins.open", watching_open)
    for path in PATHS.values():
        env.handle(form({"model": path, "text": "hi"})(env))
        env.handle(command(f"{path} hi", name="/hf")(env))
    env.run_lazy()
    assert env.models.calls == []
    assert not [name for name in opened if "passwd" in name or ".." in name]


def test_a_replayed_fresh_request_runs_once(lambda_router: InProcess) -> None:
    """Within the 5-minute window a copy of a signed request verifies, but its work is claimed once."""
    env = lambda_router
    event = command("once please")(env)
    assert env.handle(event)["statusCode"] == 200
    assert env.handle(json.loads(json.dumps(event)))["statusCode"] == 200
    env.run_lazy()
    assert len(env.models.calls) == 1
    assert len([m for m in env.slack.messages() if "thread_ts" not in m]) == 1


def test_a_lazy_run_that_waited_over_five_minutes_is_dropped(
    lambda_router: InProcess, monkeypatch: pytest.MonkeyPatch
) -> None:
    """In AWS Bolt checks the signature again when the lazy self-invocation runs, against the original
    timestamp: one that sat in Lambda's queue for over 5 minutes is refused, and nobody is told."""
    env = lambda_router
    assert env.handle(command("late")(env))["statusCode"] == 200
    later = time.time() + 5 * 60 + 1
    monkeypatch.setattr("slack_sdk.signature.Clock.now", lambda self: later)
    [lazy] = env.run_lazy()
    assert lazy["statusCode"] == 401
    assert env.models.calls == [] and env.slack.messages() == []


def test_base64_bodies_are_verified_on_their_bytes(lambda_router: InProcess) -> None:
    """API Gateway may base64-encode a body; the signature still covers the decoded bytes."""
    env = lambda_router
    body = slash_command_body("/sentiment", "encoded", response_url=env.slack.new_response_url())
    event = signed_event(body, base64=True)
    assert base64.b64decode(event["body"]).decode() == body
    assert env.handle(event)["statusCode"] == 200
    env.run_lazy()
    assert len(env.models.calls) == 1


def test_docs_list_every_case() -> None:
    """docs/security.md is the table of these cases; a case missing from it is a case nobody reads about."""
    from tests.security.test_http_layer import CASES as HTTP_CASES

    doc = (Path(__file__).resolve().parents[2] / "docs" / "security.md").read_text(encoding="utf-8")
    missing = [p.id for p in [*CASES, *MODAL_CASES, *HTTP_CASES] if f"`{p.id}`" not in doc and f"[{p.id}]" not in doc]
    assert not missing, missing
