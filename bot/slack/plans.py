"""What a slash command or a mention asks for: a reply right away, or a model run or comparison.

Pure decisions over the registry, without any I/O, so the ack can answer from them within
Slack's 3 seconds and the lazy half can act on them (:mod:`bot.slack.listeners`). Pure also
means deterministic: in Lambda, where the lazy half is another invocation that plans again
from the same body, both invocations reach the same plan. The syntax is Slack's: ``/hf NAME text``, ``/hf compare a,b[,c] text``, ``@bot NAME text``.

A model that reads a file (:func:`bot.core.uploads.reads_files`) takes the file of the message that
mentions it, else of the thread's parent (read in the lazy half); a slash command cannot carry a file,
so it is answered with how to send one instead.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from bot.core.commands import HF_COMMAND
from bot.core.compare import COMPARE, CompareError, check_compare
from bot.core.model_requests import check_input
from bot.core.mrkdwn import clip, escape, inline_code
from bot.core.services import Services
from bot.core.uploads import reads_files
from bot.slack.files import message_files, pick_file
from bot.slack.text import strip_leading_mention, to_plain
from bot.slack.ui import help_message, how_to_send_a_file, usage_message, warning_message
from inference.errors import InferenceError
from inference.registry import ModelSpec, Registry
from inference.tasks import media_kind


@dataclass(frozen=True)
class Plan:
    """What a command or mention asks for: a reply right away, or a model run.

    ``reply`` is what the ack answers with (a message, or a modal's errors); without it,
    ``spec`` (and for a comparison, every model in ``compare``) runs on ``text``, and a model that
    reads a file on ``file``, the Slack file object the plan found (its id alone, from a shortcut's
    modal; None when the file is the thread parent's, read in the lazy half). A plan is
    never changed once made, so the copy Bolt makes of the ack's context for the lazy half
    (:mod:`bot.slack.listeners`) holds this same plan, not a copy.
    """

    reply: dict[str, Any] | None = None
    spec: ModelSpec | None = None
    text: str = ""
    compare: list[ModelSpec] | None = None
    file: dict[str, Any] | None = None

    def __deepcopy__(self, memo: dict[int, Any]) -> Plan:
        return self


def parse_compare(registry: Registry, rest: str) -> tuple[list[ModelSpec], str]:
    """``a,b[,c] text`` (as typed in Slack) → the models and the checked text.

    Raises:
        CompareError: as :func:`check_compare`, with the command's usage added.
    """
    names_part, _, text = rest.strip().partition(" ")
    names = [n.strip().lower() for n in names_part.split(",") if n.strip()]
    usage = f"Use `compare NAME1,NAME2[,NAME3] text` (two or three models: {', '.join(registry.names)})."
    return check_compare(registry, names, text, usage=usage)


def _compare_or_explain(services: Services, rest: str) -> Plan:
    try:
        specs, text = parse_compare(services.registry, rest)
    except CompareError as exc:
        return Plan(reply=warning_message(str(exc)))
    return Plan(spec=specs[0], text=text, compare=specs)


def run_or_explain(spec: ModelSpec, text: str) -> Plan:
    """A run of ``spec`` on ``text``; its usage when there is no text (or ``help``), or why the text does not fit."""
    if not text or text.lower() == "help":
        return Plan(reply=usage_message(spec))
    try:
        return Plan(spec=spec, text=check_input(spec, text))
    except InferenceError as exc:
        return Plan(reply=warning_message(str(exc), then=usage_message(spec)))


def file_or_explain(spec: ModelSpec, text: str, file: dict[str, Any] | None, *, in_thread: bool = False) -> Plan:
    """A run of the file model ``spec`` on ``file`` (``text``: its labels or prompt, if any); its usage
    for ``help``, why the text does not fit, or how to send a file when there is none. ``in_thread``:
    without a file of its own, the run takes the thread parent's (``file`` stays None)."""
    if text.lower() == "help":
        return Plan(reply=usage_message(spec))
    try:
        checked = check_input(spec, text)
    except InferenceError as exc:
        return Plan(reply=warning_message(str(exc), then=usage_message(spec)))
    if file is None and not in_thread:
        return Plan(reply=warning_message(how_to_send_a_file(spec)))
    return Plan(spec=spec, text=checked, file=file)


def _command_run(spec: ModelSpec, text: str) -> Plan:
    if reads_files(spec):  # a slash command carries no file
        return Plan(reply=warning_message(how_to_send_a_file(spec, command=True)))
    return run_or_explain(spec, text)


def plan_command(services: Services, command: dict[str, Any]) -> Plan:
    """Decide what a slash command asks for, without any I/O."""
    registry = services.registry
    name = str(command.get("command", ""))
    text = to_plain(str(command.get("text", ""))).strip()
    if name == HF_COMMAND:
        first, _, rest = text.partition(" ")
        if not first or first.lower() == "help":
            return Plan(reply=help_message(registry))
        if first.lower() == COMPARE:
            return _compare_or_explain(services, rest)
        spec = registry.find(first.lower())
        if spec is None:
            return Plan(
                reply=help_message(registry, note=f"⚠️ There is no model called {escape(inline_code(clip(first, 40)))}.")
            )
        return _command_run(spec, rest.strip())
    spec = registry.by_command(name)
    if spec is None:
        return Plan(
            reply=help_message(registry, note=f"⚠️ {escape(inline_code(clip(name, 40)))} is not a command of this app.")
        )
    return _command_run(spec, text)


def plan_mention(services: Services, event: dict[str, Any]) -> tuple[Plan, bool]:
    """Decide what a mention asks for; the flag says the text (for a file model, the file: the
    parent's) must come from the thread."""
    registry = services.registry
    text = to_plain(strip_leading_mention(str(event.get("text", "")))).strip()
    first, _, rest = text.partition(" ")
    if not first or first.lower() == "help":
        return Plan(reply=help_message(registry)), False
    if first.lower() == COMPARE:
        return _compare_or_explain(services, rest), False
    spec = registry.find(first.lower())
    if spec is None:
        return Plan(
            reply=help_message(registry, note=f"⚠️ I don't know a model called {escape(inline_code(clip(first, 40)))}.")
        ), False
    if reads_files(spec):
        found = pick_file(message_files(event), media_kind(spec.task))
        in_thread = bool(event.get("thread_ts")) and event.get("thread_ts") != event.get("ts")
        plan = file_or_explain(spec, rest.strip(), found, in_thread=in_thread)
        return plan, plan.spec is not None and plan.file is None
    if not rest.strip() and event.get("thread_ts"):
        return Plan(spec=spec), True
    return run_or_explain(spec, rest.strip()), False
