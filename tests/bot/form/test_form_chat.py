"""POST /go in the form's chat mode: the page's conversation checked, trimmed and sent beside the text."""

from __future__ import annotations

from pathlib import Path

import pytest

from inference.registry import Registry, parse_registry
from tests.bot.form.conftest import body, make_request


@pytest.fixture
def registry() -> Registry:
    def entry(name: str, task: str, **extra: object) -> dict[str, object]:
        return {"name": name, "task": task, "model": f"test/{name}", "revision": "0" * 40, **extra}

    entries = [
        entry("tiny-chat", "text-generation", title="Tiny chat", max_chars=100),
        entry("tiny-sentiment", "text-classification", title="Tiny sentiment"),
    ]
    return parse_registry({"models": entries}, base=Path("."), path=Path("form-chat.yaml"))


def post(json_body: object) -> object:
    return make_request("POST", json_body=json_body)


TURNS = [{"role": "user", "content": "Where?"}, {"role": "assistant", "content": "Paris."}]


def test_the_conversation_travels_beside_the_text(call, invoker) -> None:
    response = call(post({"model": "tiny-chat", "text": "How tall?", "messages": TURNS}))
    assert response.status == 200
    [(_, model, payload, _)] = invoker.calls
    assert model == "tiny-chat" and payload["text"] == "How tall?" and payload["messages"] == TURNS
    assert "trimmed_turns" not in payload


def test_the_oldest_turns_go_to_fit_max_chars_and_the_count_travels(call, invoker) -> None:
    long = [{"role": "user", "content": "a" * 40}, {"role": "assistant", "content": "b" * 40}, *TURNS]
    call(post({"model": "tiny-chat", "text": "How tall?", "messages": long}))
    [(_, _, payload, _)] = invoker.calls
    assert payload["messages"] == TURNS and payload["trimmed_turns"] == 2


@pytest.mark.parametrize(
    ("model", "messages", "words"),
    [
        ("tiny-chat", "not a list", "must be a list of turns"),
        ("tiny-chat", [{"role": "system", "content": "x"}], "has the role 'system'"),
        ("tiny-sentiment", TURNS, "only a chat model keeps a conversation"),
    ],
)
def test_what_is_not_a_conversation_is_a_400_in_plain_words(call, invoker, model, messages, words) -> None:
    response = call(post({"model": model, "text": "Hi", "messages": messages}))
    assert response.status == 400
    assert words in body(response)["error"]["message"]
    assert invoker.calls == []
