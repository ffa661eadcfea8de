"""The VPC and the EFS cache: encrypted, reachable only from the model functions and the warm step, offline on request."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from aws_cdk import App, RemovalPolicy, Stack, assertions
from aws_cdk import aws_logs as logs

from infra.network import ModelNetwork
from tests.infra.conftest import Synthesis, synthesize

NFS = 2049


def test_the_cache_is_encrypted_elastic_and_kept_by_default(synth: Synthesis, variant: Synthesis) -> None:
    (file_system,) = synth.resources("AWS::EFS::FileSystem").values()
    assert file_system["Properties"]["Encrypted"] is True
    assert file_system["Properties"]["ThroughputMode"] == "elastic"
    assert file_system["DeletionPolicy"] == "Retain"
    (destroyable,) = variant.resources("AWS::EFS::FileSystem").values()
    assert destroyable["DeletionPolicy"] == "Delete"


def test_the_access_point_writes_as_its_own_user_under_a_private_root(synth: Synthesis) -> None:
    (access_point,) = synth.resources("AWS::EFS::AccessPoint").values()
    properties = access_point["Properties"]
    assert properties["PosixUser"] == {"Uid": "1001", "Gid": "1001"}
    assert properties["RootDirectory"] == {
        "Path": "/hf_models",
        "CreationInfo": {"OwnerUid": "1001", "OwnerGid": "1001", "Permissions": "750"},
    }


def test_only_the_model_functions_and_the_warm_step_reach_the_cache_over_nfs(synth: Synthesis) -> None:
    network = synth.stack.network
    cache_group = synth.logical_id(network.file_system.connections.security_groups[0])
    function_group = synth.logical_id(network.function_security_group)
    warm_group = synth.logical_id(synth.stack.warm.security_group)
    groups = synth.resources("AWS::EC2::SecurityGroup")
    assert "SecurityGroupIngress" not in groups[cache_group]["Properties"]
    ingress = [
        rule["Properties"]
        for rule in synth.resources("AWS::EC2::SecurityGroupIngress").values()
        if rule["Properties"]["GroupId"] == {"Fn::GetAtt": [cache_group, "GroupId"]}
    ]
    assert ingress == [
        {
            "IpProtocol": "tcp",
            "FromPort": NFS,
            "ToPort": NFS,
            "GroupId": {"Fn::GetAtt": [cache_group, "GroupId"]},
            "SourceSecurityGroupId": {"Fn::GetAtt": [group, "GroupId"]},
            "Description": description,
        }
        for group, description in [
            (function_group, "NFS from the model functions"),
            (warm_group, "NFS from the warm step"),
        ]
    ]


def egress_ports(synth: Synthesis, group: Any = None) -> set[tuple[int, str]]:
    """(port, destination) of each outbound rule of ``group`` (the model functions' security group by default)."""
    function_group = synth.logical_id(group or synth.stack.network.function_security_group)
    inline = synth.raw["Resources"][function_group]["Properties"].get("SecurityGroupEgress", [])
    separate = [
        rule["Properties"]
        for rule in synth.resources("AWS::EC2::SecurityGroupEgress").values()
        if rule["Properties"]["GroupId"] == {"Fn::GetAtt": [function_group, "GroupId"]}
    ]
    return {(rule["FromPort"], _destination(rule)) for rule in [*inline, *separate] if rule.get("FromPort") is not None}


#: How :func:`egress_ports` names S3's prefix list (the media bucket, through the gateway endpoint).
S3_PREFIX_LIST = "S3 prefix list"


def _destination(rule: dict[str, Any]) -> str:
    if "DestinationPrefixListId" in rule:
        return S3_PREFIX_LIST
    return rule.get("CidrIp") or rule.get("DestinationSecurityGroupId", {}).get("Fn::GetAtt", ["?"])[0]


def media_egress(synth: Synthesis) -> set[tuple[int, str]]:
    """The model functions' way to S3, which only a registry with a file model has (tests/infra/test_media.py)."""
    return {(443, S3_PREFIX_LIST)} if synth.stack.media is not None else set()


def test_model_functions_reach_out_only_to_the_cache(synth: Synthesis, variant: Synthesis) -> None:
    """And, with a model that streams, the Lambda endpoint for its partial answers (tests/infra/test_streaming.py),
    and with one that reads files, S3 (tests/infra/test_media.py)."""
    cache_group = synth.logical_id(synth.stack.network.file_system.connections.security_groups[0])
    endpoint = (443, synth.logical_id(synth.stack.network.lambda_endpoint.connections.security_groups[0]))
    assert egress_ports(synth) == {(NFS, cache_group), endpoint} | media_egress(synth)
    assert egress_ports(variant) == {(NFS, cache_group), endpoint} | media_egress(variant)


def test_the_warm_step_reaches_the_cache_and_https_for_the_hub_or_s3(synth: Synthesis, variant: Synthesis) -> None:
    cache_group = synth.logical_id(synth.stack.network.file_system.connections.security_groups[0])
    assert egress_ports(synth, synth.stack.warm.security_group) == {(NFS, cache_group), (443, "0.0.0.0/0")}
    # Offline with a warm_source: HTTPS, whose only route out of the isolated subnets is the S3 endpoint's.
    assert egress_ports(variant, variant.stack.warm.security_group) == {(NFS, cache_group), (443, "0.0.0.0/0")}


def test_offline_without_a_warm_source_the_warm_step_reaches_only_the_cache(tmp_path: Path) -> None:
    offline = synthesize(tmp_path, context={"offline": "true"})
    cache_group = offline.logical_id(offline.stack.network.file_system.connections.security_groups[0])
    assert egress_ports(offline, offline.stack.warm.security_group) == {(NFS, cache_group)}


def test_s3_is_reached_through_one_gateway_endpoint_only_when_a_use_needs_it(
    synth: Synthesis, variant: Synthesis, media: Synthesis
) -> None:
    """One endpoint for every use (a route table takes one per service): the warm source's two statements, the
    media bucket's two (their resources: tests/infra/test_media.py), or none at all, and no endpoint."""
    for synthesis in (synth, variant, media):
        uses = {"ListWarmSource", "ReadWarmSource"} if synthesis.settings.warm_source else set()
        uses |= {"GetUploads", "PutAnnotated"} if synthesis.stack.media is not None else set()
        endpoints = [
            e["Properties"]
            for e in synthesis.resources("AWS::EC2::VPCEndpoint").values()
            if e["Properties"]["VpcEndpointType"] == "Gateway"  # Lambda's: test_streaming
        ]
        if not uses:
            assert endpoints == [] and synthesis.stack.network.s3_endpoint is None
            continue
        (properties,) = endpoints
        assert "s3" in json.dumps(properties["ServiceName"])
        assert len(properties["RouteTableIds"]) == 2
        statements = properties["PolicyDocument"]["Statement"]
        assert {statement["Sid"] for statement in statements} == uses
        for statement in statements:
            assert statement["Effect"] == "Allow" and statement["Principal"] == {"AWS": "*"}
            assert "*" not in json.dumps(statement["Resource"]).replace("/*", "")


def test_the_vpc_spans_two_zones_with_one_nat_gateway_and_flow_logs(synth: Synthesis) -> None:
    synth.template.resource_count_is("AWS::EC2::NatGateway", 1)
    synth.template.resource_count_is("AWS::EC2::FlowLog", 1)
    (flow_log,) = synth.resources("AWS::EC2::FlowLog").values()
    assert flow_log["Properties"]["TrafficType"] == "ALL"
    zones = {str(subnet["Properties"]["AvailabilityZone"]) for subnet in synth.resources("AWS::EC2::Subnet").values()}
    assert len(zones) == 2


def test_offline_removes_the_nat_gateway_and_keeps_the_models_off_the_hub(variant: Synthesis) -> None:
    for kind in ("AWS::EC2::NatGateway", "AWS::EC2::EIP", "AWS::EC2::InternetGateway"):
        variant.template.resource_count_is(kind, 0)
    routes = [r["Properties"] for r in variant.resources("AWS::EC2::Route").values()]
    assert not [r for r in routes if r.get("DestinationCidrBlock") == "0.0.0.0/0"]
    for name, function in variant.model_functions().items():
        assert function["Properties"]["Environment"]["Variables"]["HF_HUB_OFFLINE"] == "1", name


def test_going_offline_keeps_the_models_subnets_and_the_cache_in_place(synth: Synthesis, variant: Synthesis) -> None:
    def kept(s: Synthesis) -> dict[str, object]:
        subnets = {key: value["Properties"]["CidrBlock"] for key, value in s.resources("AWS::EC2::Subnet").items()}
        targets = {key: value["Properties"]["SubnetId"] for key, value in s.resources("AWS::EFS::MountTarget").items()}
        file_systems = set(s.resources("AWS::EFS::FileSystem"))
        return {"subnets": subnets, "targets": targets, "file systems": file_systems}

    online, offline = kept(synth), kept(variant)
    assert offline["targets"] == online["targets"]
    assert offline["file systems"] == online["file systems"]
    assert offline["subnets"].items() <= online["subnets"].items()
    assert len(offline["subnets"]) == 2


def test_the_nat_gateway_count_is_a_parameter() -> None:
    stack = Stack(App(), "Network")
    ModelNetwork(
        stack,
        "Network",
        nat_gateways=2,
        offline=False,
        removal_policy=RemovalPolicy.DESTROY,
        log_retention=logs.RetentionDays.ONE_DAY,
    )
    assertions.Template.from_stack(stack).resource_count_is("AWS::EC2::NatGateway", 2)


def test_every_function_logs_to_a_group_that_expires(synth: Synthesis, variant: Synthesis) -> None:
    groups = synth.resources("AWS::Logs::LogGroup")
    for key, function in synth.resources("AWS::Lambda::Function").items():
        group = function["Properties"]["LoggingConfig"]["LogGroup"]["Ref"]
        assert groups[group]["Properties"]["RetentionInDays"] == 30, key
    assert {g["DeletionPolicy"] for g in groups.values()} == {"Retain"}
    assert {g["DeletionPolicy"] for g in variant.resources("AWS::Logs::LogGroup").values()} == {"Delete"}
