"""The model doubles: the fake invoker keeps the router's Invoker interface, the fake Lambda client
boto3's, as the real LambdaInvoker calls it."""

from __future__ import annotations

import inspect
import threading

import pytest

from bot.core.invoker import InvokeBusy, Invoker, LambdaInvoker
from tests.fakes.invoker import Call, FakeInvoker, FakeLambdaClient, echo, model_answer


@pytest.mark.parametrize("name", ["invoke_async", "invoke_sync"])
def test_the_fake_has_the_invokers_signatures(name: str) -> None:
    assert inspect.signature(getattr(FakeInvoker, name)) == inspect.signature(getattr(Invoker, name))


def test_calls_are_recorded_and_answered() -> None:
    models = FakeInvoker()
    models.invoke_async("a", {"text": "x"})
    assert models.invoke_sync("b", {"text": "y"}, timeout=7.5)["result"] == {"labels": []}
    assert models.calls == [Call("async", "a", {"text": "x"}), Call("sync", "b", {"text": "y"}, 7.5)]
    assert [c.model for c in models.of_kind("sync")] == ["b"]
    models.clear()
    assert models.calls == []


def test_answers_fixed_or_computed() -> None:
    fixed = model_answer(result={"labels": [{"label": "POSITIVE", "score": 0.9}]})
    assert FakeInvoker(answer=fixed).invoke_sync("m", {"text": "x"}, timeout=1) is fixed
    echoed = FakeInvoker(answer=echo).invoke_sync("m", {"text": "say this"}, timeout=1)
    assert echoed["model"] == "m" and echoed["result"]["labels"] == [{"label": "say this", "score": 1.0}]


def test_an_error_is_raised_by_both_kinds_after_the_call_is_recorded() -> None:
    models = FakeInvoker(error=InvokeBusy("busy"))
    with pytest.raises(InvokeBusy):
        models.invoke_async("m", {"text": "x"})
    with pytest.raises(InvokeBusy):
        models.invoke_sync("m", {"text": "x"}, timeout=1)
    assert [c.kind for c in models.calls] == ["async", "sync"]


def test_a_held_call_waits_for_its_release() -> None:
    models = FakeInvoker(hold=threading.Event())
    answers: list[dict] = []
    thread = threading.Thread(target=lambda: answers.append(models.invoke_sync("m", {"text": "x"}, timeout=1)))
    thread.start()
    models.wait_for_calls(1)
    assert answers == [] and thread.is_alive()
    models.hold.set()
    thread.join(5)
    assert len(answers) == 1


def test_waiting_for_calls_that_never_come_fails() -> None:
    with pytest.raises(AssertionError, match="fewer than 1"):
        FakeInvoker().wait_for_calls(1, timeout=0.01)


def test_the_lambda_client_records_what_the_lambda_invoker_sends() -> None:
    client = FakeLambdaClient()
    LambdaInvoker("hf-test", client=client).invoke_async("sentiment", {"text": "hi"})
    assert client.invocations == [
        {"FunctionName": "hf-test-sentiment", "InvocationType": "Event", "Payload": {"text": "hi"}}
    ]
