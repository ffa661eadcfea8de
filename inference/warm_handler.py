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

Each entry is warmed in a child process (forked, so it shares what this one
imported), which is killed a minute before Lambda's own limit: the failure is
always reported rather than lost to a timeout, and nothing of a warm that ran
out of time is left running when Lambda reuses the container for the next
entry. What it downloaded stays in the cache (huggingface_hub writes each file
beside its place and renames it; conversions are built in a temporary folder
and moved into place whole), so the next try resumes from there. Its log lines
come back through a pipe and are written here.

With ``-c hf_token_secret=...`` (gated or private models) the environment names
a Secrets Manager secret (``HF_TOKEN_SECRET_ID``), never the token: each
invocation reads the token from it and hands it to huggingface_hub in the
child's environment only (``HF_TOKEN``), and every log line and failure message
has it replaced by ``***``.
"""

from __future__ import annotations

import json
import logging
import multiprocessing
import os
import time
from collections.abc import Callable
from typing import Any

from aws_lambda_powertools import Logger

from inference import redaction
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
#: The secret holding a Hub token (its name or ARN, set by infra/warm.py from ``-c hf_token_secret``).
TOKEN_SECRET_ENV = "HF_TOKEN_SECRET_ID"  # noqa: S105 (a variable's name, not a secret)
#: Where huggingface_hub reads a token from; set in the warm child's environment only.
HF_TOKEN_ENV = "HF_TOKEN"  # noqa: S105 (a variable's name, not a secret)
#: A secret holding JSON keeps the token under this key (a plain string secret is the token itself).
TOKEN_KEY = "HF_TOKEN"  # noqa: S105 (a key's name, not a secret)
#: How long the child may take to end after being killed, and to hand over its last lines.
KILL_WAIT_SECONDS = 5.0

logger = Logger(service=os.environ.get("POWERTOOLS_SERVICE_NAME", "warm"))


class WarmFailed(RuntimeError):
    """An entry could not be warmed; the message (``NAME: reason``) is what ``cdk deploy`` shows.

    ``logged``: the warm child has already logged it (as an ERROR line with ``step: failed``).
    """

    def __init__(self, message: str, *, logged: bool = False) -> None:
        super().__init__(message)
        self.logged = logged


def _log_handlers() -> list[logging.Handler]:
    """This module's Powertools handler and the root logger's (Lambda's runtime, huggingface_hub's loggers)."""
    return [logger.registered_handler, *logging.getLogger().handlers]


def _redact_logs(token: str | None) -> None:
    """Redact ``token`` (when there is one) in every log line from now on, replacing any earlier invocation's filter."""
    redaction.install(_log_handlers(), [token] if token else [])


def hub_token(name: str, *, client: Any = None) -> str | None:
    """The Hub token from the secret ``HF_TOKEN_SECRET_ID`` names, read now; None when no secret is named.

    The secret holds the token itself (``hf_...``) or JSON with it under ``HF_TOKEN``.

    Raises:
        WarmFailed: the secret cannot be read, or holds no token (naming the entry and the secret, never a value).
    """
    secret_id = os.environ.get(TOKEN_SECRET_ENV, "").strip()
    if not secret_id:
        return None
    fix = f"put the token in it: aws secretsmanager put-secret-value --secret-id {secret_id} --secret-string hf_..."
    try:
        if client is None:
            import boto3

            client = boto3.client("secretsmanager")
        value = client.get_secret_value(SecretId=secret_id).get("SecretString") or ""
    except Exception as exc:  # botocore's errors name the secret and the reason, never its value
        raise WarmFailed(
            f"{name}: cannot read the Hub token from the secret {secret_id} ({type(exc).__name__}: {exc}); it must be "
            "in this stack's account and region, encrypted with the AWS managed key (docs/deploy.md)"
        ) from None
    token = value.strip()
    if token.startswith("{"):
        try:
            document = json.loads(token)
        except ValueError:
            document = None
        token = str(document.get(TOKEN_KEY) or "").strip() if isinstance(document, dict) else ""
        if not token:
            raise WarmFailed(f"{name}: the secret {secret_id} is JSON without a {TOKEN_KEY} key; {fix}")
    if not token:
        raise WarmFailed(f"{name}: the secret {secret_id} is empty; {fix}")
    return token


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


class _PipeStream:
    """The child's log stream: each line goes to the parent, which writes it to its own handler's stream."""

    def __init__(self, connection: Any) -> None:
        self.connection = connection

    def write(self, text: str) -> int:
        self.connection.send(("log", text))
        return len(text)

    def flush(self) -> None:
        pass


def _within(
    seconds: float, name: str, work: Callable[[], dict[str, Any]], *, token: str | None = None
) -> dict[str, Any]:
    """Run ``work`` in a forked child and wait at most ``seconds`` for it; kill it then (see the module doc).

    ``work`` raises :class:`WarmFailed` with the message for ``cdk deploy``; any other error
    is reported by its type and message. ``token`` goes into the child's environment only.
    """
    receive, send = multiprocessing.get_context("fork").Pipe(duplex=False)

    def child() -> None:
        receive.close()
        if token:
            os.environ[HF_TOKEN_ENV] = token
        logger.registered_handler.setStream(_PipeStream(send))  # type: ignore[arg-type]
        try:
            send.send(("ok", work()))
        except WarmFailed as exc:
            send.send(("failed", (str(exc), exc.logged)))
        except BaseException as exc:  # handed to the parent, which words it
            send.send(("failed", (f"{name}: {type(exc).__name__}: {exc}", False)))

    process = multiprocessing.get_context("fork").Process(target=child, name=f"warm-{name}", daemon=True)
    process.start()
    send.close()
    deadline = time.monotonic() + seconds
    answer: tuple[str, Any] | None = None
    stopped = False

    def read(timeout: float) -> bool:
        """Hand one message on (a log line is written here); False when there is none, or no child any more."""
        nonlocal answer
        if not receive.poll(timeout):
            return False
        try:
            kind, value = receive.recv()
        except EOFError:  # the child ended
            return False
        if kind == "log":
            logger.registered_handler.stream.write(value)
        else:
            answer = (kind, value)
        return True

    try:
        while answer is None and read(max(deadline - time.monotonic(), 0)):
            pass
    finally:
        if answer is None and time.monotonic() < deadline:
            process.join(KILL_WAIT_SECONDS)  # its end of the pipe closed before the deadline: it is ending
        if answer is None and process.is_alive():
            stopped = True
            process.kill()
        process.join(KILL_WAIT_SECONDS)
        if process.is_alive():  # it answered but does not end (a thread it started hangs): nothing may live on
            process.kill()
            process.join(KILL_WAIT_SECONDS)
        while answer is None and read(0):  # the lines it wrote before it was stopped
            pass
        receive.close()
    if answer is None:
        if stopped:
            raise WarmFailed(
                f"{name}: not finished after {seconds / 60:.0f} minutes, within Lambda's 15-minute limit, so it was "
                "stopped. What it downloaded stays in the cache and the next deploy resumes it; or fill the cache "
                "from a machine with `python -m inference warm --to-s3 s3://BUCKET/PREFIX` and deploy with "
                "-c warm_source=s3://BUCKET/PREFIX"
            )
        raise WarmFailed(
            f"{name}: the warm process ended without an answer (exit code {process.exitcode}); if it ran out of "
            "memory, deploy with a larger -c warm_memory"
        )
    kind, value = answer
    if kind == "failed":
        message, logged = value
        raise WarmFailed(message, logged=logged)
    return value


def _warm_or_fail(spec: ModelSpec, source: str | None) -> dict[str, Any]:
    """:func:`warm`, with every failure logged and raised as :class:`WarmFailed` in the words ``cdk deploy`` shows."""
    try:
        return warm(spec, source=source)
    except InferenceError as exc:
        message = str(exc) if str(exc).startswith(f"{spec.name}:") else f"{spec.name}: {exc}"
        if source is None and is_offline():
            message += OFFLINE_HINT.format(name=spec.name)
        logger.error(message, extra={"step": "failed"})
        raise WarmFailed(message, logged=True) from exc
    except Exception as exc:
        logger.exception(f"{spec.name}: warming failed", extra={"step": "failed"})
        raise WarmFailed(f"{spec.name}: {type(exc).__name__}: {exc}", logged=True) from exc


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
    token = hub_token(spec.name)
    _redact_logs(token)
    try:
        data = _within(_budget(context), spec.name, lambda: _warm_or_fail(spec, source), token=token)
    except WarmFailed as exc:
        message = str(exc).replace(token, "***") if token else str(exc)
        if not exc.logged:
            logger.error(message, extra={"step": "failed"})
        raise WarmFailed(message, logged=True) from None
    return {"PhysicalResourceId": f"warm-{spec.name}", "Data": data}
