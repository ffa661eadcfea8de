"""The deploy output that says when to re-import the Slack manifest (issue 15, item 4): ``SlackCommands``.

``cdk deploy`` prints the registry's slash commands in the manifest's order; when that list differs from
the last deploy's, the Slack app needs the new manifest. The list must be the manifest's own, and fit in
an output however long the registry grows.
"""

from __future__ import annotations

from pathlib import Path

import yaml

from bot.core.commands import MAX_COMMANDS, slash_commands
from bot.slack import manifest
from inference.registry import DEFAULT_MODELS_FILE, load_registry
from infra.stack import OUTPUT_DESCRIPTION_LIMIT
from tests.infra.conftest import EXTRA_MODEL, Synthesis

#: The limit this output is checked against for its value (a conservative reading of CloudFormation's quotas).
OUTPUT_VALUE_LIMIT = 4096


def manifest_commands(registry_path: Path) -> list[str]:
    built = manifest.build_manifest(load_registry(registry_path), manifest.PLACEHOLDER_URL)
    return [command["command"] for command in built["features"]["slash_commands"]]


def test_the_deploy_prints_the_manifests_commands_and_says_what_to_do_when_they_change(synth: Synthesis) -> None:
    output = synth.raw["Outputs"]["SlackCommands"]
    assert output["Value"].split(" ") == manifest_commands(DEFAULT_MODELS_FILE)
    assert output["Value"].startswith("/sentiment ") and output["Value"].endswith(" /hf")
    description = output["Description"]
    assert "re-import the manifest" in description
    assert "python -m bot manifest --url <ApiUrl> > manifest.yaml" in description
    assert len(description) <= OUTPUT_DESCRIPTION_LIMIT


def test_a_registry_past_slacks_limit_lists_what_the_manifest_lists_and_fits_an_output(tmp_path: Path) -> None:
    """60 entries with the longest commands Slack allows: cut to 49 and ``/hf`` as the manifest is, 1,620 characters."""
    document = yaml.safe_load(DEFAULT_MODELS_FILE.read_text(encoding="utf-8"))
    document["models"] = [
        {**EXTRA_MODEL, "name": f"model-{index:02d}", "command": f"/{index:02d}" + "x" * 29} for index in range(60)
    ]
    path = tmp_path / "models.yaml"
    path.write_text(yaml.safe_dump(document, sort_keys=False), encoding="utf-8")
    value = " ".join(slash_commands(load_registry(path)))
    assert value.split(" ") == manifest_commands(path)
    assert len(value.split(" ")) == MAX_COMMANDS
    assert len(value) == 49 * 32 + 3 + 49 <= OUTPUT_VALUE_LIMIT
