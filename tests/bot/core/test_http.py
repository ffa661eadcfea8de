"""The HTTP layer's one JSON-for-HTML escaper (the form's page and every JSON answer) and one cookie parser and builder."""

from __future__ import annotations

import json
from pathlib import Path

from bot.core.http import Request, Response, cookies_to_send_back, json_for_html, parse_cookies, set_cookie


def test_json_for_html_leaves_no_markup_characters_and_no_lone_surrogate() -> None:
    data = {"a": "</script><b>&amp;", "b": "half \ud800 a pair", "c": "é 😀"}
    text = json_for_html(data)

    assert not set("<>&") & set(text)
    text.encode("utf-8")  # a lone surrogate would make this raise
    assert json.loads(text) == data
    assert "é 😀" in text  # everything else stays as typed


def test_every_json_answer_is_written_by_it() -> None:
    data = {"a": "</script>\udc00"}
    assert Response.json(data).body == json_for_html(data)


# ---- cookies: one parser and one builder, both http.cookies ----------------------------------------


def test_cookies_are_read_by_name_and_a_malformed_pair_costs_only_itself() -> None:
    header = 'theme="dark mode"; bad@name=1; go_session=v1.2.sig; ;novalue; go_voter=abc.def; =x'
    assert parse_cookies(header) == {"theme": "dark mode", "go_session": "v1.2.sig", "go_voter": "abc.def"}
    assert Request(method="GET", path="/go", headers={"cookie": header}).cookies == parse_cookies(header)


def test_every_cookie_is_set_for_the_site_out_of_scripts_reach_and_strict() -> None:
    attributes = {part.strip() for part in set_cookie("go_voter", "abc.def", max_age=60, secure=True).split(";")}
    assert attributes == {"go_voter=abc.def", "Path=/", "Max-Age=60", "HttpOnly", "SameSite=Strict", "Secure"}
    assert "Secure" not in set_cookie("go_voter", "abc.def", max_age=60, secure=False)


def test_a_client_sends_back_what_it_was_set() -> None:
    issued = [set_cookie("go_session", "v1.2.sig", max_age=60, secure=True), "go_voter=abc.def; Path=/"]
    assert parse_cookies(cookies_to_send_back(issued)) == {"go_session": "v1.2.sig", "go_voter": "abc.def"}


def test_no_other_module_of_the_router_parses_or_builds_a_cookie() -> None:
    root = Path(__file__).resolve().parents[3]
    marks = ("SameSite=", '"HttpOnly"', "Max-Age=", 'header("cookie")', "SimpleCookie")
    found = [
        f"{path.relative_to(root)}: {mark}"
        for path in sorted((root / "bot").rglob("*.py"))
        if path.name != "http.py" or path.parent.name != "core"
        for mark in marks
        if mark in path.read_text(encoding="utf-8")
    ]
    assert found == []
