"""The app's slash commands: one per registry entry, in registry order, then ``/hf``, within Slack's limit.

The manifest (``bot.slack.manifest``) lists them, the command listener (``bot.slack.plans``) reads
``/hf``, and the stack's ``SlackCommands`` output (``infra/stack.py``) names them so a person knows
when to re-import the manifest; all three take them from here.
"""

from __future__ import annotations

from inference.registry import ModelSpec, Registry

#: The command that runs any entry by name.
HF_COMMAND = "/hf"
#: Slack allows an app 50 slash commands; ``/hf`` takes one of them.
MAX_COMMANDS = 50


def commanded(registry: Registry) -> list[ModelSpec]:
    """The entries that get a command of their own: the first 49, leaving room for ``/hf``."""
    return list(registry)[: MAX_COMMANDS - 1]


def slash_commands(registry: Registry) -> list[str]:
    """Every command the manifest lists, in its order (``/hf`` last)."""
    return [*(spec.command for spec in commanded(registry)), HF_COMMAND]
