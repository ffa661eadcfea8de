"""The /go form in headless Chromium, against ``python -m bot serve`` with the tiny models.

Each test saves a screenshot under ``test-output/browser/`` so a person can
look at what the page showed.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect, sync_playwright

from tests.conftest import PASSCODE, start_server, stop_server
from tests.tiny_models import ENTRIES

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-quic",
    "--no-first-run",
    "--disable-component-update",
    "--disable-sync",
]
OUTPUT_DIR = Path(__file__).resolve().parents[2] / "test-output" / "browser"
#: A cold tiny model loads in seconds, but the page may also go through a "warming up" retry.
ANSWER_TIMEOUT_MS = 120_000

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian's chromium is not installed at /usr/bin/chromium"),
]


def example_of(name: str) -> str:
    return next(entry["example"] for entry in ENTRIES if entry["name"] == name)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        yield chromium
        chromium.close()


@pytest.fixture(scope="module")
def locked_server(tiny_registry: Path, fake_slack: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """A second local server whose form asks for a passcode."""
    server = start_server(
        registry=tiny_registry,
        slack=fake_slack,
        workdir=tmp_path_factory.mktemp("locked-server"),
        extra_env={"DEMO_PASSCODE": PASSCODE},
    )
    yield server
    stop_server(server)


@pytest.fixture
def blank_page(browser: Any, request: pytest.FixtureRequest) -> Iterator[Any]:
    """A fresh page; fails the test on any script error or policy violation, and keeps a screenshot."""
    context = browser.new_context(viewport={"width": 1000, "height": 900})
    page = context.new_page()
    problems: list[str] = []
    page.on("pageerror", lambda error: problems.append(f"page error: {error}"))
    page.on(
        "console",
        lambda message: problems.append(message.text) if "Content Security Policy" in message.text else None,
    )
    yield page
    OUTPUT_DIR.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(OUTPUT_DIR / f"{request.node.name}.png"), full_page=True)
    context.close()
    assert problems == []


@pytest.fixture
def page(blank_page: Any, bot_server: Any) -> Any:
    """A fresh page on the local server's /go."""
    blank_page.goto(f"{bot_server.url}/go")
    return blank_page


def run(page: Any) -> Any:
    """Submit the form and wait for the rendered answer."""
    page.click("#run")
    result = page.locator("#result article")
    result.wait_for(timeout=ANSWER_TIMEOUT_MS)
    return result


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
    (cookie,) = page.context.cookies()
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict"
