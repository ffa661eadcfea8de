"""The page and the form's 429s: it shows them in plain words and asks again after ``Retry-After`` (issue 19, item 2)."""

from __future__ import annotations

import re
import time
from typing import Any

from playwright.sync_api import expect

from tests.browser.conftest import ANSWER_TIMEOUT_MS, BROWSER_MARKS, run

pytestmark = BROWSER_MARKS

BUSY = "The model is busy with other requests: Tiny text-classification takes yours as soon as it can."
#: Longer than the page's own default wait (3 s), so a retry this late proves it read the header.
RETRY_AFTER_SECONDS = 4


def test_a_busy_model_is_shown_in_plain_words_and_asked_again_after_retry_after(page: Any) -> None:
    posts: list[float] = []

    def first_answer_busy(route: Any) -> None:
        if route.request.method != "POST":
            route.continue_()
            return
        posts.append(time.monotonic())
        if len(posts) > 1:
            route.continue_()
            return
        body = {"error": {"type": "busy", "message": BUSY}}
        route.fulfill(status=429, json=body, headers={"Retry-After": str(RETRY_AFTER_SECONDS)})

    page.route(re.compile(r".*/go$"), first_answer_busy)
    page.select_option("#model", "tiny-sentiment")
    page.click("#example")
    page.click("#run")

    expect(page.locator("#status")).to_have_text(BUSY)
    expect(page.locator("#error")).to_be_hidden()
    page.locator("#result article").wait_for(timeout=ANSWER_TIMEOUT_MS)
    assert len(posts) == 2
    assert posts[1] - posts[0] >= RETRY_AFTER_SECONDS - 0.1
    expect(page.locator("#progress")).to_be_hidden()


def test_too_much_feedback_is_shown_in_plain_words(page: Any) -> None:
    message = "That is a lot of feedback from here in one hour. Try again in about 12 minute(s)."

    def refused(route: Any) -> None:
        body = {"error": {"type": "too_much_feedback", "message": message}}
        route.fulfill(status=429, json=body, headers={"Retry-After": "700"})

    page.route(re.compile(r".*/go/feedback$"), refused)
    page.select_option("#model", "tiny-sentiment")
    page.click("#example")
    answer = run(page)

    answer.locator("button.vote").nth(0).click()

    expect(answer.locator(".feedback-status")).to_have_text(message)
    expect(answer.locator(".feedback-status")).to_have_class(re.compile(r"\berror\b"))
