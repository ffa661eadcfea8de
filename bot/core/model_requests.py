"""What every entry point does before invoking a model: check the text, name the request."""

from __future__ import annotations

import uuid

from inference.errors import InputTooLong, InvalidInput
from inference.registry import ModelSpec
from inference.tasks import check_unicode, parse_input


def check_input(spec: ModelSpec, text: object) -> str:
    """Return the stripped text if ``spec`` can take it, before paying for an invocation.

    Raises:
        InvalidInput: empty, not a string, not Unicode (see :func:`inference.tasks.check_unicode`), or not in the
            task's one-line format.
        InputTooLong: longer than the entry's ``max_chars``.
    """
    if not isinstance(text, str):
        raise InvalidInput(f"The text must be a string, not {type(text).__name__}.")
    text = text.strip()
    if len(text) > spec.max_chars:
        raise InputTooLong(
            f"The text is {len(text):,} characters long; {spec.name} accepts at most {spec.max_chars:,}."
        )
    check_unicode(text)
    parse_input(spec.task, text, spec.parameters)
    return text


def new_request_id() -> str:
    """A short id people can quote when something fails."""
    return uuid.uuid4().hex[:12]
