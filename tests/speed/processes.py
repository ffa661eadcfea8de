"""The model side in a fresh process, as a Lambda container runs it, offline, against a test registry."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
#: Runs the Lambda handler once on the event in ``argv[1]`` (JSON), then reports which heavy packages it imported.
HANDLER_PROBE = """
import json, sys
from inference.handler import handler
response = handler(json.loads(sys.argv[1]), None)
heavy = sorted({m.split(".")[0] for m in sys.modules} & {"torch", "transformers"})
print(json.dumps({"response": response, "heavy": heavy}))
"""


def offline_python(registry: Path, *args: str, timeout: float = 300, **env: str) -> subprocess.CompletedProcess[str]:
    """A fresh ``python *args`` against ``registry``, offline, with the session's ``HF_HOME``."""
    return subprocess.run(
        [sys.executable, *args],
        cwd=ROOT,
        env={**os.environ, "MODELS_FILE": str(registry), "HF_HUB_OFFLINE": "1", **env},
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def probe_handler(
    registry: Path, model: str, event: dict[str, Any], *, timeout: float = 300
) -> subprocess.CompletedProcess[str]:
    """Run :data:`HANDLER_PROBE` for registry entry ``model`` on ``event``."""
    return offline_python(registry, "-c", HANDLER_PROBE, json.dumps(event), timeout=timeout, MODEL_NAME=model)
