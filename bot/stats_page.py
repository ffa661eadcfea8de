"""``/go/stats``: per-model usage, latency and votes, as a server-rendered page.

Charts are inline SVG built here; the page runs no script and loads nothing
from elsewhere. Local mode keeps the figures in ``stats.sqlite``; in AWS they
are CloudWatch metrics, shown on the stack's dashboard instead.
"""

from __future__ import annotations

import html
import math
import time
from collections.abc import Sequence

from bot.form_page import new_nonce, page_headers
from bot.http import Response
from bot.metrics import LocalStats, ModelSample
from inference.registry import Registry

BUCKETS = 24
WIDTH, HEIGHT = 360, 110


def percentile(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (0 for no values)."""
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q / 100 * len(ordered)) - 1)]


def _requests_chart(samples: list[ModelSample], now: float) -> str:
    """Bars of requests per time bucket, from the first request to now; errors stacked in red."""
    if not samples:
        return '<p class="empty">No requests yet.</p>'
    start = samples[0].at
    span = max(now - start, 60.0)
    counts, errors = [0] * BUCKETS, [0] * BUCKETS
    for sample in samples:
        index = min(BUCKETS - 1, int((sample.at - start) / span * BUCKETS))
        counts[index] += 1
        errors[index] += 0 if sample.ok else 1
    top = max(counts)
    bar = WIDTH / BUCKETS
    parts = []
    for i, (count, failed) in enumerate(zip(counts, errors, strict=True)):
        if not count:
            continue
        h = (HEIGHT - 20) * count / top
        h_err = (HEIGHT - 20) * failed / top
        x = i * bar + 1
        parts.append(
            f'<rect class="ok" x="{x:.1f}" y="{HEIGHT - 14 - h:.1f}" width="{bar - 2:.1f}" height="{h:.1f}"><title>{count} request(s)</title></rect>'
        )
        if failed:
            parts.append(
                f'<rect class="err" x="{x:.1f}" y="{HEIGHT - 14 - h_err:.1f}" width="{bar - 2:.1f}" height="{h_err:.1f}"><title>{failed} failed</title></rect>'
            )
    label = f"last {span / 60:.0f} min" if span < 7200 else f"last {span / 3600:.1f} h"
    parts.append(
        f'<text x="0" y="{HEIGHT - 2}">{html.escape(label)}</text><text x="{WIDTH}" y="{HEIGHT - 2}" text-anchor="end">now · peak {top}</text>'
    )
    return f'<svg role="img" aria-label="Requests over time" viewBox="0 0 {WIDTH} {HEIGHT}" width="{WIDTH}" height="{HEIGHT}">{"".join(parts)}</svg>'


def _latency_chart(samples: list[ModelSample]) -> str:
    """p50 and p95 of inference and of load + inference, as horizontal bars."""
    ok = [s for s in samples if s.ok]
    if not ok:
        return ""
    rows = [
        ("inference p50", percentile([s.inference_ms for s in ok], 50)),
        ("inference p95", percentile([s.inference_ms for s in ok], 95)),
        ("with load p50", percentile([s.inference_ms + s.load_ms for s in ok], 50)),
        ("with load p95", percentile([s.inference_ms + s.load_ms for s in ok], 95)),
    ]
    top = max(v for _, v in rows) or 1.0
    parts = []
    for i, (name, value) in enumerate(rows):
        y = i * 22
        w = max(1.0, (WIDTH - 170) * value / top)  # room for the label after the bar
        parts.append(
            f'<text x="0" y="{y + 14}">{name}</text><rect class="lat" x="90" y="{y + 4}" width="{w:.1f}" height="14"/>'
            f'<text x="{96 + w:.1f}" y="{y + 15}">{value:,.0f} ms</text>'
        )
    return f'<svg role="img" aria-label="Latency percentiles" viewBox="0 0 {WIDTH} 90" width="{WIDTH}" height="90">{"".join(parts)}</svg>'


def _votes(up: int, down: int) -> str:
    total = up + down
    if not total:
        return '<p class="empty">No votes yet.</p>'
    share = up / total
    w = WIDTH * share
    return (
        f'<svg role="img" aria-label="Share of thumbs up" viewBox="0 0 {WIDTH} 22" width="{WIDTH}" height="22">'
        f'<rect class="down" x="0" y="0" width="{WIDTH}" height="14"/><rect class="up" x="0" y="0" width="{w:.1f}" height="14"/></svg>'
        f"<p>👍 {up} · 👎 {down} · {share:.0%} positive</p>"
    )


STYLE = """
body{font:15px/1.5 system-ui,sans-serif;margin:0;background:#f6f7f9;color:#1d1f23}
header{padding:1.2rem 2rem;background:#1d1f23;color:#fff}header a{color:#ffd21e}
main{display:grid;grid-template-columns:repeat(auto-fill,minmax(400px,1fr));gap:1rem;padding:1.5rem 2rem}
section{background:#fff;border-radius:10px;padding:1rem 1.2rem;box-shadow:0 1px 3px #0002}
h2{font-size:1.05rem;margin:0 0 .2rem}.meta{color:#5b6170;font-size:.85rem;margin:0 0 .6rem}
svg text{font-size:11px;fill:#5b6170}rect.ok{fill:#4f7df3}rect.err{fill:#e5484d}rect.lat{fill:#8e6df3}
rect.up{fill:#2fb36f}rect.down{fill:#e5484d}.empty{color:#8a90a0}table{border-collapse:collapse}
td,th{padding:.2rem .8rem .2rem 0;text-align:left}
@media (prefers-color-scheme:dark){body{background:#14161a;color:#e6e8ec}section{background:#1e2127}}
"""


def render_stats(registry: Registry, stats: LocalStats | None, tallies: dict[str, dict[str, int]]) -> Response:
    """The whole page; every registry text is HTML-escaped."""
    nonce = new_nonce()
    now = time.time()
    cards = []
    for spec in registry:
        samples = stats.model_samples(spec.name) if stats else []
        errors = sum(1 for s in samples if not s.ok)
        cold = sum(1 for s in samples if s.cold)
        votes = tallies.get(spec.name, {})
        cards.append(
            f'<section aria-labelledby="m-{html.escape(spec.name)}"><h2 id="m-{html.escape(spec.name)}">{html.escape(spec.title)}</h2>'
            f'<p class="meta"><code>{html.escape(spec.name)}</code> · {html.escape(spec.task)} · '
            f"{len(samples)} request(s), {errors} failed, {cold} cold start(s)</p>"
            f"{_requests_chart(samples, now)}{_latency_chart(samples)}{_votes(votes.get('up', 0), votes.get('down', 0))}</section>"
        )
    if stats is None:
        note = "<p>In AWS these figures are CloudWatch metrics: open the stack's dashboard.</p>"
        entries = ""
    else:
        note = ""
        rows = "".join(
            f"<tr><td>{html.escape(name)}</td><td>{count}</td><td>{ack:,.1f} ms</td></tr>"
            for name, (count, ack) in sorted(stats.entry_counts().items())
        )
        entries = (
            f"<table><tr><th>entry point</th><th>requests</th><th>median ack</th></tr>{rows}</table>" if rows else ""
        )
    body = (
        f'<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">'
        f'<title>Model usage</title><style nonce="{nonce}">{STYLE}</style></head><body>'
        f'<header><h1>Model usage</h1><p><a href="../go">← back to the form</a></p>{note}{entries}</header>'
        f"<main>{''.join(cards)}</main></body></html>"
    )
    return Response(status=200, body=body, headers=page_headers(nonce))
