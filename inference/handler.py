"""The model Lambda: ``inference.handler.handler``.

The function's environment names the registry entry (``MODEL_NAME``); the model
is loaded once per container, on the first request, from ``HF_HOME``. While
torch and transformers are imported (seconds of CPU), a background thread
reads the weights from EFS into memory, so loading them does not wait on the
network afterwards.
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
    from inference.loader import prefetch
    from inference.runners import load_runner, weight_files

    spec = _spec()
    prefetch(lambda: weight_files(spec))
    return load_runner(spec)  # heavy: imports torch and transformers, or onnxruntime


def handler(event: dict[str, Any], context: Any = None) -> dict[str, Any]:
    """Lambda entry point; see :func:`inference.service.handle` for the response."""
    return handle(event, spec=_spec(), get_runner=_runner)
