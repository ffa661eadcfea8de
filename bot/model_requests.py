"""What every entry point does before invoking a model: check the text, name the request."""

from __future__ import annotations

import uuid

from inference.errors import InputTooLong, InvalidInput
from inference.registry import ModelSpec
from inference.tasks import parse_input


def check_input(spec: ModelSpec, text: object) -> str:
    """Return the stripped text if ``spec`` can take it, before paying for an invocation.

    Raises:
        InvalidInput: empty, not a string, not Unicode (see :func:`check_unicode`), or not in the
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


def check_unicode(text: str) -> None:
    """Refuse text that is not Unicode characters: JSON's ``"\\ud800"`` decodes to a lone surrogate,
    which no tokenizer reads and no UTF-8 store, log or Slack message can hold.

    Raises:
        InvalidInput: the text holds a lone surrogate, named with its position.
    """
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise InvalidInput(
            f"The text is not valid Unicode: character {exc.start + 1:,} is U+{ord(text[exc.start]):04X}, "
            "half of a surrogate pair without its other half. Remove it and try again."
        ) from exc


def new_request_id() -> str:
    """A short id people can quote when something fails."""
    return uuid.uuid4().hex[:12]
