"""A chat request's earlier turns: checked once, rendered with the model's chat template, trimmed to fit.

The request carries ``"messages"`` (earlier turns, oldest first) beside ``"text"`` (the new turn); the
runners render the template over both, drop the oldest turns that do not fit the model's context (less
``max_new_tokens``) and say how many in the result's ``trimmed_turns``.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from inference.errors import InvalidInput
from inference.registry import ModelSpec, load_registry
from inference.runners import parameters as params
from inference.service import handle
from inference.tasks import MAX_TURNS, check_messages, parse_input
from tests.genai_models import build_chat_models

TURNS = [
    {"role": "user", "content": "Where is the tower?"},
    {"role": "assistant", "content": "In Paris."},
    {"role": "user", "content": "How tall is it?"},
    {"role": "assistant", "content": "About 330 metres."},
]


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("hello", "`messages` must be a list of turns, not str"),
        ([{"role": "user", "content": "x"}] * (MAX_TURNS + 1), f"at most {MAX_TURNS} are accepted"),
        ([{"role": "system", "content": "Be rude."}], "Turn 1 of `messages` has the role 'system'"),
        ([TURNS[0], {"role": "assistant", "content": 3}], "Turn 2 of `messages` must have text as its `content`"),
        ([{"role": "user"}], "Turn 1 of `messages` must be an object with exactly `role` and `content`"),
        (["user: hi"], "Turn 1 of `messages` must be an object"),
        ([{"role": "user", "content": "\ud800"}], "not valid Unicode"),
    ],
)
def test_messages_that_are_not_a_conversation_are_one_clear_invalid_input(value: Any, message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        check_messages(value)


def test_the_chat_parser_takes_the_history_beside_the_text_and_no_history_is_one_shot() -> None:
    assert parse_input("text-generation", " Next? ", {"messages": TURNS}) == {
        "text": "Next?",
        "messages": TURNS,
        "trimmed_turns": 0,
    }
    assert parse_input("text-generation", "Hi", {})["messages"] == []


class _Spy:
    """A runner that parses as the real ones do and returns what it was given."""

    def run(self, text: str, parameters: dict[str, Any]) -> dict[str, Any]:
        return parse_input("text-generation", text, parameters)


def test_the_model_side_reads_messages_from_the_request_and_refuses_bad_ones(tiny_spec: ModelSpec) -> None:
    answer = handle({"text": "Next?", "messages": TURNS, "trimmed_turns": 2}, spec=tiny_spec, get_runner=_Spy)
    assert answer["result"] == {"text": "Next?", "messages": TURNS, "trimmed_turns": 2}
    refused = handle({"text": "Next?", "messages": [{"role": "tool", "content": "x"}]}, spec=tiny_spec, get_runner=_Spy)
    assert refused["error"]["type"] == "invalid_input"
    assert "role 'tool'" in refused["error"]["message"]


@pytest.fixture
def tiny_spec(tiny_registry: Path) -> ModelSpec:
    return load_registry(tiny_registry).get("tiny-ask")


def test_fit_history_drops_the_fewest_oldest_turns_and_never_starts_with_the_model() -> None:
    def size(turns: Any) -> int:
        return 10 + sum(len(t["content"]) for t in turns)

    assert params.fit_history(TURNS, size, 1000) == (TURNS, 0)
    # Dropping one leaves the model's turn first: that goes too.
    assert params.fit_history(TURNS, size, size(TURNS) - 1) == (TURNS[2:], 2)
    assert params.fit_history(TURNS, size, 5) == ([], 4)


# -- on a tiny chat model, through its chat template --------------------------------------


@pytest.fixture(scope="module")
def chat_spec(tmp_path_factory: pytest.TempPathFactory, tiny_registry: Path) -> Callable[[str], ModelSpec]:
    return load_registry(build_chat_models(tmp_path_factory.mktemp("chat-models"), tiny_registry.parent / "chat")).get


@pytest.mark.slow
def test_genai_renders_the_history_through_the_template_and_trims_the_oldest(
    chat_spec: Callable[[str], ModelSpec], tmp_path: Path
) -> None:
    from inference.genai_convert import convert
    from inference.runners.genai import TextGenerationGenai

    spec = chat_spec("genai-llama")
    folder = tmp_path / "converted"
    folder.mkdir()
    convert(spec, spec.local_path, folder, quantize=spec.quantize)
    runner = TextGenerationGenai(spec, folder)
    prompts: list[list[int]] = []
    tokens = runner.tokens
    runner.tokens = lambda prompt, settings: (prompts.append(prompt), tokens(prompt, settings))[1]  # type: ignore[method-assign]

    short = runner.run("Next?", {"max_new_tokens": 2, "messages": TURNS})
    rendered = runner.tokenizer.decode(prompts[-1], skip_special_tokens=False)
    assert rendered.index("tower") < rendered.index("paris") < rendered.index("330") < rendered.index("next")
    assert "assistant" in rendered
    assert "trimmed_turns" not in short

    history = [{"role": r, "content": f"{n} " + "tower " * 12} for n in range(8) for r in ("user", "assistant")]
    answer = runner.run("Last one?", {"max_new_tokens": 8, "messages": history})
    kept = runner.tokenizer.decode(prompts[-1], skip_special_tokens=False)
    assert answer["trimmed_turns"] > 0
    assert len(prompts[-1]) + 8 <= runner.manifest.limit
    assert "7 tower" in kept and "0 tower" not in kept and "last one" in kept


@pytest.mark.slow
def test_the_torch_pipeline_renders_the_history_and_trims_it_too(tiny_spec: ModelSpec) -> None:
    from inference.runners.pipelines import TextGenerationRunner

    assert tiny_spec.local_path is not None
    runner = TextGenerationRunner(tiny_spec, tiny_spec.local_path)
    seen: list[Any] = []
    pipe = runner.pipe
    runner.pipe = lambda prompt, **settings: (seen.append(prompt), pipe(prompt, **settings))[1]  # type: ignore[method-assign]

    runner.run("Next?", {"max_new_tokens": 2, "messages": TURNS})
    assert seen[-1] == [*TURNS, {"role": "user", "content": "Next?"}]

    history = [{"role": r, "content": f"{n} " + "tower " * 12} for n in range(8) for r in ("user", "assistant")]
    answer = runner.run("Last one?", {"max_new_tokens": 4, "messages": history, "trimmed_turns": 3})
    assert answer["trimmed_turns"] > 3
    assert seen[-1][-1] == {"role": "user", "content": "Last one?"}
    assert seen[-1][0]["role"] == "user" and seen[-1][-2]["content"].startswith("7 ")
