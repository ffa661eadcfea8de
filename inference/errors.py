"""Typed errors for the model side, each with a stable ``type`` string.

They become ``{"error": {"type", "message"}}`` results in one place
(``inference.service``); the router words them for people in one place too.
"""

from __future__ import annotations

from typing import Any


class InferenceError(Exception):
    """Base class: an error that is reported to the caller as a result."""

    type = "internal_error"

    def to_result(self) -> dict[str, Any]:
        return {"error": {"type": self.type, "message": str(self)}}


class InvalidInput(InferenceError):
    """The request was malformed or its text cannot be used by the task."""

    type = "invalid_input"


class InputTooLong(InvalidInput):
    """The text is longer than the configured hard cap."""

    type = "input_too_long"


class UnsupportedFile(InvalidInput):
    """A file that is not of a type its model reads: unknown, of the other kind, or known but not decodable here.

    Its ``type`` is still ``invalid_input``: only HTTP tells it apart (415 rather than 400).
    """


class UnknownModel(InferenceError):
    """A model name that the registry does not list."""

    type = "unknown_model"


class ModelLoadError(InferenceError):
    """The weights could not be found, downloaded or loaded."""

    type = "model_load_failed"


class RegistryError(ValueError):
    """The registry file is invalid; the message names the entry at fault."""
