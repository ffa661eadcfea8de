"""Feedback on answers: what was asked, what the model said, and how people voted.

When an answer is delivered, the router records it (model, pinned revision,
task, input or only its hash, output, where it was posted). A vote refers to
that record by request id; one vote per person per answer, and voting again
changes it. Comments are kept beside the votes. Locally the store is a SQLite
file in the data folder; in AWS a DynamoDB table (``FEEDBACK_TABLE``).
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

from bot.stores.storage import DynamoTable, SqliteFile

UP, DOWN = "up", "down"
VOTES = (UP, DOWN)


def iso_utc(epoch: float) -> str:
    """``2026-12-01T20:08:51Z``: a stored time as exports show it, readable anywhere and sortable as text."""
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class Answer:
    """One delivered answer, as feedback refers to it."""

    request_id: str
    model: str
    revision: str | None
    task: str
    input: str
    output: Any
    source: str = ""
    channel: str = ""
    thread_ts: str = ""
    created_at: float = field(default_factory=time.time)
    input_hashed: bool = False
    #: The voter who asked, for a form answer (``form:<id>``): the only one who may give feedback on it.
    asked_by: str = ""

    @classmethod
    def make(cls, *, store_text: bool, text: str, **fields: Any) -> Answer:
        """An answer whose input is kept as text, or only as its SHA-256 when ``store_text`` is off."""
        if store_text:
            return cls(input=text, **fields)
        return cls(input="sha256:" + hashlib.sha256(text.encode("utf-8")).hexdigest(), input_hashed=True, **fields)


@dataclass
class Vote:
    """One person's feedback on one answer (with the answer's fields, for export)."""

    request_id: str
    voter: str
    vote: str | None
    comment: str
    voted_at: float
    answer: Answer | None = None

    def flat(self) -> dict[str, Any]:
        """The vote and its answer as one export row, times in ISO 8601 UTC."""
        row = {
            "request_id": self.request_id,
            "voter": self.voter,
            "vote": self.vote or "",
            "comment": self.comment,
            "voted_at": iso_utc(self.voted_at),
        }
        if self.answer is not None:
            data = asdict(self.answer)
            data["output"] = json.dumps(data["output"], ensure_ascii=False)
            data["created_at"] = iso_utc(data["created_at"])
            row |= {k: v for k, v in data.items() if k != "request_id"}
        return row


class FeedbackStore(Protocol):
    def record_answer(self, answer: Answer) -> None:
        """Remember an answer so votes on it can name what was asked and said."""
        ...

    def answer(self, request_id: str) -> Answer | None:
        """The recorded answer, or None when there is none by that id."""
        ...

    def vote(self, request_id: str, voter: str, vote: str | None) -> str | None:
        """Set ``voter``'s vote (``up``, ``down`` or None to withdraw); returns their previous vote."""
        ...

    def comment(self, request_id: str, voter: str, text: str) -> None:
        """Set ``voter``'s comment on the answer."""
        ...

    def tally(self, request_id: str) -> dict[str, int]:
        """``{"up": n, "down": n, "comments": n}`` for one answer."""
        ...

    def votes(self, model: str | None = None) -> list[Vote]:
        """Every vote and comment (optionally for one model), with its answer."""
        ...

    def model_tallies(self, models: list[str]) -> dict[str, dict[str, int]]:
        """Per model of ``models``: ``{"up": n, "down": n}``."""
        ...


class SqliteFeedbackStore:
    """The local backend: a SQLite file in the data folder."""

    def __init__(self, path: Path) -> None:
        self.file = SqliteFile(
            path,
            "CREATE TABLE IF NOT EXISTS answers (request_id TEXT PRIMARY KEY, data TEXT)",
            "CREATE TABLE IF NOT EXISTS votes (request_id TEXT, voter TEXT, vote TEXT, comment TEXT DEFAULT '',"
            " voted_at REAL, PRIMARY KEY (request_id, voter))",
        )
        self._db = self.file.db

    def record_answer(self, answer: Answer) -> None:
        self._db().execute(
            "INSERT OR REPLACE INTO answers (request_id, data) VALUES (?, ?)",
            (answer.request_id, json.dumps(asdict(answer), ensure_ascii=False)),
        )

    def answer(self, request_id: str) -> Answer | None:
        row = self._db().execute("SELECT data FROM answers WHERE request_id = ?", (request_id,)).fetchone()
        return Answer(**json.loads(row[0])) if row else None

    def vote(self, request_id: str, voter: str, vote: str | None) -> str | None:
        db = self._db()
        db.execute("BEGIN IMMEDIATE")
        try:
            row = db.execute(
                "SELECT vote FROM votes WHERE request_id = ? AND voter = ?", (request_id, voter)
            ).fetchone()
            db.execute(
                "INSERT INTO votes (request_id, voter, vote, voted_at) VALUES (?, ?, ?, ?)"
                " ON CONFLICT (request_id, voter) DO UPDATE SET vote = excluded.vote, voted_at = excluded.voted_at",
                (request_id, voter, vote, time.time()),
            )
        finally:
            db.execute("COMMIT")
        return row[0] if row else None

    def comment(self, request_id: str, voter: str, text: str) -> None:
        self._db().execute(
            "INSERT INTO votes (request_id, voter, comment, voted_at) VALUES (?, ?, ?, ?)"
            " ON CONFLICT (request_id, voter) DO UPDATE SET comment = excluded.comment, voted_at = excluded.voted_at",
            (request_id, voter, text, time.time()),
        )

    def tally(self, request_id: str) -> dict[str, int]:
        rows = (
            self._db()
            .execute(
                "SELECT SUM(vote = 'up'), SUM(vote = 'down'), SUM(comment != '') FROM votes WHERE request_id = ?",
                (request_id,),
            )
            .fetchone()
        )
        return {"up": int(rows[0] or 0), "down": int(rows[1] or 0), "comments": int(rows[2] or 0)}

    def votes(self, model: str | None = None) -> list[Vote]:
        rows = (
            self._db()
            .execute(
                "SELECT v.request_id, v.voter, v.vote, v.comment, v.voted_at, a.data FROM votes v"
                " LEFT JOIN answers a ON a.request_id = v.request_id ORDER BY v.voted_at"
            )
            .fetchall()
        )
        found = []
        for request_id, voter, vote, comment, voted_at, data in rows:
            answer = Answer(**json.loads(data)) if data else None
            if model is None or (answer is not None and answer.model == model):
                found.append(Vote(request_id, voter, vote, comment or "", voted_at, answer))
        return found

    def model_tallies(self, models: list[str]) -> dict[str, dict[str, int]]:
        tallies: dict[str, dict[str, int]] = {}
        for vote in self.votes():
            if vote.answer is not None and vote.vote in VOTES and vote.answer.model in models:
                counts = tallies.setdefault(vote.answer.model, {UP: 0, DOWN: 0})
                counts[vote.vote] += 1
        return tallies


class DynamoFeedbackStore(DynamoTable):
    """The AWS backend: one table keyed by ``pk`` (request id) and ``sk`` (``answer`` or ``vote#<voter>``).

    Per-model tallies live in ``pk=model#<name>, sk=tally`` items, adjusted on each
    vote change, so the App Home tab never scans the table.
    """

    def record_answer(self, answer: Answer) -> None:
        self.client.put_item(
            TableName=self.table,
            Item={
                "pk": {"S": answer.request_id},
                "sk": {"S": "answer"},
                "model": {"S": answer.model},
                "data": {"S": json.dumps(asdict(answer), ensure_ascii=False)},
            },
        )

    def answer(self, request_id: str) -> Answer | None:
        item = self.client.get_item(TableName=self.table, Key={"pk": {"S": request_id}, "sk": {"S": "answer"}}).get(
            "Item"
        )
        return Answer(**json.loads(item["data"]["S"])) if item else None

    def _set(self, request_id: str, voter: str, name: str, value: str | None) -> dict[str, Any]:
        values: dict[str, Any] = {":t": {"N": str(time.time())}}
        expression = "SET voted_at = :t"
        if value is None:
            expression += " REMOVE #f"
        else:
            expression += ", #f = :v"
            values[":v"] = {"S": value}
        return self.client.update_item(
            TableName=self.table,
            Key={"pk": {"S": request_id}, "sk": {"S": f"vote#{voter}"}},
            UpdateExpression=expression,
            ExpressionAttributeNames={"#f": name},
            ExpressionAttributeValues=values,
            ReturnValues="UPDATED_OLD",
        )

    def vote(self, request_id: str, voter: str, vote: str | None) -> str | None:
        old = self._set(request_id, voter, "vote", vote).get("Attributes", {}).get("vote", {}).get("S")
        answer = self.answer(request_id)
        if answer is not None and old != vote:
            changes = {name: delta for name, delta in ((old, -1), (vote, 1)) if name in VOTES}
            self.client.update_item(
                TableName=self.table,
                Key={"pk": {"S": f"model#{answer.model}"}, "sk": {"S": "tally"}},
                UpdateExpression="ADD " + ", ".join(f"#{n} :{n}" for n in changes),
                ExpressionAttributeNames={f"#{n}": n for n in changes},
                ExpressionAttributeValues={f":{n}": {"N": str(d)} for n, d in changes.items()},
            )
        return old

    def comment(self, request_id: str, voter: str, text: str) -> None:
        self._set(request_id, voter, "comment", text)

    def tally(self, request_id: str) -> dict[str, int]:
        items = self.client.query(
            TableName=self.table,
            KeyConditionExpression="pk = :pk AND begins_with(sk, :vote)",
            ExpressionAttributeValues={":pk": {"S": request_id}, ":vote": {"S": "vote#"}},
        ).get("Items", [])
        votes = [i.get("vote", {}).get("S") for i in items]
        return {
            "up": votes.count(UP),
            "down": votes.count(DOWN),
            "comments": sum(1 for i in items if i.get("comment", {}).get("S")),
        }

    def votes(self, model: str | None = None) -> list[Vote]:
        answers: dict[str, Answer] = {}
        rows: list[dict[str, Any]] = []
        for page in self.client.get_paginator("scan").paginate(TableName=self.table):
            for item in page.get("Items", []):
                sk = item["sk"]["S"]
                if sk == "answer":
                    answers[item["pk"]["S"]] = Answer(**json.loads(item["data"]["S"]))
                elif sk.startswith("vote#"):
                    rows.append(item)
        found = [
            Vote(
                request_id=item["pk"]["S"],
                voter=item["sk"]["S"][len("vote#") :],
                vote=item.get("vote", {}).get("S"),
                comment=item.get("comment", {}).get("S", ""),
                voted_at=float(item.get("voted_at", {}).get("N", 0)),
                answer=answers.get(item["pk"]["S"]),
            )
            for item in rows
        ]
        return sorted(
            (v for v in found if model is None or (v.answer is not None and v.answer.model == model)),
            key=lambda v: v.voted_at,
        )

    def model_tallies(self, models: list[str]) -> dict[str, dict[str, int]]:
        tallies: dict[str, dict[str, int]] = {}
        for offset in range(0, len(models), 100):  # BatchGetItem takes 100 keys at a time
            keys = [{"pk": {"S": f"model#{name}"}, "sk": {"S": "tally"}} for name in models[offset : offset + 100]]
            response = self.client.batch_get_item(RequestItems={self.table: {"Keys": keys}})
            for item in response.get("Responses", {}).get(self.table, []):
                name = item["pk"]["S"][len("model#") :]
                tallies[name] = {v: int(item.get(v, {}).get("N", 0)) for v in VOTES}
        return tallies
