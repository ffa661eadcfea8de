"""Compare mode, feedback and /go/stats in headless Chromium, against ``python -m bot serve``."""

from __future__ import annotations

import json
import re
from typing import Any

from playwright.sync_api import expect

from bot.stores.feedback import SqliteFeedbackStore
from tests.browser.conftest import ANSWER_TIMEOUT_MS, BROWSER_MARKS, example_of, run

pytestmark = BROWSER_MARKS

NER_TEXT = example_of("tiny-ner")


def compare(page: Any, *titles: str) -> None:
    """Switch to compare mode and pick exactly the models with these titles."""
    page.click("label[for=mode-compare]")  # as a person does: the radio itself is hidden under the switch
    for box in page.locator("#compare-picks input").all():
        box.uncheck()
    for title in titles:
        page.locator(".pick", has_text=title).locator("input").check()


def model_posts(page: Any) -> list[str]:
    """Records the model each ``POST /go`` of the page names, in order."""
    posts: list[str] = []

    def seen(request: Any) -> None:
        if request.method == "POST" and re.search(r"/go$", request.url):
            posts.append(json.loads(request.post_data)["model"])

    page.on("request", seen)
    return posts


def column(page: Any, title: str) -> Any:
    return page.locator(".columns article", has=page.locator("h3", has_text=title))


def test_comparing_two_models_fills_a_column_each(page: Any) -> None:
    posts = model_posts(page)
    compare(page, "Tiny text-classification", "Tiny token-classification")
    expect(page.locator("#run")).to_have_text("Compare")
    expect(page.locator("#compare-about li")).to_have_count(2)
    page.fill("#text", NER_TEXT)

    page.click("#run")

    sentiment, ner = column(page, "Tiny text-classification"), column(page, "Tiny token-classification")
    for answer in (sentiment, ner):
        answer.locator(".meta").wait_for(timeout=ANSWER_TIMEOUT_MS)
        expect(answer.locator(".meta")).to_contain_text("round trip")
        expect(answer.locator(".feedback button.vote")).to_have_count(2)
    assert sentiment.locator(".bar-row").count() >= 2
    expect(ner.locator(".passage").or_(ner.get_by_text("No entities found in this text."))).to_be_visible()
    assert sorted(posts) == ["tiny-ner", "tiny-sentiment"]
    expect(page.locator("#progress")).to_be_hidden()


def test_no_more_than_three_models_can_be_picked(page: Any) -> None:
    compare(page, "Tiny text-classification", "Tiny token-classification", "Tiny summarization")

    expect(page.locator("#compare-count")).to_have_text("3 of 3 chosen.")
    expect(page.locator("#compare-picks input:not(:checked)").first).to_be_disabled()
    assert page.locator("#compare-picks input:not(:checked):enabled").count() == 0


def test_models_that_cannot_take_the_text_are_refused_before_any_run(page: Any) -> None:
    posts = model_posts(page)
    compare(page, "Tiny text-classification", "Tiny question-answering")
    page.fill("#text", "a sentence with no question in it")

    page.click("#run")

    expect(page.locator("#error")).to_contain_text("can't take this input")
    expect(page.locator("#error code").first).to_have_text("tiny-qa")
    expect(page.locator(".columns")).to_have_count(0)
    assert posts == []


def test_a_failing_model_shows_its_error_in_its_column_and_the_other_answers(page: Any) -> None:
    def ner_fails(route: Any) -> None:
        if route.request.method == "POST" and json.loads(route.request.post_data)["model"] == "tiny-ner":
            error = {"type": "internal_error", "message": "Tiny token-classification failed on our side."}
            route.fulfill(status=502, json={"error": error})
        else:
            route.continue_()

    page.route(re.compile(r".*/go$"), ner_fails)
    compare(page, "Tiny text-classification", "Tiny token-classification")
    page.fill("#text", NER_TEXT)

    page.click("#run")

    failed = column(page, "Tiny token-classification")
    expect(failed.locator(".error")).to_have_text("Tiny token-classification failed on our side.")
    expect(failed).to_have_class(re.compile(r"\bfailed\b"))
    column(page, "Tiny text-classification").locator(".meta").wait_for(timeout=ANSWER_TIMEOUT_MS)
    expect(failed.locator(".feedback")).to_have_count(0)


def test_a_warming_up_column_shows_progress_and_retries_by_itself(page: Any) -> None:
    posts = model_posts(page)
    warming: list[str] = []

    def ner_warms_up_once(route: Any) -> None:
        if (
            route.request.method == "POST"
            and json.loads(route.request.post_data)["model"] == "tiny-ner"
            and not warming
        ):
            warming.append("tiny-ner")
            body = {"status": "warming_up", "retry_after": 2, "message": "Tiny token-classification is loading."}
            route.fulfill(status=202, json=body, headers={"Retry-After": "2"})
        else:
            route.continue_()

    page.route(re.compile(r".*/go$"), ner_warms_up_once)
    compare(page, "Tiny text-classification", "Tiny token-classification")
    page.fill("#text", NER_TEXT)

    page.click("#run")

    ner = column(page, "Tiny token-classification")
    expect(ner.locator(".progress")).to_contain_text("Tiny token-classification is loading.")
    ner.locator(".meta").wait_for(timeout=ANSWER_TIMEOUT_MS)
    assert posts.count("tiny-ner") == 2
    assert posts.count("tiny-sentiment") == 1


def test_a_vote_shows_the_count_and_voting_again_changes_it(page: Any) -> None:
    page.select_option("#model", "tiny-sentiment")
    page.click("#example")
    answer = run(page)
    up, down = answer.locator("button.vote").nth(0), answer.locator("button.vote").nth(1)

    up.click()

    expect(up.locator(".count")).to_have_text("1")
    expect(up).to_have_attribute("aria-pressed", "true")
    expect(answer.locator(".feedback-status")).to_contain_text("1 👍 · 0 👎")
    (cookie,) = [c for c in page.context.cookies() if c["name"] == "go_voter"]
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict"

    down.click()

    expect(down.locator(".count")).to_have_text("1")
    expect(up.locator(".count")).to_have_text("0")
    expect(up).to_have_attribute("aria-pressed", "false")
    expect(down).to_have_attribute("aria-pressed", "true")


def test_a_comment_is_added_inline_and_stored(page: Any, bot_server: Any) -> None:
    page.select_option("#model", "tiny-sentiment")
    page.click("#example")
    answer = run(page)
    request_id = answer.locator(".meta").inner_text().rsplit("request ", 1)[1].strip()
    opener = answer.get_by_role("button", name="Add a comment")

    opener.click()
    box = answer.get_by_label("Your comment")
    expect(box).to_be_focused()
    box.fill("Right label, but <b>too</b> unsure.")
    answer.get_by_role("button", name="Send comment").click()

    expect(answer.locator(".feedback-status")).to_contain_text("1 comment")
    expect(box).to_be_hidden()
    expect(answer.get_by_role("button", name="Edit your comment")).to_be_focused()
    store = SqliteFeedbackStore(bot_server.data_dir / "feedback.sqlite")
    (vote,) = [v for v in store.votes() if v.request_id == request_id]
    assert vote.comment == "Right label, but <b>too</b> unsure."
    assert vote.voter.startswith("form:")
    assert vote.answer is not None and vote.answer.source == "form" and vote.answer.model == "tiny-sentiment"


def test_stats_shows_a_chart_per_model_after_some_requests(page: Any) -> None:
    page.select_option("#model", "tiny-sentiment")
    page.click("#example")
    run(page)

    page.click("#stats-link")

    expect(page).to_have_url(re.compile(r"/go/stats$"))
    card = page.locator("section", has=page.locator("code", has_text=re.compile(r"^tiny-sentiment$")))
    chart = card.locator('svg[aria-label="Requests over time"]')
    expect(chart).to_be_visible()
    assert chart.locator("rect.ok").count() >= 1
    expect(card.locator('svg[aria-label="Latency percentiles"]')).to_be_visible()
