"""Each model function's reserved concurrency: the form's per-model limit in AWS (issue 19, item 2).

A synchronous call over it is throttled, which the router answers as 429 "busy"; Slack's asynchronous
calls wait in Lambda's queue. The router itself is never limited, so Slack's requests are always acked.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from aws_cdk import App, assertions

from infra.settings import DEFAULT_MODEL_CONCURRENCY, MODEL_CONCURRENCY, Settings, SettingsError
from tests.infra.conftest import Synthesis, synthesize


def test_every_model_function_reserves_the_default_concurrency(synth: Synthesis) -> None:
    for name in synth.registry.names:
        synth.template.has_resource_properties(
            "AWS::Lambda::Function",
            {
                "Environment": {"Variables": assertions.Match.object_like({"MODEL_NAME": name})},
                "ReservedConcurrentExecutions": DEFAULT_MODEL_CONCURRENCY,
            },
        )


def test_the_router_is_not_limited(synth: Synthesis) -> None:
    router = synth.raw["Resources"][synth.logical_id(synth.stack.router.function)]["Properties"]
    assert "ReservedConcurrentExecutions" not in router


def test_the_context_sets_each_models_concurrency(tmp_path: Path) -> None:
    custom = synthesize(tmp_path / "cdk.out", context={MODEL_CONCURRENCY: "2"})

    reserved = {
        name: f["Properties"].get("ReservedConcurrentExecutions") for name, f in custom.model_functions().items()
    }

    assert reserved == dict.fromkeys(custom.registry.names, 2)


@pytest.mark.parametrize("value", ["0", "-1", "many"])
def test_a_concurrency_below_one_is_refused_naming_the_key(value: str) -> None:
    with pytest.raises(SettingsError, match=MODEL_CONCURRENCY):
        Settings.from_context(App(context={MODEL_CONCURRENCY: value}).node)
