"""The Slack app manifest for the registry: commands, shortcut, events, scopes, URLs.

``python -m bot manifest --url https://...`` prints it for the deployed API and
``--socket-mode`` for ``python -m bot serve`` with an app-level token; the
committed ``manifest.yaml`` is its output for the default registry and a
placeholder URL. The tests check all three against Slack's manifest schema.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import yaml

from bot.core.commands import HF_COMMAND, commanded
from bot.core.mrkdwn import clip
from bot.slack.assistant import default_chat_model, suggested_prompts
from bot.slack.ui import SHORTCUT_CALLBACK
from inference.registry import Registry
from inference.tasks import get_task

PLACEHOLDER_URL = "https://YOUR-API-ID.execute-api.YOUR-REGION.amazonaws.com/prod"
APP_NAME = "Hugging Face Models"
#: What the message menu shows; Slack allows 24 characters.
SHORTCUT_NAME = "Run a model on this"
BOT_SCOPES = [
    "app_mentions:read",
    "channels:history",
    "groups:history",
    "im:history",
    "mpim:history",
    "chat:write",
    "chat:write.public",
    "commands",
    "users:read",
    "assistant:write",
    "files:read",
    "files:write",
]
#: ``files:read``: a file model downloads the file of the message it was run on (bot/slack/files.py);
#: ``files:write``: object detection's boxes, drawn on the image, are uploaded into the answer's thread.
#: ``message.*``: a reply in a thread the app's chat answer started goes on with the conversation
#: (bot/slack/conversation.py); each needs its ``*:history`` scope above. ``users:read`` names the
#: people of a thread with several.
BOT_EVENTS = [
    "app_mention",
    "app_home_opened",
    "message.channels",
    "message.groups",
    "message.im",
    "message.mpim",
    "assistant_thread_started",
    "assistant_thread_context_changed",
]
#: Slack's agent view (the app's own chat surface: bot/slack/assistant.py) holds this long a description.
AGENT_DESCRIPTION_LIMIT = 300


class ManifestError(ValueError):
    """The manifest cannot be built as asked (an API URL Slack would not call)."""


def request_url(url: str) -> str:
    """The URL Slack sends commands, events and interactions to, under the API's base ``url``.

    Slack calls only public https URLs, and the path is appended, so a query or
    fragment would swallow it.
    """
    parts = urlsplit(url)
    if parts.scheme != "https" or not parts.hostname or parts.query or parts.fragment or any(c.isspace() for c in url):
        raise ManifestError(
            f"{url!r} is not the API's base URL; pass an https:// URL with a host name and no query, "
            "such as the stack's ApiUrl output (https://<id>.execute-api.<region>.amazonaws.com/prod/)"
        )
    return url.rstrip("/") + "/slack/events"


def build_manifest(registry: Registry, url: str | None) -> dict[str, Any]:
    """The manifest as a dict for the API's base ``url``, or for Socket Mode when ``url`` is None.

    A Socket Mode app needs no request URLs (Slack sends everything over the
    WebSocket its app-level token opens), so none are written.

    Raises:
        ManifestError: ``url`` is not an https URL with a host name.
    """
    events_url = None if url is None else request_url(url)
    command_url = {} if events_url is None else {"url": events_url}
    settings_url = {} if events_url is None else {"request_url": events_url}
    commands = [
        {
            "command": spec.command,
            **command_url,
            "description": clip(spec.title, 100),
            "usage_hint": clip(get_task(spec.task).input_format.replace("`", ""), 100),
            "should_escape": False,
        }
        for spec in commanded(registry)
    ]
    commands.append(
        {
            "command": HF_COMMAND,
            **command_url,
            "description": "Run any model: /hf NAME text (or /hf help)",
            "usage_hint": "NAME text",
            "should_escape": False,
        }
    )
    return {
        "_metadata": {"major_version": 1, "minor_version": 1},
        "display_information": {
            "name": APP_NAME,
            "description": "Try open-source models from the Hugging Face Hub, right in Slack.",
            "background_color": "#2c2d30",
        },
        "features": {
            "app_home": {
                "home_tab_enabled": True,
                # The agent view's conversations are threads in the app's direct messages.
                "messages_tab_enabled": True,
                "messages_tab_read_only_enabled": False,
            },
            **agent_view(registry),
            "bot_user": {"display_name": "hf-models", "always_online": True},
            "shortcuts": [
                {
                    "name": SHORTCUT_NAME,
                    "type": "message",
                    "callback_id": SHORTCUT_CALLBACK,
                    "description": "Pick a model; the answer lands in the message's thread.",
                }
            ],
            "slash_commands": commands,
        },
        "oauth_config": {"scopes": {"bot": BOT_SCOPES}},
        "settings": {
            "event_subscriptions": {**settings_url, "bot_events": BOT_EVENTS},
            "interactivity": {"is_enabled": True, **settings_url},
            "org_deploy_enabled": False,
            "socket_mode_enabled": url is None,
            "token_rotation_enabled": False,
        },
    }


def agent_view(registry: Registry) -> dict[str, Any]:
    """Slack's agent view (``features.agent_view``: the split view and top bar entry) when the registry
    has a chat model: what it says about itself and the registry's examples as its suggested prompts."""
    spec = default_chat_model(registry)
    if spec is None:
        return {}
    description = f"Chat with {spec.title}, an open model from the Hugging Face Hub served from your own AWS account."
    return {
        "agent_view": {
            "agent_description": clip(description, AGENT_DESCRIPTION_LIMIT),
            "suggested_prompts": suggested_prompts(registry),
        }
    }


def render_manifest(registry: Registry, url: str | None = PLACEHOLDER_URL) -> str:
    """The manifest as YAML, with a header saying how it was made and what to do next."""
    if url is None:
        usage = "# For Socket Mode: no request URLs; run `python -m bot serve` with SLACK_APP_TOKEN (see the README).\n"
    elif url == PLACEHOLDER_URL:
        usage = "# Produce the real one after deploy: python -m bot manifest --url <ApiUrl output>\n"
    else:
        usage = ""
    header = "# Slack app manifest, generated by `python -m bot manifest` from the model registry.\n" + usage
    return header + yaml.safe_dump(build_manifest(registry, url), sort_keys=False, allow_unicode=True, width=1000)
