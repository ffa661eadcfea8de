"""The /go form in headless Chromium, against ``python -m bot serve`` with the tiny models."""

from __future__ import annotations

import re
from typing import Any

from playwright.sync_api import expect

from tests.browser.conftest import ANSWER_TIMEOUT_MS, BROWSER_MARKS, example_of, run
from tests.conftest import PASSCODE
from tests.tiny_models import ENTRIES

pytestmark = BROWSER_MARKS


def test_classification_renders_label_bars(page: Any) -> None:
    page.select_option("#model", "tiny-sentiment")
    expect(page.locator("#model-format")).to_have_text("any text")
    page.click("#example")
    expect(page.locator("#text")).to_have_value(example_of("tiny-sentiment"))

    result = run(page)

    expect(result.locator("h3")).to_have_text("Tiny text-classification")
    rows = result.locator(".bar-row")
    assert rows.count() >= 2
    for value in rows.locator(".bar-value").all_inner_texts():
        assert re.fullmatch(r"\d{1,3}\.\d%", value)
    expect(result.locator(".meta")).to_contain_text("request ")
    assert "{" not in result.inner_text(), "the answer is rendered, not shown as JSON"


def test_question_answering_shows_the_answer_in_its_context(page: Any) -> None:
    page.select_option("#model", "tiny-qa")
    page.fill("#text", "Where is the tower? | The tower is in Paris.")

    result = run(page)

    answer = result.locator(".big").inner_text()
    assert answer and answer in "The tower is in Paris."
    expect(result).to_contain_text("Confidence")
    expect(result.locator(".passage mark")).to_have_text(answer)


def test_markup_in_the_input_is_shown_as_text(page: Any) -> None:
    page.select_option("#model", "tiny-zero-shot")
    page.fill("#text", "Great news | <b>good</b>, <img src=x>bad")

    result = run(page)

    expect(result.locator(".bar-label").filter(has_text="<b>good</b>")).to_have_count(1)
    assert result.locator("b, img").count() == 0


def test_empty_text_shows_an_error_in_plain_words(page: Any) -> None:
    page.select_option("#model", "tiny-sentiment")
    page.fill("#text", "   ")
    page.click("#run")

    error = page.locator("#error")
    expect(error).to_be_visible()
    expect(error).to_contain_text("empty")
    expect(page.locator("#result")).to_be_empty()


def test_a_model_warming_up_is_retried_with_progress(page: Any) -> None:
    posts: list[str] = []

    def first_answer_warming_up(route: Any) -> None:
        if route.request.method != "POST":
            route.continue_()
            return
        posts.append(route.request.url)
        if len(posts) > 1:
            route.continue_()
            return
        body = {"status": "warming_up", "retry_after": 2, "message": "The model is still warming up: it is loading."}
        route.fulfill(status=202, json=body, headers={"Retry-After": "2"})

    page.route(re.compile(r".*/go$"), first_answer_warming_up)
    page.select_option("#model", "tiny-sentiment")
    page.click("#example")
    page.click("#run")

    expect(page.locator("#status")).to_have_text("The model is still warming up: it is loading.")
    expect(page.locator("#elapsed")).to_have_text(re.compile(r"^\d+ s elapsed$"))
    expect(page.locator("#cancel")).to_be_visible()
    page.locator("#result article").wait_for(timeout=ANSWER_TIMEOUT_MS)
    assert len(posts) == 2
    expect(page.locator("#progress")).to_be_hidden()


def test_the_page_posts_to_its_own_path_under_a_stage_prefix(blank_page: Any, bot_server: Any) -> None:
    """API Gateway serves the page at /prod/go: the form must post there, not to /go."""
    seen: list[str] = []

    def strip_stage(route: Any) -> None:
        seen.append(f"{route.request.method} {route.request.url}")
        response = route.fetch(url=route.request.url.replace("/prod/go", "/go"))
        route.fulfill(response=response)

    blank_page.route(re.compile(r".*/prod/go.*"), strip_stage)
    blank_page.goto(f"{bot_server.url}/prod/go")
    blank_page.select_option("#model", "tiny-sentiment")
    blank_page.click("#example")

    run(blank_page)

    assert f"POST {bot_server.url}/prod/go" in seen


def test_the_passcode_is_asked_once_then_the_form_opens(blank_page: Any, locked_server: Any) -> None:
    page = blank_page
    page.goto(f"{locked_server.url}/go")
    expect(page.locator("#login")).to_be_visible()
    expect(page.locator("#tool")).to_be_hidden()
    expect(page.locator("#model option")).to_have_count(0)

    page.fill("#passcode", "not the passcode")
    page.click("#login-form button")
    expect(page.locator("#login-error")).to_have_text("That passcode is not right.")

    page.fill("#passcode", PASSCODE)
    page.click("#login-form button")
    expect(page.locator("#tool")).to_be_visible()
    expect(page.locator("#login")).to_be_hidden()
    expect(page.locator("#model option")).to_have_count(len(ENTRIES))
    (cookie,) = [c for c in page.context.cookies() if c["name"] == "go_session"]
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict"
