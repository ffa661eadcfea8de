"""Slack's message markup turned back into the plain text a model should read."""

from __future__ import annotations

import html
import re

_LINK = re.compile(r"<([^<>|]*)(?:\|([^<>]*))?>")


def _replace(match: re.Match[str]) -> str:
    target, label = match.group(1), match.group(2)
    if label:
        return label
    if target.startswith(("@", "#")):
        return target
    if target.startswith("!"):
        return "@" + target[1:].split("^")[0]
    return target


def to_plain(text: str) -> str:
    """``<@U1>`` → ``@U1``, ``<https://x|x>`` → ``x``, ``&amp;`` → ``&``."""
    return html.unescape(_LINK.sub(_replace, text or ""))


def strip_leading_mention(text: str) -> str:
    """Drop the ``<@BOT>`` that starts an app_mention's text."""
    return re.sub(r"^\s*<@[A-Z0-9]+(?:\|[^>]*)?>\s*", "", text or "")
