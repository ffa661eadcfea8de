"""The form shows a streaming model's text as it arrives, in headless Chromium (a screenshot is kept)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.browser.conftest import CHROMIUM, OUTPUT_DIR, blank_page, browser  # noqa: F401 (the fixtures)
from tests.conftest import BotServer
from tests.e2e.test_streaming import streaming_server  # noqa: F401 (the fixture, shared with the Slack tests)

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.slow,
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian's chromium is not installed at /usr/bin/chromium"),
]


def test_the_form_shows_the_text_so_far_then_the_answer(
    streaming_server: BotServer,  # noqa: F811
    blank_page: Any,  # noqa: F811
) -> None:
    from playwright.sync_api import expect

    page = blank_page
    page.goto(f"{streaming_server.url}/go")
    page.select_option("#model", "chat")
    page.fill("#text", "Where is the tower?")
    page.click("#run")
    partial = page.locator("#result article.partial")
    expect(partial).to_contain_text("still writing", timeout=60_000)
    first = partial.locator("p.prose").inner_text()
    OUTPUT_DIR.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(OUTPUT_DIR / "streaming-partial.png"), full_page=True)
    answer = page.locator("#result article.result:not(.partial)")
    answer.wait_for(timeout=60_000)
    final = answer.locator("p.prose").inner_text()
    assert first and final.startswith(first[:3])


def test_the_chat_mode_grows_the_models_turn_then_replaces_it(
    streaming_server: BotServer,  # noqa: F811
    blank_page: Any,  # noqa: F811
) -> None:
    from playwright.sync_api import expect

    page = blank_page
    page.goto(f"{streaming_server.url}/go")
    page.click("label[for=mode-chat]")
    page.select_option("#model", "chat")
    page.fill("#text", "Where is the tower?")
    page.click("#run")
    turns = page.locator("#chat-log li.turn.assistant")
    expect(turns.first).to_contain_text("still writing", timeout=60_000)
    OUTPUT_DIR.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(OUTPUT_DIR / "streaming-chat-partial.png"), full_page=True)
    expect(turns.first).not_to_contain_text("still writing", timeout=60_000)
    expect(turns).to_have_count(1)  # the answer took the place of the text so far
    assert turns.first.locator("p.prose").first.inner_text()
