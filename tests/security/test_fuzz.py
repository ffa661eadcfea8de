"""Property-based fuzzing of POST /slack/events and POST /go through ``Router.handle``.

Whatever arrives, the router answers without raising, never with a 5xx, and
with a body that is valid for the content type it declares. Slack bodies are
fuzzed both unsigned (random bytes, headers and content types) and validly
signed: random structures built from Slack's own field names and values, or
real Slack requests mutated from real samples, so the fuzzer reaches Bolt's parsing and the
listeners. The models are a fake that echoes. The examples are derandomized
(the same 300 per test on every run, so CI is reproducible) and hypothesis
keeps no example database (its caches go to the git-ignored ``.hypothesis/``);
raise ``max_examples`` and drop ``derandomize`` locally to search further.
"""

from __future__ import annotations

import json
import string
from typing import Any
from urllib.parse import urlencode

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.events import load_event
from tests.fakes.signing import FORM, JSON
from tests.fakes.slack_client import LambdaContext, api_gateway_event
from tests.security.conftest import EVENTS, InProcess, header, signed_event

FUZZ = settings(
    max_examples=300,
    deadline=None,
    database=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

#: Field names and values Slack uses, so random structures reach Bolt's matchers and the listeners.
SLACK_KEYS = [
    "type", "event", "view", "message", "previous_message", "item", "assistant_thread", "authorizations",
    "actions", "response_urls", "response_url", "enterprise", "team", "user", "channel", "command", "text",
    "callback_id", "action_id", "block_id", "trigger_id", "event_id", "ts", "thread_ts", "event_ts", "state",
    "values", "selected_option", "value", "private_metadata", "id", "tab", "challenge", "ssl_check", "token",
    "user_id", "channel_id", "team_id", "is_ext_shared_channel", "is_enterprise_install", "workflow_step",
    "function", "function_execution_id", "subtype", "channel_type", "bot_id", "model_block", "model_select",
]  # fmt: skip
SLACK_VALUES = [
    "event_callback", "app_mention", "app_home_opened", "message", "url_verification", "block_actions",
    "block_suggestion", "view_submission", "view_closed", "message_action", "shortcut", "interactive_message",
    "workflow_step_edit", "workflow_step", "function_executed", "home", "im", "run_model_modal",
    "run_model_on_message", "/hf", "/sentiment", "/qa", "sentiment", "qa", "help", "compare", "<@UBOT> sentiment hi",
    "<@UBOT> qa what? | this", "<!channel>", "1700000000.000100", "U123", "C123", "T0001", "1",
]  # fmt: skip
ANY_TEXT = st.text(st.characters(codec=None, exclude_categories=()), max_size=60)
SCALARS = (
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | ANY_TEXT | st.sampled_from(SLACK_VALUES)
)
SLACK_JSON = st.recursive(
    SCALARS,
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(st.sampled_from(SLACK_KEYS) | st.text(max_size=8), inner, max_size=6)
    ),
    max_leaves=30,
)
SLACK_OBJECT = st.dictionaries(st.sampled_from(SLACK_KEYS), SLACK_JSON, max_size=8)
RUN_MODAL = "run_model_modal"
#: Real Slack requests (tests/events) that the mutation strategy starts from.
SAMPLES = [
    "app_mention", "app_mention_in_thread", "app_home_opened", "block_actions", "message_shortcut",
    "view_submission", "slash_command", "url_verification",
]  # fmt: skip
HEADER_NAMES = st.sampled_from(
    ["Content-Type", "X-Slack-Signature", "X-Slack-Request-Timestamp", "x-slack-bolt-lazy-only", "Cookie"]
) | st.text(string.ascii_letters + "-", min_size=1, max_size=20)
CONTENT_TYPES = st.sampled_from([JSON, FORM, "text/plain", "", "application/json; charset=utf-16", "APPLICATION/JSON"])


Path_ = tuple[str | int, ...]


def _paths(value: Any, prefix: Path_ = ()) -> list[Path_]:
    """Every path to a value inside ``value`` (dict keys and list indexes)."""
    children: list[tuple[str | int, Any]] = []
    if isinstance(value, dict):
        children = list(value.items())
    elif isinstance(value, list):
        children = list(enumerate(value))
    found = []
    for key, child in children:
        found.append((*prefix, key))
        found.extend(_paths(child, (*prefix, key)))
    return found


@st.composite
def mutated_sample(draw: st.DrawFn) -> dict[str, Any]:
    """A real Slack request with a few values replaced by random JSON or removed: Slack-shaped, but not quite."""
    data = load_event(draw(st.sampled_from(SAMPLES)))
    for _ in range(draw(st.integers(min_value=1, max_value=4))):
        paths = _paths(data)
        if not paths:
            break
        *parents, last = draw(st.sampled_from(paths))
        container: Any = data
        for key in parents:
            container = container[key]
        if draw(st.booleans()):
            container[last] = draw(SLACK_JSON)
        elif isinstance(container, dict):
            del container[last]
    return data


@pytest.fixture(scope="module")
def env(shared_router: InProcess) -> InProcess:
    """One router for every example (hypothesis runs all examples of a test within one fixture call)."""
    return shared_router


def check_answer(result: dict[str, Any]) -> None:
    """Never a server error, and the body is what its content type says."""
    assert 200 <= result["statusCode"] < 500, result
    body = result.get("body") or ""
    assert isinstance(body, str)
    body.encode("utf-8")  # a proxy result must be sendable as UTF-8
    if header(result, "content-type").startswith("application/json"):
        json.loads(body)


def handle_all(env: InProcess, event: dict[str, Any]) -> None:
    """Handle ``event`` and then, as Lambda would, every self-invocation it queued."""
    check_answer(env.router.handle(event, LambdaContext()))
    while env.lambdas.invocations:
        lazy = env.lambdas.invocations.pop(0)["Payload"]
        assert env.router.handle(lazy, LambdaContext())["statusCode"] < 500


@FUZZ
@given(
    method=st.sampled_from(["POST", "GET", "PUT", "OPTIONS"]),
    headers=st.dictionaries(HEADER_NAMES, st.text(max_size=40), max_size=5),
    body=st.binary(max_size=300) | st.text(max_size=300).map(str.encode),
    base64=st.booleans(),
)
def test_unsigned_anything_to_slack_events(
    env: InProcess, method: str, headers: dict[str, str], body: bytes, base64: bool
) -> None:
    event = api_gateway_event(method, EVENTS, body, headers, base64=True)
    if not base64:
        event.update(body=body.decode("utf-8", "replace"), isBase64Encoded=False)
    handle_all(env, event)


@FUZZ
@given(data=SLACK_OBJECT, shape=st.sampled_from(["json", "payload", "form"]), content_type=CONTENT_TYPES)
def test_signed_random_slack_structures(env: InProcess, data: dict[str, Any], shape: str, content_type: str) -> None:
    if shape == "json":
        body = json.dumps(data)
    elif shape == "payload":
        body = urlencode({"payload": json.dumps(data)})
    else:
        body = urlencode(
            {k: v if isinstance(v, str) else json.dumps(v) for k, v in data.items()}, errors="surrogatepass"
        )
    handle_all(env, signed_event(body, content_type))


@FUZZ
@given(data=mutated_sample(), shape=st.sampled_from(["json", "payload"]))
def test_signed_mutated_slack_requests(env: InProcess, data: dict[str, Any], shape: str) -> None:
    if "command" in data and shape == "payload":
        fields = {k: v if isinstance(v, str) else json.dumps(v) for k, v in data.items()}
        body = urlencode(fields, errors="surrogatepass")
    elif shape == "payload":
        body = urlencode({"payload": json.dumps(data)})
    else:
        body = json.dumps(data)
    handle_all(env, signed_event(body, FORM if shape == "payload" else JSON))


@FUZZ
@given(text=ANY_TEXT, command=st.sampled_from(["/hf", "/sentiment", "/qa", "/summarize", "/nope"]))
def test_signed_commands_with_any_text(env: InProcess, text: str, command: str) -> None:
    fields = {"command": command, "text": text, "user_id": "U1", "channel_id": "C1", "trigger_id": text}
    body = urlencode(fields, errors="surrogatepass")
    handle_all(env, signed_event(body))


GO_BODIES = (
    SLACK_JSON
    | st.fixed_dictionaries(
        {"model": st.sampled_from(["sentiment", "qa", "similarity", "zero-shot", "nope"]) | ANY_TEXT, "text": ANY_TEXT}
    )
    | st.fixed_dictionaries({"model": SLACK_JSON, "text": SLACK_JSON})
)


@FUZZ
@given(
    data=GO_BODIES, content_type=st.sampled_from(["application/json", "application/json; charset=utf-8", "text/plain"])
)
def test_form_with_any_json(env: InProcess, data: Any, content_type: str) -> None:
    event = api_gateway_event("POST", "/go", json.dumps(data), {"Content-Type": content_type})
    check_answer(env.router.handle(event, LambdaContext()))


@FUZZ
@given(body=st.binary(max_size=300), path=st.sampled_from(["/go", "/go/", "/go/login", "/go/x"]))
def test_form_with_any_bytes(env: InProcess, body: bytes, path: str) -> None:
    event = api_gateway_event("POST", path, body, {"Content-Type": "application/json"}, base64=True)
    check_answer(env.router.handle(event, LambdaContext()))
