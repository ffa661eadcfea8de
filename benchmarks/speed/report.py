"""Turn the measurements into the goals' verdicts, a table (terminal and Markdown) and a chart."""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from benchmarks.speed.measure import CHAT, CLIP, MINILM, SUMMARIZER, TRANSLATOR, VIT, WHISPER, YOLOS
from benchmarks.speed.stats import ratio

#: Issue 14's goals for the default (fast) entry of each model, as ratios to the seed-style handler: the
#: cold start, the warm latency, the decode speed (a lower bound) and the peak memory.
ENCODER_GOALS = {"cold": 0.1, "rss": 0.3}
SEQ2SEQ_GOALS = {"cold": 0.1, "warm": 0.33, "rss": 0.3}
CHAT_GOALS = {"cold": 0.2, "decode": 4.0, "rss": 0.3}
#: Issue 17's goals for the file tasks on the fast runtimes (the captioner runs on torch: measured, no goal).
FILE_GOALS = {"cold": 0.15, "rss": 0.4}
#: Which of our handlers each goal applies to: the default backend and quantization of each task.
GOALS = {
    MINILM: ("onnx-int8", ENCODER_GOALS),
    SUMMARIZER: ("ctranslate2-int8", SEQ2SEQ_GOALS),
    TRANSLATOR: ("ctranslate2-int8", SEQ2SEQ_GOALS),
    CHAT: ("onnxruntime-genai-int4", CHAT_GOALS),
    VIT: ("onnx-int8", FILE_GOALS),
    CLIP: ("onnx-int8", FILE_GOALS),
    YOLOS: ("onnx-int8", FILE_GOALS),
    WHISPER: ("ctranslate2-int8", FILE_GOALS),
}
SERVING_PACKAGES_GOAL = 0.25


@dataclass(frozen=True)
class Row:
    """One line of the table: a measure of ours against its baseline, and the goal when there is one.

    A goal is an upper bound on the ratio (a lower bound when ``at_least``), unless ``limit`` is
    set: then the goal bounds the measured value itself (the ack latency's 20 ms), and ``value`` holds it.
    """

    measure: str
    ours: str
    baseline: str
    ratio: float | None
    goal: float | None = None
    value: float | None = None
    limit: str = ""
    at_least: bool = False

    @property
    def score(self) -> float | None:
        """What the goal bounds: the value for an absolute goal, else the ratio."""
        return self.value if self.limit else self.ratio

    @property
    def met(self) -> bool | None:
        if self.goal is None or self.score is None:
            return None
        return self.score >= self.goal if self.at_least else self.score <= self.goal

    @property
    def share(self) -> float | None:
        """How far the figure is from its goal: below 1 when met, above 1 by the factor it misses it by."""
        if self.goal is None or not self.score:
            return None
        return self.goal / self.score if self.at_least else self.score / self.goal


def _s(value: float) -> str:
    return f"{value:.2f} s"


def _ms(value: float) -> str:
    return f"{value:.1f} ms"


def _mb(value: float) -> str:
    return f"{value:.0f} MB"


def _tok_s(value: float) -> str:
    return f"{value:.1f} tokens/s"


#: A model handler's measures: (title, result key, format, goal key or None).
MODEL_MEASURES = (
    ("cold start", "cold_median_s", _s, "cold"),
    ("warm p50", "warm_p50_ms", _ms, "warm"),
    ("warm p95", "warm_p95_ms", _ms, None),
    ("decode", "decode_tok_s", _tok_s, "decode"),
    ("peak RSS", "peak_rss_mb", _mb, "rss"),
)


def _model_rows(model: str, handlers: dict[str, Any]) -> list[Row]:
    seed = handlers["seed"]
    goal_backend, goals = GOALS.get(model, ("", {}))
    return [
        Row(
            f"{model}, {backend}: {title}",
            show(result[key]),
            show(seed[key]),
            ratio(result[key], seed[key]),
            goals.get(goal) if goal and backend == goal_backend else None,
            at_least=goal == "decode",
        )
        for backend, result in handlers.items()
        if backend != "seed"
        for title, key, show, goal in MODEL_MEASURES
        if key in result and key in seed
    ]


def rows(results: dict[str, Any]) -> list[Row]:
    """Every measure as a row, goals attached (the issue's goals, as ratios to the baseline)."""
    router = results["router_cold_start"]
    table = [
        Row(
            "Router cold start (fresh process, one slash command)",
            _s(router["ours_median_s"]),
            f"{_s(router['baseline_median_s'])} (`from transformers import pipeline`)",
            router["ratio"],
            0.08,
        )
    ]
    deadline_ms = 3000.0
    for mode, acks in results["ack_latency"].items():
        table.append(
            Row(
                f"Ack p99, {mode} mode, Slack and model 2 s each ({acks['requests']} commands; p50 {acks['p50_ms']:.1f} ms)",
                _ms(acks["p99_ms"]),
                "3000 ms (Slack's deadline)",
                ratio(acks["p99_ms"], deadline_ms),
                goal=20.0,
                value=acks["p99_ms"],
                limit="≤ 20 ms",
            )
        )
    for model, handlers in results["models"].items():
        table += _model_rows(model, handlers)
    footprint = results["footprint"]
    serving, conversion = footprint["serving"]["total_mb"], footprint["conversion"]["total_mb"]
    table.append(
        Row(
            "Serving image packages on disk (no torch, no transformers)",
            _mb(serving),
            f"{_mb(conversion)} (conversion image, with torch)",
            ratio(serving, conversion),
            SERVING_PACKAGES_GOAL,
        )
    )
    return table


def goals(table: list[Row]) -> list[dict[str, Any]]:
    return [{**asdict(row), "met": row.met} for row in table if row.goal is not None]


def _verdict(row: Row) -> str:
    if row.met is None or row.share is None:
        return ""
    if row.met:
        return "met"
    over = row.share
    return f"missed by {100 * (over - 1):.0f} %" if over < 1.5 else f"missed: {over:.1f}x the goal"


def _goal(row: Row) -> str:
    if row.goal is None:
        return ""
    return row.limit or f"{'≥' if row.at_least else '≤'} {row.goal:.3g}x"


def markdown(table: list[Row]) -> str:
    lines = ["| Measure | Ours | Baseline | Ratio | Goal | |", "|---|---:|---:|---:|---:|---|"]
    for row in table:
        shown = "" if row.ratio is None else f"{row.ratio:.3f}x"
        lines.append(f"| {row.measure} | {row.ours} | {row.baseline} | {shown} | {_goal(row)} | {_verdict(row)} |")
    return "\n".join(lines)


def text(table: list[Row]) -> str:
    header = ("Measure", "Ours", "Baseline", "Ratio", "Goal", "")
    cells = [header] + [
        (r.measure, r.ours, r.baseline, "" if r.ratio is None else f"{r.ratio:.3f}x", _goal(r), _verdict(r))
        for r in table
    ]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in cells)


def chart(table: list[Row], path: Path) -> None:
    """One bar per goal: how far the figure is from its goal (log scale, 1 = the goal; a lower bound's
    goal over the figure), green when met."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import NullFormatter

    goal_rows = [row for row in table if row.share is not None]
    shares = [row.share for row in goal_rows]  # type: ignore[misc]
    figure, axes = plt.subplots(figsize=(12, 0.5 * len(goal_rows) + 1.5))
    positions = list(range(len(goal_rows)))
    axes.barh(positions, shares, color=["#2e7d32" if row.met else "#c62828" for row in goal_rows])
    for position, row, share in zip(positions, goal_rows, shares, strict=True):
        shown = f"{row.ours} (goal {row.limit})" if row.limit else f"{row.ratio:.3f}x the baseline (goal {_goal(row)})"
        axes.annotate(f"  {shown}", (share, position), va="center", fontsize=8)
    axes.set_yticks(positions, [re.sub(r" \([^)]*\)$", "", row.measure) for row in goal_rows], fontsize=8)
    axes.invert_yaxis()
    axes.set_xscale("log")
    axes.set_xlim(min(shares) / 2, max(shares) * 8)  # room for the labels on the right
    ticks = [t for t in (0.01, 0.03, 0.1, 0.3, 1.0, 3.0, 10.0) if min(shares) / 2 <= t <= max(shares) * 8]
    axes.set_xticks(ticks, [f"{t:g}" for t in ticks])
    axes.xaxis.set_minor_formatter(NullFormatter())
    axes.axvline(1.0, color="black", linewidth=1.5)
    axes.set_xlabel("measured / goal, or goal / measured for a lower bound  (log scale; left of the line = met)")
    axes.set_title("Speed goals, same-run ratios against the baselines")
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=110)
    plt.close(figure)
