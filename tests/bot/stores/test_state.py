"""Claims survive processes (SQLite locally) and use conditional writes in DynamoDB."""

from __future__ import annotations

import multiprocessing
import time
from pathlib import Path

import boto3
import pytest
from botocore.stub import ANY, Stubber

from bot.stores.state import DynamoStateStore, SqliteStateStore


def test_first_claim_wins_then_complete_blocks_and_release_frees(tmp_path: Path) -> None:
    store = SqliteStateStore(tmp_path / "s.sqlite")
    assert store.claim("k")
    assert not store.claim("k")
    store.release("k")
    assert store.claim("k")
    store.complete("k")
    store.release("k")  # a completed claim cannot be given up
    assert not store.claim("k")


def test_expired_lease_can_be_taken_over(tmp_path: Path) -> None:
    store = SqliteStateStore(tmp_path / "s.sqlite")
    assert store.claim("k", lease=0)
    time.sleep(0.01)
    assert store.claim("k")


def _claim_many(path: str, results: multiprocessing.Queue) -> None:
    store = SqliteStateStore(Path(path))
    results.put(sum(store.claim(f"key-{i}") for i in range(50)))


def test_claims_are_exclusive_across_processes(tmp_path: Path) -> None:
    path = str(tmp_path / "s.sqlite")
    SqliteStateStore(Path(path))
    context = multiprocessing.get_context("spawn")
    results = context.Queue()
    workers = [context.Process(target=_claim_many, args=(path, results)) for _ in range(3)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(60)
    assert sum(results.get(timeout=5) for _ in workers) == 50


def test_counters(tmp_path: Path) -> None:
    store = SqliteStateStore(tmp_path / "s.sqlite")
    store.increment("usage", "a")
    store.increment("usage", "a", 2)
    store.increment("usage", "b")
    assert store.counts("usage") == {"a": 3, "b": 1}
    assert store.counts("other") == {}


@pytest.fixture
def dynamo() -> tuple[DynamoStateStore, Stubber]:
    client = boto3.client("dynamodb", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x")
    stubber = Stubber(client)
    stubber.activate()
    return DynamoStateStore("state", client=client), stubber


def test_dynamo_claim_is_a_conditional_put(dynamo: tuple[DynamoStateStore, Stubber]) -> None:
    store, stubber = dynamo
    expected = {
        "TableName": "state",
        "Item": {"pk": {"S": "k"}, "status": {"S": "pending"}, "expires_at": {"N": ANY}},
        "ConditionExpression": "attribute_not_exists(pk) OR expires_at < :now",
        "ExpressionAttributeValues": {":now": {"N": ANY}},
    }
    stubber.add_response("put_item", {}, expected)
    stubber.add_client_error("put_item", "ConditionalCheckFailedException", expected_params=expected)
    assert store.claim("k")
    assert not store.claim("k")
    stubber.assert_no_pending_responses()


def test_dynamo_release_only_deletes_pending(dynamo: tuple[DynamoStateStore, Stubber]) -> None:
    store, stubber = dynamo
    stubber.add_client_error("delete_item", "ConditionalCheckFailedException")
    store.release("k")  # already completed: quietly kept
    stubber.assert_no_pending_responses()


def test_dynamo_counters(dynamo: tuple[DynamoStateStore, Stubber]) -> None:
    store, stubber = dynamo
    stubber.add_response(
        "update_item",
        {},
        {
            "TableName": "state",
            "Key": {"pk": {"S": "count#usage"}},
            "UpdateExpression": "ADD #n :amount",
            "ExpressionAttributeNames": {"#n": "qa"},
            "ExpressionAttributeValues": {":amount": {"N": "1"}},
        },
    )
    stubber.add_response("get_item", {"Item": {"pk": {"S": "count#usage"}, "qa": {"N": "4"}}})
    store.increment("usage", "qa")
    assert store.counts("usage") == {"qa": 4}


def test_dynamo_fields_past_their_expiry_are_gone(dynamo: tuple[DynamoStateStore, Stubber]) -> None:
    """DynamoDB's TTL deletes late, so a read checks ``expires_at`` itself, as the SQLite store does."""
    store, stubber = dynamo
    now = int(time.time())
    for expires_at in (now - 5, now + 3600):
        item = {"pk": {"S": "fields#k"}, "f_text": {"S": "hello"}, "expires_at": {"N": str(expires_at)}}
        stubber.add_response("get_item", {"Item": item})
    assert store.fields("k") == {}
    assert store.fields("k") == {"text": "hello"}
    stubber.assert_no_pending_responses()


def test_sqlite_fields_expire(tmp_path: Path) -> None:
    store = SqliteStateStore(tmp_path / "state.sqlite3")
    store.set_field("k", "text", "hello", ttl=-1)
    store.set_field("j", "text", "kept", ttl=60)
    assert (store.fields("k"), store.fields("j")) == ({}, {"text": "kept"})
