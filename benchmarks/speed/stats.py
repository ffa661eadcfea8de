"""Medians, percentiles, and alternating two or more subjects so a noisy machine hurts each alike."""

from __future__ import annotations

import math
import statistics
from collections.abc import Callable, Sequence
from typing import TypeVar

from bot.stores.stats import percentile

__all__ = ["alternate", "median", "percentile", "ratio"]

T = TypeVar("T")


def median(values: Sequence[float]) -> float:
    return float(statistics.median(values))


def alternate(subjects: dict[str, Callable[[], T]], repetitions: int) -> dict[str, list[T]]:
    """Run every subject once per repetition, reversing the order each time (A B, B A, A B...)."""
    results: dict[str, list[T]] = {name: [] for name in subjects}
    names = list(subjects)
    for repetition in range(repetitions):
        for name in names if repetition % 2 == 0 else reversed(names):
            results[name].append(subjects[name]())
    return results


def ratio(value: float, baseline: float) -> float:
    return value / baseline if baseline else math.inf
