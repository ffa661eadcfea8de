"""The router: its function, its secret, its state table, its failure path (its permissions: test_permissions)."""

from __future__ import annotations

import json

from bot.core.config import MEDIA_BUCKET
from infra.bundling import ROUTER_RUNTIME
from tests.infra.conftest import Synthesis

ENVIRONMENT = {
    "SLACK_SECRET_ID",
    "MODEL_FUNCTION_PREFIX",
    "MODELS_FILE",
    "STATE_TABLE",
    "FEEDBACK_TABLE",
    "POWERTOOLS_SERVICE_NAME",
    "POWERTOOLS_METRICS_NAMESPACE",
}


def router(synth: Synthesis) -> dict:
    return synth.raw["Resources"][synth.logical_id(synth.stack.router.function)]["Properties"]


def test_the_router_is_a_small_python_function_outside_the_vpc(synth: Synthesis) -> None:
    properties = router(synth)
    assert properties["FunctionName"] == f"{synth.settings.prefix}-router"
    assert properties["Handler"] == "bot.handler.handler"
    assert properties["Runtime"] == ROUTER_RUNTIME.name
    assert properties["Architectures"] == ["x86_64"]
    assert (properties["MemorySize"], properties["Timeout"]) == (512, 60)
    assert "VpcConfig" not in properties


def test_the_router_learns_names_and_resources_from_its_environment(synth: Synthesis) -> None:
    variables = router(synth)["Environment"]["Variables"]
    # With a model that reads files, the media bucket's name too (tests/infra/test_media.py).
    assert set(variables) == ENVIRONMENT | ({MEDIA_BUCKET} if synth.stack.media is not None else set())
    assert variables["SLACK_SECRET_ID"] == {"Ref": synth.logical_id(synth.stack.router.secret)}
    assert variables["STATE_TABLE"] == {"Ref": synth.logical_id(synth.stack.router.table)}
    assert variables["FEEDBACK_TABLE"] == {"Ref": synth.logical_id(synth.stack.feedback.table)}
    assert variables["MODEL_FUNCTION_PREFIX"] == synth.settings.prefix
    assert variables["MODELS_FILE"] == "/var/task/inference/models.yaml"
    assert variables["POWERTOOLS_SERVICE_NAME"] == "router"
    assert variables["POWERTOOLS_METRICS_NAMESPACE"] == "HfSlackBot"


def test_no_function_environment_holds_a_secret_value(synth: Synthesis) -> None:
    for function in synth.resources("AWS::Lambda::Function").values():
        for key, value in function["Properties"].get("Environment", {}).get("Variables", {}).items():
            if any(word in key for word in ("TOKEN", "SECRET", "PASSCODE", "PASSWORD")):
                assert key == "SLACK_SECRET_ID" and isinstance(value, dict), key


def test_the_secret_is_created_with_empty_values_only(synth: Synthesis) -> None:
    (secret,) = synth.resources("AWS::SecretsManager::Secret").values()
    value = secret["Properties"]["SecretString"]
    text = value if isinstance(value, str) else "".join(p for p in value["Fn::Join"][1] if isinstance(p, str))
    assert json.loads(text) == {"SLACK_BOT_TOKEN": "", "SLACK_SIGNING_SECRET": "", "DEMO_PASSCODE": ""}
    assert secret["DeletionPolicy"] == "Retain"


def test_the_fill_secret_output_is_one_put_secret_value_command(synth: Synthesis) -> None:
    command = synth.raw["Outputs"]["FillSecretCommand"]["Value"]["Fn::Join"][1]
    assert command[0].startswith("aws secretsmanager put-secret-value --region ")
    assert {"Ref": synth.logical_id(synth.stack.router.secret)} in command
    assert '\'{"SLACK_BOT_TOKEN":"xoxb-...","SLACK_SIGNING_SECRET":"...","DEMO_PASSCODE":""}\'' in command[-1]


def test_the_state_table_deduplicates_with_expiring_items(synth: Synthesis) -> None:
    table = synth.raw["Resources"][synth.logical_id(synth.stack.router.table)]
    properties = table["Properties"]
    assert properties["KeySchema"] == [{"AttributeName": "pk", "KeyType": "HASH"}]
    assert properties["AttributeDefinitions"] == [{"AttributeName": "pk", "AttributeType": "S"}]
    assert properties["TimeToLiveSpecification"] == {"AttributeName": "expires_at", "Enabled": True}
    assert properties["BillingMode"] == "PAY_PER_REQUEST"
    assert properties["SSESpecification"]["SSEEnabled"] is True
    assert properties["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}
    assert table["DeletionPolicy"] == "Retain"


def test_router_events_that_fail_every_retry_land_in_the_failure_queue(synth: Synthesis) -> None:
    function = synth.logical_id(synth.stack.router.function)
    (config,) = [
        c["Properties"]
        for c in synth.resources("AWS::Lambda::EventInvokeConfig").values()
        if c["Properties"]["FunctionName"] == {"Ref": function}
    ]
    queue = synth.logical_id(synth.stack.monitoring.failure_queue)
    assert config["MaximumRetryAttempts"] == 2
    assert config["MaximumEventAgeInSeconds"] == 3600
    assert config["DestinationConfig"] == {"OnFailure": {"Destination": {"Fn::GetAtt": [queue, "Arn"]}}}
    properties = synth.raw["Resources"][queue]["Properties"]
    assert properties["SqsManagedSseEnabled"] is True
    assert properties["MessageRetentionPeriod"] == 14 * 24 * 3600
    (policy,) = synth.resources("AWS::SQS::QueuePolicy").values()
    (statement,) = policy["Properties"]["PolicyDocument"]["Statement"]
    assert statement["Effect"] == "Deny"
    assert statement["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
