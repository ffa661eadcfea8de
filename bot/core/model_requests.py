"""What every entry point does before invoking a model: check the text, name the request."""

from __future__ import annotations

import uuid

from inference.registry import ModelSpec
from inference.tasks import check_text, parse_input, require_text


def check_input(spec: ModelSpec, text: object) -> str:
    """Return the stripped text if ``spec`` can take it, before paying for an invocation.

    Raises:
        InvalidInput: empty, not a string, not Unicode, or not in the task's one-line format.
        InputTooLong: longer than the entry's ``max_chars``.

    The model side checks the same with the same function (:func:`inference.tasks.check_text`).
    """
    text = check_text(require_text(text).strip(), model=spec.name, max_chars=spec.max_chars)
    parse_input(spec.task, text, spec.parameters)
    return text


def new_request_id() -> str:
    """A short id people can quote when something fails."""
    return uuid.uuid4().hex[:12]
