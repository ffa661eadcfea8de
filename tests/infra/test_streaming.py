"""Partial answers in AWS: a streaming model's function invokes the router through the VPC's Lambda endpoint, and no more."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from tests.infra.conftest import Synthesis, synthesize
from tests.infra.test_network import NFS, egress_ports, media_egress

STREAMING = "text-generation"


def _streaming_names(synth: Synthesis) -> list[str]:
    return [spec.name for spec in synth.registry if spec.task == STREAMING]


def _endpoints(synth: Synthesis) -> list[dict[str, Any]]:
    return [
        resource["Properties"]
        for resource in synth.resources("AWS::EC2::VPCEndpoint").values()
        if resource["Properties"].get("VpcEndpointType") == "Interface"
    ]


def test_a_streaming_models_function_names_the_router_and_may_invoke_it_only(synth: Synthesis) -> None:
    names = _streaming_names(synth)
    assert names, "the default registry has a chat model"
    router = synth.stack.resolve(synth.stack.router.function.function_arn)
    router_name = synth.stack.resolve(synth.stack.router.function.function_name)
    for name, resource in synth.model_functions().items():
        variables = resource["Properties"]["Environment"]["Variables"]
        function = synth.stack.models.functions[name]
        invokes = [s for s in synth.role_statements(function) if "lambda:InvokeFunction" in str(s["Action"])]
        # One grant covers the results and the partials: invoking the router, and only the router.
        assert invokes == [
            {"Sid": "SendResultsToFunction", "Action": "lambda:InvokeFunction", "Effect": "Allow", "Resource": router}
        ]
        if name in names:
            assert variables["PARTIALS_FUNCTION"] == router_name
        else:
            assert "PARTIALS_FUNCTION" not in variables


def test_the_lambda_endpoint_lets_through_invoking_the_router_and_nothing_else(synth: Synthesis) -> None:
    [endpoint] = _endpoints(synth)
    assert "lambda" in str(synth.stack.resolve(endpoint["ServiceName"]))
    assert endpoint["PrivateDnsEnabled"] is True
    router = synth.stack.resolve(synth.stack.router.function.function_arn)
    [statement] = endpoint["PolicyDocument"]["Statement"]
    assert statement["Action"] == "lambda:InvokeFunction" and statement["Resource"] == router
    assert statement["Effect"] == "Allow"


def test_model_functions_reach_the_cache_and_the_lambda_endpoint_only(synth: Synthesis, variant: Synthesis) -> None:
    for synthesis in (synth, variant):
        network = synthesis.stack.network
        cache_group = synthesis.logical_id(network.file_system.connections.security_groups[0])
        endpoint_group = synthesis.logical_id(network.lambda_endpoint.connections.security_groups[0])
        assert egress_ports(synthesis) == {(NFS, cache_group), (443, endpoint_group)} | media_egress(synthesis)
        # The endpoint's own group sends nothing: CDK's placeholder rule for a group with no egress.
        no_egress = {(252, "255.255.255.255/32")}
        assert egress_ports(synthesis, network.lambda_endpoint.connections.security_groups[0]) == no_egress


def test_a_registry_without_a_streaming_model_has_no_endpoint(tmp_path: Path, synth: Synthesis) -> None:
    entries = yaml.safe_load(synth.registry.path.read_text(encoding="utf-8"))["models"]
    kept = [entry for entry in entries if entry["task"] != STREAMING]
    models_file = tmp_path / "models.yaml"
    models_file.write_text(yaml.safe_dump({"models": kept}), encoding="utf-8")
    without = synthesize(tmp_path / "out", models_file=models_file)
    assert _endpoints(without) == [] and without.stack.network.lambda_endpoint is None
    assert all(
        "PARTIALS_FUNCTION" not in f["Properties"]["Environment"]["Variables"]
        for f in without.model_functions().values()
    )
