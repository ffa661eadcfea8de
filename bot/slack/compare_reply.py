"""The comparison's one thread reply, filled in as each model answers.

``compare`` (:func:`bot.slack.runs.start_compare`) fans one input out to up to three
models through the normal invoker. Each model's result comes back through the normal
delivery path (:mod:`bot.slack.delivery`), which hands it here: its column is stored
(one field per model in the state store) and the single comparison message is rebuilt
from all stored columns and updated in place. A delivery re-reads the columns after
its update and updates again if another model answered meanwhile, so the message
always ends with every column, whatever order the updates land in.
"""

from __future__ import annotations

import json
import logging
import time
from typing import Any

from bot.core.compare import COMPARE
from bot.core.services import Services
from bot.core.slack_ops import SlackError
from bot.slack.answers import compare_message
from bot.slack.reply import ReplyTarget
from bot.slack.ui import placeholder_done
from inference.registry import ModelSpec

logger = logging.getLogger(__name__)

#: A delivery re-renders at most this many times when other columns land meanwhile.
MAX_RENDERS = 5


def deliver_column(
    services: Services, spec: ModelSpec | None, target: ReplyTarget, *, text: str, column: dict[str, Any]
) -> None:
    """Store one model's column and bring the comparison message up to date.

    Raises:
        ValueError: the reply target does not name a whole comparison.
        SlackError: the comparison message could not be updated (the column stays stored).
    """
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
        services.slack.update(target.channel, compare["message_ts"], compare_message(specs, text, parsed))
        rendered = columns
    if rendered is not None and len(rendered) == len(models) and target.placeholder_ts:
        failed = all("error" in json.loads(v) for v in rendered.values())
        elapsed_ms = (time.time() - target.started_at) * 1000 if target.started_at else 0.0
        done = placeholder_done(
            specs[0], user=target.user, text=text, elapsed_ms=elapsed_ms, failed=failed, compare=specs
        )
        try:
            services.slack.update(target.channel, target.placeholder_ts, done)
        except SlackError as exc:  # every column is in: the placeholder's mark is all that is missing
            logger.warning("comparison placeholder not marked done: %s", exc, extra={"request_id": target.request_id})
