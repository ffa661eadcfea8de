"""Shared state that must survive the router's cold starts: claims and usage counts.

Slack and Lambda both deliver at least once. Before the router posts anything
that must happen once (handling an event, delivering an answer) it *claims*
a key derived from Slack's or its own ids. A claim is a conditional write:
the first writer wins; the others see it and stand down. A claim is first a
short *lease*; the work then *completes* it (kept for days) or *releases* it
on failure so a retry can try again. A lease left by a crashed process simply
expires. In AWS the store is a DynamoDB table (``STATE_TABLE``); locally, a
SQLite file with the same semantics.
"""

from __future__ import annotations

import contextlib
import time
from pathlib import Path
from typing import Protocol

from bot.stores.storage import DynamoTable, SqliteFile

#: How long a completed claim is remembered: longer than Slack's last retry (5 min)
#: and Lambda's longest async retry window (6 h).
DONE_TTL = 2 * 24 * 3600
#: How long an unfinished claim blocks others: longer than the work it guards.
LEASE_TTL = 90


class StateStore(Protocol):
    """Claims and counters, safe across processes."""

    def claim(self, key: str, *, lease: int = LEASE_TTL) -> bool:
        """Take ``key`` if nobody holds it (or their lease expired); True if taken."""
        ...

    def complete(self, key: str, *, ttl: int = DONE_TTL) -> None:
        """Mark the work under ``key`` done, so later claims fail for ``ttl`` seconds."""
        ...

    def release(self, key: str) -> None:
        """Give ``key`` up after a failure, so a retry can claim it."""
        ...

    def increment(self, counter: str, name: str, amount: int = 1) -> None:
        """Add ``amount`` to the count ``name`` in the group ``counter``."""
        ...

    def counts(self, counter: str) -> dict[str, int]:
        """All counts of the group ``counter``."""
        ...

    def set_field(self, key: str, name: str, value: str, *, ttl: int = DONE_TTL) -> None:
        """Set one named field of the record ``key``; fields of one record are written independently."""
        ...

    def fields(self, key: str) -> dict[str, str]:
        """Every field of the record ``key`` (empty when there is none)."""
        ...


class SqliteStateStore:
    """The local backend: one SQLite file, shared by the server's threads and processes."""

    def __init__(self, path: Path) -> None:
        self.file = SqliteFile(
            path,
            "CREATE TABLE IF NOT EXISTS claims (pk TEXT PRIMARY KEY, status TEXT, expires_at REAL)",
            "CREATE TABLE IF NOT EXISTS counters (grp TEXT, name TEXT, n INTEGER, PRIMARY KEY (grp, name))",
            "CREATE TABLE IF NOT EXISTS fields (pk TEXT, name TEXT, value TEXT, expires_at REAL, PRIMARY KEY (pk, name))",
        )
        self._db = self.file.db

    def claim(self, key: str, *, lease: int = LEASE_TTL) -> bool:
        now = time.time()
        db = self._db()
        db.execute("BEGIN IMMEDIATE")
        try:
            row = db.execute("SELECT expires_at FROM claims WHERE pk = ?", (key,)).fetchone()
            if row and row[0] > now:
                return False
            db.execute(
                "INSERT OR REPLACE INTO claims (pk, status, expires_at) VALUES (?, 'pending', ?)", (key, now + lease)
            )
            return True
        finally:
            db.execute("COMMIT")

    def complete(self, key: str, *, ttl: int = DONE_TTL) -> None:
        self._db().execute(
            "INSERT OR REPLACE INTO claims (pk, status, expires_at) VALUES (?, 'done', ?)", (key, time.time() + ttl)
        )

    def release(self, key: str) -> None:
        self._db().execute("DELETE FROM claims WHERE pk = ? AND status = 'pending'", (key,))

    def increment(self, counter: str, name: str, amount: int = 1) -> None:
        self._db().execute(
            "INSERT INTO counters (grp, name, n) VALUES (?, ?, ?) ON CONFLICT (grp, name) DO UPDATE SET n = n + ?",
            (counter, name, amount, amount),
        )

    def counts(self, counter: str) -> dict[str, int]:
        rows = self._db().execute("SELECT name, n FROM counters WHERE grp = ?", (counter,)).fetchall()
        return {name: int(n) for name, n in rows}

    def set_field(self, key: str, name: str, value: str, *, ttl: int = DONE_TTL) -> None:
        self._db().execute(
            "INSERT OR REPLACE INTO fields (pk, name, value, expires_at) VALUES (?, ?, ?, ?)",
            (key, name, value, time.time() + ttl),
        )

    def fields(self, key: str) -> dict[str, str]:
        rows = (
            self._db()
            .execute("SELECT name, value FROM fields WHERE pk = ? AND expires_at > ?", (key, time.time()))
            .fetchall()
        )
        return dict(rows)


class DynamoStateStore(DynamoTable):
    """The AWS backend: conditional writes on a table keyed by ``pk`` with TTL on ``expires_at``."""

    def claim(self, key: str, *, lease: int = LEASE_TTL) -> bool:
        now = int(time.time())
        try:
            self.client.put_item(
                TableName=self.table,
                Item={"pk": {"S": key}, "status": {"S": "pending"}, "expires_at": {"N": str(now + lease)}},
                ConditionExpression="attribute_not_exists(pk) OR expires_at < :now",
                ExpressionAttributeValues={":now": {"N": str(now)}},
            )
        except self.client.exceptions.ConditionalCheckFailedException:
            return False
        return True

    def complete(self, key: str, *, ttl: int = DONE_TTL) -> None:
        self.client.put_item(
            TableName=self.table,
            Item={"pk": {"S": key}, "status": {"S": "done"}, "expires_at": {"N": str(int(time.time()) + ttl)}},
        )

    def release(self, key: str) -> None:
        # Already done or gone: nothing to give up.
        with contextlib.suppress(self.client.exceptions.ConditionalCheckFailedException):
            self.client.delete_item(
                TableName=self.table,
                Key={"pk": {"S": key}},
                ConditionExpression="#s = :pending",
                ExpressionAttributeNames={"#s": "status"},
                ExpressionAttributeValues={":pending": {"S": "pending"}},
            )

    def increment(self, counter: str, name: str, amount: int = 1) -> None:
        self.client.update_item(
            TableName=self.table,
            Key={"pk": {"S": f"count#{counter}"}},
            UpdateExpression="ADD #n :amount",
            ExpressionAttributeNames={"#n": name},
            ExpressionAttributeValues={":amount": {"N": str(amount)}},
        )

    def counts(self, counter: str) -> dict[str, int]:
        item = self.client.get_item(TableName=self.table, Key={"pk": {"S": f"count#{counter}"}}).get("Item") or {}
        return {k: int(v["N"]) for k, v in item.items() if k != "pk" and "N" in v}

    def set_field(self, key: str, name: str, value: str, *, ttl: int = DONE_TTL) -> None:
        self.client.update_item(
            TableName=self.table,
            Key={"pk": {"S": f"fields#{key}"}},
            UpdateExpression="SET #n = :v, expires_at = :e",
            ExpressionAttributeNames={"#n": f"f_{name}"},
            ExpressionAttributeValues={":v": {"S": value}, ":e": {"N": str(int(time.time()) + ttl)}},
        )

    def fields(self, key: str) -> dict[str, str]:
        item = (
            self.client.get_item(TableName=self.table, Key={"pk": {"S": f"fields#{key}"}}, ConsistentRead=True).get(
                "Item"
            )
            or {}
        )
        if float(item.get("expires_at", {}).get("N", "inf")) < time.time():
            return {}  # DynamoDB deletes expired items only eventually (within days): expired is gone
        return {k[2:]: v["S"] for k, v in item.items() if k.startswith("f_") and "S" in v}
