"""A few lines of Python in a fresh process, as a new Lambda container runs them: what they print last, as JSON.

The tests that prove a runner serves without importing torch or transformers need a process that
never imported them, so each runs its probe script here and reads the report it prints.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Mapping
from typing import Any

from tests.conftest import ROOT


def probe(script: str, *args: str, env: Mapping[str, str] | None = None, timeout: float = 120) -> Any:
    """Run ``script`` with ``args`` from the checkout; fail the test with its stderr unless it exits 0."""
    done = subprocess.run(
        [sys.executable, "-c", script, *args],
        cwd=ROOT,
        env=None if env is None else dict(env),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.splitlines()[-1])
