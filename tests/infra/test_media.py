"""The media bucket: private, TLS only, emptied after a day, and each side may do exactly its half.

The bucket's own properties are read from the construct built alone in an empty stack; the grants,
the endpoint and the environment from the ``media`` app (one entry per file task, offline, with a
warm source); that S3Store calls exactly the granted actions, from moto.
"""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest
from aws_cdk import App, RemovalPolicy, Stack, assertions
from aws_cdk import aws_logs as logs

from bot.core.config import MEDIA_BUCKET
from inference.media import ANNOTATED, PNG, UPLOADS, annotated_key, upload_key
from inference.media_store import EXPIRY_DAYS, MEDIA_BUCKET_ENV, S3Store
from inference.registry import DEFAULT_MODELS_FILE, Registry
from inference.tasks import media_kind
from infra.media import GET_ACTIONS, PUT_ACTIONS, MediaBucket, reads_files
from infra.network import PREFIX_LIST_ACTIONS, ModelNetwork
from infra.settings import Settings
from infra.stack import HfSlackBotStack
from tests.fakes.specs import model_spec
from tests.infra.conftest import FILE_MODELS, WARM_SOURCE, Synthesis
from tests.infra.test_permissions import IN_OWN_REGION, XRAY, get_att, grants


@pytest.fixture(scope="module")
def alone() -> dict[str, Any]:
    """The construct in an empty stack, online, with its network."""
    stack = Stack(App(), "Media")
    network = ModelNetwork(
        stack,
        "Network",
        nat_gateways=1,
        offline=False,
        removal_policy=RemovalPolicy.RETAIN,
        log_retention=logs.RetentionDays.ONE_MONTH,
    )
    MediaBucket(
        stack, "Media", network=network, removal_policy=RemovalPolicy.RETAIN, log_retention=logs.RetentionDays.ONE_MONTH
    )
    return assertions.Template.from_stack(stack).to_json()


def one(template: dict[str, Any], kind: str) -> tuple[str, dict[str, Any]]:
    (found,) = [(key, value) for key, value in template["Resources"].items() if value["Type"] == kind]
    return found


def objects(bucket: str, prefix: str) -> dict[str, Any]:
    return {"Fn::Join": ["", [{"Fn::GetAtt": [bucket, "Arn"]}, f"/{prefix}/*"]]}


def test_the_bucket_is_encrypted_private_owned_unversioned_and_emptied_after_a_day(alone: dict[str, Any]) -> None:
    _, bucket = one(alone, "AWS::S3::Bucket")
    properties = bucket["Properties"]
    assert properties["BucketEncryption"] == {
        "ServerSideEncryptionConfiguration": [{"ServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]
    }
    assert properties["PublicAccessBlockConfiguration"] == dict.fromkeys(
        ("BlockPublicAcls", "BlockPublicPolicy", "IgnorePublicAcls", "RestrictPublicBuckets"), True
    )
    assert properties["OwnershipControls"] == {"Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]}
    assert "VersioningConfiguration" not in properties and "LoggingConfiguration" not in properties
    assert properties["LifecycleConfiguration"] == {
        "Rules": [
            {
                "Id": "ExpireFiles",
                "Status": "Enabled",
                "ExpirationInDays": EXPIRY_DAYS,
                "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 1},
            }
        ]
    }
    # Whatever the stack's `removal`: nothing in it is worth keeping, and it is emptied first.
    assert bucket["DeletionPolicy"] == "Delete"
    assert {"Key": "aws-cdk:auto-delete-objects", "Value": "true"} in properties["Tags"]


def test_the_bucket_policy_refuses_requests_without_tls_1_2(alone: dict[str, Any]) -> None:
    key, _ = one(alone, "AWS::S3::Bucket")
    _, policy = one(alone, "AWS::S3::BucketPolicy")
    everything = [{"Fn::GetAtt": [key, "Arn"]}, {"Fn::Join": ["", [{"Fn::GetAtt": [key, "Arn"]}, "/*"]]}]
    denials = [s for s in policy["Properties"]["PolicyDocument"]["Statement"] if s["Effect"] == "Deny"]
    assert denials == [
        {
            "Action": "s3:*",
            "Condition": condition,
            "Effect": "Deny",
            "Principal": {"AWS": "*"},
            "Resource": everything,
        }
        for condition in ({"Bool": {"aws:SecureTransport": "false"}}, {"NumericLessThan": {"s3:TlsVersion": 1.2}})
    ]
    # The one Allow is CDK's emptying function's, which deletes the files when the bucket goes.
    (allow,) = [s for s in policy["Properties"]["PolicyDocument"]["Statement"] if s["Effect"] == "Allow"]
    assert "CustomS3AutoDeleteObjectsCustomResourceProviderRole" in json.dumps(allow["Principal"])


def test_the_emptying_function_logs_to_a_group_that_expires(alone: dict[str, Any]) -> None:
    handlers = [
        value
        for key, value in alone["Resources"].items()
        if value["Type"] == "AWS::Lambda::Function" and key.startswith("CustomS3AutoDeleteObjects")
    ]
    (handler,) = handlers
    group = alone["Resources"][handler["Properties"]["LoggingConfig"]["LogGroup"]["Ref"]]
    assert group["Properties"]["RetentionInDays"] == 30


def test_the_router_may_put_uploads_and_get_annotated_copies_only(media: Synthesis) -> None:
    bucket = media.logical_id(media.stack.media.bucket)
    found = grants(media.role_statements(media.stack.router.function))
    s3 = {sid: grant for sid, grant in found.items() if any(a.startswith("s3:") for a in grant["actions"])}
    assert s3 == {
        "PutUploads": {"actions": set(PUT_ACTIONS), "resources": [objects(bucket, UPLOADS)], "condition": None},
        "GetAnnotated": {"actions": set(GET_ACTIONS), "resources": [objects(bucket, ANNOTATED)], "condition": None},
    }


def test_a_file_model_may_get_uploads_and_put_annotated_copies_through_the_endpoint_only(media: Synthesis) -> None:
    bucket = media.logical_id(media.stack.media.bucket)
    through_endpoint = {"StringEquals": {"aws:SourceVpce": {"Ref": media.logical_id(media.stack.network.s3_endpoint)}}}
    router = get_att(media, media.stack.router.function)
    file_models = {entry["name"] for entry in FILE_MODELS}
    assert file_models <= set(media.stack.models.functions)
    for name, function in media.stack.models.functions.items():
        found = grants(media.role_statements(function))
        found.pop("MountCacheReadOnlyThroughAccessPoint")  # tests/infra/test_permissions.py
        media_grants = {
            "GetUploads": {
                "actions": set(GET_ACTIONS),
                "resources": [objects(bucket, UPLOADS)],
                "condition": through_endpoint,
            },
            "PutAnnotated": {
                "actions": set(PUT_ACTIONS),
                "resources": [objects(bucket, ANNOTATED)],
                "condition": through_endpoint,
            },
        }
        assert found == {
            "xray": {"actions": XRAY, "resources": ["*"], "condition": None},
            "SendResultsToFunction": {"actions": {"lambda:InvokeFunction"}, "resources": [router], "condition": None},
            # A text model gets nothing of the bucket.
            **(media_grants if name in file_models else {}),
        }, name


def test_the_router_and_the_file_models_are_told_the_buckets_name_and_text_models_are_not(media: Synthesis) -> None:
    name = {"Ref": media.logical_id(media.stack.media.bucket)}
    router = media.raw["Resources"][media.logical_id(media.stack.router.function)]
    assert router["Properties"]["Environment"]["Variables"][MEDIA_BUCKET] == name
    for spec in media.registry:
        variables = media.model_functions()[spec.name]["Properties"]["Environment"]["Variables"]
        if media_kind(spec.task) is None:
            assert MEDIA_BUCKET_ENV not in variables, spec.name
        else:
            assert variables[MEDIA_BUCKET_ENV] == name, spec.name


def test_the_s3_endpoint_lets_through_the_warm_source_and_the_buckets_two_prefixes_only(media: Synthesis) -> None:
    network = media.stack.network
    (endpoint,) = [e for e in media.resources("AWS::EC2::VPCEndpoint").values() if "s3" in json.dumps(e)]
    properties = endpoint["Properties"]
    assert properties["VpcEndpointType"] == "Gateway"
    tables = [media.stack.resolve(subnet.route_table.route_table_id) for subnet in network.vpc.isolated_subnets]
    assert properties["RouteTableIds"] == tables and len(tables) == 2
    bucket = media.logical_id(media.stack.media.bucket)
    source, prefix = WARM_SOURCE
    arn = f"arn:{{partition}}:s3:::{source}"

    def partitioned(text: str) -> dict[str, Any]:
        return {"Fn::Join": ["", ["arn:", {"Ref": "AWS::Partition"}, text.removeprefix("arn:{partition}")]]}

    everyone = {"Effect": "Allow", "Principal": {"AWS": "*"}}
    assert properties["PolicyDocument"]["Statement"] == [
        {
            **everyone,
            "Sid": "ListWarmSource",
            "Action": "s3:ListBucket",
            "Resource": partitioned(arn),
            "Condition": {"StringLike": {"s3:prefix": [f"{prefix}/*"]}},
        },
        {**everyone, "Sid": "ReadWarmSource", "Action": "s3:GetObject", "Resource": partitioned(f"{arn}/{prefix}/*")},
        {**everyone, "Sid": "GetUploads", "Action": "s3:GetObject", "Resource": objects(bucket, UPLOADS)},
        {**everyone, "Sid": "PutAnnotated", "Action": "s3:PutObject", "Resource": objects(bucket, ANNOTATED)},
    ]


def test_the_model_functions_reach_s3_by_its_prefix_list_on_https_only(media: Synthesis) -> None:
    network = media.stack.network
    lookup = network.node.find_child("S3PrefixList")
    lookup_id = media.logical_id(lookup.node.default_child)
    rules = [
        rule["Properties"]
        for rule in media.resources("AWS::EC2::SecurityGroupEgress").values()
        if "DestinationPrefixListId" in rule["Properties"]
    ]
    assert [(r["GroupId"], r["FromPort"], r["ToPort"], r["DestinationPrefixListId"]) for r in rules] == [
        (
            {"Fn::GetAtt": [media.logical_id(network.function_security_group), "GroupId"]},
            443,
            443,
            {"Fn::GetAtt": [lookup_id, "PrefixLists.0.PrefixListId"]},
        )
    ]
    # The lookup asks EC2 for the prefix list named as the endpoint's service (com.amazonaws.<region>.s3).
    call = json.dumps(media.raw["Resources"][lookup_id]["Properties"]["Create"])
    assert '\\"prefix-list-name\\",\\"Values\\":[\\"com.amazonaws.' in call and '.s3\\"]' in call
    policy = media.raw["Resources"][media.logical_id(lookup.node.find_child("CustomResourcePolicy"))]
    assert policy["Properties"]["PolicyDocument"]["Statement"] == [
        {
            "Sid": "FindS3PrefixList",
            "Action": PREFIX_LIST_ACTIONS[0],
            "Effect": "Allow",
            "Resource": "*",
            "Condition": IN_OWN_REGION,
        }
    ]


def test_a_registry_without_a_file_model_has_no_bucket_no_s3_endpoint_and_no_media_setting() -> None:
    registry = Registry(models=(model_spec("sentiment", backend="onnx"),), path=DEFAULT_MODELS_FILE)
    stack = HfSlackBotStack(App(), "TextOnly", settings=Settings(), registry=registry)
    template = assertions.Template.from_stack(stack)
    raw = template.to_json()
    assert stack.media is None and not reads_files(registry)
    for kind in ("AWS::S3::Bucket", "AWS::S3::BucketPolicy", "Custom::AWS"):
        template.resource_count_is(kind, 0)
    # Online and without a warm source, nothing uses S3 from the VPC.
    assert stack.network.s3_endpoint is None
    template.resource_count_is("AWS::EC2::VPCEndpoint", 0)
    assert MEDIA_BUCKET not in json.dumps(raw)


def test_the_whole_app_has_the_bucket_exactly_when_its_registry_reads_files(synth: Synthesis, media: Synthesis) -> None:
    """The default registry's own file models (when it has them) get the same bucket as the media app's."""
    assert reads_files(media.registry)
    for synthesis in (synth, media):
        wanted = reads_files(synthesis.registry)
        assert (synthesis.stack.media is not None) == wanted
        assert len(synthesis.resources("AWS::S3::Bucket")) == int(wanted)


def test_s3store_calls_exactly_the_granted_actions_under_each_prefix(monkeypatch: pytest.MonkeyPatch) -> None:
    from moto import mock_aws

    for variable in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.setenv(variable, "testing")
    with mock_aws():
        client = boto3.client("s3", region_name="us-east-1")
        client.create_bucket(Bucket="media")
        calls: list[tuple[str, str]] = []
        client.meta.events.register(
            "provide-client-params.s3", lambda model, params, **_: calls.append((model.name, params["Key"]))
        )
        store = S3Store("media", client=client)
        upload = upload_key("0123abcd", PNG)
        # The router puts the upload; the model gets it and puts its annotated copy; the router gets that.
        store.put(upload, b"\x89PNG\r\n\x1a\n", mime=PNG.mime)
        store.get(upload, max_bytes=1024)
        store.put(annotated_key(upload), b"\x89PNG\r\n\x1a\n", mime=PNG.mime)
        store.get(annotated_key(upload), max_bytes=1024)
    action = {"PutObject": PUT_ACTIONS[0], "GetObject": GET_ACTIONS[0]}
    assert [(action[name], key.partition("/")[0]) for name, key in calls] == [
        ("s3:PutObject", UPLOADS),
        ("s3:GetObject", UPLOADS),
        ("s3:PutObject", ANNOTATED),
        ("s3:GetObject", ANNOTATED),
    ]
