"""Lambda Destinations records, as the router receives a model's answer (or its failure).

One shape for every test: the samples ``tests/events/destination_success.json`` and
``destination_failure.json`` (what AWS sends, and what ``bot.local.workers.destination_record``
builds in local mode), with the request and the response a test gives put in whole. Each record
is a fresh copy.
"""

from __future__ import annotations

from typing import Any

from tests.events import load_event

SUCCESS, FAILURE = "destination_success", "destination_failure"


def destination_record(
    request: dict[str, Any] | None = None,
    response: Any = None,
    *,
    failed: bool = False,
    **overrides: Any,
) -> dict[str, Any]:
    """The record of a model run on ``request`` (the invocation's payload) that gave ``response``.

    ``failed`` starts from the failure sample (``RetriesExhausted``, Lambda's timeout error as its
    response). ``request`` and ``response`` replace the sample's payloads whole (``None`` keeps the
    sample's); ``overrides`` are deep-merged over the rest (``requestContext={"condition": ...}``).
    """
    record = load_event(FAILURE if failed else SUCCESS, **overrides)
    if request is not None:
        record["requestPayload"] = request
    if response is not None:
        record["responsePayload"] = response
    return record
