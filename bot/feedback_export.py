"""``python -m bot feedback export``: votes and comments with their answers, as CSV or JSON Lines.

Failures are typed (:mod:`bot.cli_errors` words them): an unknown ``--model``, an output that
cannot be written, DynamoDB without a region; botocore's own errors (no credentials...) pass through.
"""

from __future__ import annotations

import csv
import json
import sys
from pathlib import Path
from typing import IO

from bot.cli_errors import CannotWrite, NoAwsRegion
from bot.core.config import load_settings
from bot.stores.feedback import DynamoFeedbackStore, FeedbackStore, SqliteFeedbackStore, Vote
from inference.registry import load_registry

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
        import boto3  # only for DynamoDB: a local export never pays for importing it

        # Unset, botocore fails on the first call; set but empty, it builds "https://dynamodb..amazonaws.com".
        if not boto3.session.Session().region_name:
            raise NoAwsRegion()
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
    """Write the votes (on ``model``'s answers, if given) to ``output``, ``-`` for standard output.

    Raises:
        UnknownModel: ``model`` has no votes and is not in the registry either: a typo, most likely
            (a model taken out of the registry keeps its votes, which still export).
        CannotWrite: ``output`` cannot be written (the store is read first, so a failed read leaves it be).
    """
    votes = (store or feedback_store()).votes(model)
    if model is not None and not votes:
        load_registry().get(model)
    if output == "-":
        write(votes, sys.stdout, format)
    else:
        try:
            with Path(output).open("w", encoding="utf-8", newline="") as stream:
                write(votes, stream, format)
        except OSError as exc:
            raise CannotWrite(output, exc.strerror or str(exc)) from exc
    print(f"{len(votes)} vote(s) exported.", file=sys.stderr)
    return 0
