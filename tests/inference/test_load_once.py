"""Loading a model once per container: a failure is remembered with its reason, then tried again."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest

from inference.errors import ModelLoadError
from inference.service import LoadOnce, handle
from tests.fakes.specs import model_spec


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Loader:
    """Fails with ``errors`` in turn, then returns a runner; counts the attempts."""

    def __init__(self, *errors: Exception) -> None:
        self.errors = list(errors)
        self.attempts = 0

    def __call__(self) -> Any:
        self.attempts += 1
        if self.errors:
            raise self.errors.pop(0)
        return "runner"


def test_a_failure_is_remembered_for_the_backoff_then_tried_again() -> None:
    clock, load = Clock(), Loader(ModelLoadError("m: cannot reach the Hub"))
    once = LoadOnce(load, retry_after=30, clock=clock)
    with pytest.raises(ModelLoadError, match=r"cannot reach the Hub$"):
        once()
    clock.now += 10
    with pytest.raises(ModelLoadError, match=r"cannot reach the Hub \(the next attempt to load it is in 20 s\)"):
        once()
    assert load.attempts == 1, "a request during the backoff must not try again"
    clock.now += 21
    assert once() == "runner"
    assert once() == "runner"
    assert load.attempts == 2


def test_any_exception_while_loading_is_a_load_error_with_its_reason() -> None:
    once = LoadOnce(Loader(OSError("tokenizer.json is truncated")), clock=Clock())
    with pytest.raises(ModelLoadError, match=r"^OSError: tokenizer\.json is truncated$"):
        once()


def test_concurrent_first_requests_wait_for_one_load() -> None:
    attempts = []

    def slow() -> str:
        attempts.append(1)
        time.sleep(0.2)
        return "runner"

    once = LoadOnce(slow)
    results: list[Any] = []
    threads = [threading.Thread(target=lambda: results.append(once())) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(5)
    assert results == ["runner"] * 4 and len(attempts) == 1


def test_the_handler_reports_the_failed_load_and_how_long_it_took() -> None:
    spec = model_spec("m", model="owner/m")

    def failing() -> Any:
        time.sleep(0.05)
        raise ModelLoadError("m: cannot download owner/m@0000000: cannot reach the Hugging Face Hub")

    response = handle({"text": "hi"}, spec=spec, get_runner=LoadOnce(failing))
    assert response["error"]["type"] == "model_load_failed"
    assert "cannot reach the Hugging Face Hub" in response["error"]["message"]
    assert response["timings"]["load_ms"] >= 50
