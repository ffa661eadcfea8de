"""``/go/stats``: how each model is used, how fast it answers and what people think of it.

Written for stakeholders: every chart says what it counts and in which unit,
every bar carries its number, and charts of one kind share one scale across
all cards, so a longer bar always means more requests or a slower answer. The
figures come from a ``UsageSource`` (local mode's SQLite file, or CloudWatch in
AWS), the votes from the feedback store. Charts are inline SVG built here; the
page runs no script, loads nothing from elsewhere, and its one stylesheet
(``bot/form/web/stats.css``) is inlined under the response's CSP nonce.
"""

from __future__ import annotations

import functools
import html
import math

from bot.core.http import Response
from bot.core.metrics import ENTRY_POINTS
from bot.form.page import WEB_DIR, new_nonce, page_headers
from bot.stores.stats import ModelFigures, Spread, StatsUnavailable, UsageFigures, UsageSource, Window
from inference.registry import ModelSpec, Registry
from inference.tasks import get_task

#: Width of every chart's coordinate system; the charts scale to the card's width.
WIDTH = 340
#: Requests chart: room for the count labels on the left and the time labels below.
REQ_LEFT, REQ_TOP, REQ_PLOT_HEIGHT, REQ_BOTTOM = 36, 8, 90, 22
#: Time charts: one labelled bar per row, the value after the bar, the axis below.
ROW_HEIGHT, BAR_HEIGHT, VALUE_ROOM, AXIS_ROOM = 36, 12, 64, 26
#: How people reach the bot, in their words.
ENTRY_WORDS = {
    "slash_command": "Slack slash commands",
    "mention": "Mentions of the bot in Slack",
    "shortcut": "Slack's message shortcut",
    "form": "This web form",
    "feedback": "Votes and comments",
}
UNITS = (("day", 86400), ("hour", 3600), ("minute", 60), ("second", 1))


@functools.cache
def _style() -> str:
    return (WEB_DIR / "stats.css").read_text(encoding="utf-8")


def _plural(count: int, word: str) -> str:
    return f"{count:,} {word}{'' if count == 1 else 's'}"


def _span(seconds: float) -> str:
    """A length of time in the largest unit that gives at least 1 in halves: '7 days', '3.5 days', '30 minutes'."""
    for unit, size in UNITS:
        value = seconds / size
        if value >= 1 and (value * 2).is_integer():
            return f"{value:g} {unit}{'' if value == 1 else 's'}"
    return f"{seconds:g} seconds"


def _last(seconds: float) -> str:
    """'the last 7 days', 'the last hour'."""
    return "the last " + _span(seconds).removeprefix("1 ")


def _ms(value: float, *, like: float | None = None) -> str:
    """A time for people: '3.2 ms', '157 ms', '1.4 s'; in seconds too if ``like`` (an axis's end) is."""
    if value >= 1000 or (like or 0) >= 1000:
        return f"{value / 1000:,.1f} s".replace(".0 s", " s")
    if value >= 10 or value == 0:
        return f"{value:,.0f} ms"
    return f"{value:.1f} ms".replace(".0 ms", " ms")


def nice_ceiling(value: float) -> float:
    """The smallest of 1, 2, 4, 6, 8 or 10 times a power of ten that is at least ``value``: an axis's end."""
    if value <= 0:
        return 1.0
    power = 10 ** math.floor(math.log10(value))
    return next(step * power for step in (1, 2, 4, 6, 8, 10) if step * power >= value * (1 - 1e-9))


def _ticks(top: float, *, whole: bool) -> list[float]:
    """Where the axis is labelled: 0, the middle (if it is a whole count where counts must be) and the end."""
    middle = top / 2
    return [0.0, middle, top] if middle.is_integer() or not whole else [0.0, top]


def _svg(label: str, height: float, parts: list[str]) -> str:
    return (
        f'<svg role="img" aria-label="{html.escape(label)}" viewBox="0 0 {WIDTH} {height:.0f}" '
        f'preserveAspectRatio="xMinYMin meet">{"".join(parts)}</svg>'
    )


def _requests_chart(figures: ModelFigures, window: Window, top: float) -> str:
    """Requests per bucket as columns (failed ones in red on top) against a count axis shared by every card."""
    plot_width = WIDTH - REQ_LEFT
    base = REQ_TOP + REQ_PLOT_HEIGHT
    slot = plot_width / window.buckets
    gap = 1.0 if slot > 3 else 0.0
    parts = []
    for tick in _ticks(top, whole=True):
        y = base - REQ_PLOT_HEIGHT * tick / top
        parts.append(f'<line class="grid" x1="{REQ_LEFT}" x2="{WIDTH}" y1="{y:.1f}" y2="{y:.1f}"/>')
        parts.append(f'<text x="{REQ_LEFT - 6}" y="{y + 4:.1f}" text-anchor="end">{tick:,.0f}</text>')
    for i, (count, failed) in enumerate(zip(figures.requests, figures.errors, strict=True)):
        if not count:
            continue
        x = REQ_LEFT + i * slot + gap / 2
        answered_h = REQ_PLOT_HEIGHT * (count - failed) / top
        failed_h = REQ_PLOT_HEIGHT * failed / top
        title = f"<title>{_plural(count, 'request')}, {failed:,} failed</title>"
        if count > failed:
            parts.append(
                f'<rect class="ok" x="{x:.1f}" y="{base - answered_h:.1f}" width="{slot - gap:.1f}" '
                f'height="{answered_h:.1f}">{title}</rect>'
            )
        if failed:
            parts.append(
                f'<rect class="err" x="{x:.1f}" y="{base - answered_h - failed_h:.1f}" width="{slot - gap:.1f}" '
                f'height="{failed_h:.1f}">{title}</rect>'
            )
    label_y = base + 16
    parts.append(f'<line class="axis" x1="{REQ_LEFT}" x2="{WIDTH}" y1="{base}" y2="{base}"/>')
    parts.append(f'<text x="{REQ_LEFT}" y="{label_y}">{_span(window.seconds)} ago</text>')
    parts.append(
        f'<text x="{REQ_LEFT + plot_width / 2:.1f}" y="{label_y}" text-anchor="middle">'
        f"{_span(window.seconds / 2)} ago</text>"
    )
    parts.append(f'<text x="{WIDTH}" y="{label_y}" text-anchor="end">now</text>')
    return _svg("Requests over time", base + REQ_BOTTOM, parts)


def _time_chart(spread: Spread, top: float, *, css: str, label: str) -> str:
    """The median and the 95th percentile as bars against a milliseconds axis shared by every card."""
    plot_width = WIDTH - VALUE_ROOM
    rows = (("Typical (median)", spread.p50), ("Slowest 1 in 20 (95th percentile)", spread.p95))
    parts = []
    for i, (name, value) in enumerate(rows):
        y = i * ROW_HEIGHT
        width = max(1.0, plot_width * value / top)
        parts.append(f'<text x="0" y="{y + 12}">{name}</text>')
        parts.append(
            f'<rect class="{css}" x="0" y="{y + 17}" width="{width:.1f}" height="{BAR_HEIGHT}">'
            f"<title>{name}: {_ms(value)}</title></rect>"
        )
        parts.append(f'<text class="value" x="{width + 5:.1f}" y="{y + 28}">{_ms(value)}</text>')
    axis_y = len(rows) * ROW_HEIGHT + 2
    parts.append(f'<line class="axis" x1="0" x2="{plot_width}" y1="{axis_y}" y2="{axis_y}"/>')
    for tick in _ticks(top, whole=False):
        x = plot_width * tick / top
        anchor = "start" if tick == 0 else "middle"
        parts.append(f'<line class="axis" x1="{x:.1f}" x2="{x:.1f}" y1="{axis_y}" y2="{axis_y + 4}"/>')
        parts.append(f'<text x="{x:.1f}" y="{axis_y + 17}" text-anchor="{anchor}">{_ms(tick, like=top)}</text>')
    return _svg(label, axis_y + AXIS_ROOM - 4, parts)


def _votes(up: int, down: int) -> str:
    total = up + down
    if not total:
        return '<p class="empty">No votes yet.</p>'
    up_words = f"👍 {up:,} of {total:,} ({up / total * 100:.0f} %)"
    down_words = f"👎 {down:,} of {total:,}"
    split = WIDTH * up / total
    return (
        f'<svg role="img" aria-label="{up_words}, {down_words}" viewBox="0 0 {WIDTH} 14" preserveAspectRatio="none">'
        f'<rect class="up" x="0" y="0" width="{split:.1f}" height="14"/>'
        f'<rect class="down" x="{split:.1f}" y="0" width="{WIDTH - split:.1f}" height="14"/></svg>'
        f'<p class="votes"><span>{up_words}</span><span>{down_words}</span></p>'
    )


def _summary(figures: ModelFigures, period: str) -> str:
    if not figures.total:
        return f"Not used in {period}."
    words = (
        f"{_plural(figures.total, 'request')} in {period}: {figures.total - figures.failed:,} answered, "
        f"{figures.failed:,} failed."
    )
    if figures.cold_starts:
        words += f" {figures.cold_starts:,} of them had to wait for the model to load first."
    return words


def _card(spec: ModelSpec, usage: UsageFigures | None, tops: dict[str, float], votes: dict[str, int]) -> str:
    """One model's card; ``usage`` is None when the usage figures could not be read."""
    anchor = f"m-{html.escape(spec.name)}"
    parts = [
        f'<section class="card" aria-labelledby="{anchor}"><h2 id="{anchor}">{html.escape(spec.title)}</h2>',
        f'<p class="meta"><code>{html.escape(spec.name)}</code> · {html.escape(get_task(spec.task).summary)}</p>',
    ]
    if usage is None:
        parts.append('<p class="empty">Usage figures are not available right now.</p>')
    else:
        window, figures = usage.window, usage.models[spec.name]
        parts.append(f'<p class="summary">{html.escape(_summary(figures, _last(window.seconds)))}</p>')
        if figures.total:
            parts.append(f"<h3>Requests per {html.escape(_span(window.bucket_seconds).removeprefix('1 '))}</h3>")
            parts.append(_requests_chart(figures, window, tops["requests"]))
            parts.append(
                '<ul class="legend"><li><span class="swatch ok"></span>answered</li>'
                '<li><span class="swatch err"></span>failed</li></ul>'
            )
            parts.append("<h3>Time the model took to answer</h3>")
            if figures.answer_ms is None:
                parts.append('<p class="empty">No answers in this period.</p>')
            else:
                parts.append(_time_chart(figures.answer_ms, tops["answer"], css="answer", label="Latency percentiles"))
        if figures.load_ms is not None:
            parts.append("<h3>Time to load the model after a quiet spell</h3>")
            parts.append(_time_chart(figures.load_ms, tops["load"], css="load", label="Loading time percentiles"))
    parts.append("<h3>What people thought of the answers</h3>")
    parts.append(_votes(votes.get("up", 0), votes.get("down", 0)))
    return "".join(parts) + "</section>"


def _entries(usage: UsageFigures) -> str:
    rows = []
    for entry in ENTRY_POINTS:
        if entry in usage.entries:
            figures = usage.entries[entry]
            ack = "not known" if figures.ack_p50_ms is None else _ms(figures.ack_p50_ms)
            rows.append(
                f"<tr><td>{html.escape(ENTRY_WORDS[entry])}</td><td class='number'>{figures.requests:,}</td>"
                f"<td class='number'>{ack}</td></tr>"
            )
    if not rows:
        return f'<p class="empty">Nobody used the bot in {html.escape(_last(usage.window.seconds))}.</p>'
    return (
        "<table><tr><th>Way in</th><th class='number'>Requests</th>"
        f"<th class='number'>Typical time to acknowledge</th></tr>{''.join(rows)}</table>"
    )


def _tops(usage: UsageFigures) -> dict[str, float]:
    """One axis end per kind of chart, from the largest value on any card."""
    every = list(usage.models.values())
    return {
        "requests": nice_ceiling(max((max(f.requests) for f in every), default=0)),
        "answer": nice_ceiling(max((f.answer_ms.p95 for f in every if f.answer_ms), default=0)),
        "load": nice_ceiling(max((f.load_ms.p95 for f in every if f.load_ms), default=0)),
    }


def render_stats(registry: Registry, source: UsageSource, tallies: dict[str, dict[str, int]]) -> Response:
    """The whole page; every registry text and every message is HTML-escaped."""
    nonce = new_nonce()
    try:
        usage: UsageFigures | None = source.figures(registry)
        notice = ""
    except StatsUnavailable as exc:
        usage = None
        notice = (
            f'<p class="notice" role="status">The usage figures could not be read just now ({html.escape(str(exc))}).'
            " Votes are shown as usual; try again in a minute.</p>"
        )
    tops = _tops(usage) if usage else {}
    cards = "".join(_card(spec, usage, tops, tallies.get(spec.name, {})) for spec in registry)
    about = (
        f"Figures for {html.escape(_last(usage.window.seconds))}, {html.escape(usage.source)}. " if usage else ""
    ) + "Votes count every rated answer."
    entries = (
        f'<section class="entries" aria-labelledby="ways-in"><h2 id="ways-in">How people reached the bot</h2>'
        f"{_entries(usage)}</section>"
        if usage
        else ""
    )
    body = (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f'<title>Model usage</title><style nonce="{nonce}">{_style()}</style></head><body>'
        f'<header><h1>Model usage</h1><p>{about}</p><p><a href="../go">← Back to the form</a></p></header>'
        f"<main>{notice}"
        '<p class="intro">One card per model. Charts of the same kind use the same scale on every card, so a longer'
        " bar always means more requests or a slower answer. <em>Typical</em> is the median: half of the answers"
        " were faster. <em>Slowest 1 in 20</em> is the 95th percentile: 19 answers in 20 were faster.</p>"
        f'<div class="cards">{cards}</div>{entries}</main></body></html>'
    )
    return Response(status=200, body=body, headers=page_headers(nonce))
