"""Slack accepts what ``python -m bot manifest`` writes: every shape passes Slack's own manifest schema.

The schema is vendored under ``tests/schemas/`` (source and commit in its README); its
references to the versioned files are served from there, never fetched.
"""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

import pytest
import yaml
from jsonschema import Draft7Validator
from jsonschema.exceptions import ValidationError
from jsonschema.validators import validator_for
from referencing import Registry, Resource
from referencing.exceptions import NoSuchResource

from bot.__main__ import main
from bot.core.commands import commanded
from bot.slack.manifest import BOT_EVENTS, PLACEHOLDER_URL, build_manifest
from inference.registry import load_registry
from tests.conftest import ROOT

SCHEMAS = ROOT / "tests" / "schemas"
#: Where the entry point's ``$ref``s point (to a tag of the same repository).
SCHEMA_SOURCE = "https://raw.githubusercontent.com/slackapi/manifest-schema/"


def _vendored(uri: str) -> Resource:
    """A versioned schema the entry point refers to, from this folder (an unknown URI is an error)."""
    path = SCHEMAS / uri.rsplit("/", 1)[-1]
    if not uri.startswith(SCHEMA_SOURCE) or not path.is_file():
        raise NoSuchResource(ref=uri)
    return Resource.from_contents(json.loads(path.read_text(encoding="utf-8")))


@pytest.fixture(scope="module")
def validator() -> Draft7Validator:
    schema = json.loads((SCHEMAS / "manifest.schema.json").read_text(encoding="utf-8"))
    cls = validator_for(schema, default=None)
    assert cls is Draft7Validator, f"the schema's $schema is {schema.get('$schema')!r}: use its validator"
    cls.check_schema(schema)
    return cls(schema, registry=Registry(retrieve=_vendored), format_checker=cls.FORMAT_CHECKER)


def refusals(validator: Draft7Validator, manifest: dict[str, Any]) -> list[str]:
    """Why Slack would refuse ``manifest``: the deepest errors under the schema's ``oneOf`` on the version."""
    leaves = [leaf for error in validator.iter_errors(manifest) for leaf in _leaves(error)]
    depth = max((len(leaf.absolute_path) for leaf in leaves), default=0)
    return list(
        dict.fromkeys(f"{leaf.json_path}: {leaf.message}" for leaf in leaves if len(leaf.absolute_path) == depth)
    )


def _leaves(error: ValidationError) -> list[ValidationError]:
    return [leaf for child in error.context for leaf in _leaves(child)] if error.context else [error]


def manifest_cli(capsys: pytest.CaptureFixture[str], *args: str) -> dict[str, Any]:
    assert main(["manifest", *args]) == 0
    return yaml.safe_load(capsys.readouterr().out)


def request_urls(value: Any) -> list[str]:
    """Every URL-valued field anywhere in the manifest."""
    if isinstance(value, dict):
        return [
            found
            for key, item in value.items()
            for found in ([item] if key in ("url", "request_url") else request_urls(item))
        ]
    if isinstance(value, list):
        return [found for item in value for found in request_urls(item)]
    return []


def test_the_schema_refuses_what_slack_refuses(validator: Draft7Validator) -> None:
    """The gate is real: a shortcut name over Slack's 24 characters does not pass."""
    manifest = build_manifest(load_registry(ROOT / "inference" / "models.yaml"), PLACEHOLDER_URL)
    manifest["features"]["shortcuts"][0]["name"] = "x" * 25
    assert refusals(validator, manifest) == [f"$.features.shortcuts[0].name: '{'x' * 25}' is too long"]


def test_committed_manifest_passes_slacks_schema(validator: Draft7Validator) -> None:
    assert refusals(validator, yaml.safe_load((ROOT / "manifest.yaml").read_text(encoding="utf-8"))) == []


@pytest.mark.parametrize(
    "args", [(), ("--url", "https://abc123.execute-api.eu-west-1.amazonaws.com/prod/"), ("--socket-mode",)]
)
def test_cli_output_passes_slacks_schema(
    validator: Draft7Validator, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, args: tuple[str]
) -> None:
    monkeypatch.delenv("MODELS_FILE", raising=False)
    assert refusals(validator, manifest_cli(capsys, *args)) == []


def test_socket_mode_manifest_has_no_request_urls(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("MODELS_FILE", raising=False)
    manifest = manifest_cli(capsys, "--socket-mode")
    assert request_urls(manifest) == []
    settings = manifest["settings"]
    assert settings["socket_mode_enabled"] is True
    assert settings["interactivity"] == {"is_enabled": True}
    assert settings["event_subscriptions"] == {"bot_events": BOT_EVENTS}
    assert (
        len(manifest["features"]["slash_commands"])
        == len(commanded(load_registry(ROOT / "inference" / "models.yaml"))) + 1
    )


def test_a_url_manifest_is_not_socket_mode(capsys: pytest.CaptureFixture[str]) -> None:
    manifest = manifest_cli(capsys, "--url", "https://x.example/prod")
    assert manifest["settings"]["socket_mode_enabled"] is False
    assert set(request_urls(manifest)) == {"https://x.example/prod/slack/events"}


@pytest.mark.parametrize(
    "url",
    [
        "notaurl",
        "",
        "x.example/prod",
        "http://x.example/prod",
        "ftp://x.example/prod",
        "https://",
        "https:///prod",
        "https://x.example/prod?stage=1",
        "https://x.example/prod#top",
        "https://x.example/my prod",
    ],
)
def test_manifest_refuses_a_url_slack_cannot_call(capsys: pytest.CaptureFixture[str], url: str) -> None:
    assert main(["manifest", "--url", url]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert err.count("\n") == 1 and err.startswith("error: --url: ") and "https://" in err


def test_bad_url_at_a_terminal_is_one_line_and_exit_2() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "bot", "manifest", "--url", "notaurl"], cwd=ROOT, capture_output=True, text=True
    )
    assert (result.returncode, result.stdout) == (2, "")
    assert result.stderr.splitlines() == [result.stderr.strip()] and result.stderr.startswith("error: --url: ")
    assert "'notaurl' is not the API's base URL" in result.stderr


def test_url_and_socket_mode_together_are_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["manifest", "--url", "https://x.example/prod", "--socket-mode"])
    assert exited.value.code == 2
    out, err = capsys.readouterr()
    assert out == "" and "--socket-mode: not allowed with argument --url" in err
