"""Turns one invocation event into one JSON-able response, whatever happens.

The Lambda handler and the local workers both call :func:`handle`; it never
raises for a caller's mistake or a model failure, it reports them as
``{"error": {"type", "message"}}`` so the router can word them for people.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any, Protocol

from inference.errors import InferenceError, InputTooLong, InvalidInput
from inference.registry import ModelSpec

logger = logging.getLogger(__name__)


class Runner(Protocol):
    """A loaded model: load once, then ``run`` many times."""

    def run(self, text: str, parameters: dict[str, Any]) -> dict[str, Any]:
        """Run the task on one line of text; the result is JSON-able."""
        ...


def parse_event(event: Any) -> tuple[str, dict[str, Any]]:
    """Accept ``{"text": ...}`` (the seed's shape) or ``{"inputs": ..., "parameters": {...}}``.

    Raises:
        InvalidInput: for anything else.
    """
    if not isinstance(event, dict):
        raise InvalidInput("The request must be a JSON object with a `text` or `inputs` field.")
    if "text" in event:
        text = event["text"]
    elif "inputs" in event:
        text = event["inputs"]
    else:
        raise InvalidInput("The request has no `text` (or `inputs`) field.")
    if not isinstance(text, str):
        raise InvalidInput(f"The text must be a string, not {type(text).__name__}.")
    parameters = event.get("parameters") or {}
    if not isinstance(parameters, dict):
        raise InvalidInput("`parameters` must be a JSON object.")
    return text, parameters


def handle(event: Any, *, spec: ModelSpec, get_runner: Callable[[], Runner]) -> dict[str, Any]:
    """Serve one request for ``spec``; ``get_runner`` loads the model on first use.

    Returns ``{"model", "task", "revision", "result" | "error", "timings", "reply"?}``;
    the ``reply`` field of the event is passed through untouched.
    """
    response: dict[str, Any] = {"model": spec.name, "task": spec.task, "revision": spec.revision}
    if isinstance(event, dict) and "reply" in event:
        response["reply"] = event["reply"]
    timings = {"load_ms": 0.0, "inference_ms": 0.0}
    response["timings"] = timings
    try:
        text, parameters = parse_event(event)
        if len(text) > spec.max_chars:
            raise InputTooLong(
                f"The text is {len(text):,} characters long; {spec.name} accepts at most {spec.max_chars:,}."
            )
        started = time.perf_counter()
        runner = get_runner()
        loaded = time.perf_counter()
        result = runner.run(text, {**spec.parameters, **parameters})
        done = time.perf_counter()
        timings["load_ms"] = round((loaded - started) * 1000, 1)
        timings["inference_ms"] = round((done - loaded) * 1000, 1)
        response["result"] = result
    except InferenceError as exc:
        response.update(exc.to_result())
    except Exception as exc:  # a bug or a model failure: reported, not retried by Lambda
        logger.exception("model %s failed", spec.name)
        response["error"] = {"type": "model_failed", "message": f"The model failed: {type(exc).__name__}."}
    return response
