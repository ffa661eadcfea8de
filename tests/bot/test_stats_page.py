"""/go/stats: server-rendered charts per model, escaped, no scripts, behind the passcode."""

from __future__ import annotations

import time
from pathlib import Path

import yaml

from bot.http import Request
from bot.metrics import LocalStats, ModelSample
from bot.services import Services
from bot.stats_page import percentile, render_stats
from inference.registry import load_registry
from tests.tiny_models import write_registry

ROOT = Path(__file__).resolve().parents[2]


def sample(model: str, *, ok: bool = True, cold: bool = False, inference_ms: float = 10.0) -> ModelSample:
    return ModelSample(model, "text-classification", ok, cold, 900.0 if cold else 0.0, inference_ms, 12, time.time())


def test_percentiles() -> None:
    assert percentile([], 50) == 0.0
    assert percentile([5, 1, 3, 2, 4], 50) == 3
    assert percentile(list(range(1, 101)), 95) == 95


def test_page_has_a_chart_per_model_and_escapes(tmp_path: Path) -> None:
    base = yaml.safe_load((ROOT / "inference" / "models.yaml").read_text())["models"]
    hostile = {**base[0], "name": "evil", "title": "<script>alert(1)</script>", "model": base[0]["model"]}
    registry = load_registry(write_registry(tmp_path / "m.yaml", [*base, hostile]))
    stats = LocalStats(tmp_path / "stats.sqlite")
    for s in (sample("sentiment", cold=True), sample("sentiment"), sample("sentiment", ok=False), sample("evil")):
        stats.add_model(s)
    stats.add_entry("slash_command", 4.0)
    response = render_stats(registry, stats, {"sentiment": {"up": 3, "down": 1}})
    page = response.body
    assert response.status == 200 and response.headers["Content-Type"].startswith("text/html")
    assert "script-src" in response.headers["Content-Security-Policy"] and "<script" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert page.count('aria-label="Requests over time"') == 2
    assert "3 request(s), 1 failed, 1 cold start(s)" in page
    assert "75% positive" in page and "slash_command" in page


def test_route_and_passcode(services: Services) -> None:
    from bot.app import build_bolt_app
    from bot.routes import Router

    router = Router(services, build_bolt_app(services), lambda_mode=False)
    page = router.handle_http(Request(method="GET", path="/go/stats"))
    assert page.status == 200 and "Model usage" in page.body
    assert router.handle_http(Request(method="POST", path="/go/stats")).status == 405
    locked = Services(
        **{
            **services.__dict__,
            "settings": services.settings.__class__(
                **{
                    **services.settings.__dict__,
                    "secrets": services.settings.secrets.__class__(
                        bot_token="x", signing_secret="y" * 10, passcode="pass-word"
                    ),
                }
            ),
        }
    )
    router = Router(locked, build_bolt_app(locked), lambda_mode=False)
    assert router.handle_http(Request(method="GET", path="/go/stats")).status == 303
