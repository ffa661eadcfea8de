"""Slack's mrkdwn text rules: the few string functions every message the bot words goes through.

Pure functions, no Slack call: :mod:`bot.slack.ui` builds every Block Kit payload on them, and the
comparison rule (:mod:`bot.core.compare`) words its refusals with them, in the same words Slack
and the form show.
"""

from __future__ import annotations

import re

#: The mrkdwn entities Slack decodes; :func:`clip` never cuts one in half.
_ENTITIES = ("&amp;", "&lt;", "&gt;")
#: What :meth:`str.splitlines` breaks lines at (CR LF counts once).
_LINE_BREAK = re.compile("\r\n|[\n\r\v\f\x1c\x1d\x1e\x85\u2028\u2029]")


def escape(text: str) -> str:
    """Escape the three characters Slack treats as control sequences."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def clip(text: str, limit: int) -> str:
    """Shorten to ``limit`` characters with an ellipsis, for Slack's size limits.

    The cut never falls inside an entity of escaped text: Slack would show half an ``&amp;`` literally.
    """
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    start = cut.rfind("&", max(0, len(cut) - max(map(len, _ENTITIES)) + 1))
    if start != -1 and any(text.startswith(e, start) and start + len(e) > len(cut) for e in _ENTITIES):
        cut = cut[:start]
    return cut.rstrip() + "…"


def one_line(text: str) -> str:
    """Every kind of line break Unicode has, as a space: an echo cannot start a line of its own."""
    return _LINE_BREAK.sub(" ", text)


def inline_code(text: str) -> str:
    """Text the bot did not write as mrkdwn inline code, before :func:`escape`.

    Inside a code span ``*``, ``_`` and ``~`` show literally, but a backtick or a line break
    would end it and mrkdwn has no escape for either: they become U+02CB (a lookalike) and a space.
    """
    return "`" + one_line(text).replace("`", "\u02cb") + "`"
