"""The Lambda invoker: its clients, and one classification of Lambda's own failures for both paths."""

from __future__ import annotations

import io
import json
from typing import Any

import pytest

from bot.core.invoker import InvokeTimeout, LambdaInvoker, ModelFailure, function_failure
from bot.slack.delivery import failure_from_record
from tests.events import load_event
from tests.fakes.destinations import destination_record
from tests.fakes.invoker import FakeLambdaClient

#: Lambda's error payloads as a synchronous invoke returns them, and the failure each must be.
LAMBDA_ERRORS = {
    "lambda_sync_timeout": "timeout",
    "lambda_sync_timeout_legacy": "timeout",
    "lambda_sync_out_of_memory": "model_failed",
    "lambda_sync_exception": "model_failed",
}


def sync_response(name: str) -> dict[str, Any]:
    """A sample synchronous invoke response, its payload as the streaming body boto3 returns."""
    event = load_event(name)
    return {**event, "Payload": io.BytesIO(json.dumps(event["Payload"]).encode())}


def test_the_forms_call_gets_its_own_client_after_a_slack_command_made_the_async_one(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    made: list[tuple[Any, FakeLambdaClient]] = []  # each client boto3 made, with the config it was made with

    def client(service: str, config: Any = None) -> FakeLambdaClient:
        assert service == "lambda"
        made.append((config, FakeLambdaClient({"StatusCode": 200, "Payload": io.BytesIO(b'{"result": {}}')})))
        return made[-1][1]

    monkeypatch.setattr("boto3.client", client)
    invoker = LambdaInvoker("hf-test")
    invoker.invoke_async("sentiment", {"text": "hi"})
    assert invoker.invoke_sync("sentiment", {"text": "hi"}, timeout=22.0) == {"result": {}}
    (async_config, async_client), (sync_config, sync_client) = made
    assert async_config is None and [c["InvocationType"] for c in async_client.invocations] == ["Event"]
    assert sync_config.read_timeout == 22.0
    assert sync_config.retries["max_attempts"] == 0
    assert [c["InvocationType"] for c in sync_client.invocations] == ["RequestResponse"]
    invoker.invoke_sync("sentiment", {"text": "again"}, timeout=22.0)
    assert len(made) == 2, "one synchronous client per timeout, reused"


@pytest.mark.parametrize(("name", "kind"), sorted(LAMBDA_ERRORS.items()))
def test_a_synchronous_function_error_is_classified_from_lambdas_payload(name: str, kind: str) -> None:
    invoker = LambdaInvoker("hf-test", client=FakeLambdaClient(sync_response(name)))
    with pytest.raises(ModelFailure) as raised:
        invoker.invoke_sync("summarize", {"text": "x"}, timeout=5.0)
    assert not isinstance(raised.value, InvokeTimeout), "Lambda's time limit is not 'still warming up'"
    assert raised.value.error == function_failure(load_event(name)["Payload"])
    assert raised.value.error["type"] == kind


@pytest.mark.parametrize(("name", "kind"), sorted(LAMBDA_ERRORS.items()))
def test_the_destination_path_classifies_the_same_payloads_the_same_way(name: str, kind: str) -> None:
    record = destination_record(response=load_event(name)["Payload"], failed=True)
    assert failure_from_record(record) == function_failure(record["responsePayload"])
    assert failure_from_record(record)["type"] == kind


def test_the_sample_destination_failure_is_lambdas_timeout() -> None:
    assert failure_from_record(destination_record(failed=True))["type"] == "timeout"


def test_failures_are_worded_for_people() -> None:
    memory = function_failure(load_event("lambda_sync_out_of_memory")["Payload"])
    assert "ran out of memory" in memory["message"] and "`memory`" in memory["message"]
    crash = function_failure(load_event("lambda_sync_exception")["Payload"])
    assert "KeyError" in crash["message"]
    aged = function_failure(None, condition="EventAgeExceeded")
    assert aged == {"type": "timeout", "message": "the request waited too long in the queue to be run."}
    assert function_failure("not a dict")["type"] == "model_failed"
