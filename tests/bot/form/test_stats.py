"""/go/stats: one scale per kind of chart across models, axes with units, labelled bars, plain words,
escaped, no scripts, behind the passcode; what the page says when the figures cannot be read."""

from __future__ import annotations

import re
import time
from dataclasses import replace
from pathlib import Path

import pytest
import yaml

from bot.core.http import Request
from bot.core.metrics import ENTRY_POINTS
from bot.core.services import Services
from bot.form.stats import ENTRY_WORDS, nice_ceiling, render_stats
from bot.stores.stats import LocalStats, ModelSample, StatsUnavailable, UsageFigures
from inference.registry import Registry, load_registry
from tests.conftest import ROOT
from tests.tiny_models import write_registry

HOSTILE_TITLE = "<script>alert(1)</script>"


def sample(
    model: str, *, ok: bool = True, load_ms: float = 0.0, inference_ms: float = 10.0, ago: float = 60.0
) -> ModelSample:
    return ModelSample(model, "text-classification", ok, load_ms > 0, load_ms, inference_ms, 12, time.time() - ago)


@pytest.fixture
def registry(tmp_path: Path) -> Registry:
    """The default registry's first two entries and one whose title is markup."""
    base = yaml.safe_load((ROOT / "inference" / "models.yaml").read_text())["models"][:2]
    hostile = {**base[0], "name": "evil", "title": HOSTILE_TITLE}
    return load_registry(write_registry(tmp_path / "m.yaml", [*base, hostile]))


@pytest.fixture
def stats(tmp_path: Path) -> LocalStats:
    return LocalStats(tmp_path / "stats.sqlite")


def card(page: str, name: str) -> str:
    """The HTML of ``name``'s card."""
    match = re.search(rf'<section class="card" aria-labelledby="m-{re.escape(name)}">.*?</section>', page)
    assert match, name
    return match.group(0)


def bars(html: str, css: str) -> list[tuple[float, str]]:
    """(width, the label after it) of each bar of class ``css``."""
    found = re.findall(rf'<rect class="{css}" [^>]*width="([\d.]+)".*?</rect><text class="value"[^>]*>([^<]+)<', html)
    return [(float(width), label) for width, label in found]


def test_axis_ends_are_round_numbers() -> None:
    assert [nice_ceiling(v) for v in (0, 0.3, 1, 3, 5, 6, 7, 157, 900, 4100)] == [
        1,
        0.4,
        1,
        4,
        6,
        6,
        8,
        200,
        1000,
        6000,
    ]


def test_a_3_ms_bar_is_shorter_than_a_157_ms_bar_on_another_card(registry: Registry, stats: LocalStats) -> None:
    for _ in range(5):
        stats.add_model(sample("sentiment", inference_ms=3.0))
        stats.add_model(sample("summarize", inference_ms=157.0))
    page = render_stats(registry, stats, {}).body

    [(fast_p50, fast_label), (fast_p95, _)] = bars(card(page, "sentiment"), "answer")
    [(slow_p50, slow_label), (slow_p95, _)] = bars(card(page, "summarize"), "answer")

    assert (fast_label, slow_label) == ("3 ms", "157 ms")
    assert fast_p50 == fast_p95 and slow_p50 == slow_p95
    assert fast_p50 / slow_p50 == pytest.approx(3 / 157, rel=0.02)
    # Both cards draw the same axis, with its unit.
    for name in ("sentiment", "summarize"):
        ticks = re.findall(r'text-anchor="(?:start|middle)">([^<]+ m?s)</text>', card(page, name))
        assert ticks == ["0 ms", "100 ms", "200 ms"], name


def test_loading_times_share_their_own_scale_in_seconds(registry: Registry, stats: LocalStats) -> None:
    stats.add_model(sample("sentiment", load_ms=900.0))
    stats.add_model(sample("summarize", load_ms=4100.0))
    page = render_stats(registry, stats, {}).body

    [(short, short_label), _] = bars(card(page, "sentiment"), "load")
    [(long, long_label), _] = bars(card(page, "summarize"), "load")

    assert (short_label, long_label) == ("900 ms", "4.1 s")
    assert short / long == pytest.approx(900 / 4100, rel=0.02)
    assert "0 s</text>" in card(page, "sentiment") and "6 s</text>" in card(page, "summarize")
    assert "1 of them had to wait for the model to load first." in card(page, "sentiment")


def test_request_columns_share_one_count_axis(registry: Registry, stats: LocalStats) -> None:
    for _ in range(6):
        stats.add_model(sample("sentiment"))
    stats.add_model(sample("summarize"))
    stats.add_model(sample("summarize", ok=False))
    page = render_stats(registry, stats, {}).body

    def columns(name: str) -> dict[str, float]:
        return {
            css: float(h) for css, h in re.findall(r'<rect class="(ok|err)" [^>]*height="([\d.]+)"', card(page, name))
        }

    assert columns("summarize")["ok"] == columns("summarize")["err"] == pytest.approx(columns("sentiment")["ok"] / 6)
    for name in ("sentiment", "summarize"):
        html = card(page, name)
        assert "<h3>Requests per 10 seconds</h3>" in html
        assert re.findall(r'text-anchor="end">(\d+)</text>', html) == ["0", "3", "6"]
        assert ">5 minutes ago</text>" in html and ">2.5 minutes ago</text>" in html and ">now</text>" in html
    assert "2 requests in the last 5 minutes: 1 answered, 1 failed." in card(page, "summarize")


def test_the_vote_bar_says_what_it_shows(registry: Registry, stats: LocalStats) -> None:
    page = render_stats(registry, stats, {"sentiment": {"up": 12, "down": 3}}).body

    votes = card(page, "sentiment")
    assert 'aria-label="👍 12 of 15 (80 %), 👎 3 of 15"' in votes
    assert '<p class="votes"><span>👍 12 of 15 (80 %)</span><span>👎 3 of 15</span></p>' in votes
    up, down = (float(w) for w in re.findall(r'<rect class="(?:up|down)" x="[\d.]+" y="0" width="([\d.]+)"', votes))
    assert up / (up + down) == pytest.approx(0.8)
    assert "No votes yet." in card(page, "summarize")


def test_every_text_is_escaped_and_the_page_runs_no_script(registry: Registry, stats: LocalStats) -> None:
    stats.add_model(sample("evil"))
    response = render_stats(registry, stats, {})
    page = response.body

    assert response.status == 200 and response.headers["Content-Type"].startswith("text/html")
    policy = response.headers["Content-Security-Policy"]
    (nonce,) = re.findall(r"style-src 'nonce-([^']+)'", policy)
    assert f'<style nonce="{nonce}">' in page and " style=" not in page
    assert "<script" not in page and HOSTILE_TITLE not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page


def test_people_see_how_they_reached_the_bot_in_plain_words(registry: Registry, stats: LocalStats) -> None:
    assert set(ENTRY_WORDS) == set(ENTRY_POINTS)
    for ack in (3.0, 5.0, 40.0):
        stats.add_entry("slash_command", ack)
    page = render_stats(registry, stats, {}).body

    assert "<td>Slack slash commands</td><td class='number'>3</td><td class='number'>5 ms</td>" in page
    assert "This web form" not in page  # nobody came in that way


def test_the_window_fits_the_requests_and_drops_what_is_older_than_a_week(
    registry: Registry, stats: LocalStats
) -> None:
    stats.add_model(sample("sentiment", ago=5 * 3600))
    stats.add_model(sample("sentiment", ago=8 * 86400))
    page = render_stats(registry, stats, {}).body

    assert "Figures for the last 6 hours, recorded on this computer." in page
    assert "1 request in the last 6 hours: 1 answered, 0 failed." in card(page, "sentiment")
    assert "<h3>Requests per 15 minutes</h3>" in card(page, "sentiment")


class Unavailable:
    def figures(self, registry: Registry) -> UsageFigures:
        raise StatsUnavailable("the router is not allowed to read <CloudWatch> metrics")


def test_figures_that_cannot_be_read_are_not_shown_as_zero(registry: Registry) -> None:
    page = render_stats(registry, Unavailable(), {"sentiment": {"up": 1, "down": 0}}).body

    assert "could not be read just now (the router is not allowed to read &lt;CloudWatch&gt; metrics)" in page
    assert "0 requests" not in page and "Not used" not in page
    assert page.count("Usage figures are not available right now.") == 3
    assert "👍 1 of 1 (100 %)" in page


def test_route_and_passcode(services: Services) -> None:
    from bot.app import build_bolt_app
    from bot.router import Router

    router = Router(services, build_bolt_app(services), lambda_mode=False)
    page = router.handle_http(Request(method="GET", path="/go/stats"))
    assert page.status == 200 and "Model usage" in page.body and "recorded on this computer" in page.body
    assert router.handle_http(Request(method="POST", path="/go/stats")).status == 405
    secrets = replace(services.settings.secrets, passcode="pass-word")  # the same deployment, now locked
    locked = replace(services, settings=replace(services.settings, secrets=secrets))
    router = Router(locked, build_bolt_app(locked), lambda_mode=False)
    assert router.handle_http(Request(method="GET", path="/go/stats")).status == 303
