"""Destination records in tests have the shape local mode builds and the router recognises."""

from __future__ import annotations

from typing import Any

from bot.local.workers import Job
from bot.local.workers import destination_record as local_record
from bot.slack.delivery import is_destination_record
from tests.fakes.destinations import destination_record


def shape(value: Any) -> Any:
    """The keys of a record, nested, without the values (the payloads left out)."""
    if isinstance(value, dict):
        return {k: shape(v) for k, v in value.items() if k not in ("requestPayload", "responsePayload")}
    return type(value).__name__ if isinstance(value, bool | str) else "number" if value is not None else None


def test_the_success_record_is_local_modes() -> None:
    job = Job(payload={"text": "hi"}, asynchronous=True)
    local = local_record(function_name="local-m", job=job, response={"result": {}}, condition="Success")
    assert shape(destination_record()) == shape(local)


def test_the_failure_record_is_local_modes() -> None:
    job = Job(payload={"text": "hi"}, asynchronous=True)
    error = {"errorType": "Sandbox.Timedout", "errorMessage": "Task timed out after 1.00 seconds"}
    local = local_record(
        function_name="local-m", job=job, response=error, condition="RetriesExhausted", function_error="Unhandled"
    )
    assert shape(destination_record(failed=True)) == shape(local)


def test_payloads_are_replaced_whole_and_the_rest_merged() -> None:
    record = destination_record({"text": "x"}, {"model": "m"}, requestContext={"condition": "EventAgeExceeded"})
    assert record["requestPayload"] == {"text": "x"} and record["responsePayload"] == {"model": "m"}
    assert record["requestContext"]["condition"] == "EventAgeExceeded"
    assert record["requestContext"]["functionArn"].startswith("arn:aws:lambda:")
    assert is_destination_record(record) and is_destination_record(destination_record(failed=True))


def test_each_record_is_a_fresh_copy() -> None:
    destination_record()["requestPayload"]["reply"]["channel"] = "CHANGED"
    assert destination_record()["requestPayload"]["reply"]["channel"] == "C123"
