"""The reply envelope: where and to whom a model's answer in Slack is delivered.

It travels with the invocation, in its ``reply`` field, and comes back in the model's
destination record, so the router keeps no per-request state between starting a run
(:mod:`bot.slack.runs`) and delivering its answer (:mod:`bot.slack.delivery`,
:mod:`bot.slack.compare_reply`), which all read it from here.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

#: Where the answer goes: into ``thread_ts`` in ``channel``, or through ``response_url``.
THREAD, RESPONSE_URL = "thread", "response_url"


@dataclass
class ReplyTarget:
    """Where and to whom an answer is delivered; serialised into the invocation's ``reply``."""

    request_id: str
    source: str
    user: str
    channel: str = ""
    thread_ts: str = ""
    placeholder_ts: str = ""
    response_url: str = ""
    mode: str = THREAD
    started_at: float = 0.0
    #: For one model of a comparison: ``{"group", "message_ts", "models"}``.
    compare: dict[str, Any] | None = None
    #: An earlier answer in this conversation already said that older messages were left out: not again.
    trim_noted: bool = False
    #: The name of the file a file model reads, shown in its placeholder beside the text.
    file_name: str = ""

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        if data["compare"] is None:
            del data["compare"]  # most requests are not comparisons: keep their payload lean
        for lean in ("trim_noted", "file_name"):
            if not data[lean]:
                del data[lean]
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ReplyTarget:
        known = {k: data[k] for k in cls.__dataclass_fields__ if k in data}
        return cls(**known)
