"""/go/stats in headless Chromium at a phone's width, in the light and the dark theme.

The server's data folder is filled before it starts: a fast model (3 ms), a
slow one (157 ms) and votes. What a person would see is measured from the
rendered page: the document's width, the contrast of every piece of text with
the background behind it (WCAG AA: 4.5:1) and of every bar (3:1), both from
computed styles, and the bars' lengths on screen.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from playwright.sync_api import expect

from bot.stores.feedback import Answer, SqliteFeedbackStore
from bot.stores.stats import LocalStats, ModelSample
from tests.browser.conftest import BROWSER_MARKS
from tests.conftest import BotServer, start_server, stop_server
from tests.tiny_models import write_registry

pytestmark = BROWSER_MARKS

ROOT = Path(__file__).resolve().parents[2]
PHONE = {"width": 390, "height": 844}
FAST_MS, SLOW_MS = 3.0, 157.0
#: Each theme's page background, as the stylesheet sets it: proof that the nonce let the style in.
BACKGROUNDS = {"light": "rgb(246, 247, 249)", "dark": "rgb(15, 17, 21)"}
TEXT_AA, GRAPHICS_AA = 4.5, 3.0

#: WCAG 2 contrast of each visible text node (its colour, or its fill in SVG) and of each bar, against the
#: first opaque background behind it.
MEASURE = """() => {
  const parse = (c) => {
    const [r, g, b, a = 1] = c.match(/[\\d.]+/g).map(Number);
    return { r, g, b, a };
  };
  const luminance = ({ r, g, b }) => {
    const f = (v) => ((v /= 255) <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4);
    return 0.2126 * f(r) + 0.7152 * f(g) + 0.0722 * f(b);
  };
  const ratio = (x, y) => {
    const [hi, lo] = [luminance(x), luminance(y)].sort((p, q) => q - p);
    return (hi + 0.05) / (lo + 0.05);
  };
  const behind = (el) => {
    for (let e = el.parentElement; e; e = e.parentElement) {
      const c = parse(getComputedStyle(e).backgroundColor);
      if (c.a > 0) return c;
    }
    return { r: 255, g: 255, b: 255, a: 1 };
  };
  const own = (el) => {
    const c = parse(getComputedStyle(el).backgroundColor);
    return c.a > 0 ? c : behind(el);
  };
  const texts = [];
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  while (walker.nextNode()) {
    const node = walker.currentNode, el = node.parentElement;
    if (!node.textContent.trim() || el.closest("title") || !el.getClientRects().length) continue;
    const style = getComputedStyle(el);
    const fg = parse(el instanceof SVGElement ? style.fill : style.color);
    texts.push({ text: node.textContent.trim().slice(0, 50), ratio: ratio(fg, own(el)) });
  }
  const graphics = [...document.querySelectorAll("rect, .swatch")].map((el) => ({
    what: el.getAttribute("class"),
    ratio: ratio(parse(el instanceof SVGElement ? getComputedStyle(el).fill : getComputedStyle(el).backgroundColor), behind(el)),
  }));
  return { scrollWidth: document.documentElement.scrollWidth, texts, graphics,
           background: getComputedStyle(document.documentElement).backgroundColor };
}"""


@pytest.fixture(scope="module")
def stats_server(fake_slack: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[BotServer]:
    """A local server whose figures and votes were recorded before it started."""
    workdir = tmp_path_factory.mktemp("stats-server")
    entries = yaml.safe_load((ROOT / "inference" / "models.yaml").read_text())["models"][:3]
    registry = write_registry(workdir / "models.yaml", entries)
    stats, now = LocalStats(workdir / "data" / "stats.sqlite"), time.time()
    for i in range(40):
        load_ms = 900.0 if i == 0 else 0.0
        stats.add_model(
            ModelSample("sentiment", "text-classification", i % 10 != 9, i == 0, load_ms, FAST_MS, 20, now - i * 60)
        )
    for i in range(12):
        load_ms = 4100.0 if i < 2 else 0.0
        stats.add_model(ModelSample("summarize", "summarization", True, i < 2, load_ms, SLOW_MS, 900, now - i * 150))
    for entry, ack_ms in (("slash_command", 4.0), ("form", 2.5), ("form", 3.5), ("feedback", 2.0)):
        stats.add_entry(entry, ack_ms)
    feedback = SqliteFeedbackStore(workdir / "data" / "feedback.sqlite")
    for i in range(15):
        feedback.record_answer(
            Answer(
                request_id=f"r{i}", model="sentiment", revision=None, task="text-classification", input="", output=[]
            )
        )
        feedback.vote(f"r{i}", f"form:{i}", "up" if i < 12 else "down")
    server = start_server(registry=registry, slack=fake_slack, workdir=workdir)
    yield server
    stop_server(server)


def open_stats(page: Any, server: BotServer, scheme: str) -> dict[str, Any]:
    page.set_viewport_size(PHONE)
    page.emulate_media(color_scheme=scheme)
    page.goto(f"{server.url}/go/stats")
    return page.evaluate(MEASURE)


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_a_phone_sees_the_whole_page_with_aa_contrast(blank_page: Any, stats_server: BotServer, scheme: str) -> None:
    measured = open_stats(blank_page, stats_server, scheme)

    assert measured["background"] == BACKGROUNDS[scheme]
    assert measured["scrollWidth"] <= PHONE["width"]
    texts, graphics = measured["texts"], measured["graphics"]
    assert len(texts) > 50 and len(graphics) > 20
    assert [t for t in texts if t["ratio"] < TEXT_AA] == []
    assert [g for g in graphics if g["ratio"] < GRAPHICS_AA] == []
    print(
        f"\n{scheme}: scrollWidth {measured['scrollWidth']} at {PHONE['width']} px; lowest contrast: text "
        f"{min(t['ratio'] for t in texts):.2f}:1, bars {min(g['ratio'] for g in graphics):.2f}:1"
    )


def test_latency_bars_share_one_scale_across_cards(blank_page: Any, stats_server: BotServer) -> None:
    open_stats(blank_page, stats_server, "light")

    def answer_bars(name: str) -> list[float]:
        card = blank_page.locator("section.card", has=blank_page.locator("code", has_text=name))
        return [box["width"] for box in (bar.bounding_box() for bar in card.locator("rect.answer").all())]

    fast, slow = answer_bars("sentiment"), answer_bars("summarize")
    assert len(fast) == len(slow) == 2
    assert fast[0] / slow[0] == pytest.approx(FAST_MS / SLOW_MS, rel=0.05)
    axis = blank_page.locator('svg[aria-label="Latency percentiles"]').first
    expect(axis.locator("text", has_text="200 ms")).to_be_visible()


def test_the_vote_bar_and_the_figures_are_in_words(blank_page: Any, stats_server: BotServer) -> None:
    open_stats(blank_page, stats_server, "light")

    card = blank_page.locator("section.card", has=blank_page.locator("code", has_text="sentiment"))
    expect(card.get_by_text("👍 12 of 15 (80 %)")).to_be_visible()
    expect(card.get_by_role("img", name="👍 12 of 15 (80 %), 👎 3 of 15")).to_be_visible()
    expect(card.locator(".summary")).to_have_text(
        "40 requests in the last hour: 36 answered, 4 failed. 1 of them had to wait for the model to load first."
    )
    expect(blank_page.get_by_role("row", name="This web form 2 2.5 ms")).to_be_visible()
