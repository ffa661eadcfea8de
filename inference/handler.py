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

import logging
import os
from functools import cache
from typing import TYPE_CHECKING, Any

from inference.registry import ModelSpec, load_registry
from inference.service import LoadOnce, Runner, handle

if TYPE_CHECKING:
    from inference.loader import DownloadProgress, ProgressListener

MODEL_NAME_ENV = "MODEL_NAME"
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
    return handle(event, spec=_spec(), get_runner=_runner)
