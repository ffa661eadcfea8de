"""Headless Chromium against ``python -m bot serve`` with the tiny models: shared fixtures.

Each test's page is kept as a screenshot under ``test-output/browser/`` so a
person can look at what it showed.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import sync_playwright

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
#: Every browser test module carries these marks.
BROWSER_MARKS = [
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
