"""The optional passcode: login, the signed cookie, and the limit on wrong guesses."""

from __future__ import annotations

import time

import pytest

from bot.core.config import Secrets, Settings
from bot.form.passcode import (
    COOKIE_NAME,
    FAILURE_WINDOW_SECONDS,
    MAX_AGE_SECONDS,
    FailureLimiter,
    client_address,
    has_valid_session,
    passcode_matches,
    session_cookie,
)
from tests.bot.form.conftest import CLIENT_IP, PASSCODE, body, make_request, page_data_of
from tests.fakes.signing import SIGNING_SECRET


def login(call, settings, passcode, **kwargs):
    return call(make_request("POST", "/go/login", json_body={"passcode": passcode}, **kwargs), settings=settings)


def cookie_pair(set_cookie: str) -> str:
    return set_cookie.split(";")[0]


def run(call, settings, cookie=""):
    request = make_request("POST", json_body={"model": "tiny-sentiment", "text": "hi"}, cookie=cookie)
    return call(request, settings=settings)


def test_without_a_cookie_the_form_refuses_to_run(call, invoker, locked_settings):
    response = run(call, locked_settings)

    assert response.status == 401
    assert body(response)["error"]["type"] == "passcode_required"
    assert invoker.calls == []


def test_without_a_cookie_the_page_shows_only_the_login_panel(call, locked_settings):
    html = call(make_request("GET"), settings=locked_settings).body

    data = page_data_of(html)
    assert (data["locked"], data["models"]) == (True, [])
    assert "Tiny sentiment" not in html
    assert '<section id="login" class="card" aria-labelledby="login-title">' in html
    assert '<section id="tool" class="card" aria-labelledby="tool-title" hidden>' in html


def test_the_right_passcode_sets_a_strict_signed_cookie(call, locked_settings):
    before = int(time.time())
    response = login(call, locked_settings, PASSCODE)

    assert response.status == 204
    assert response.body == ""
    (set_cookie,) = response.cookies
    attributes = [part.strip() for part in set_cookie.split(";")]
    name, _, value = attributes[0].partition("=")
    assert name == COOKIE_NAME
    assert PASSCODE not in set_cookie
    assert set(attributes[1:]) == {"Path=/", f"Max-Age={MAX_AGE_SECONDS}", "HttpOnly", "SameSite=Strict", "Secure"}
    expires = int(value.split(".")[1])
    assert before + MAX_AGE_SECONDS <= expires <= int(time.time()) + MAX_AGE_SECONDS


def test_local_mode_leaves_out_secure(call, locked_settings):
    local = Settings(secrets=locked_settings.secrets, local=True)
    (set_cookie,) = login(call, local, PASSCODE).cookies

    assert "Secure" not in set_cookie
    assert "HttpOnly" in set_cookie


def test_the_cookie_unlocks_the_form_and_the_page(call, invoker, locked_settings):
    cookie = cookie_pair(login(call, locked_settings, PASSCODE).cookies[0])

    assert run(call, locked_settings, cookie).status == 200
    assert [call.kind for call in invoker.calls] == ["sync"]
    html = call(make_request("GET", cookie=cookie), settings=locked_settings).body
    assert page_data_of(html)["locked"] is False


def test_a_wrong_passcode_is_a_401(call, locked_settings):
    response = login(call, locked_settings, "guess")

    assert response.status == 401
    assert body(response)["error"]["type"] == "wrong_passcode"
    assert response.cookies == []


def test_the_sixth_wrong_try_in_fifteen_minutes_is_a_429(call, locked_settings, clock):
    for _ in range(5):
        assert login(call, locked_settings, "guess").status == 401
        clock.now += 60

    blocked = login(call, locked_settings, "guess")
    assert blocked.status == 429
    assert body(blocked)["error"]["type"] == "too_many_attempts"
    assert int(blocked.headers["Retry-After"]) == FAILURE_WINDOW_SECONDS - 5 * 60
    assert login(call, locked_settings, PASSCODE).status == 429, "even the right passcode waits"
    assert login(call, locked_settings, "guess", source_ip="198.51.100.99").status == 401, "other clients may try"

    clock.now += FAILURE_WINDOW_SECONDS - 5 * 60
    assert login(call, locked_settings, PASSCODE).status == 204


def test_a_login_forgets_earlier_wrong_tries(call, locked_settings):
    for _ in range(4):
        login(call, locked_settings, "guess")
    assert login(call, locked_settings, PASSCODE).status == 204

    for _ in range(5):
        assert login(call, locked_settings, "guess").status == 401


def test_malformed_logins_are_refused_without_counting(call, locked_settings):
    for _ in range(6):
        request = make_request("POST", "/go/login", raw=b"passcode=guess", content_type="text/plain")
        assert call(request, settings=locked_settings).status == 415
    assert login(call, locked_settings, PASSCODE).status == 204


def _valid_value(settings: Settings, now: float | None = None) -> str:
    return cookie_pair(session_cookie(settings, now=now)).partition("=")[2]


def _has_session(settings: Settings, value: str) -> bool:
    return has_valid_session(make_request(cookie=f"{COOKIE_NAME}={value}"), settings)


def test_a_tampered_cookie_is_rejected(locked_settings):
    value = _valid_value(locked_settings)
    version, expires, signature = value.split(".")
    flipped = signature[:-1] + ("A" if signature[-1] != "A" else "B")

    assert _has_session(locked_settings, value)
    assert not _has_session(locked_settings, f"{version}.{expires}.{flipped}")
    assert not _has_session(locked_settings, f"{version}.{int(expires) + 3600}.{signature}")
    assert not _has_session(locked_settings, f"v2.{expires}.{signature}")
    assert not _has_session(locked_settings, f"{version}.{expires}")
    assert not _has_session(locked_settings, "")
    assert not _has_session(locked_settings, "é.é.é")


def test_an_expired_cookie_is_rejected(call, locked_settings):
    value = _valid_value(locked_settings, now=time.time() - MAX_AGE_SECONDS - 1)

    assert not _has_session(locked_settings, value)
    assert run(call, locked_settings, f"{COOKIE_NAME}={value}").status == 401


@pytest.mark.parametrize(
    "rotated",
    [
        Secrets(signing_secret=SIGNING_SECRET, passcode="a new passcode"),
        Secrets(signing_secret="a new signing secret", passcode=PASSCODE),
    ],
)
def test_rotating_the_passcode_or_the_signing_secret_logs_everyone_out(locked_settings, rotated):
    value = _valid_value(locked_settings)

    assert not _has_session(Settings(secrets=rotated), value)


def test_passcodes_are_compared_as_given(locked_settings):
    assert passcode_matches(PASSCODE, locked_settings)
    assert not passcode_matches(PASSCODE.upper(), locked_settings)
    assert not passcode_matches(PASSCODE + " ", locked_settings)
    assert not passcode_matches(None, locked_settings)
    assert not passcode_matches(["x"], locked_settings)
    assert not passcode_matches("", Settings(secrets=Secrets()))


def test_the_client_is_api_gateways_source_ip_then_forwarded_for_then_local():
    assert client_address(make_request(forwarded_for="198.51.100.1")) == CLIENT_IP
    assert client_address(make_request(source_ip=None, forwarded_for=" 198.51.100.1 , 10.0.0.1")) == "198.51.100.1"
    assert client_address(make_request(source_ip=None)) == "local"


def test_the_limiter_forgets_the_oldest_clients_past_its_bound(clock):
    limiter = FailureLimiter(max_failures=1, max_clients=2, clock=clock)
    for client in ("a", "b", "c"):
        limiter.record_failure(client)

    assert limiter.retry_after("a") is None
    assert limiter.retry_after("b") == FAILURE_WINDOW_SECONDS
    assert limiter.retry_after("c") == FAILURE_WINDOW_SECONDS
