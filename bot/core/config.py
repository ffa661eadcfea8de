"""Every setting of the router, read once from the environment.

This is the only module of ``bot`` that reads the environment (``tests/bot/core/test_config.py``
checks it); everything else is handed the values. Names are constants so code, tests, the CDK stack
(``infra/router.py`` imports them) and the docs agree on them. The module imports nothing heavy, so
the CDK app can use its names without loading the router.

Secrets (bot token, signing secret, passcode) come from the environment
locally and from Secrets Manager in AWS (``SLACK_SECRET_ID``), never from a
plain Lambda environment value; Socket Mode's app token only ever from the
environment (``python -m bot serve``).
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

from bot.core.http import split_host
from inference.media_store import MEDIA_BUCKET_ENV
from inference.registry import MODELS_FILE_ENV

SLACK_BOT_TOKEN = "SLACK_BOT_TOKEN"  # noqa: S105 (a variable's name, not a secret)
SLACK_SIGNING_SECRET = "SLACK_SIGNING_SECRET"  # noqa: S105 (a variable's name, not a secret)
DEMO_PASSCODE = "DEMO_PASSCODE"
SLACK_SECRET_ID = "SLACK_SECRET_ID"  # noqa: S105 (a variable's name, not a secret)
SLACK_API_URL = "SLACK_API_URL"
SLACK_APP_TOKEN = "SLACK_APP_TOKEN"  # noqa: S105 (a variable's name, not a secret)
MODEL_FUNCTION_PREFIX = "MODEL_FUNCTION_PREFIX"
STATE_TABLE = "STATE_TABLE"
FEEDBACK_TABLE = "FEEDBACK_TABLE"
FEEDBACK_STORE_TEXT = "FEEDBACK_STORE_TEXT"
DATA_DIR = "DATA_DIR"
FORM_WAIT_SECONDS = "FORM_WAIT_SECONDS"
FORM_RUNS_PER_CLIENT = "FORM_RUNS_PER_CLIENT"
LOCAL_MODE = "LOCAL_MODE"
ALLOWED_HOSTS = "ALLOWED_HOSTS"
CONNECTIONS_PER_CLIENT = "CONNECTIONS_PER_CLIENT"
LOG_LEVEL = "LOG_LEVEL"
#: Powertools' names: the ``service`` of every log line, and the namespace of the router's metrics.
SERVICE_NAME = "POWERTOOLS_SERVICE_NAME"
METRICS_NAMESPACE = "POWERTOOLS_METRICS_NAMESPACE"
#: The registry file, read by ``inference.registry`` (the router's process and the model side alike).
MODELS_FILE = MODELS_FILE_ENV
#: The bucket files wait in for their model (the stack's; read by the model side too). Unset, they wait in
#: ``DATA_DIR/media`` (:data:`MEDIA_FOLDER`), as for ``python -m bot serve``.
MEDIA_BUCKET = MEDIA_BUCKET_ENV
MEDIA_FOLDER = "media"

DEFAULT_SLACK_API_URL = "https://slack.com/api/"
DEFAULT_DATA_DIR = ".local"
#: API Gateway gives up after 29 s; the form answers "warming up" before that.
DEFAULT_FORM_WAIT_SECONDS = 22.0
#: Form runs one client address may have going at once: enough for one comparison of three models
#: (``bot.core.compare.MAX_MODELS``), too few for one client to take a model's whole queue.
DEFAULT_FORM_RUNS_PER_CLIENT = 3
#: Connections one client address may hold open on ``python -m bot serve`` at once. Above the load
#: command's 200 concurrent Slack requests, which (like Slack through a tunnel) all come from one
#: loopback address; far above a browser's six.
DEFAULT_CONNECTIONS_PER_CLIENT = 256
DEFAULT_LOG_LEVEL = "INFO"
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
#: The ``service`` key of the router's log lines (the stack sets the same).
DEFAULT_SERVICE_NAME = "router"


class SettingError(ValueError):
    """An environment variable holds a value the router cannot use; the message names it."""


@dataclass(frozen=True)
class Secrets:
    """The secret values; ``repr`` never shows them."""

    bot_token: str = field(default="", repr=False)
    signing_secret: str = field(default="", repr=False)
    passcode: str = field(default="", repr=False)
    #: Socket Mode's app-level token (``python -m bot serve`` only; never in AWS).
    app_token: str = field(default="", repr=False)

    def values(self) -> tuple[str, ...]:
        """Every secret that is set, for the log filter that redacts them."""
        return tuple(value for value in (self.bot_token, self.signing_secret, self.passcode, self.app_token) if value)


@dataclass(frozen=True)
class Settings:
    """Non-secret settings plus the secrets, resolved once per process."""

    secrets: Secrets
    slack_api_url: str = DEFAULT_SLACK_API_URL
    function_prefix: str = ""
    state_table: str = ""
    feedback_table: str = ""
    #: False keeps only a hash of each input in feedback records (the registry can also say so per model).
    feedback_store_text: bool = True
    data_dir: Path = Path(DEFAULT_DATA_DIR)
    media_bucket: str = ""
    form_wait_seconds: float = DEFAULT_FORM_WAIT_SECONDS
    form_runs_per_client: int = DEFAULT_FORM_RUNS_PER_CLIENT
    #: Host names ``python -m bot serve`` answers for beyond loopback and the address it listens on.
    allowed_hosts: tuple[str, ...] = ()
    connections_per_client: int = DEFAULT_CONNECTIONS_PER_CLIENT
    #: True under ``python -m bot serve``: cookies are not marked Secure (plain HTTP on localhost).
    local: bool = False
    log_level: str = DEFAULT_LOG_LEVEL
    service_name: str = DEFAULT_SERVICE_NAME


def _secrets_from_manager(secret_id: str) -> Secrets:
    import boto3  # only in AWS, once per container

    raw = boto3.client("secretsmanager").get_secret_value(SecretId=secret_id)["SecretString"]
    values = json.loads(raw or "{}")
    return Secrets(
        bot_token=values.get(SLACK_BOT_TOKEN, ""),
        signing_secret=values.get(SLACK_SIGNING_SECRET, ""),
        passcode=values.get(DEMO_PASSCODE, ""),
    )


def _at_least_one(env: Mapping[str, str], name: str, default: int) -> int:
    """A whole-number setting of at least 1 (0 would refuse everything).

    Raises:
        SettingError: naming the variable and what it holds.
    """
    raw = env.get(name) or str(default)
    if not (raw.isascii() and raw.isdigit()) or int(raw) < 1:
        raise SettingError(f"{name} must be a whole number of at least 1, got {raw!r}")
    return int(raw)


def _seconds(env: Mapping[str, str], name: str, default: float) -> float:
    """A positive number of seconds.

    Raises:
        SettingError: naming the variable and what it holds.
    """
    raw = env.get(name) or str(default)
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if not 0 < value < float("inf"):
        raise SettingError(f"{name} must be a positive number of seconds, got {raw!r}")
    return value


def _host_names(env: Mapping[str, str], name: str) -> tuple[str, ...]:
    """A comma-separated list of host names or addresses, each as :func:`bot.core.http.split_host` writes it.

    Raises:
        SettingError: naming the variable and the entry that is not a plain host (a URL, a port).
    """
    hosts = []
    for entry in filter(None, (part.strip() for part in env.get(name, "").split(","))):
        host = split_host(f"[{entry}]" if entry.count(":") > 1 and not entry.startswith("[") else entry)
        if host is None or host[1] is not None:
            raise SettingError(f"{name} lists host names or addresses without scheme or port, got {entry!r}")
        hosts.append(host[0])
    return tuple(hosts)


def _log_level(env: Mapping[str, str]) -> str:
    """A level name of :mod:`logging`, in any case.

    Raises:
        SettingError: naming the variable, what it holds and the names it takes.
    """
    raw = env.get(LOG_LEVEL) or DEFAULT_LOG_LEVEL
    level = raw.strip().upper()
    if level not in LOG_LEVELS:
        raise SettingError(f"{LOG_LEVEL} must be one of {', '.join(LOG_LEVELS)}, got {raw!r}")
    return level


def form_passcode(environ: Mapping[str, str] | None = None) -> str:
    """The form's passcode from the environment (``python -m bot invoke`` logs in with it), or ""."""
    env = os.environ if environ is None else environ
    return env.get(DEMO_PASSCODE, "")


def load_settings(environ: Mapping[str, str] | None = None, *, local_by_default: bool = False) -> Settings:
    """Resolve the settings from ``environ`` (default: ``os.environ``).

    ``local_by_default`` is ``python -m bot serve``'s: local mode unless ``LOCAL_MODE`` says otherwise.

    Raises:
        SettingError: a variable holds a value the router cannot use.
    """
    env = os.environ if environ is None else environ
    secret_id = env.get(SLACK_SECRET_ID, "")
    if secret_id:
        secrets = _secrets_from_manager(secret_id)
    else:
        secrets = Secrets(
            bot_token=env.get(SLACK_BOT_TOKEN, ""),
            signing_secret=env.get(SLACK_SIGNING_SECRET, ""),
            passcode=form_passcode(env),
        )
    secrets = replace(secrets, app_token=env.get(SLACK_APP_TOKEN, ""))
    return Settings(
        secrets=secrets,
        slack_api_url=env.get(SLACK_API_URL) or DEFAULT_SLACK_API_URL,
        function_prefix=env.get(MODEL_FUNCTION_PREFIX, ""),
        state_table=env.get(STATE_TABLE, ""),
        feedback_table=env.get(FEEDBACK_TABLE, ""),
        feedback_store_text=env.get(FEEDBACK_STORE_TEXT, "true").strip().lower() not in ("0", "false", "no", "off"),
        data_dir=Path(env.get(DATA_DIR) or DEFAULT_DATA_DIR),
        media_bucket=env.get(MEDIA_BUCKET, ""),
        form_wait_seconds=_seconds(env, FORM_WAIT_SECONDS, DEFAULT_FORM_WAIT_SECONDS),
        form_runs_per_client=_at_least_one(env, FORM_RUNS_PER_CLIENT, DEFAULT_FORM_RUNS_PER_CLIENT),
        allowed_hosts=_host_names(env, ALLOWED_HOSTS),
        connections_per_client=_at_least_one(env, CONNECTIONS_PER_CLIENT, DEFAULT_CONNECTIONS_PER_CLIENT),
        local=env.get(LOCAL_MODE, "1" if local_by_default else "") == "1",
        log_level=_log_level(env),
        service_name=env.get(SERVICE_NAME) or DEFAULT_SERVICE_NAME,
    )
