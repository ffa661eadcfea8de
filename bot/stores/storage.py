"""The two kinds of storage behind the router's small interfaces: a DynamoDB table in AWS,
a SQLite file locally. The stores (claims, feedback, figures) build on these."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path
from typing import Any


class SqliteFile:
    """A SQLite file shared by local mode's threads (a connection each) and processes (WAL)."""

    def __init__(self, path: Path, *schema: str) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._local = threading.local()
        for statement in schema:
            self.db().execute(statement)

    def db(self) -> sqlite3.Connection:
        """This thread's connection, in autocommit mode (transactions are explicit)."""
        db = getattr(self._local, "db", None)
        if db is None:
            db = sqlite3.connect(self.path, timeout=30, isolation_level=None)
            db.execute("PRAGMA journal_mode=WAL")
            self._local.db = db
        return db


class DynamoTable:
    """A DynamoDB table by name; the boto3 client is made on first use, or injected for tests."""

    def __init__(self, table: str, *, client: Any = None) -> None:
        self.table = table
        self._client = client

    @property
    def client(self) -> Any:
        if self._client is None:
            import boto3  # on first use: the ack path of a cold start never touches the tables

            self._client = boto3.client("dynamodb")
        return self._client
