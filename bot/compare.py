"""Comparing models on one input: one thread reply that fills in as each model answers.

``/hf compare a,b[,c] text`` and ``@bot compare a,b text`` fan the same input out
to up to three models through the normal invoker. Each model's result comes
back through the normal delivery path; its column is stored (one field per
model in the state store) and the single comparison message is rebuilt from
all stored columns and updated in place. A delivery re-reads the columns after
its update and updates again if another model answered meanwhile, so the
message always ends with every column, whatever order the updates land in.
"""

from __future__ import annotations

import json
import logging
import time
from typing import Any

from bot.invoker import InvokeError
from bot.model_requests import check_input
from bot.runs import ReplyTarget
from bot.services import Services
from bot.slack_ops import SlackUnavailable
from bot.slack_ui import compare_message, inline_code, placeholder_done, placeholder_message
from inference.errors import InferenceError
from inference.registry import ModelSpec, Registry

logger = logging.getLogger(__name__)

COMPARE = "compare"
MAX_MODELS = 3
#: A delivery re-renders at most this many times when other columns land meanwhile.
MAX_RENDERS = 5


class CompareError(ValueError):
    """A comparison that cannot run, worded for the person who asked."""


def parse_compare(registry: Registry, rest: str) -> tuple[list[ModelSpec], str]:
    """``a,b[,c] text`` (as typed in Slack) → the models and the checked text.

    Raises:
        CompareError: as :func:`check_compare`, with the command's usage added.
    """
    names_part, _, text = rest.strip().partition(" ")
    names = [n.strip().lower() for n in names_part.split(",") if n.strip()]
    usage = f"Use `compare NAME1,NAME2[,NAME3] text` (two or three models: {', '.join(registry.names)})."
    return check_compare(registry, names, text, usage=usage)


def check_compare(registry: Registry, names: list[str], text: str, *, usage: str = "") -> tuple[list[ModelSpec], str]:
    """The one rule for what may be compared, for Slack and the form alike: the models and the checked text.

    Args:
        names: registry names, as given.
        usage: a sentence added to the mistakes that are about how the comparison was asked for.

    Raises:
        CompareError: fewer than two or more than three models, an unknown or repeated
            name, no text, or an input that one of the models cannot take.
    """
    hint = f" {usage}" if usage else ""
    if not 2 <= len(names) <= MAX_MODELS or len(set(names)) != len(names):
        raise CompareError(f"Compare two or three different models.{hint}")
    unknown = [n for n in names if registry.find(n) is None]
    if unknown:
        raise CompareError(f"No model called {', '.join(inline_code(n[:40]) for n in unknown)}.{hint}")
    specs = [registry.get(n) for n in names]
    if not text.strip():
        raise CompareError(f"There is no text to compare on.{hint}")
    checked = ""
    for spec in specs:
        try:
            checked = check_input(spec, text)
        except InferenceError as exc:
            tasks = ", ".join(sorted({s.task for s in specs}))
            raise CompareError(
                f"`{spec.name}` ({spec.task}) can't take this input: {exc} These models do: {tasks}."
            ) from exc
    return specs, checked


def start_compare(services: Services, specs: list[ModelSpec], text: str, target: ReplyTarget) -> None:
    """Post the placeholder and the (empty) comparison, then invoke every model."""
    from bot.delivery import deliver_outcome

    slack = services.slack
    target.started_at = target.started_at or time.time()
    lead = specs[0]
    ts = slack.post(
        target.channel,
        placeholder_message(lead, user=target.user, text=text, compare=specs),
        thread_ts=target.thread_ts or None,
    )
    if not ts:
        if target.response_url:
            slack.respond(
                target.response_url,
                {
                    "text": "I can't post in this conversation, so I can't run a comparison here. Invite me, or use a channel I'm in."
                },
                ephemeral=True,
            )
        return
    target.placeholder_ts = ts
    target.thread_ts = target.thread_ts or ts
    message_ts = slack.post(target.channel, compare_message(specs, text, {}), thread_ts=target.thread_ts)
    group = target.request_id
    for index, spec in enumerate(specs):
        services.store.increment("usage", spec.name)
        column = ReplyTarget(
            request_id=f"{group}-{index + 1}",
            source=target.source,
            user=target.user,
            channel=target.channel,
            thread_ts=target.thread_ts,
            placeholder_ts=target.placeholder_ts,
            started_at=target.started_at,
            compare={"group": group, "message_ts": message_ts or "", "models": [s.name for s in specs]},
        )
        try:
            services.invoker.invoke_async(spec.name, {"text": text, "reply": column.to_dict()})
        except InvokeError as exc:
            deliver_outcome(services, spec, column, text=text, error={"type": "invoke_failed", "message": str(exc)})


def deliver_column(
    services: Services, spec: ModelSpec | None, target: ReplyTarget, *, text: str, column: dict[str, Any]
) -> None:
    """Store one model's column and bring the comparison message up to date."""
    compare = target.compare or {}
    group, models = str(compare.get("group", "")), [str(m) for m in compare.get("models", [])]
    specs = [services.registry.find(name) for name in models]
    if not group or not compare.get("message_ts") or any(s is None for s in specs):
        raise ValueError("comparison reply target is incomplete")
    key = f"{COMPARE}#{group}"
    name = spec.name if spec else models[0]
    services.store.set_field(key, name, json.dumps(column))
    rendered: dict[str, str] | None = None
    for _ in range(MAX_RENDERS):
        columns = services.store.fields(key)
        if columns == rendered:
            break
        parsed = {k: json.loads(v) for k, v in columns.items()}
        if not services.slack.update(target.channel, compare["message_ts"], compare_message(specs, text, parsed)):
            raise SlackUnavailable("chat.update of the comparison failed")
        rendered = columns
    if rendered is not None and len(rendered) == len(models) and target.placeholder_ts:
        failed = all("error" in json.loads(v) for v in rendered.values())
        elapsed_ms = (time.time() - target.started_at) * 1000 if target.started_at else 0.0
        done = placeholder_done(
            specs[0], user=target.user, text=text, elapsed_ms=elapsed_ms, failed=failed, compare=specs
        )
        services.slack.update(target.channel, target.placeholder_ts, done)
