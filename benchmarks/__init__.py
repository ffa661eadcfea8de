"""Measurements of the running system, each a ``python -m benchmarks.<name>`` command."""
