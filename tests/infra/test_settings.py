"""Context values: parsed from strings (command line) or JSON (cdk.json), refused when wrong."""

from __future__ import annotations

from typing import Any

import pytest
from aws_cdk import App, RemovalPolicy

from infra.settings import FUNCTION_NAME_LIMIT, Settings, SettingsError, function_prefix


def settings(**context: Any) -> Settings:
    return Settings.from_context(App(context=context).node)


def test_defaults_keep_data_and_go_online_through_one_nat_gateway() -> None:
    assert settings() == Settings()
    assert Settings().removal_policy == RemovalPolicy.RETAIN
    assert (Settings().nat_gateways, Settings().offline) == (1, False)


@pytest.mark.parametrize(
    ("value", "expected"), [("true", True), (True, True), ("1", True), ("false", False), (False, False)]
)
def test_offline_accepts_strings_and_booleans(value: Any, expected: bool) -> None:
    assert settings(offline=value).offline is expected


def test_offline_means_no_nat_gateway_whatever_the_count() -> None:
    assert settings(offline="true", nat_gateways="2").nat_gateways == 0


def test_the_warm_source_is_a_bucket_and_a_prefix() -> None:
    assert settings().warm_source is None
    assert settings(warm_source="s3://my-bucket/hf/cache/").warm_source == ("my-bucket", "hf/cache")


def test_the_warm_memory_is_lambdas_most_unless_the_account_allows_less() -> None:
    assert settings().warm_memory == 10240
    assert settings(warm_memory="3008").warm_memory == 3008


ARN = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:hf-token-AbC123"


def test_the_hub_token_secret_is_a_name_or_a_full_arn_and_none_by_default() -> None:
    assert settings().hf_token_secret is None
    assert settings(hf_token_secret=" hf/token ").hf_token_secret == "hf/token"
    assert settings(hf_token_secret=ARN).hf_token_secret == ARN


def test_a_hub_token_is_refused_offline_where_the_warm_step_cannot_reach_the_hub() -> None:
    with pytest.raises(SettingsError, match=r"hf_token_secret.*offline.*--to-s3 \.\.\.` with HF_TOKEN"):
        settings(offline="true", hf_token_secret="hf-token")


def test_values_from_the_command_line_are_converted() -> None:
    parsed = settings(nat_gateways="2", removal="destroy", throttle_rate="2.5", throttle_burst="5")
    assert parsed.nat_gateways == 2
    assert parsed.removal_policy == RemovalPolicy.DESTROY
    assert (parsed.throttle_rate, parsed.throttle_burst) == (2.5, 5)


@pytest.mark.parametrize(
    ("context", "named"),
    [
        ({"offline": "maybe"}, "offline"),
        ({"removal": "snapshot"}, "removal"),
        ({"nat_gateways": "two"}, "nat_gateways"),
        ({"nat_gateways": 0}, "offline=true"),
        ({"throttle_burst": 0}, "throttle_burst"),
        ({"stack_name": "1st-stack"}, "stack_name"),
        ({"warm_source": "https://bucket/prefix"}, "warm_source"),
        ({"warm_source": "s3://bucket"}, "warm_source"),
        ({"warm_memory": "20000"}, "warm_memory"),
        ({"warm_memory": "lots"}, "warm_memory"),
        ({"hf_token_secret": "a token?"}, "hf_token_secret"),
        ({"hf_token_secret": "arn:aws:secretsmanager:eu-west-1:123456789012:secret:hf-token"}, "full ARN"),
        ({"hf_token_secret": "arn:aws:ssm:eu-west-1:123456789012:parameter/hf-AbC123"}, "hf_token_secret"),
    ],
)
def test_invalid_values_are_refused_by_name(context: dict[str, Any], named: str) -> None:
    with pytest.raises(SettingsError, match=named):
        settings(**context)


def test_the_prefix_is_a_short_lower_case_form_of_the_stack_name() -> None:
    assert function_prefix("HfSlackBot") == "hfslackbot"
    assert function_prefix("Team_Bot--Prod") == "team-bot-prod"


def test_long_stack_names_get_distinct_prefixes_that_leave_room_for_any_model_name() -> None:
    first = function_prefix("AVeryLongStackNameForTheMachineLearningTeamStaging")
    second = function_prefix("AVeryLongStackNameForTheMachineLearningTeamProduction")
    assert first != second
    longest_model = "m" * 32
    assert len(f"{first}-{longest_model}") <= FUNCTION_NAME_LIMIT
