"""The models, faked at the two places the router reaches them.

:class:`FakeInvoker` stands in for the router's invoker (:class:`bot.core.invoker.Invoker`, what
``build_services`` takes): it records every call and answers synchronous ones as told.
:class:`FakeLambdaClient` stands in for boto3's ``lambda`` client under the real
:class:`~bot.core.invoker.LambdaInvoker`, and under Bolt's Lambda lazy-listener runner, which
invokes the router itself through it: it records each ``invoke`` and runs nothing.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, NamedTuple

#: Bounds a held call's wait, so a test that forgets to release it fails instead of hanging.
HOLD_SECONDS = 10.0

Answer = dict[str, Any] | Callable[[str, dict[str, Any]], dict[str, Any]]


class Call(NamedTuple):
    """One call the router made: ``kind`` is ``"async"`` or ``"sync"``; ``timeout`` is the sync call's."""

    kind: str
    model: str
    payload: dict[str, Any]
    timeout: float | None = None


def model_answer(model: str = "tiny-sentiment", **fields: Any) -> dict[str, Any]:
    """A model's response as ``inference.service.handle`` builds it (``result`` or ``error`` in ``fields``)."""
    return {
        "model": model,
        "task": "text-classification",
        "revision": "0" * 40,
        "timings": {"load_ms": 120.5, "inference_ms": 8.25},
        **fields,
    }


def no_labels(model: str, payload: dict[str, Any]) -> dict[str, Any]:
    """The default answer: a text classification with no labels."""
    return model_answer(model, result={"labels": []})


def echo(model: str, payload: dict[str, Any]) -> dict[str, Any]:
    """A model that repeats its input: the text comes back as its one label."""
    return model_answer(model, result={"labels": [{"label": payload["text"], "score": 1.0}]})


@dataclass
class FakeInvoker:
    """The router's invoker: records each call in ``calls``, answers synchronous ones with ``answer``.

    ``answer`` is a response, or a function of the model and the payload that gives one (:func:`echo`).
    While ``error`` is set, every call (either kind) raises it, after being recorded. With
    ``hold``, each synchronous call waits until the test sets the event (at most ``HOLD_SECONDS``):
    a model busy for as long as the test wants; :meth:`wait_for_calls` waits until calls have come in.
    """

    answer: Answer = no_labels
    error: Exception | None = None
    hold: threading.Event | None = None
    calls: list[Call] = field(default_factory=list)
    _entered: threading.Semaphore = field(default_factory=lambda: threading.Semaphore(0), repr=False)

    def invoke_async(self, model: str, payload: dict[str, Any]) -> None:
        self.calls.append(Call("async", model, payload))
        self._entered.release()
        if self.error is not None:
            raise self.error

    def invoke_sync(self, model: str, payload: dict[str, Any], *, timeout: float) -> dict[str, Any]:
        self.calls.append(Call("sync", model, payload, timeout))
        self._entered.release()
        if self.hold is not None:
            assert self.hold.wait(HOLD_SECONDS), "a held model call was never released"
        if self.error is not None:
            raise self.error
        return self.answer(model, payload) if callable(self.answer) else self.answer

    def wait_for_calls(self, count: int, timeout: float = HOLD_SECONDS) -> None:
        """Wait until ``count`` more calls have come in since the last wait (a failed assertion if not)."""
        for _ in range(count):
            assert self._entered.acquire(timeout=timeout), f"fewer than {count} model calls came in"

    def clear(self) -> None:
        """Forget the calls so far (``answer``, ``error`` and ``hold`` stay)."""
        self.calls.clear()
        self._entered = threading.Semaphore(0)

    def of_kind(self, kind: str) -> list[Call]:
        """The calls of one kind, ``"async"`` or ``"sync"``."""
        return [call for call in self.calls if call.kind == kind]


@dataclass
class FakeLambdaClient:
    """boto3's ``lambda`` client: records each ``invoke`` (its JSON payload decoded) and answers ``response``."""

    response: dict[str, Any] = field(default_factory=lambda: {"StatusCode": 202})
    invocations: list[dict[str, Any]] = field(default_factory=list)

    def invoke(self, *, FunctionName: str, InvocationType: str = "RequestResponse", Payload: Any = b"") -> dict:
        self.invocations.append(
            {"FunctionName": FunctionName, "InvocationType": InvocationType, "Payload": json.loads(Payload or "null")}
        )
        return self.response
