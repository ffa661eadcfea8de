"""The REST API: only the router's routes, proxied, on a throttled, traced and logged stage."""

from __future__ import annotations

from tests.infra.conftest import Synthesis

ROUTES = {
    ("GET", "/go"),
    ("POST", "/go"),
    ("GET", "/go/{proxy+}"),
    ("POST", "/go/{proxy+}"),
    ("POST", "/slack/events"),
}


def paths(synth: Synthesis) -> dict[str, str]:
    """Logical id of each API resource -> its full path."""
    resources = synth.resources("AWS::ApiGateway::Resource")

    def path(logical_id: str) -> str:
        properties = resources[logical_id]["Properties"]
        parent = properties["ParentId"]
        prefix = path(parent["Ref"]) if "Ref" in parent else ""
        return f"{prefix}/{properties['PathPart']}"

    return {logical_id: path(logical_id) for logical_id in resources}


def test_the_api_serves_exactly_the_routers_routes_through_a_proxy(synth: Synthesis) -> None:
    by_id = paths(synth)
    router = {"Fn::GetAtt": [synth.logical_id(synth.stack.router.function), "Arn"]}
    routes = set()
    for method in synth.resources("AWS::ApiGateway::Method").values():
        properties = method["Properties"]
        routes.add((properties["HttpMethod"], by_id[properties["ResourceId"]["Ref"]]))
        integration = properties["Integration"]
        assert integration["Type"] == "AWS_PROXY"
        assert router in integration["Uri"]["Fn::Join"][1]
    assert routes == ROUTES


def test_the_stage_is_throttled_traced_and_logged(synth: Synthesis) -> None:
    (stage,) = synth.resources("AWS::ApiGateway::Stage").values()
    properties = stage["Properties"]
    assert properties["TracingEnabled"] is True
    (settings,) = properties["MethodSettings"]
    assert settings["ResourcePath"] == "/*" and settings["HttpMethod"] == "*"
    assert settings["ThrottlingRateLimit"] == synth.settings.throttle_rate
    assert settings["ThrottlingBurstLimit"] == synth.settings.throttle_burst
    assert settings["MetricsEnabled"] is True
    assert settings["LoggingLevel"] == "ERROR"
    assert settings["DataTraceEnabled"] is False
    access_logs = synth.logical_id(synth.stack.api.node.find_child("AccessLogs"))
    assert {"Ref": access_logs} in properties["AccessLogSetting"]["DestinationArn"]["Fn::Join"][1]


def test_throttling_comes_from_context(variant: Synthesis) -> None:
    (stage,) = variant.resources("AWS::ApiGateway::Stage").values()
    (settings,) = stage["Properties"]["MethodSettings"]
    assert (settings["ThrottlingRateLimit"], settings["ThrottlingBurstLimit"]) == (3, 6)


def test_the_outputs_give_the_urls_and_the_secrets_name(synth: Synthesis) -> None:
    outputs = synth.raw["Outputs"]
    assert {"ApiUrl", "FormUrl", "SlackRequestUrl", "SecretName", "FillSecretCommand"} <= set(outputs)
    assert outputs["FormUrl"]["Value"]["Fn::Join"][1][-1].endswith("/go")
    assert outputs["SlackRequestUrl"]["Value"]["Fn::Join"][1][-1].endswith("/slack/events")


def test_the_forms_file_uploads_reach_the_router_as_bytes(synth: Synthesis) -> None:
    """A REST API passes a body as text unless its type is binary; then the router gets it base64-encoded."""
    (api,) = synth.resources("AWS::ApiGateway::RestApi").values()
    assert api["Properties"]["BinaryMediaTypes"] == ["multipart/form-data"]
