"""The deploy's warm step: one custom resource per entry, keyed so that an unchanged entry does not run again."""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

import pytest

from inference import warm_handler
from inference.registry import load_registry
from infra.bundling import model_image_context
from infra.network import MOUNT_PATH
from infra.warm import HANDLER, RESOURCE_TYPE, pins_digest, warm_properties
from tests.fakes.slack_client import LambdaContext
from tests.infra.conftest import EXTRA_MODEL, WARM_SOURCE, Synthesis


def warm_function(synth: Synthesis) -> dict[str, Any]:
    return synth.raw["Resources"][synth.logical_id(synth.stack.warm.function)]


def warm_resources(synth: Synthesis) -> dict[str, dict[str, Any]]:
    """Registry name -> its warm custom resource."""
    found = synth.resources(RESOURCE_TYPE).values()
    return {resource["Properties"]["Entry"]: resource for resource in found}


def test_one_warm_resource_per_entry_sent_to_the_warm_functions_provider(synth: Synthesis) -> None:
    resources = warm_resources(synth)
    assert sorted(resources) == sorted(synth.registry.names)
    framework = synth.logical_id(synth.stack.warm.provider.node.find_child("framework-onEvent"))
    for resource in resources.values():
        assert resource["Properties"]["ServiceToken"] == {"Fn::GetAtt": [framework, "Arn"]}
    (provider_function,) = [
        f
        for key, f in synth.resources("AWS::Lambda::Function").items()
        if key == framework  # the framework function invokes the warm function, named in its environment
    ]
    assert provider_function["Properties"]["Environment"]["Variables"]["USER_ON_EVENT_FUNCTION_ARN"] == {
        "Fn::GetAtt": [synth.logical_id(synth.stack.warm.function), "Arn"]
    }


def test_each_resource_is_keyed_by_what_its_cache_depends_on_and_nothing_else(synth: Synthesis) -> None:
    pins = pins_digest(model_image_context(synth.registry.path))
    for spec in synth.registry:
        properties = dict(warm_resources(synth)[spec.name]["Properties"])
        properties.pop("ServiceToken")
        # CloudFormation stops waiting after 20 minutes instead of its default hour (the framework answers in 15).
        assert properties.pop("ServiceTimeout") == "1200"
        assert properties == {
            "Entry": spec.name,
            "Model": spec.model,
            "Revision": spec.revision,
            "Backend": spec.backend,
            "Quantize": spec.quantize,
            "Task": spec.task,
            "Pins": pins,
        }
        # What the handler reads is what the stack writes.
        assert set(properties) == {warm_handler.ENTRY, *warm_handler.CHECKED, "Pins"}


def test_an_unchanged_entry_keeps_its_properties_so_cloudformation_does_not_run_it_again(
    synth: Synthesis, variant: Synthesis
) -> None:
    before, after = warm_resources(synth), warm_resources(variant)
    assert set(after) == {*before, EXTRA_MODEL["name"]}
    for name, resource in before.items():
        # Another registry file, another context, offline: the same properties, so no Update is sent.
        assert after[name]["Properties"] == resource["Properties"], name
        assert after[name]["Properties"]["ServiceToken"] == resource["Properties"]["ServiceToken"]


def test_a_change_that_matters_to_the_cache_changes_the_key() -> None:
    spec = load_registry().get("sentiment")
    key = warm_properties(spec, "pins")
    for changed in (
        replace(spec, revision="1" * 40),
        replace(spec, backend="torch", quantize="none"),
        replace(spec, quantize="none"),
    ):
        assert warm_properties(changed, "pins") != key
    assert warm_properties(spec, "other pins") != key
    assert warm_properties(replace(spec, title="Another title", memory=3008, timeout=30), "pins") == key


def test_the_warm_function_runs_the_conversion_images_warm_handler_for_lambdas_longest(synth: Synthesis) -> None:
    properties = warm_function(synth)["Properties"]
    assert properties["ImageConfig"] == {"Command": [HANDLER]}
    assert properties["Timeout"] == 15 * 60
    assert properties["MemorySize"] == 10240
    tag = properties["Code"]["ImageUri"]["Fn::Sub"].rpartition(":")[2]
    (image,) = [i for i in synth.docker_images() if i["source"]["directory"] == f"asset.{tag}"]
    assert image["source"]["dockerFile"] == "Dockerfile.convert"
    assert image["source"]["platform"] == "linux/amd64"
    assert properties["FunctionName"] == f"{synth.settings.prefix}-warm"
    assert "ReservedConcurrentExecutions" not in properties, "every entry warms at once"


def test_the_warm_function_mounts_the_cache_through_the_model_functions_access_point_in_the_vpc(
    synth: Synthesis,
) -> None:
    properties = warm_function(synth)["Properties"]
    (mount,) = properties["FileSystemConfigs"]
    assert mount["LocalMountPath"] == MOUNT_PATH
    assert {"Ref": synth.logical_id(synth.stack.network.access_point)} in mount["Arn"]["Fn::Join"][1]
    model_mounts = {json_key(f["Properties"]["FileSystemConfigs"]) for f in synth.model_functions().values()}
    assert model_mounts == {json_key(properties["FileSystemConfigs"])}
    vpc = properties["VpcConfig"]
    assert vpc["SecurityGroupIds"] == [{"Fn::GetAtt": [synth.logical_id(synth.stack.warm.security_group), "GroupId"]}]
    (model,) = {json_key(f["Properties"]["VpcConfig"]["SubnetIds"]) for f in synth.model_functions().values()}
    assert json_key(vpc["SubnetIds"]) == model


def json_key(value: Any) -> str:
    return json.dumps(value, sort_keys=True)


def test_online_it_downloads_from_the_hub_and_offline_it_copies_from_the_warm_source(
    synth: Synthesis, variant: Synthesis
) -> None:
    assert warm_function(synth)["Properties"]["Environment"]["Variables"] == {
        "HF_HOME": MOUNT_PATH,
        "HF_HUB_OFFLINE": "0",
        "POWERTOOLS_SERVICE_NAME": "warm",
    }
    bucket, prefix = WARM_SOURCE
    assert warm_function(variant)["Properties"]["Environment"]["Variables"] == {
        "HF_HOME": MOUNT_PATH,
        "HF_HUB_OFFLINE": "1",
        "POWERTOOLS_SERVICE_NAME": "warm",
        warm_handler.WARM_SOURCE_ENV: f"s3://{bucket}/{prefix}",
    }


def test_each_model_function_waits_for_its_entrys_warm_step(synth: Synthesis) -> None:
    resources = {name: synth.logical_id(resource) for name, resource in synth.stack.warm.resources.items()}
    for name, function in synth.stack.models.functions.items():
        depends = synth.raw["Resources"][synth.logical_id(function)].get("DependsOn", [])
        assert resources[name] in depends, name
        assert not {key for other, key in resources.items() if other != name} & set(depends), name


def test_a_failure_logs_where_the_provider_frameworks_message_says(synth: Synthesis) -> None:
    # The framework's failure ends with "Logs: /aws/lambda/<function name>".
    properties = warm_function(synth)["Properties"]
    group = synth.raw["Resources"][properties["LoggingConfig"]["LogGroup"]["Ref"]]["Properties"]
    assert group["LogGroupName"] == f"/aws/lambda/{properties['FunctionName']}"
    assert group["RetentionInDays"] == 30


def test_the_warm_handler_accepts_exactly_what_the_template_sends(
    synth: Synthesis, monkeypatch: pytest.MonkeyPatch
) -> None:
    warmed: list[str] = []
    monkeypatch.setattr(warm_handler, "warm", lambda spec, source=None: warmed.append(spec.name) or {"Folder": "/x"})
    monkeypatch.delenv(warm_handler.WARM_SOURCE_ENV, raising=False)
    for name, resource in warm_resources(synth).items():
        # As CloudFormation resolves it: the service token is the framework function's ARN.
        properties = {**resource["Properties"], "ServiceToken": "arn:aws:lambda:eu-west-1:1:function:onEvent"}
        event = {"RequestType": "Create", "ResourceProperties": properties, "RequestId": "r", "StackId": "s"}
        context = LambdaContext(function_name=f"{synth.settings.prefix}-warm")
        assert warm_handler.handler(event, context) == {"PhysicalResourceId": f"warm-{name}", "Data": {"Folder": "/x"}}
    assert warmed == list(warm_resources(synth))


def test_the_warm_function_waits_for_the_s3_endpoints_route(variant: Synthesis) -> None:
    depends = warm_function(variant).get("DependsOn", [])
    assert variant.logical_id(variant.stack.network.s3_endpoint) in depends
