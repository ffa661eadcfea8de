"""Errors in plain words, for Slack and the form alike (one place)."""

from __future__ import annotations

from typing import Any

#: The model side's error types (``inference.errors``) and the router's own.
PLAIN_WORDS = {
    "invalid_input": "The input doesn't fit this model",
    "input_too_long": "The text is too long for this model",
    "unknown_model": "There is no model by that name",
    "model_load_failed": "The model could not be loaded",
    "model_failed": "The model failed while answering",
    "timeout": "The model ran out of time",
    "invoke_failed": "The model could not be started",
    "warming_up": "The model is still warming up",
    "busy": "The model is busy with other requests",
    "too_many_runs": "You have too many runs going at once",
    "internal_error": "Something went wrong on our side",
}


def describe_error(error: dict[str, Any] | None, *, request_id: str = "") -> str:
    """One or two sentences a person can act on, ending with the request id if any."""
    error = error or {}
    kind = str(error.get("type") or "internal_error")
    headline = PLAIN_WORDS.get(kind, PLAIN_WORDS["internal_error"])
    detail = str(error.get("message") or "").strip()
    text = f"{headline}: {detail}" if detail else f"{headline}."
    if request_id:
        text += f" (request {request_id})"
    return text
