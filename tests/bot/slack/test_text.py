"""Slack's markup turned back into the plain text a model reads."""

from __future__ import annotations

from bot.slack.text import strip_leading_mention, to_plain


def test_slack_markup_to_plain_text() -> None:
    assert to_plain("hi <@U1> see <https://a.example|the doc> &amp; <https://b.example> <!here>") == (
        "hi @U1 see the doc & https://b.example @here"
    )
    assert strip_leading_mention("<@UBOT> summarize this") == "summarize this"
