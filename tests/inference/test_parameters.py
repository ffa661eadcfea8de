"""Request parameters and the Lambda sizing the runners derive from the registry."""

from __future__ import annotations

import pytest

import inference.runners as runners
from inference.errors import InvalidInput
from inference.runners import parameters


def test_numbers_are_clamped_to_their_range() -> None:
    assert parameters.integer({"top_k": 50}, "top_k", 5, low=1, high=20) == 20
    assert parameters.integer({"top_k": 0}, "top_k", 5, low=1, high=20) == 1
    assert parameters.integer({}, "top_k", 5, low=1, high=20) == 5
    assert parameters.integer({"top_k": 3.0}, "top_k", 5, low=1, high=20) == 3
    assert parameters.number({"top_p": 7}, "top_p", 1.0, low=0.01, high=1.0) == 1.0


@pytest.mark.parametrize("value", ["5", True, 2.5, None, [1]])
def test_a_whole_number_of_the_wrong_type_is_refused(value: object) -> None:
    with pytest.raises(InvalidInput, match="`top_k` must be a whole number"):
        parameters.integer({"top_k": value}, "top_k", 5, low=1, high=20)


def test_flags_and_text_are_checked() -> None:
    assert parameters.flag({"multi_label": True}, "multi_label", False) is True
    with pytest.raises(InvalidInput, match="true or false"):
        parameters.flag({"multi_label": "yes"}, "multi_label", False)
    assert parameters.text({"system": "  Be brief.  "}, "system") == "Be brief."
    assert parameters.text({"system": "   "}, "system") is None
    with pytest.raises(InvalidInput, match="`system` must be text"):
        parameters.text({"system": 3}, "system")


def test_generation_settings_keep_only_known_keys_and_clamp_lengths() -> None:
    settings = parameters.generation({"max_new_tokens": 100_000, "num_beams": 99, "do_sample": False, "colour": 1})
    assert settings == {"max_new_tokens": parameters.MAX_NEW_TOKENS, "num_beams": 8, "do_sample": False}


@pytest.mark.parametrize(
    ("memory", "cpus", "expected"),
    [(128, 8, 1), (1769, 8, 1), (1770, 8, 2), (3008, 8, 2), (10240, 8, 6), (10240, 2, 2), (512, None, 1)],
)
def test_threads_follow_lambda_vcpus(memory: int, cpus: int | None, expected: int, monkeypatch) -> None:
    monkeypatch.setattr(runners.os, "cpu_count", lambda: cpus)
    assert runners.vcpus(memory) == expected
