"""The HTTP types' one JSON-for-HTML escaper, which the form's page and every JSON answer use."""

from __future__ import annotations

import json

from bot.core.http import Response, json_for_html


def test_json_for_html_leaves_no_markup_characters_and_no_lone_surrogate() -> None:
    data = {"a": "</script><b>&amp;", "b": "half \ud800 a pair", "c": "é 😀"}
    text = json_for_html(data)

    assert not set("<>&") & set(text)
    text.encode("utf-8")  # a lone surrogate would make this raise
    assert json.loads(text) == data
    assert "é 😀" in text  # everything else stays as typed


def test_every_json_answer_is_written_by_it() -> None:
    data = {"a": "</script>\udc00"}
    assert Response.json(data).body == json_for_html(data)
