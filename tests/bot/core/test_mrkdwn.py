"""mrkdwn's text rules: escaping, clipping that never cuts an entity, one line, code spans."""

from __future__ import annotations

import re

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.core.mrkdwn import clip, escape, inline_code, one_line

#: Hypothesis runs the same examples every time and keeps no database, as everywhere in the suite.
FIXED = settings(deadline=None, database=None, derandomize=True, suppress_health_check=list(HealthCheck))


def test_escape() -> None:
    assert escape("<!channel> & <@U1>") == "&lt;!channel&gt; &amp; &lt;@U1&gt;"


@FIXED
@given(text=st.text(alphabet=st.sampled_from("&<>ab;"), max_size=60), limit=st.integers(1, 60))
def test_clip_never_cuts_an_entity_in_half(text: str, limit: int) -> None:
    """Slack decodes only whole entities: half an ``&amp;`` would show as ``&am``."""
    clipped = clip(escape(text), limit)
    assert len(clipped) <= limit
    assert not re.search(r"&(?!amp;|lt;|gt;)", clipped)


def test_clip_backs_off_to_the_entity_it_would_cut() -> None:
    assert clip("&amp;" * 10, 8) == "&amp;…"
    assert clip("ab&lt;cd", 5) == "ab…"
    assert clip("&lt;&gt;", 5) == "&lt;…"


@FIXED
@given(text=st.text(max_size=50))
def test_one_line_breaks_where_python_breaks_lines(text: str) -> None:
    assert len(one_line(text).splitlines()) <= 1
    assert len(one_line(text)) == len(text) - text.count("\r\n")


def test_a_code_span_cannot_be_ended_by_what_it_shows() -> None:
    assert inline_code("a`b\nc") == "`a\u02cbb c`"
