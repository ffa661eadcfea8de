"""The app's slash commands: one per text entry, in registry order, then ``/hf``, within Slack's limit.

A slash command cannot carry a file, so an entry whose task reads one (an image, audio) has none of its
own: it runs from a mention with the file attached, the message shortcut, or the form, and ``/hf NAME``
says so.

The manifest (``bot.slack.manifest``) lists them, the command listener (``bot.slack.plans``) reads
``/hf``, and the stack's ``SlackCommands`` output (``infra/stack.py``) names them so a person knows
when to re-import the manifest; all three take them from here.
"""

from __future__ import annotations

from inference.registry import ModelSpec, Registry
from inference.tasks import media_kind

#: The command that runs any entry by name.
HF_COMMAND = "/hf"
#: Slack allows an app 50 slash commands; ``/hf`` takes one of them.
MAX_COMMANDS = 50


def takes_command(spec: ModelSpec) -> bool:
    """Whether ``spec`` may have a slash command of its own: a command carries text, never a file."""
    return media_kind(spec.task) is None


def commanded(registry: Registry) -> list[ModelSpec]:
    """The entries that get a command of their own: the first 49 that read text, leaving room for ``/hf``."""
    return [spec for spec in registry if takes_command(spec)][: MAX_COMMANDS - 1]


def slash_commands(registry: Registry) -> list[str]:
    """Every command the manifest lists, in its order (``/hf`` last)."""
    return [*(spec.command for spec in commanded(registry)), HF_COMMAND]
