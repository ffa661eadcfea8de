"""Fixtures for the /go form's unit tests: a small registry, the shared fake invoker, requests."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest

from bot.core.config import Secrets, Settings
from bot.core.http import Request, Response
from bot.form.feedback import FeedbackLimits
from bot.form.passcode import FailureLimiter
from bot.form.routes import handle_form
from bot.stores.feedback import SqliteFeedbackStore
from inference.media_store import FolderStore
from inference.registry import Registry, parse_registry
from tests.events import load_event
from tests.fakes.invoker import FakeInvoker, model_answer
from tests.fakes.signing import SIGNING_SECRET

#: Markup in registry texts: the page must show it as text, never run it.
HOSTILE = "<script>alert('owned')</script> \u2028 & </script><!--"
PASSCODE = "correct horse battery staple"
CLIENT_IP = "203.0.113.10"


def _entry(name: str, task: str, **extra: Any) -> dict[str, Any]:
    return {"name": name, "task": task, "model": f"test/{name}", "revision": "0" * 40, **extra}


@pytest.fixture
def registry() -> Registry:
    entries = [
        _entry("tiny-sentiment", "text-classification", title="Tiny sentiment", example="I love it."),
        _entry("tiny-qa", "question-answering", title="Tiny QA", max_chars=200),
        _entry("hostile", "summarization", title=HOSTILE, description=HOSTILE, example=HOSTILE),
    ]
    return parse_registry({"models": entries}, base=Path("."), path=Path("form-test.yaml"))


@pytest.fixture
def invoker() -> FakeInvoker:
    """The models, answering every call with a positive label (the form only ever calls synchronously)."""
    return FakeInvoker(answer=model_answer(result={"labels": [{"label": "POSITIVE", "score": 0.98}]}))


@pytest.fixture
def settings() -> Settings:
    return Settings(secrets=Secrets(signing_secret=SIGNING_SECRET), form_wait_seconds=7.5)


@pytest.fixture
def locked_settings() -> Settings:
    return Settings(secrets=Secrets(signing_secret=SIGNING_SECRET, passcode=PASSCODE), form_wait_seconds=7.5)


class ManualClock:
    """A monotonic clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def limiter(clock: ManualClock) -> FailureLimiter:
    return FailureLimiter(clock=clock)


def make_request(
    method: str = "GET",
    path: str = "/go",
    *,
    json_body: Any = None,
    raw: bytes | None = None,
    content_type: str = "application/json",
    cookie: str = "",
    source_ip: str | None = CLIENT_IP,
    forwarded_for: str | None = None,
    binary: bool = False,
) -> Request:
    """A request built from the sample API Gateway event, as the router would pass it on; a ``binary``
    body comes base64-encoded, as API Gateway sends a body of one of its binary media types."""
    if binary and raw is not None:
        body = base64.b64encode(raw).decode("ascii")
    else:
        body = raw.decode("utf-8") if raw is not None else (None if json_body is None else json.dumps(json_body))
    event = load_event("api_gateway_get_go", path=path, httpMethod=method, body=body, isBase64Encoded=binary)
    headers = event["headers"]
    if body is not None and content_type:
        headers["Content-Type"] = content_type
    if cookie:
        headers["Cookie"] = cookie
    if forwarded_for is None:
        headers.pop("X-Forwarded-For", None)
    else:
        headers["X-Forwarded-For"] = forwarded_for
    event["requestContext"]["identity"]["sourceIp"] = source_ip
    return Request.from_event(event)


@pytest.fixture
def feedback(tmp_path: Path) -> SqliteFeedbackStore:
    """The local feedback store, in a fresh file."""
    return SqliteFeedbackStore(tmp_path / "feedback.sqlite")


@pytest.fixture
def feedback_limits(clock: ManualClock) -> FeedbackLimits:
    """This test's own feedback counts, on the test's clock."""
    return FeedbackLimits(clock=clock)


@pytest.fixture
def media(tmp_path: Path) -> FolderStore:
    """Where the form stores uploads: local mode's folder store, in a fresh folder."""
    return FolderStore(tmp_path / "media")


@pytest.fixture
def call(
    registry: Registry,
    invoker: FakeInvoker,
    settings: Settings,
    limiter: FailureLimiter,
    feedback_limits: FeedbackLimits,
    media: FolderStore,
):
    """``call(request, **overrides)``: run ``handle_form`` with the test's fixtures."""

    def run(request: Request, **overrides: Any) -> Response:
        kwargs = {
            "registry": registry,
            "invoker": invoker,
            "settings": settings,
            "limiter": limiter,
            "feedback_limits": feedback_limits,
            "media": media,
            **overrides,
        }
        return handle_form(request, **kwargs)

    return run


BOUNDARY = "----formboundary7MA4YWxkTrZu0gW"

#: One part of a multipart body: (field name, bytes, file name or None, Content-Type or None).
FormPart = tuple[str, bytes, str | None, str | None]


def form_data(parts: list[FormPart], boundary: str = BOUNDARY) -> bytes:
    """A ``multipart/form-data`` body as a browser's ``FormData`` writes it."""
    out = b""
    for name, data, filename, content_type in parts:
        disposition = f'form-data; name="{name}"' + ("" if filename is None else f'; filename="{filename}"')
        out += f"--{boundary}\r\nContent-Disposition: {disposition}\r\n".encode()
        if content_type:
            out += f"Content-Type: {content_type}\r\n".encode()
        out += b"\r\n" + data + b"\r\n"
    return out + f"--{boundary}--\r\n".encode()


def upload_request(parts: list[FormPart], *, boundary: str = BOUNDARY, **kwargs: Any) -> Request:
    """A POST /go of ``parts`` as multipart/form-data, base64-encoded as API Gateway passes it."""
    content_type = f"multipart/form-data; boundary={boundary}"
    return make_request("POST", raw=form_data(parts, boundary), content_type=content_type, binary=True, **kwargs)


def page_data_of(html: str) -> Any:
    """The JSON the page embeds for its script."""
    start = html.index('<script type="application/json" id="form-data">')
    start = html.index(">", start) + 1
    return json.loads(html[start : html.index("</script>", start)])


def body(response: Response) -> Any:
    assert response.headers["Content-Type"].startswith("application/json")
    return json.loads(response.body)
