"""The deploy's warm step: ``inference.warm_handler.handler``, run from the conversion image on the EFS cache.

The stack (infra/warm.py) gives each registry entry a custom resource whose
properties are what the cache depends on (name, model, revision, backend,
quantization, task, the runtimes' pins); CloudFormation sends this function
(through CDK's provider framework) a ``Create`` or ``Update`` only when they
changed, and a ``Delete``, which keeps the cache as it is. For ``Create`` and
``Update`` it does what ``python -m inference warm NAME`` does
(:func:`inference.warming.warm_entry`), first copying the entry's cache from
S3 when ``WARM_SOURCE`` names a prefix (:func:`inference.s3_cache.restore`, the
offline deploy's way), then looks the entry up as its function will
(:func:`inference.warming.ready`). Each step is a structured log line.

A failure raises :class:`WarmFailed`, whose message names the entry and the
reason; the provider framework reports it as the resource's failure, so
``cdk deploy`` prints it and rolls the change back (docs/deploy.md says why).
The work stops a minute before Lambda's own limit, so that failure is always
reported rather than lost to a timeout.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from typing import Any

from aws_lambda_powertools import Logger

from inference.errors import InferenceError, RegistryError, UnknownModel
from inference.loader import is_offline
from inference.registry import ModelSpec, load_registry

#: ``s3://bucket/prefix`` to copy each entry's cache from before warming it (``-c warm_source=...``).
WARM_SOURCE_ENV = "WARM_SOURCE"
#: The custom resource's properties (infra/warm.py writes them; ServiceToken is the framework's).
ENTRY, MODEL, REVISION, BACKEND, QUANTIZE, TASK = "Entry", "Model", "Revision", "Backend", "Quantize", "Task"
#: Each must be the image's registry entry's own, or the image and the template disagree.
CHECKED = {MODEL: "model", REVISION: "revision", BACKEND: "backend", QUANTIZE: "quantize", TASK: "task"}
#: Stop this long before Lambda would, so the failure reaches CloudFormation (the framework waits as long).
MARGIN_SECONDS = 60.0
#: Without a Lambda context (tests, a local run): Lambda's longest timeout.
DEFAULT_BUDGET_SECONDS = 15 * 60.0
#: Said after a failure in an offline stack without ``warm_source``, whose warm step can only check the cache.
OFFLINE_HINT = (
    " This stack is offline (-c offline=true) without -c warm_source, so its warm step only checks the cache: "
    "fill an S3 prefix with `python -m inference warm --to-s3 s3://BUCKET/PREFIX {name}` on a machine that reaches "
    "the Hub, and deploy with -c warm_source=s3://BUCKET/PREFIX (docs/deploy.md)."
)
#: A download in progress is logged this often.
PROGRESS_LOG_SECONDS = 15.0

logger = Logger(service=os.environ.get("POWERTOOLS_SERVICE_NAME", "warm"))


class WarmFailed(RuntimeError):
    """An entry could not be warmed; the message (``NAME: reason``) is what ``cdk deploy`` shows."""


def _budget(context: Any) -> float:
    remaining = getattr(context, "get_remaining_time_in_millis", None)
    total = remaining() / 1000 if callable(remaining) else DEFAULT_BUDGET_SECONDS
    return max(total - MARGIN_SECONDS, 1.0)


def _spec(properties: dict[str, Any]) -> ModelSpec:
    name = str(properties.get(ENTRY, ""))
    try:
        spec = load_registry().get(name)
    except (UnknownModel, RegistryError) as exc:
        raise WarmFailed(f"{name or '(no Entry)'}: not in this image's registry ({exc})") from None
    for key, field in CHECKED.items():
        if key in properties and str(properties[key]) != str(getattr(spec, field)):
            raise WarmFailed(
                f"{name}: the stack asks for {field} {properties[key]!r}, the image's registry has "
                f"{getattr(spec, field)!r}; deploy the stack and its image from the same registry"
            )
    return spec


def _progress_logger(spec: ModelSpec) -> Callable[[Any], None]:
    last = [0.0]

    def log(progress: Any) -> None:
        now = time.monotonic()
        if now - last[0] >= PROGRESS_LOG_SECONDS:
            last[0] = now
            logger.info(progress.describe(), extra={"entry": spec.name, "step": "download", **progress.to_dict()})

    return log


def warm(spec: ModelSpec, *, source: str | None = None, s3_client: Any = None) -> dict[str, Any]:
    """Fill the cache for ``spec`` (from ``source``, an S3 URL, first if given); return what it serves from.

    Raises:
        InferenceError: a copy, download or conversion failed, or the entry would not load afterwards.
    """
    from inference.warming import ready, warm_entry

    started = time.monotonic()
    if source:
        from inference.s3_cache import parse_s3_url, restore

        bucket, prefix = parse_s3_url(source)
        logger.info(f"{spec.name}: copying its cache from {source}", extra={"entry": spec.name, "step": "restore"})
        copied = restore(spec, bucket=bucket, prefix=prefix, client=s3_client)
        logger.info(
            f"{spec.name}: copied {copied.files} files ({copied.megabytes}) from {source}",
            extra={"entry": spec.name, "step": "restore", "files": copied.files, "bytes": copied.bytes},
        )

    def say(line: str) -> None:
        logger.info(line, extra={"entry": spec.name, "step": "warm"})

    result = warm_entry(spec, say=say, progress=_progress_logger(spec))
    folder = ready(spec)
    seconds = round(time.monotonic() - started, 1)
    logger.info(f"{spec.name}: ready in {folder}", extra={"entry": spec.name, "step": "ready", "seconds": seconds})
    return {"Folder": str(folder), "Refused": result.refused or "", "Seconds": seconds}


def _within(seconds: float, name: str, work: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    """Run ``work`` in a thread and wait at most ``seconds`` for it, re-raising its error.

    On time-out the thread is left running; Lambda freezes it with the container.
    What it downloaded stays in the cache, and the next try resumes from there.
    """
    outcome: dict[str, Any] = {}

    def run() -> None:
        try:
            outcome["result"] = work()
        except BaseException as exc:  # handed to the caller's thread
            outcome["error"] = exc

    thread = threading.Thread(target=run, name=f"warm-{name}", daemon=True)
    thread.start()
    thread.join(seconds)
    if thread.is_alive():
        raise WarmFailed(
            f"{name}: not finished after {seconds / 60:.0f} minutes, within Lambda's 15-minute limit. What it "
            "downloaded stays in the cache and the next deploy resumes it; or fill the cache from a machine with "
            "`python -m inference warm --to-s3 s3://BUCKET/PREFIX` and deploy with -c warm_source=s3://BUCKET/PREFIX"
        )
    if "error" in outcome:
        raise outcome["error"]
    return outcome["result"]


@logger.inject_lambda_context(clear_state=True)
def handler(event: dict[str, Any], context: Any = None) -> dict[str, Any]:
    """The provider framework's ``onEvent``: warm the entry on Create and Update, keep the cache on Delete.

    Returns:
        ``{"PhysicalResourceId": "warm-NAME", "Data": {...}}``, as the framework expects.

    Raises:
        WarmFailed: naming the entry and the reason, for ``cdk deploy`` to print.
    """
    request = event.get("RequestType")
    properties = dict(event.get("ResourceProperties") or {})
    name = str(properties.get(ENTRY, ""))
    physical = event.get("PhysicalResourceId") or f"warm-{name}"
    logger.append_keys(entry=name, request=request)
    if request == "Delete":
        logger.info(f"{name}: removed from the stack; its cache stays on EFS", extra={"step": "delete"})
        return {"PhysicalResourceId": physical}
    if request not in ("Create", "Update"):
        raise WarmFailed(f"{name}: unexpected request type {request!r}")
    spec = _spec(properties)
    source = os.environ.get(WARM_SOURCE_ENV) or None
    try:
        data = _within(_budget(context), spec.name, lambda: warm(spec, source=source))
    except WarmFailed as exc:
        logger.error(str(exc), extra={"step": "failed"})
        raise
    except InferenceError as exc:
        message = str(exc) if str(exc).startswith(f"{spec.name}:") else f"{spec.name}: {exc}"
        if source is None and is_offline():
            message += OFFLINE_HINT.format(name=spec.name)
        logger.error(message, extra={"step": "failed"})
        raise WarmFailed(message) from exc
    except Exception as exc:
        logger.exception(f"{spec.name}: warming failed", extra={"step": "failed"})
        raise WarmFailed(f"{spec.name}: {type(exc).__name__}: {exc}") from exc
    return {"PhysicalResourceId": f"warm-{spec.name}", "Data": data}
