"""The form's chat mode in headless Chromium, against ``python -m bot serve`` with the tiny chat model.

Each turn's request is read as the page sent it, so the conversation is checked by what the server
received; the random-weight model's words are only shown. The second test takes the README's
screenshot (docs/img/chat.png, rewritten with ``UPDATE_DOCS_SCREENSHOTS=1``).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from playwright.sync_api import expect

from tests.browser.conftest import ANSWER_TIMEOUT_MS, BROWSER_MARKS, OUTPUT_DIR

pytestmark = BROWSER_MARKS
SCREENSHOT = Path(__file__).resolve().parents[2] / "docs" / "img" / "chat.png"


def runs_sent(page: Any) -> list[dict[str, Any]]:
    """Every POST /go body the page sends from now on."""
    sent: list[dict[str, Any]] = []

    def record(request: Any) -> None:
        if request.method == "POST" and request.url.rstrip("/").endswith("/go"):
            sent.append(json.loads(request.post_data or "{}"))

    page.on("request", record)
    return sent


def say(page: Any, text: str, answers: int) -> None:
    page.fill("#text", text)
    page.click("#run")
    expect(page.locator("#chat-log .turn.assistant")).to_have_count(answers, timeout=ANSWER_TIMEOUT_MS)


def test_two_turns_keep_the_conversation_on_the_page_and_send_it_with_the_second(page: Any) -> None:
    sent = runs_sent(page)
    page.click('label[for="mode-chat"]')
    expect(page.locator("#chat")).to_be_visible()
    expect(page.locator("#run")).to_have_text("Send")
    assert page.locator("#model").input_value() == "tiny-ask"
    assert page.locator('#model option[value="tiny-sentiment"]').is_disabled()

    say(page, "Where is the <b>tower</b>?", 1)
    say(page, "And how tall is it?", 2)

    turns = page.locator("#chat-log .turn")
    expect(turns).to_have_count(4)
    expect(turns.nth(0)).to_contain_text("Where is the <b>tower</b>?")  # shown as typed, never as markup
    assert page.locator("#chat-log b").count() == 0
    expect(page.locator("#text")).to_have_value("")
    first, second = sent
    assert first["messages"] == [] and first["text"] == "Where is the <b>tower</b>?"
    assert second["text"] == "And how tall is it?"
    assert [m["role"] for m in second["messages"]] == ["user", "assistant"]
    assert second["messages"][0]["content"] == "Where is the <b>tower</b>?"

    page.click("#chat-new")
    expect(page.locator("#chat-log .turn")).to_have_count(0)
    say(page, "A new start", 1)
    assert sent[-1]["messages"] == []


def test_the_readme_screenshot_of_a_conversation(page: Any) -> None:
    page.click('label[for="mode-chat"]')
    say(page, "Where is the tower?", 1)
    say(page, "How tall is it?", 2)
    # The README's copy changes only when asked (its timings and ids differ on every run); else test-output/.
    path = SCREENSHOT if os.environ.get("UPDATE_DOCS_SCREENSHOTS") else OUTPUT_DIR / SCREENSHOT.name
    path.parent.mkdir(parents=True, exist_ok=True)
    page.locator("main").screenshot(path=str(path))
