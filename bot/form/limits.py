"""The form's limits: how many runs one client may have going at once, and how large a file it takes.

Runs are counted where every router process sees them: in AWS each router container serves one
request at a time, so a count kept in memory would never pass one; the count is a set of *slots* in the state store instead (DynamoDB in AWS,
SQLite locally): a run claims one of its client's slots (``form-run:<address>:<n>``) and
releases it when answered. A slot is a claim with a lease a little longer than the form waits,
so a router that dies mid-run frees it by itself.

Files are capped per kind (:data:`inference.media.MAX_BYTES`, checked by content when stored); in AWS
also by what one request to a Lambda function can carry (:data:`LAMBDA_FILE_BYTES`). The page is
told the same caps (:func:`upload_caps`), so it refuses a file before sending it.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from contextlib import contextmanager

from bot.stores.state import StateStore
from inference.errors import InputTooLong
from inference.media import KINDS, MAX_BYTES, MB, describe_size

#: A slot outlives the run it guards (the form's wait) by this much, then frees itself.
LEASE_MARGIN_SECONDS = 10
#: The largest file the form takes in AWS. API Gateway hands the router's Lambda function the body
#: base64-encoded (4/3 of its size) inside the event, and a synchronous invocation carries at most 6 MB:
#: 4 MB of file is 5.3 MB encoded, which leaves room for the form's other fields and the headers.
LAMBDA_FILE_BYTES = 4 * MB
#: Where a file too large for the form in AWS can go instead (Slack's files reach the bot by its token).
SLACK_INSTEAD = "Larger files go through Slack: attach the file to a message that mentions the bot."


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


def upload_cap(kind: str, *, local: bool) -> int:
    """The largest file of ``kind`` the form takes: the kind's cap, and in AWS no more than Lambda carries."""
    return MAX_BYTES[kind] if local else min(MAX_BYTES[kind], LAMBDA_FILE_BYTES)


def upload_caps(*, local: bool) -> dict[str, int]:
    """:func:`upload_cap` of every kind, for the page."""
    return {kind: upload_cap(kind, local=local) for kind in KINDS}


def check_upload_size(size: int, *, kind: str, local: bool) -> None:
    """Refuse, in AWS, a file larger than one request to the router can carry (the kinds' own caps are
    :func:`inference.media.check_file`'s, in the model's name).

    Raises:
        InputTooLong: naming the size, the form's cap here and :data:`SLACK_INSTEAD`.
    """
    cap = upload_cap(kind, local=local)
    if not local and size > cap:
        raise InputTooLong(
            f"The file is {describe_size(size)}; the form takes files of at most {describe_size(cap)}. {SLACK_INSTEAD}"
        )
