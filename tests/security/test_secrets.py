"""The bot token, signing secret and passcode never reach the logs.

End to end: `python -m bot serve` at DEBUG level with a passcode, driven through
successes and failures (a model run from Slack and from the form, a model that
cannot load, bad signatures, wrong passcodes, a Slack API that errors), then
every byte it wrote (its log file, which the model workers share, and the rest
of its stdout) is searched for the three values. In process: the redaction
filter catches a secret logged by accident, in a message, its arguments, an
``extra`` value or an exception, with the JSON formatter the router uses.
"""

from __future__ import annotations

import http.client
import io
import json
import logging
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import yaml
from aws_lambda_powertools.logging.formatter import LambdaPowertoolsFormatter

from inference.redaction import RedactSecrets
from tests.conftest import BOT_TOKEN, PASSCODE, BotServer, start_server, stop_server
from tests.fakes.signing import FORM, SIGNING_SECRET
from tests.fakes.slack_api import FakeSlackApi
from tests.fakes.slack_client import slash_command_body

SECRETS = {"bot token": BOT_TOKEN, "signing secret": SIGNING_SECRET, "passcode": PASSCODE}
ANSWER_WAIT = 90.0  # the first run starts a worker process and loads the tiny model


@pytest.fixture(scope="module")
def registry_with_broken_model(tiny_registry: Path) -> Path:
    """The tiny models plus ``tiny-broken``, whose weights folder is empty."""
    data = yaml.safe_load(tiny_registry.read_text())
    (tiny_registry.parent / "empty").mkdir(exist_ok=True)
    data["models"].append({**data["models"][0], "name": "tiny-broken", "model": "./empty", "title": "Broken"})
    path = tiny_registry.parent / "security-models.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def post_json(server: BotServer, path: str, body: object, cookie: str = "") -> tuple[int, dict[str, str]]:
    """POST JSON to the form as its page does; the status and the lower-cased headers."""
    url = urlsplit(server.url)
    connection = http.client.HTTPConnection(url.hostname or "", url.port, timeout=60)
    try:
        headers = {"Content-Type": "application/json", "Cookie": cookie}
        connection.request("POST", path, body=json.dumps(body), headers=headers)
        response = connection.getresponse()
        response.read()
        return response.status, {k.lower(): v for k, v in response.getheaders()}
    finally:
        connection.close()


def thread_answer(server: BotServer, channel: str) -> list[dict[str, object]]:
    slack = server.slack
    assert slack.wait_for(lambda: any(m.get("thread_ts") for m in slack.messages(channel)), ANSWER_WAIT)
    return [m for m in slack.messages(channel) if m.get("thread_ts")]


def exercise(server: BotServer) -> None:
    """Successes and failures on every path that logs."""
    sender, slack = server.sender, server.slack
    assert sender.command("/tiny-sentiment", "I love this team", channel_id="CGOOD").status == 200
    thread_answer(server, "CGOOD")
    assert sender.command("/tiny-broken", "anything", channel_id="CBROKEN").status == 200
    assert "could not be loaded" in json.dumps(thread_answer(server, "CBROKEN"))

    body = slash_command_body("/tiny-sentiment", "forged")
    assert sender.post(body, FORM, extra_headers={"X-Slack-Signature": "v0=" + "0" * 64}).status == 401
    assert sender.post(body, FORM, timestamp=int(time.time()) - 3600).status == 401
    assert sender.post(body, FORM, extra_headers={"X-Slack-Request-Timestamp": "soon"}).status == 401

    for guess in ("guess", PASSCODE.upper()):
        assert post_json(server, "/go/login", {"passcode": guess})[0] == 401
    assert post_json(server, "/go", {"model": "tiny-sentiment", "text": "locked"})[0] == 401
    status, headers = post_json(server, "/go/login", {"passcode": PASSCODE})
    assert status == 204
    cookie, *attributes = [part.strip() for part in headers["set-cookie"].split(";")]
    assert {"HttpOnly", "SameSite=Strict"} <= set(attributes) and "Secure" not in attributes  # local: plain HTTP
    assert post_json(server, "/go", {"model": "tiny-sentiment", "text": "I love it"}, cookie)[0] == 200
    assert post_json(server, "/go", {"model": "tiny-broken", "text": "x"}, cookie)[0] == 502

    slack.fail("chat.postMessage", status=500, times=None)
    slack.fail("response_url", status=500, times=None)
    sender.command("/tiny-sentiment", "Slack is down", channel_id="CDOWN", response_url=slack.new_response_url())
    assert slack.wait_for(lambda: any(p.fault for p in slack.response_posts()), 30)
    slack.heal()
    slack.fail("chat.postMessage", error="invalid_auth", times=2)
    sender.command("/tiny-sentiment", "bad token", channel_id="CAUTH")
    assert slack.wait_for(lambda: any(c.fault == "invalid_auth" for c in slack.calls("chat.postMessage")), 30)
    server.wait_idle()  # every failure is logged before the server stops
    slack.heal()


@pytest.fixture(scope="module")
def everything_logged(registry_with_broken_model: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """All output of a server run through :func:`exercise`."""
    workdir = tmp_path_factory.mktemp("secrets")
    with FakeSlackApi(expect_token=BOT_TOKEN) as slack:
        server = start_server(
            registry=registry_with_broken_model,
            slack=slack,
            workdir=workdir,
            extra_env={"DEMO_PASSCODE": PASSCODE, "LOG_LEVEL": "DEBUG"},
        )
        try:
            exercise(server)
        finally:
            stop_server(server)
        assert server.process.stdout is not None
        yield server.logs() + server.process.stdout.read()


@pytest.mark.e2e
@pytest.mark.slow
@pytest.mark.parametrize("name", list(SECRETS))
def test_no_secret_in_any_log_output(everything_logged: str, name: str) -> None:
    assert SECRETS[name] not in everything_logged


@pytest.mark.e2e
@pytest.mark.slow
@pytest.mark.parametrize(
    "evidence",
    [
        pytest.param("Sending a request - url:", id="slack-api-debug-lines"),
        pytest.param("wrong form passcode", id="wrong-passcode"),
        pytest.param("could not be loaded", id="model-load-failure"),
        pytest.param("fatal_error", id="slack-api-500"),
        pytest.param("invalid_auth", id="slack-api-invalid-auth"),
        pytest.param('"level":"DEBUG"', id="json-debug-logs"),
    ],
)
def test_the_search_covered_each_path(everything_logged: str, evidence: str) -> None:
    """The search above means something only if the run logged each of these paths."""
    assert evidence in everything_logged


SECRET = "s3cr3t-value-for-redaction"


@pytest.fixture
def captured() -> Iterator[tuple[logging.Logger, io.StringIO]]:
    """A logger writing Powertools JSON, through the redaction filter, into a string."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(LambdaPowertoolsFormatter(service="test"))
    handler.addFilter(RedactSecrets([SECRET, "short"]))
    logger = logging.getLogger(f"tests.security.redaction.{id(stream)}")
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    logger.propagate = False
    yield logger, stream
    logger.removeHandler(handler)


def test_a_secret_in_the_message_is_redacted(captured: tuple[logging.Logger, io.StringIO]) -> None:
    logger, stream = captured
    logger.warning(f"token is {SECRET}")
    assert json.loads(stream.getvalue())["message"] == "token is ***"


def test_a_secret_in_the_arguments_is_redacted(captured: tuple[logging.Logger, io.StringIO]) -> None:
    logger, stream = captured
    logger.info("calling with %s and %r", SECRET, {"auth": f"Bearer {SECRET}"})
    assert json.loads(stream.getvalue())["message"] == "calling with *** and {'auth': 'Bearer ***'}"


def test_a_secret_in_an_exception_is_redacted(captured: tuple[logging.Logger, io.StringIO]) -> None:
    logger, stream = captured
    try:
        raise RuntimeError(f"could not authenticate with {SECRET}")
    except RuntimeError:
        logger.exception("Slack call failed")
    line = stream.getvalue()
    assert SECRET not in line
    record = json.loads(line)
    assert record["exception_name"] == "RuntimeError"
    assert "RuntimeError: could not authenticate with ***" in record["exception"]


def test_a_secret_in_extra_fields_is_redacted(captured: tuple[logging.Logger, io.StringIO]) -> None:
    logger, stream = captured
    logger.error("failed", extra={"headers": {"Authorization": f"Bearer {SECRET}"}, "ids": [SECRET]})
    record = json.loads(stream.getvalue())
    assert record["headers"] == {"Authorization": "Bearer ***"} and record["ids"] == ["***"]


def test_short_values_are_not_treated_as_secrets(captured: tuple[logging.Logger, io.StringIO]) -> None:
    """A five-character "secret" would blank out ordinary words; such values are not configured secrets."""
    logger, stream = captured
    logger.info("a short note")
    assert json.loads(stream.getvalue())["message"] == "a short note"
