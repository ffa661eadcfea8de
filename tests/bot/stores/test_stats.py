"""The project's one percentile (``bot.stores.stats.percentile``): /go/stats, the load run and the speed benchmarks use it."""

from __future__ import annotations

import pytest

import benchmarks.load
import benchmarks.speed.stats
from bot.stores.stats import percentile


def test_percentile_is_nearest_rank_so_always_a_measured_value() -> None:
    values = [5.0, 1.0, 4.0, 2.0, 3.0]
    assert [percentile(values, q) for q in (0, 1, 50, 95, 99, 100)] == [1.0, 1.0, 3.0, 5.0, 5.0, 5.0]
    assert (percentile(list(range(1, 101)), 95), percentile([7.5], 95)) == (95, 7.5)
    with pytest.raises(ValueError, match="no values"):
        percentile([], 50)


def test_the_benchmarks_use_the_same_percentile() -> None:
    assert benchmarks.speed.stats.percentile is percentile and benchmarks.load.percentile is percentile
