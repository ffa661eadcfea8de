"""The app's settings: CDK context values, read and validated once.

Every value can be given on the command line (``cdk deploy -c offline=true``,
``python -m infra -c offline=true``) or in ``cdk.json``. Values from the command
line arrive as strings, values from ``cdk.json`` as JSON; both are accepted.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from typing import Any

from aws_cdk import RemovalPolicy
from aws_cdk import aws_logs as logs
from constructs import Node

from inference.s3_cache import parse_s3_url

STACK_NAME = "stack_name"
REMOVAL = "removal"
NAT_GATEWAYS = "nat_gateways"
OFFLINE = "offline"
THROTTLE_RATE = "throttle_rate"
THROTTLE_BURST = "throttle_burst"
MODEL_CONCURRENCY = "model_concurrency"
ALARM_TOPIC_ARN = "alarm_topic_arn"
#: ``s3://bucket/prefix`` that ``python -m inference warm --to-s3`` filled: the warm step copies the cache from it.
WARM_SOURCE = "warm_source"
WARM_MEMORY = "warm_memory"
#: A Secrets Manager secret (name or full ARN) holding a Hugging Face token, for gated or private models:
#: the warm step reads it when it runs; nothing else may.
HF_TOKEN_SECRET = "hf_token_secret"  # noqa: S105 (a context key, not a secret)

DEFAULT_STACK_NAME = "HfSlackBot"
#: Slack retries after 3 s and a team rarely sends more than a few commands a second.
DEFAULT_THROTTLE_RATE = 10.0
DEFAULT_THROTTLE_BURST = 20
#: Each model function's reserved concurrency: what one model may run at once. It caps a flood of form
#: runs (Lambda throttles the synchronous call: the form's 429 "busy") and what a model costs, and keeps
#: one model from taking the account's pool from the router and the others; Slack's asynchronous calls
#: over it wait in Lambda's queue, so they are answered late, never refused. Lambda keeps 100 of the
#: account's concurrency unreserved, so the account needs 100 + this times the number of models.
DEFAULT_MODEL_CONCURRENCY = 5
#: The warm function's memory, MB: converting loads the model in torch and writes its export, so the most Lambda
#: gives (and six vCPUs with it), paid only for the minutes a deploy warms. New accounts may be held to 3008.
DEFAULT_WARM_MEMORY = 10240
LAMBDA_MEMORY = (128, 10240)
LOG_RETENTION = logs.RetentionDays.ONE_MONTH
REMOVAL_POLICIES = {"retain": RemovalPolicy.RETAIN, "destroy": RemovalPolicy.DESTROY}
#: Lambda allows 64 characters; model names take up to 32 of them and "-" one more.
MAX_PREFIX = 24
FUNCTION_NAME_LIMIT = 64
STACK_NAME_PATTERN = re.compile(r"^[A-Za-z][A-Za-z0-9-]{0,127}$")
#: What Secrets Manager allows in a secret's name, and a secret's full ARN (with its six-character suffix).
SECRET_NAME = re.compile(r"^[A-Za-z0-9/_+=.@-]{1,512}$")
SECRET_ARN = re.compile(r"^arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:\d{12}:secret:[A-Za-z0-9/_+=.@-]+-[A-Za-z0-9]{6}$")
TRUE = {"true", "1", "yes", "on"}
FALSE = {"false", "0", "no", "off", ""}


class SettingsError(ValueError):
    """A context value is missing its expected form; the message names the key."""


def _flag(value: Any, key: str) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in TRUE:
        return True
    if text in FALSE:
        return False
    raise SettingsError(f"context `{key}` must be true or false, got {value!r}")


def _number(value: Any, key: str, kind: type[int] | type[float], minimum: float) -> Any:
    try:
        number = kind(value)
    except (TypeError, ValueError):
        raise SettingsError(f"context `{key}` must be a number, got {value!r}") from None
    if isinstance(value, bool) or number < minimum:
        raise SettingsError(f"context `{key}` must be a number of at least {minimum}, got {value!r}")
    return number


def _memory(value: Any) -> int:
    memory = _number(value, WARM_MEMORY, int, LAMBDA_MEMORY[0])
    if memory > LAMBDA_MEMORY[1]:
        raise SettingsError(f"context `{WARM_MEMORY}` must be at most {LAMBDA_MEMORY[1]} (MB), got {value!r}")
    return int(memory)


def _token_secret(value: Any, *, offline: bool) -> str | None:
    text = str(value or "").strip()
    if not text:
        return None
    if offline:
        raise SettingsError(
            f"context `{HF_TOKEN_SECRET}` is for the warm step's downloads from the Hub, which an offline stack "
            f"(`{OFFLINE}=true`) cannot reach: drop it, and run `python -m inference warm --to-s3 ...` with HF_TOKEN "
            f"set on the machine that fills `{WARM_SOURCE}` instead (docs/deploy.md)"
        )
    if text.startswith("arn:"):
        if not SECRET_ARN.match(text):
            raise SettingsError(
                f"context `{HF_TOKEN_SECRET}` must be a secret's name or its full ARN "
                f"(arn:aws:secretsmanager:REGION:ACCOUNT:secret:NAME-XXXXXX, as the console shows it), got {text!r}"
            )
    elif not SECRET_NAME.match(text):
        raise SettingsError(
            f"context `{HF_TOKEN_SECRET}` must be a Secrets Manager secret's name (letters, digits and /_+=.@-) "
            f"or its full ARN, got {text!r}"
        )
    return text


def function_prefix(stack_name: str) -> str:
    """A short, lower-case prefix for the functions' explicit names, derived from the stack name.

    Long stack names are cut and given a hash suffix, so two stacks still get different prefixes.
    """
    slug = re.sub(r"[^a-z0-9]+", "-", stack_name.lower()).strip("-")
    if len(slug) <= MAX_PREFIX:
        return slug
    digest = hashlib.sha256(stack_name.encode()).hexdigest()[:6]
    return f"{slug[: MAX_PREFIX - 7].rstrip('-')}-{digest}"


@dataclass(frozen=True)
class Settings:
    """The validated context values."""

    stack_name: str = DEFAULT_STACK_NAME
    removal_policy: RemovalPolicy = RemovalPolicy.RETAIN
    nat_gateways: int = 1
    offline: bool = False
    throttle_rate: float = DEFAULT_THROTTLE_RATE
    throttle_burst: int = DEFAULT_THROTTLE_BURST
    model_concurrency: int = DEFAULT_MODEL_CONCURRENCY
    alarm_topic_arn: str | None = None
    #: (bucket, prefix) of ``warm_source``, or None: the warm step then downloads from the Hub (or, offline,
    #: only checks that the cache holds each entry).
    warm_source: tuple[str, str] | None = None
    warm_memory: int = DEFAULT_WARM_MEMORY
    #: ``hf_token_secret``: the name or full ARN of the secret holding a Hub token, or None (public models only).
    hf_token_secret: str | None = None

    @property
    def prefix(self) -> str:
        """What every function name starts with; the router gets it as ``MODEL_FUNCTION_PREFIX``."""
        return function_prefix(self.stack_name)

    def function_name(self, name: str) -> str:
        """The explicit Lambda name for a registry entry (or ``router``).

        Raises:
            SettingsError: the name would exceed Lambda's limit.
        """
        full = f"{self.prefix}-{name}"
        if len(full) > FUNCTION_NAME_LIMIT:
            raise SettingsError(f"function name {full!r} is longer than {FUNCTION_NAME_LIMIT} characters")
        return full

    @classmethod
    def from_context(cls, node: Node) -> Settings:
        """Read the settings from ``node``'s context.

        Raises:
            SettingsError: naming the key whose value is invalid.
        """

        def get(key: str, default: Any) -> Any:
            value = node.try_get_context(key)
            return default if value is None else value

        stack_name = str(get(STACK_NAME, DEFAULT_STACK_NAME))
        if not STACK_NAME_PATTERN.match(stack_name):
            raise SettingsError(
                f"context `{STACK_NAME}` must start with a letter and hold only letters, digits and '-'"
            )
        removal = str(get(REMOVAL, "retain")).strip().lower()
        if removal not in REMOVAL_POLICIES:
            raise SettingsError(f"context `{REMOVAL}` must be one of {', '.join(REMOVAL_POLICIES)}, got {removal!r}")
        offline = _flag(get(OFFLINE, False), OFFLINE)
        nat_gateways = 0 if offline else _number(get(NAT_GATEWAYS, 1), NAT_GATEWAYS, int, 0)
        if not offline and nat_gateways == 0:
            raise SettingsError(
                f"context `{NAT_GATEWAYS}`=0 leaves the models no way to download their weights; "
                f"use `{OFFLINE}=true` with a cache filled ahead of time instead"
            )
        topic = get(ALARM_TOPIC_ARN, "")
        source = str(get(WARM_SOURCE, "")).strip()
        try:
            warm_source = parse_s3_url(source) if source else None
        except ValueError as exc:
            raise SettingsError(f"context `{WARM_SOURCE}`: {exc}") from None
        return cls(
            stack_name=stack_name,
            removal_policy=REMOVAL_POLICIES[removal],
            nat_gateways=nat_gateways,
            offline=offline,
            throttle_rate=_number(get(THROTTLE_RATE, DEFAULT_THROTTLE_RATE), THROTTLE_RATE, float, 1),
            throttle_burst=_number(get(THROTTLE_BURST, DEFAULT_THROTTLE_BURST), THROTTLE_BURST, int, 1),
            model_concurrency=_number(get(MODEL_CONCURRENCY, DEFAULT_MODEL_CONCURRENCY), MODEL_CONCURRENCY, int, 1),
            alarm_topic_arn=str(topic) if topic else None,
            warm_source=warm_source,
            warm_memory=_memory(get(WARM_MEMORY, DEFAULT_WARM_MEMORY)),
            hf_token_secret=_token_secret(get(HF_TOKEN_SECRET, ""), offline=offline),
        )
