"""The model Lambda: ``inference.handler.handler``.

The function's environment names the registry entry (``MODEL_NAME``); the model
is loaded once per container, on the first request, from ``HF_HOME``.
"""

from __future__ import annotations

import os
from functools import cache
from typing import Any

from inference.registry import ModelSpec, load_registry
from inference.service import Runner, handle

MODEL_NAME_ENV = "MODEL_NAME"


@cache
def _spec() -> ModelSpec:
    return load_registry().get(os.environ[MODEL_NAME_ENV])


@cache
def _runner() -> Runner:
    from inference.runners import load_runner  # heavy: torch or onnxruntime

    return load_runner(_spec())


def handler(event: dict[str, Any], context: Any = None) -> dict[str, Any]:
    """Lambda entry point; see :func:`inference.service.handle` for the response."""
    return handle(event, spec=_spec(), get_runner=_runner)
