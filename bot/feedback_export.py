"""``python -m bot feedback export``: votes and comments with their answers, as CSV or JSON Lines."""

from __future__ import annotations

import csv
import json
import sys
from pathlib import Path
from typing import IO

from bot.config import load_settings
from bot.feedback import DynamoFeedbackStore, FeedbackStore, SqliteFeedbackStore, Vote

COLUMNS = [
    "request_id",
    "model",
    "revision",
    "task",
    "vote",
    "comment",
    "voter",
    "voted_at",
    "source",
    "channel",
    "thread_ts",
    "input",
    "input_hashed",
    "output",
    "created_at",
]


def feedback_store() -> FeedbackStore:
    """DynamoDB when ``FEEDBACK_TABLE`` is set (run with AWS credentials), else the local SQLite file."""
    settings = load_settings()
    if settings.feedback_table:
        return DynamoFeedbackStore(settings.feedback_table)
    return SqliteFeedbackStore(settings.data_dir / "feedback.sqlite")


def write(votes: list[Vote], stream: IO[str], format: str) -> None:
    rows = [vote.flat() for vote in votes]
    if format == "jsonl":
        for row in rows:
            stream.write(json.dumps(row, ensure_ascii=False) + "\n")
        return
    writer = csv.DictWriter(stream, fieldnames=COLUMNS, extrasaction="ignore")
    writer.writeheader()
    writer.writerows(rows)


def export_feedback(*, model: str | None, format: str, output: str, store: FeedbackStore | None = None) -> int:
    votes = (store or feedback_store()).votes(model)
    if output == "-":
        write(votes, sys.stdout, format)
    else:
        with Path(output).open("w", encoding="utf-8", newline="") as stream:
            write(votes, stream, format)
    print(f"{len(votes)} vote(s) exported.", file=sys.stderr)
    return 0
