"""The router and the model side check a text the same way, with one function (``inference.tasks.check_text``):
"must be a string", the character cap and Unicode, with the same words and the same error type."""

from __future__ import annotations

from typing import Any

import pytest

from bot.core.model_requests import check_input
from inference.errors import InferenceError
from inference.service import handle
from tests.fakes.specs import model_spec

SPEC = model_spec("capped", max_chars=10)


def router_error(text: Any) -> dict[str, str]:
    with pytest.raises(InferenceError) as caught:
        check_input(SPEC, text)
    return caught.value.to_result()["error"]


def model_error(text: Any) -> dict[str, str]:
    def runner() -> Any:
        raise AssertionError("a text the check refuses never reaches the model")

    return handle({"text": text}, spec=SPEC, get_runner=runner)["error"]


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        pytest.param(42, "invalid_input", id="a number"),
        pytest.param(["a"], "invalid_input", id="a list"),
        pytest.param("x" * 11, "input_too_long", id="over the cap"),
        pytest.param("a \ud800 b", "invalid_input", id="a lone surrogate"),
    ],
)
def test_the_router_and_the_model_refuse_a_text_in_the_same_words(text: Any, kind: str) -> None:
    assert router_error(text) == model_error(text)
    assert router_error(text)["type"] == kind


def test_the_router_measures_the_text_it_sends_so_surrounding_space_is_free() -> None:
    assert check_input(SPEC, "  " + "x" * 10 + "\n") == "x" * 10
