"""The model Lambda: ``inference.handler.handler``.

The function's environment names the registry entry (``MODEL_NAME``); the model
is loaded once per container, on the first request, from ``HF_HOME``: what
``warm`` converted for the entry's backend, or for ``backend: torch`` the
weights themselves. While the runtime is imported (a fraction of a second for a
fast one, seconds of CPU for torch and transformers), a background thread reads
those files from EFS into memory, so loading them does not wait on the network
afterwards.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Callable
from functools import cache
from typing import TYPE_CHECKING, Any

from inference.registry import ModelSpec, load_registry
from inference.service import LoadOnce, PartialSink, Runner, handle, partial_record

if TYPE_CHECKING:
    from inference.loader import DownloadProgress, ProgressListener

MODEL_NAME_ENV = "MODEL_NAME"
#: The router's function: a streaming runner's partial records are sent to it (an ``Event`` invoke, through the
#: VPC's Lambda endpoint); unset, partials go only where :func:`send_partials_to` says (local mode's workers).
PARTIALS_FUNCTION_ENV = "PARTIALS_FUNCTION"
logger = logging.getLogger(__name__)


@cache
def _spec() -> ModelSpec:
    return load_registry().get(os.environ[MODEL_NAME_ENV])


def _log_progress(progress: DownloadProgress) -> None:
    logger.info("%s: %s", _spec().name, progress.describe())


_progress_listeners: list[ProgressListener] = [_log_progress]


def report_progress_to(listener: ProgressListener) -> None:
    """Tell ``listener`` too how a download of the weights is going (local mode's workers pass it on)."""
    _progress_listeners.append(listener)


def _report(progress: DownloadProgress) -> None:
    for listener in _progress_listeners:
        listener(progress)


PartialSender = Callable[[dict[str, Any]], None]
_partial_senders: list[PartialSender] = []


def send_partials_to(sender: PartialSender) -> None:
    """Hand ``sender`` each partial record (local mode's workers pass them up the pipe to the router)."""
    _partial_senders.append(sender)


#: A partial is a preview: its invoke may hold the generation up this long at most, and is not retried.
PARTIAL_CONNECT_SECONDS, PARTIAL_READ_SECONDS = 1.0, 2.0


@cache
def _lambda_client() -> Any:
    import boto3  # on the first partial only: a model that never streams never pays for it
    from botocore.config import Config

    config = Config(
        connect_timeout=PARTIAL_CONNECT_SECONDS, read_timeout=PARTIAL_READ_SECONDS, retries={"max_attempts": 1}
    )
    return boto3.client("lambda", config=config)


def invoke_router(record: dict[str, Any]) -> None:
    """Send ``record`` to the router asynchronously (at least once, in any order: the router sorts it out)."""
    _lambda_client().invoke(
        FunctionName=os.environ[PARTIALS_FUNCTION_ENV], InvocationType="Event", Payload=json.dumps(record).encode()
    )


def partial_sink(event: Any) -> PartialSink | None:
    """Where this request's partials go: nowhere unless it came from the router (it has a ``reply``) and has a sender."""
    reply = event.get("reply") if isinstance(event, dict) else None
    if not isinstance(reply, dict) or not reply.get("request_id"):
        return None
    senders = [*_partial_senders, *([invoke_router] if os.environ.get(PARTIALS_FUNCTION_ENV) else [])]
    if not senders:
        return None

    failed = False

    def sink(sequence: int, text: str) -> None:
        nonlocal failed
        if failed:  # the router could not be reached once: the rest of this answer arrives whole, not late
            return
        record = partial_record(event, model=_spec().name, sequence=sequence, text=text)
        try:
            for send in senders:
                send(record)
        except Exception:
            failed = True
            raise

    return sink


def _load() -> Runner:
    from inference.loader import prefetch
    from inference.runners import load_runner, weight_files

    spec = _spec()
    prefetch(lambda: weight_files(spec))
    return load_runner(spec, progress=_report)  # imports the backend's runtime (torch and transformers are heavy)


#: The container's model: loaded on the first request; a failed load is retried after a short backoff.
_runner = LoadOnce(_load)


def handler(event: dict[str, Any], context: Any = None) -> dict[str, Any]:
    """Lambda entry point; see :func:`inference.service.handle` for the response."""
    return handle(event, spec=_spec(), get_runner=_runner, on_partial=partial_sink(event))
