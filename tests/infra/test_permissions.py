"""Least privilege: each function's role allows exactly what its code uses, read from the synthesized template.

The only ``Resource: *`` left are X-Ray's, CloudWatch's GetMetricData (for
/go/stats) and, with a model that reads files, the deploy's lookup of S3's prefix
list (EC2's DescribeManagedPrefixLists), the last two held to the stack's region,
whose actions have no resource-level permissions. The model functions' AWS managed policy (network interfaces in
the VPC, whose Describe calls EC2 allows only on ``*``) is named, not inlined.
What the router's code calls is checked against the granted actions by running
its DynamoDB stores and its CloudWatch reader on clients that record every call,
and what the warm step's copy from S3 calls by running it against moto.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from bot.core.cloudwatch_stats import CloudWatchStats
from bot.stores.feedback import Answer, DynamoFeedbackStore, FeedbackStore
from bot.stores.state import DynamoStateStore, StateStore
from inference import s3_cache
from inference.registry import load_registry
from inference.tasks import media_kind
from infra.feedback import ROUTER_ACTIONS
from infra.network import PREFIX_LIST_ACTIONS
from infra.router import METRICS_ACTIONS, TABLE_ACTIONS
from infra.warm import S3_LIST_ACTIONS, S3_READ_ACTIONS
from tests.infra.conftest import WARM_SOURCE, Synthesis, managed_policy_name

XRAY = {"xray:PutTraceSegments", "xray:PutTelemetryRecords"}
#: GetMetricData names no resource; the router may call it in its own region only.
IN_OWN_REGION = {"StringEquals": {"aws:RequestedRegion": {"Ref": "AWS::Region"}}}
VPC_ACCESS = "service-role/AWSLambdaVPCAccessExecutionRole"
#: The only ones left in the template, each on a role CDK or API Gateway needs.
MANAGED_POLICIES = {
    VPC_ACCESS,
    # CDK's provider that empties the VPC's default security group: its own logs.
    "service-role/AWSLambdaBasicExecutionRole",
    # API Gateway's account-wide logging role.
    "service-role/AmazonAPIGatewayPushToCloudWatchLogs",
}
#: The media bucket's statements on each side, by Sid.
MEDIA_SIDS = {"router": {"PutUploads", "GetAnnotated"}, "model": {"GetUploads", "PutAnnotated"}}
#: The feedback store's one method the router never calls: the export runs it with an operator's credentials.
EXPORT_ONLY = {"votes"}


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def grants(statements: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Each statement by its Sid (CDK adds X-Ray's without one: ``xray``), as actions, resources and condition."""
    found: dict[str, dict[str, Any]] = {}
    for statement in statements:
        assert statement["Effect"] == "Allow" and {"NotAction", "NotResource", "Principal"}.isdisjoint(statement)
        actions = set(as_list(statement["Action"]))
        key = statement.get("Sid") or ("xray" if actions == XRAY else json.dumps(statement))
        assert key not in found, key
        found[key] = {
            "actions": actions,
            "resources": as_list(statement["Resource"]),
            "condition": statement.get("Condition"),
        }
    return found


def get_att(synth: Synthesis, construct: Any) -> dict[str, Any]:
    return {"Fn::GetAtt": [synth.logical_id(construct), "Arn"]}


@pytest.fixture(params=["synth", "media"])
def app(request: pytest.FixtureRequest) -> Synthesis:
    """The default app, and one with a model per file task."""
    return request.getfixturevalue(request.param)


def test_the_router_may_do_exactly_what_its_code_does(app: Synthesis) -> None:
    synth = app
    router = synth.stack.router
    found = grants(synth.role_statements(router.function))
    assert found == {
        "WriteOwnLogs": {
            "actions": {"logs:CreateLogStream", "logs:PutLogEvents"},
            "resources": [get_att(synth, router.node.find_child("Logs"))],
            "condition": None,
        },
        "xray": {"actions": XRAY, "resources": ["*"], "condition": None},
        "SendResultsToQueue": {
            "actions": {"sqs:SendMessage"},
            "resources": [get_att(synth, synth.stack.monitoring.failure_queue)],
            "condition": None,
        },
        "InvokeModelsAndItself": {
            "actions": {"lambda:InvokeFunction"},
            "resources": found["InvokeModelsAndItself"]["resources"],
            "condition": None,
        },
        "ReadSlackSecret": {
            "actions": {"secretsmanager:GetSecretValue"},
            "resources": [{"Ref": synth.logical_id(router.secret)}],
            "condition": None,
        },
        "UseStateTable": {
            "actions": set(TABLE_ACTIONS),
            "resources": [get_att(synth, router.table)],
            "condition": None,
        },
        "UseFeedbackTable": {
            "actions": set(ROUTER_ACTIONS),
            "resources": [get_att(synth, synth.stack.feedback.table)],
            "condition": None,
        },
        "ReadUsageMetrics": {"actions": set(METRICS_ACTIONS), "resources": ["*"], "condition": IN_OWN_REGION},
        # With a model that reads files, putting uploads and getting annotated copies (tests/infra/test_media.py).
        **{sid: found[sid] for sid in MEDIA_SIDS["router"] if synth.stack.media is not None},
    }
    assert synth.managed_policies(router.function) == []


def test_the_router_may_invoke_exactly_the_registrys_functions_and_itself(synth: Synthesis, variant: Synthesis) -> None:
    prefix = synth.settings.prefix
    assert synth.invoke_targets() == {f"{prefix}-{name}" for name in [*synth.registry.names, "router"]}
    assert variant.invoke_targets() == synth.invoke_targets() | {f"{prefix}-emotion"}


def test_the_feedback_actions_are_exactly_what_the_routers_store_calls() -> None:
    client = RecordingDynamoDB()
    store = DynamoFeedbackStore("feedback", client=client)
    answer = Answer(
        request_id="r1", model="sentiment", revision="0" * 40, task="text-classification", input="hi", output=[]
    )
    calls = {
        "record_answer": lambda: store.record_answer(answer),
        "answer": lambda: store.answer("r1"),
        "vote": lambda: store.vote("r1", "U1", "up"),
        "comment": lambda: store.comment("r1", "U1", "fine"),
        "tally": lambda: store.tally("r1"),
        "model_tallies": lambda: store.model_tallies(["sentiment"]),
    }
    assert set(calls) == protocol_methods(FeedbackStore) - EXPORT_ONLY
    for call in calls.values():
        call()
    assert client.actions == set(ROUTER_ACTIONS)
    store.votes()
    assert "dynamodb:Scan" in client.actions - set(ROUTER_ACTIONS)


def test_the_state_table_actions_are_exactly_what_the_routers_store_calls() -> None:
    client = RecordingDynamoDB()
    store = DynamoStateStore("state", client=client)
    calls = {
        "claim": lambda: store.claim("event:1"),
        "complete": lambda: store.complete("event:1"),
        "release": lambda: store.release("event:1"),
        "increment": lambda: store.increment("usage", "sentiment"),
        "counts": lambda: store.counts("usage"),
        "set_field": lambda: store.set_field("answer:1", "ts", "1.0"),
        "fields": lambda: store.fields("answer:1"),
    }
    assert set(calls) == protocol_methods(StateStore)
    for call in calls.values():
        call()
    assert client.actions == set(TABLE_ACTIONS)


def test_the_metrics_actions_are_exactly_what_the_stats_page_calls() -> None:
    client = boto3.client("cloudwatch", region_name="eu-west-1", aws_access_key_id="a", aws_secret_access_key="b")
    called: set[str] = set()
    client.meta.events.register(
        "provide-client-params.cloudwatch", lambda model, **_: called.add("cloudwatch:" + model.name)
    )
    with Stubber(client) as stubber:
        stubber.add_response("get_metric_data", {"MetricDataResults": []})
        CloudWatchStats(client=client).figures(load_registry())
    assert called == set(METRICS_ACTIONS)


def test_the_metric_read_is_accepted_by_its_own_nag_suppression(synth: Synthesis) -> None:
    policy = synth.stack.router.node.find_child("ReadUsageMetrics")
    resource = synth.raw["Resources"][synth.logical_id(policy)]
    (rule,) = resource["Metadata"]["cdk_nag"]["rules_to_suppress"]
    assert (rule["id"], rule["applies_to"]) == ("AwsSolutions-IAM5", ["Resource::*"])
    assert "GetMetricData" in rule["reason"]
    assert synth.logical_id(synth.stack.router.function) in {
        key for key, r in synth.raw["Resources"].items() if synth.logical_id(policy) in r.get("DependsOn", [])
    }


def test_each_model_function_may_use_the_cache_answer_the_router_and_nothing_else(app: Synthesis) -> None:
    synth = app
    network = synth.stack.network
    access_point = {"Ref": synth.logical_id(network.access_point)}
    router = get_att(synth, synth.stack.router.function)
    for name, function in synth.stack.models.functions.items():
        found = grants(synth.role_statements(function))
        # A model that reads files may also use the media bucket (tests/infra/test_media.py checks how).
        uses_media = MEDIA_SIDS["model"] if media_kind(synth.registry.get(name).task) is not None else set()
        assert set(found) == {"MountCacheReadOnlyThroughAccessPoint", "xray", "SendResultsToFunction", *uses_media}
        mount = found["MountCacheReadOnlyThroughAccessPoint"]
        # Read-only: serving never writes to the cache (tests/inference/test_read_only_cache.py).
        assert mount["actions"] == {"elasticfilesystem:ClientMount"}, name
        assert mount["resources"] == [get_att(synth, network.file_system)]
        (condition,) = mount["condition"]["StringEquals"].items()
        assert condition[0] == "elasticfilesystem:AccessPointArn"
        assert access_point in condition[1]["Fn::Join"][1]
        assert found["SendResultsToFunction"] == {
            "actions": {"lambda:InvokeFunction"},
            "resources": [router],
            "condition": None,
        }
        assert found["xray"] == {"actions": XRAY, "resources": ["*"], "condition": None}
        assert synth.managed_policies(function) == [VPC_ACCESS], name


def test_the_warm_function_may_use_the_cache_and_nothing_else_online(synth: Synthesis) -> None:
    network = synth.stack.network
    function = synth.stack.warm.function
    found = grants(synth.role_statements(function))
    assert set(found) == {"MountCacheThroughAccessPoint"}
    mount = found["MountCacheThroughAccessPoint"]
    assert mount["actions"] == {"elasticfilesystem:ClientMount", "elasticfilesystem:ClientWrite"}
    assert mount["resources"] == [get_att(synth, network.file_system)]
    assert json.dumps({"Ref": synth.logical_id(network.access_point)}) in json.dumps(mount["condition"])
    assert synth.managed_policies(function) == [VPC_ACCESS]


def test_with_a_warm_source_it_may_also_list_and_read_that_prefix_only(variant: Synthesis) -> None:
    bucket, prefix = WARM_SOURCE
    found = grants(variant.role_statements(variant.stack.warm.function))
    assert set(found) == {"MountCacheThroughAccessPoint", "ListWarmSource", "ReadWarmSource"}
    arn = {"Fn::Join": ["", ["arn:", {"Ref": "AWS::Partition"}, f":s3:::{bucket}"]]}
    assert found["ListWarmSource"] == {
        "actions": set(S3_LIST_ACTIONS),
        "resources": [arn],
        "condition": {"StringLike": {"s3:prefix": [f"{prefix}/*"]}},
    }
    objects = {"Fn::Join": ["", ["arn:", {"Ref": "AWS::Partition"}, f":s3:::{bucket}/{prefix}/*"]]}
    assert found["ReadWarmSource"] == {"actions": set(S3_READ_ACTIONS), "resources": [objects], "condition": None}


#: IAM's action for each S3 call (HeadObject, which boto3's download_file makes first, is GetObject's).
S3_ACTION_OF = {"ListObjectsV2": "s3:ListBucket", "GetObject": "s3:GetObject", "HeadObject": "s3:GetObject"}


def test_the_s3_actions_are_exactly_what_the_warm_steps_copy_calls(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from moto import mock_aws

    bucket, prefix = WARM_SOURCE
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.setenv(name, "testing")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "efs"))
    monkeypatch.delenv("HF_HUB_CACHE", raising=False)
    spec = load_registry().get("sentiment")
    repo = f"hub/models--{spec.model.replace('/', '--')}"
    with mock_aws():
        client = boto3.client("s3", region_name="us-east-1")
        client.create_bucket(Bucket=bucket)
        client.put_object(Bucket=bucket, Key=f"{prefix}/{repo}/snapshots/{spec.revision}/config.json", Body=b"{}")
        calls: list[tuple[str, dict[str, Any]]] = []
        client.meta.events.register(
            "provide-client-params.s3", lambda model, params, **_: calls.append((model.name, dict(params)))
        )
        copied = s3_cache.restore(spec, bucket=bucket, prefix=prefix, client=client)
    assert copied.files == 1
    assert {S3_ACTION_OF[name] for name, _ in calls} == {*S3_LIST_ACTIONS, *S3_READ_ACTIONS}
    for name, params in calls:
        assert params["Bucket"] == bucket
        # Within what the policy's resource and its s3:prefix condition allow.
        assert (params.get("Prefix") or params.get("Key")).startswith(f"{prefix}/"), (name, params)


def test_the_provider_framework_may_invoke_the_warm_function_only(synth: Synthesis) -> None:
    warm = synth.stack.warm
    framework = warm.provider.node.find_child("framework-onEvent")
    statements = synth.role_statements(framework)
    arn = get_att(synth, warm.function)
    assert {(frozenset(as_list(s["Action"])), json.dumps(s["Resource"], sort_keys=True)) for s in statements} == {
        (frozenset({"lambda:InvokeFunction"}), json.dumps([arn, {"Fn::Join": ["", [arn, ":*"]]}], sort_keys=True)),
        (frozenset({"lambda:GetFunction"}), json.dumps(arn, sort_keys=True)),
    }
    assert synth.managed_policies(framework) == ["service-role/AWSLambdaBasicExecutionRole"]


def test_every_function_is_assumed_by_lambda_only(synth: Synthesis) -> None:
    functions = [synth.stack.router.function, synth.stack.warm.function, *synth.stack.models.functions.values()]
    for function in functions:
        role = synth.raw["Resources"][synth.logical_id(function.role)]["Properties"]
        (statement,) = role["AssumeRolePolicyDocument"]["Statement"]
        assert statement["Principal"] == {"Service": "lambda.amazonaws.com"}
        assert statement["Action"] == "sts:AssumeRole"


def all_statements(synth: Synthesis) -> list[dict[str, Any]]:
    """Every identity-policy statement in the template: policies and roles' inline policies."""
    documents = [p["Properties"]["PolicyDocument"] for p in synth.resources("AWS::IAM::Policy").values()]
    for role in synth.resources("AWS::IAM::Role").values():
        documents += [p["PolicyDocument"] for p in role["Properties"].get("Policies", [])]
    return [statement for document in documents for statement in document["Statement"]]


def test_no_action_is_a_wildcard_and_only_x_ray_metric_reads_and_the_prefix_list_lookup_act_on_every_resource(
    synth: Synthesis, variant: Synthesis, media: Synthesis
) -> None:
    for synthesis in (synth, variant, media):
        statements = all_statements(synthesis)
        assert statements
        for statement in statements:
            actions = as_list(statement["Action"])
            assert not [a for a in actions if "*" in a], statement
            if "*" in as_list(statement["Resource"]):
                assert set(actions) == XRAY or (
                    set(actions) in (set(METRICS_ACTIONS), set(PREFIX_LIST_ACTIONS))
                    and statement["Condition"] == IN_OWN_REGION
                ), statement


def test_the_only_managed_policies_are_named_ones(synth: Synthesis) -> None:
    names = {
        managed_policy_name(arn)
        for role in synth.resources("AWS::IAM::Role").values()
        for arn in role["Properties"].get("ManagedPolicyArns", [])
    }
    assert names == MANAGED_POLICIES


class RecordingDynamoDB:
    """A DynamoDB client that answers every call with nothing found and records its IAM action."""

    class exceptions:  # boto3's spelling
        class ConditionalCheckFailedException(Exception):
            pass

    def __init__(self) -> None:
        self.actions: set[str] = set()

    def __getattr__(self, name: str) -> Any:
        def call(**_: Any) -> dict[str, Any]:
            self.actions.add("dynamodb:" + name.title().replace("_", ""))
            return {}

        return call

    def get_paginator(self, name: str) -> Any:
        self.actions.add("dynamodb:" + name.title())
        return type("Paginator", (), {"paginate": staticmethod(lambda **_: iter([{}]))})()


def protocol_methods(protocol: type) -> set[str]:
    return {name for name, value in vars(protocol).items() if callable(value) and not name.startswith("_")}


def test_the_file_systems_own_policy_grants_no_write_so_each_roles_actions_are_all_it_may_do(
    synth: Synthesis,
) -> None:
    # EFS allows what the file system's policy or the role's allows; CDK's default policy would let every
    # principal write through a mount target, and the model functions' read-only grant would mean nothing.
    (file_system,) = synth.resources("AWS::EFS::FileSystem").values()
    (statement,) = file_system["Properties"]["FileSystemPolicy"]["Statement"]
    assert statement["Effect"] == "Allow"
    assert statement["Action"] == "elasticfilesystem:ClientMount"
    account_root = statement["Principal"]["AWS"]["Fn::Join"][1]
    assert ":root" in account_root and {"Ref": "AWS::AccountId"} in account_root
    assert statement["Condition"] == {"Bool": {"elasticfilesystem:AccessedViaMountTarget": "true"}}
