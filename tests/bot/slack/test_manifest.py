"""The Slack manifest follows the registry: a command per model, and one more registry line adds one."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from bot.core.config import SLACK_APP_TOKEN
from bot.slack.manifest import PLACEHOLDER_URL, SHORTCUT_NAME, build_manifest, render_manifest
from inference.registry import load_registry
from inference.tasks import media_kind
from tests.conftest import ROOT
from tests.tiny_models import write_registry


def test_committed_manifest_is_the_rendered_one() -> None:
    committed = (ROOT / "manifest.yaml").read_text(encoding="utf-8")
    assert committed == render_manifest(load_registry(ROOT / "inference" / "models.yaml"), PLACEHOLDER_URL), (
        "manifest.yaml is stale: run `python -m bot manifest > manifest.yaml`"
    )


@pytest.mark.parametrize("doc", ["README.md", "docs/deploy.md"])
def test_docs_name_the_shortcut_as_slack_shows_it(doc: str) -> None:
    assert f"*{SHORTCUT_NAME}*" in (ROOT / doc).read_text(encoding="utf-8")


def test_readme_sets_up_socket_mode_as_the_code_does() -> None:
    section = (ROOT / "README.md").read_text(encoding="utf-8").split("### Trying it in a real workspace", 1)[1]
    section = section.split("\n## ", 1)[0]
    for needed in ("python -m bot manifest --socket-mode", "connections:write", f"{SLACK_APP_TOKEN}=xapp-"):
        assert needed in section


def test_manifest_has_a_command_per_text_model_plus_hf() -> None:
    registry = load_registry(ROOT / "inference" / "models.yaml")
    manifest = build_manifest(registry, "https://api.example.com/prod/")
    commands = [c["command"] for c in manifest["features"]["slash_commands"]]
    assert commands == [spec.command for spec in registry if media_kind(spec.task) is None] + ["/hf"]
    url = "https://api.example.com/prod/slack/events"
    assert {c["url"] for c in manifest["features"]["slash_commands"]} == {url}
    assert manifest["settings"]["event_subscriptions"]["request_url"] == url
    assert manifest["settings"]["interactivity"]["request_url"] == url
    assert set(manifest["settings"]["event_subscriptions"]["bot_events"]) == {
        "app_mention",
        "app_home_opened",
        "message.channels",
        "message.groups",
        "message.im",
        "message.mpim",
        "assistant_thread_started",
        "assistant_thread_context_changed",
    }
    assert "assistant:write" in manifest["oauth_config"]["scopes"]["bot"]
    assert manifest["features"]["agent_view"]["suggested_prompts"][0]["message"] == registry.get("ask").example
    assert "commands" in manifest["oauth_config"]["scopes"]["bot"]


def test_manifest_may_read_files_and_post_pictures() -> None:
    """A file model downloads the message's file (files:read); detection posts its boxes into the thread (files:write)."""
    scopes = build_manifest(load_registry(ROOT / "inference" / "models.yaml"), None)["oauth_config"]["scopes"]["bot"]
    assert {"files:read", "files:write"} <= set(scopes)


def test_new_registry_entry_adds_a_command_and_a_form_choice(tmp_path: Path) -> None:
    from bot.form.page import model_catalog, render_page

    base = yaml.safe_load((ROOT / "inference" / "models.yaml").read_text())["models"]
    extra = {
        **base[0],
        "name": "emotion",
        "title": "Emotions (RoBERTa)",
        "model": "j-hartmann/emotion-english-distilroberta-base",
    }
    registry = load_registry(write_registry(tmp_path / "models.yaml", [*base, extra]))
    commands = [c["command"] for c in build_manifest(registry, PLACEHOLDER_URL)["features"]["slash_commands"]]
    assert "/emotion" in commands
    page = render_page(catalog=model_catalog(registry), locked=False, nonce="n")
    assert "emotion" in page and "Emotions (RoBERTa)" in page
