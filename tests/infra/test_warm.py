"""The deploy's warm step: one custom resource per entry, keyed so that an unchanged entry does not run again."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from aws_cdk import App, Stack

from inference import warm_handler
from inference.registry import RESERVED_NAMES, load_registry
from infra.app import findings
from infra.bundling import model_image_context
from infra.network import MOUNT_PATH
from infra.stack import ROUTER, WARM
from infra.warm import HANDLER, RESOURCE_TYPE, TOKEN_SECRET_ENV, pins_digest, token_secret_arn, warm_properties
from tests.fakes.slack_client import LambdaContext
from tests.infra.conftest import EXTRA_MODEL, WARM_SOURCE, Synthesis, synthesize


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
    # Each entry's warm runs in a child process, so the fake's answer, not a list it appends to, says it ran.
    monkeypatch.setattr(warm_handler, "warm", lambda spec, source=None: {"Folder": f"/x/{spec.name}"})
    monkeypatch.delenv(warm_handler.WARM_SOURCE_ENV, raising=False)
    monkeypatch.delenv(warm_handler.TOKEN_SECRET_ENV, raising=False)
    for name, resource in warm_resources(synth).items():
        # As CloudFormation resolves it: the service token is the framework function's ARN.
        properties = {**resource["Properties"], "ServiceToken": "arn:aws:lambda:eu-west-1:1:function:onEvent"}
        event = {"RequestType": "Create", "ResourceProperties": properties, "RequestId": "r", "StackId": "s"}
        context = LambdaContext(function_name=f"{synth.settings.prefix}-warm")
        assert warm_handler.handler(event, context) == {
            "PhysicalResourceId": f"warm-{name}",
            "Data": {"Folder": f"/x/{name}"},
        }


def test_the_warm_function_waits_for_the_s3_endpoints_route(variant: Synthesis) -> None:
    depends = warm_function(variant).get("DependsOn", [])
    assert variant.logical_id(variant.stack.network.s3_endpoint) in depends


#: The secret a deployer names with ``-c hf_token_secret=...`` (its name; the console shows it with a suffix).
TOKEN_SECRET = "hf/warm-token"


@pytest.fixture(scope="module")
def with_token(tmp_path_factory: pytest.TempPathFactory) -> Synthesis:
    """The default app deployed with ``-c hf_token_secret=TOKEN_SECRET`` (gated or private models)."""
    return synthesize(tmp_path_factory.mktemp("cdk-token"), context={"hf_token_secret": TOKEN_SECRET})


def secret_statements(synthesis: Synthesis, function: Any) -> list[dict[str, Any]]:
    return [
        statement
        for statement in synthesis.role_statements(function)
        if any(str(action).startswith(("secretsmanager:", "kms:")) for action in _listed(statement["Action"]))
    ]


def _listed(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def test_with_a_hub_token_the_warm_function_may_read_that_secret_only(with_token: Synthesis) -> None:
    (statement,) = secret_statements(with_token, with_token.stack.warm.function)
    assert statement["Action"] == "secretsmanager:GetSecretValue"
    assert statement["Effect"] == "Allow" and "Condition" not in statement
    # That name's secret in this account and region, whatever its six-character suffix: nothing else.
    assert statement["Resource"] == {
        "Fn::Join": [
            "",
            [
                "arn:",
                {"Ref": "AWS::Partition"},
                ":secretsmanager:",
                {"Ref": "AWS::Region"},
                ":",
                {"Ref": "AWS::AccountId"},
                f":secret:{TOKEN_SECRET}-??????",
            ],
        ]
    }


def test_a_full_arn_is_allowed_as_given() -> None:
    arn = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:hf-token-AbC123"
    assert token_secret_arn(Stack(App(), "S"), arn) == arn


def test_the_token_is_never_an_environment_value_and_only_the_warm_step_reads_it(with_token: Synthesis) -> None:
    variables = warm_function(with_token)["Properties"]["Environment"]["Variables"]
    assert variables[warm_handler.TOKEN_SECRET_ENV] == TOKEN_SECRET, "the secret's name, which the handler reads"
    assert TOKEN_SECRET_ENV == warm_handler.TOKEN_SECRET_ENV
    for function in with_token.resources("AWS::Lambda::Function").values():
        names = set(function["Properties"].get("Environment", {}).get("Variables", {}))
        assert not names & {"HF_TOKEN", "HUGGING_FACE_HUB_TOKEN"}, function["Properties"].get("FunctionName")
    # Model functions run offline and never see it; the router reads its own (Slack) secret only.
    for function in with_token.stack.models.functions.values():
        assert secret_statements(with_token, function) == []
    router = json.dumps(secret_statements(with_token, with_token.stack.router.function))
    assert TOKEN_SECRET not in router
    assert TOKEN_SECRET not in json.dumps(
        {
            key: f
            for key, f in with_token.resources("AWS::Lambda::Function").items()
            if f is not warm_function(with_token)
        }
    )


def test_without_a_hub_token_the_warm_function_reads_no_secret(synth: Synthesis) -> None:
    assert secret_statements(synth, synth.stack.warm.function) == []
    assert warm_handler.TOKEN_SECRET_ENV not in warm_function(synth)["Properties"]["Environment"]["Variables"]


def test_with_a_hub_token_nag_and_cfn_lint_stay_clean(with_token: Synthesis) -> None:
    assert findings(with_token.assembly) == []
    (report,) = Path(with_token.assembly.directory).glob("AwsSolutions-*NagReport.csv")
    with report.open(encoding="utf-8", newline="") as stream:
        assert {row["Compliance"] for row in csv.DictReader(stream)} == {"Compliant", "Suppressed"}
    done = subprocess.run(
        [str(Path(sys.executable).with_name("cfn-lint")), "--format", "json", str(with_token.template_path)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode in (0, 4), done.stderr  # 4: warnings only
    assert [p for p in json.loads(done.stdout or "[]") if p["Level"] == "Error"] == []


def test_the_stacks_own_function_names_are_reserved_in_the_registry() -> None:
    assert {ROUTER, WARM} <= RESERVED_NAMES
