"""The feedback table: keyed as the router's store expects, on demand, encrypted, recoverable, kept by default."""

from __future__ import annotations

from typing import Any

from tests.infra.conftest import Synthesis


def feedback_table(synth: Synthesis) -> dict[str, Any]:
    return synth.raw["Resources"][synth.logical_id(synth.stack.feedback.table)]


def test_the_table_is_keyed_by_pk_and_sk_on_demand(synth: Synthesis) -> None:
    properties = feedback_table(synth)["Properties"]
    assert properties["KeySchema"] == [
        {"AttributeName": "pk", "KeyType": "HASH"},
        {"AttributeName": "sk", "KeyType": "RANGE"},
    ]
    assert properties["AttributeDefinitions"] == [
        {"AttributeName": "pk", "AttributeType": "S"},
        {"AttributeName": "sk", "AttributeType": "S"},
    ]
    assert properties["BillingMode"] == "PAY_PER_REQUEST"
    # Votes are kept until someone deletes them.
    assert "TimeToLiveSpecification" not in properties


def test_the_table_is_encrypted_with_the_aws_managed_key_and_recoverable(synth: Synthesis) -> None:
    properties = feedback_table(synth)["Properties"]
    # SSEEnabled without a key id or SSEType NONE: KMS with the aws/dynamodb key.
    assert properties["SSESpecification"] == {"SSEEnabled": True}
    assert properties["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}


def test_the_table_is_kept_unless_the_context_says_destroy(synth: Synthesis, variant: Synthesis) -> None:
    assert (feedback_table(synth)["DeletionPolicy"], feedback_table(synth)["UpdateReplacePolicy"]) == ("Retain",) * 2
    assert (feedback_table(variant)["DeletionPolicy"], feedback_table(variant)["UpdateReplacePolicy"]) == (
        "Delete",
    ) * 2


def test_the_router_and_the_deployer_learn_the_tables_name(synth: Synthesis) -> None:
    name = {"Ref": synth.logical_id(synth.stack.feedback.table)}
    router = synth.raw["Resources"][synth.logical_id(synth.stack.router.function)]
    assert router["Properties"]["Environment"]["Variables"]["FEEDBACK_TABLE"] == name
    output = synth.raw["Outputs"]["FeedbackTableName"]
    assert output["Value"] == name
    assert "python -m bot feedback export" in output["Description"]
