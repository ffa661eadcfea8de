"""Every cookie the router reads, fuzzed: a malformed cookie is simply not a session, never a 5xx.

``go_session=v1.<4,301 digits>.x`` used to make ``GET /go``, ``POST /go`` and
``/go/stats`` answer 500 (Python's ``int()`` refuses strings of more than
4,300 digits). In process, hypothesis sends any Cookie header, and real
session cookies with one field grown, shrunk or replaced, through
``Router.handle`` to every route that reads a cookie, with and without a
passcode. Against ``python -m bot serve``, raw bytes in the Cookie header go
through its HTTP layer. ``test_the_fuzzed_cookies_are_all_the_router_reads``
keeps the list of fuzzed names in step with what the router reads.
"""

from __future__ import annotations

import json
import re
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

import bot.core.http
import bot.form.routes
from bot.core.config import Secrets, Settings
from bot.core.http import Request
from bot.form.feedback import VOTER_COOKIE
from bot.form.passcode import COOKIE_NAME, FailureLimiter, has_valid_session, session_cookie
from tests.bot.form.conftest import page_data_of
from tests.conftest import BotServer, start_server, stop_server
from tests.fakes.slack_api import FakeSlackApi
from tests.fakes.slack_client import api_gateway_event
from tests.security.conftest import BOT_TOKEN, InProcess, in_process
from tests.security.test_fuzz import ANY_TEXT, FUZZ

PASSCODE = "a long and private passcode 7"
#: Every cookie the router reads (checked below): the form's session and its voter id.
COOKIES = [COOKIE_NAME, VOTER_COOKIE]
JSON_HEADERS = {"Content-Type": "application/json"}
#: Each route that reads a cookie, with a body it would otherwise accept.
ROUTES = [
    ("GET", "/go", None),
    ("POST", "/go", {"model": "sentiment", "text": "I love it"}),
    ("GET", "/go/stats", None),
    ("POST", "/go/feedback", {"request_id": "abc123", "vote": "up"}),
    ("POST", "/go/compare-check", {"models": ["sentiment", "ner"], "text": "hi"}),
    ("POST", "/go/login", {"passcode": "wrong"}),
]
#: What each route answers a request without a session when the passcode is set.
LOCKED = {
    ("POST", "/go"): 401,
    ("GET", "/go/stats"): 303,
    ("POST", "/go/feedback"): 401,
    ("POST", "/go/compare-check"): 401,
}
#: Expiry texts that used to crash ``int()`` or that ``str.isdigit`` takes for digits.
NASTY_EXPIRIES = ["9" * 4301, "9" * 5000, "²³", "\uff11\uff17", "\u0661\u0667\u0660\u0660", "-1", "0", " 1", "1e9", ""]


@pytest.fixture(scope="module")
def routers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[InProcess, InProcess]]:
    """The router in AWS mode with a passcode, and without one."""
    with FakeSlackApi(expect_token=BOT_TOKEN) as slack:
        yield (
            in_process(slack, tmp_path_factory.mktemp("locked"), passcode=PASSCODE),
            in_process(slack, tmp_path_factory.mktemp("open")),
        )


@pytest.fixture(autouse=True)
def fresh_limiter(monkeypatch: pytest.MonkeyPatch) -> None:
    """Wrong-passcode posts from the fuzzer must not lock the next example out."""
    monkeypatch.setattr(bot.form.routes, "LOGIN_LIMITER", FailureLimiter(max_failures=10**9))


def send(env: InProcess, method: str, path: str, data: Any, cookie: str) -> dict[str, Any]:
    body = None if data is None else json.dumps(data)
    result = env.handle(api_gateway_event(method, path, body, {**JSON_HEADERS, "Cookie": cookie}))
    assert 200 <= result["statusCode"] < 500, result
    return result


def valid_session(env: InProcess) -> str:
    """The ``go_session`` value the router itself issues."""
    return session_cookie(env.router.services.settings).split(";")[0].partition("=")[2]


def test_the_fuzzed_cookies_are_all_the_router_reads(
    routers: tuple[InProcess, InProcess], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Record each cookie name any route looks up: a new one must join ``COOKIES`` to be fuzzed."""
    read: set[str] = set()

    class Recording(dict[str, str]):
        def get(self, key: str, default: Any = None) -> Any:
            read.add(key)
            return super().get(key, default)

        def __getitem__(self, key: str) -> str:
            read.add(key)
            return super().__getitem__(key)

    real = Request.cookies.fget
    assert real is not None
    monkeypatch.setattr(bot.core.http.Request, "cookies", property(lambda self: Recording(real(self))))
    for env in routers:
        for method, path, data in ROUTES:
            send(env, method, path, data, f"{COOKIE_NAME}={valid_session(env)}; {VOTER_COOKIE}=v" + "x" * 30)
    assert read and read <= set(COOKIES), read


@FUZZ
@given(
    header=ANY_TEXT
    | st.lists(
        st.tuples(st.sampled_from(COOKIES) | st.text(max_size=10), ANY_TEXT | st.sampled_from(NASTY_EXPIRIES)),
        max_size=4,
    ).map(lambda pairs: "; ".join(f"{name}={value}" for name, value in pairs)),
    route=st.sampled_from(ROUTES),
    locked=st.booleans(),
)
@example(header=f"{COOKIE_NAME}=v1.{'9' * 4301}.x", route=ROUTES[0], locked=True)
def test_any_cookie_header_is_never_a_5xx(
    routers: tuple[InProcess, InProcess], header: str, route: tuple[str, str, Any], locked: bool
) -> None:
    method, path, data = route
    send(routers[0] if locked else routers[1], method, path, data, header)


def mutate(value: str, field: int, how: str, text: str, cut: int) -> str:
    """``value`` (``v1.<expires>.<signature>``) with field ``field`` grown by ``text``, shrunk to ``cut``
    characters, or replaced by ``text``."""
    fields = value.split(".")
    current = fields[field]
    fields[field] = {"grow": current + text, "shrink": current[: cut % max(len(current), 1)], "replace": text}[how]
    return ".".join(fields)


FIELD_TEXT = st.text(alphabet="0123456789", max_size=5000) | st.sampled_from(NASTY_EXPIRIES) | ANY_TEXT


@FUZZ
@given(
    field=st.integers(min_value=0, max_value=2),
    how=st.sampled_from(["grow", "shrink", "replace"]),
    text=FIELD_TEXT,
    cut=st.integers(min_value=0, max_value=100),
)
@example(field=1, how="replace", text="9" * 4301, cut=0)
@example(field=1, how="grow", text="9" * 4290, cut=0)
@example(field=1, how="replace", text="²³", cut=0)
def test_a_session_cookie_with_any_field_changed_is_not_a_session(
    routers: tuple[InProcess, InProcess], field: int, how: str, text: str, cut: int
) -> None:
    env = routers[0]
    original = valid_session(env)
    value = mutate(original, field, how, text, cut)
    if value == original:
        return  # an empty "grow" leaves the cookie as it was
    cookie = f"{COOKIE_NAME}={value}"
    assert not has_valid_session(Request("GET", "/go", headers={"cookie": cookie}), env.router.services.settings)
    for method, path, data in ROUTES:
        result = send(env, method, path, data, cookie)
        if (method, path) in LOCKED:
            assert result["statusCode"] == LOCKED[method, path], (path, result)
        elif (method, path) == ("GET", "/go"):
            assert page_data_of(result["body"])["locked"] is True


def test_the_issued_cookie_still_opens_every_route(routers: tuple[InProcess, InProcess]) -> None:
    """The fuzz above means something only if the unchanged cookie is a session."""
    env = routers[0]
    cookie = f"{COOKIE_NAME}={valid_session(env)}"
    assert send(env, "POST", "/go", ROUTES[1][2], cookie)["statusCode"] == 200
    assert send(env, "GET", "/go/stats", None, cookie)["statusCode"] == 200
    assert page_data_of(send(env, "GET", "/go", None, cookie)["body"])["locked"] is False


def test_a_session_issued_far_in_the_past_or_future_is_judged_by_its_expiry() -> None:
    """Both directions of the expiry: an old cookie has expired, one from a clock years ahead has not."""
    settings = Settings(secrets=Secrets(signing_secret="s" * 32, passcode=PASSCODE))
    for issued, valid in ((0.0, False), (time.time() - 13 * 3600, False), (time.time() + 10 * 365 * 86400, True)):
        cookie = session_cookie(settings, now=issued).split(";")[0]
        assert has_valid_session(Request("GET", "/go", headers={"cookie": cookie}), settings) is valid


# -- through the HTTP layer of `python -m bot serve` ----------------------------------------------


@pytest.fixture(scope="module")
def locked_server(tiny_registry: Path, fake_slack: FakeSlackApi, tmp_path_factory: pytest.TempPathFactory):
    server = start_server(
        registry=tiny_registry,
        slack=fake_slack,
        workdir=tmp_path_factory.mktemp("cookies"),
        extra_env={"DEMO_PASSCODE": PASSCODE},
    )
    yield server
    stop_server(server)


def raw_request(server: BotServer, method: str, path: str, cookie: bytes, body: bytes = b"") -> int:
    """Send one request with ``cookie`` as the Cookie header's bytes; the status of the answer."""
    url = urlsplit(server.url)
    head = (
        f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
    ).encode()
    with socket.create_connection((url.hostname, url.port), timeout=10) as sock:
        sock.sendall(head + b"Cookie: " + cookie + b"\r\n\r\n" + body)
        status_line = sock.makefile("rb").readline()
    return int(status_line.split()[1])


SERVER_COOKIES = [
    pytest.param(f"{COOKIE_NAME}=v1.{'9' * 4301}.x".encode(), id="session-4301-digit-expiry"),
    pytest.param(f"{COOKIE_NAME}=v1.²³.x".encode(), id="session-superscript-expiry"),
    pytest.param(f"{COOKIE_NAME}=v1.1.\xe9\xff".encode("latin-1"), id="session-latin-1-signature"),
    pytest.param(b"go_session=v1.1.\xf0\x9f\x98\x80; go_voter=\xff\xfe", id="not-ascii-bytes"),
    pytest.param(b"; ; =; go_session; =x; go_session==", id="empty-pieces"),
    pytest.param(f"{VOTER_COOKIE}={'9' * 5000}".encode(), id="voter-5000-digits"),
]


@pytest.mark.e2e
@pytest.mark.parametrize("cookie", SERVER_COOKIES)
def test_a_malformed_cookie_through_the_http_layer_is_no_session(locked_server: BotServer, cookie: bytes) -> None:
    run, logged = json.dumps(ROUTES[1][2]).encode(), len(locked_server.logs())
    assert raw_request(locked_server, "GET", "/go", cookie) == 200
    assert raw_request(locked_server, "POST", "/go", cookie, run) == 401
    assert raw_request(locked_server, "GET", "/go/stats", cookie) == 303
    assert raw_request(locked_server, "POST", "/go/feedback", cookie, b'{"request_id": "x", "vote": "up"}') == 401
    assert not re.search(r'"level":"ERROR"|Traceback', locked_server.logs()[logged:])
