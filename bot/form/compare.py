"""The form's compare mode, server side: may these models take this input?

The page asks before it fans out one ``POST /go`` per model, so a comparison
that cannot work is refused once, in the same words Slack uses, instead of
failing in every column. The rule itself is :func:`bot.core.compare.check_compare`.
"""

from __future__ import annotations

from typing import Any

from bot.core.compare import CompareError, check_compare
from bot.core.http import BadRequest
from inference.registry import Registry


def check_compare_request(registry: Registry, data: dict[str, Any]) -> None:
    """Accept a ``{"models": [...], "text": ...}`` body whose models can all take the text.

    Raises:
        BadRequest: 400 ``bad_request`` for a body of the wrong shape, 400 ``cannot_compare``
            with the reason when the comparison cannot run.
    """
    models, text = data.get("models"), data.get("text")
    if not isinstance(models, list) or not all(isinstance(name, str) for name in models):
        raise BadRequest('The request needs "models": a list of two or three model names.')
    if not isinstance(text, str):
        raise BadRequest('The request needs a "text" field.')
    try:
        check_compare(registry, models, text)
    except CompareError as exc:
        raise BadRequest(str(exc), type="cannot_compare") from exc
