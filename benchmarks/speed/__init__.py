"""Speed benchmarks: ``python -m benchmarks.speed [--quick | --smoke]``.

Cold starts, warm latency, peak memory and dependency footprint, each measured
against a baseline in the same run (see ``docs/performance.md`` for the method).
"""
