"""How many form runs one client may have going at once, counted where every router process sees it.

In AWS each router container serves one request at a time, so a count kept in memory would
never pass one; the count is a set of *slots* in the state store instead (DynamoDB in AWS,
SQLite locally): a run claims one of its client's slots (``form-run:<address>:<n>``) and
releases it when answered. A slot is a claim with a lease a little longer than the form waits,
so a router that dies mid-run frees it by itself.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from contextlib import contextmanager

from bot.stores.state import StateStore

#: A slot outlives the run it guards (the form's wait) by this much, then frees itself.
LEASE_MARGIN_SECONDS = 10


class RunSlots:
    """``limit`` run slots per client address in ``store``."""

    def __init__(self, store: StateStore, *, limit: int, wait_seconds: float) -> None:
        self.store = store
        self.limit = limit
        self.lease = math.ceil(wait_seconds) + LEASE_MARGIN_SECONDS

    @contextmanager
    def hold(self, client: str) -> Iterator[bool]:
        """Hold one of ``client``'s slots for the ``with`` block: True if one was free, False if all are taken."""
        key = self._take(client)
        try:
            yield key is not None
        finally:
            if key is not None:
                self.store.release(key)

    def _take(self, client: str) -> str | None:
        for slot in range(self.limit):
            key = f"form-run:{client}:{slot}"
            if self.store.claim(key, lease=self.lease):
                return key
        return None
