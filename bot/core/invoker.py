"""How the router reaches a model: a Lambda function in AWS, a worker process locally.

Both invokers take the same payload (``{"text", "parameters"?, "reply"?}``) and
the model's response comes back the same way: synchronously for the form, and
for Slack as a Lambda Destinations event that :mod:`bot.slack.delivery` turns into a
thread reply.
"""

from __future__ import annotations

import json
import logging
from typing import Any, Protocol

logger = logging.getLogger(__name__)


class InvokeError(Exception):
    """The model could not be invoked (missing function, bad payload, AWS unreachable)."""


class InvokeTimeout(InvokeError):
    """The model did not answer in time; it is probably still loading (cold start).

    ``progress`` says how the load is going when the invoker knows (``downloading 3 of 7 files, 120 MB of 480 MB``).
    """

    def __init__(self, message: str, *, progress: str = "") -> None:
        super().__init__(message)
        self.progress = progress


class InvokeBusy(InvokeError):
    """The model is taken by other requests: its local queue is full, or Lambda throttled the call.

    Not a failure of the model and not a cold start: nothing ran, and the same request can simply be
    sent again in a few seconds. (Asynchronous calls never raise it: Lambda and the local worker queue them.)
    """


class ModelFailure(InvokeError):
    """The model's function ran and failed: Lambda's own error (time limit, memory, crash), worded.

    ``error`` is ``{"type", "message"}`` as :func:`function_failure` words it.
    """

    def __init__(self, error: dict[str, str]) -> None:
        super().__init__(error["message"])
        self.error = error


#: Lambda's ``errorType`` for a function that ran out of time, and the words every runtime puts in ``errorMessage``
#: (``Task timed out after 60.00 seconds``, with or without a ``RequestId: ... Error:`` prefix).
TIMEOUT_ERROR_TYPE, TIMEOUT_WORDS = "Sandbox.Timedout", "task timed out after"
OUT_OF_MEMORY_ERROR_TYPE = "Runtime.OutOfMemory"


def function_failure(payload: Any, *, condition: str = "") -> dict[str, str]:
    """Word a failed invocation from Lambda's error payload: the one classification of model failures.

    ``payload`` is what Lambda returns for a function error (``{"errorType", "errorMessage"}``): the
    synchronous response's body, or a destination record's ``responsePayload``; ``condition`` is the
    record's (``RetriesExhausted``, ``EventAgeExceeded``).
    """
    error = payload if isinstance(payload, dict) else {}
    kind, message = str(error.get("errorType") or ""), str(error.get("errorMessage") or "")
    if kind == TIMEOUT_ERROR_TYPE or TIMEOUT_WORDS in message.lower():
        return {
            "type": "timeout",
            "message": "it did not finish within its time limit (a cold start can take long; try again).",
        }
    if condition == "EventAgeExceeded":
        return {"type": "timeout", "message": "the request waited too long in the queue to be run."}
    if kind == OUT_OF_MEMORY_ERROR_TYPE:
        return {"type": "model_failed", "message": "it ran out of memory (its registry entry needs more `memory`)."}
    return {"type": "model_failed", "message": f"it stopped with an error ({kind or condition or 'unknown'})."}


class Invoker(Protocol):
    """Starts model invocations; ``model`` is a registry name."""

    def invoke_async(self, model: str, payload: dict[str, Any]) -> None:
        """Queue an invocation whose result arrives later as a destination event."""
        ...

    def invoke_sync(self, model: str, payload: dict[str, Any], *, timeout: float) -> dict[str, Any]:
        """Invoke and wait at most ``timeout`` seconds for the model's response.

        Raises:
            InvokeTimeout: no answer in time (the model keeps loading in the background).
            InvokeBusy: the model is taken by other requests; nothing ran.
            InvokeError: the invocation failed.
        """
        ...


#: The error code of a synchronous invoke that Lambda throttled (the function's reserved concurrency,
#: or the account's, is in use).
THROTTLED_ERROR_CODE = "TooManyRequestsException"

#: Lambda rejects asynchronous payloads over 1 MB (256 KB on older accounts); stay well below.
MAX_ASYNC_PAYLOAD = 240_000


class LambdaInvoker:
    """Invokes ``{prefix}-{model}`` functions; the boto3 client is made on first use."""

    def __init__(self, prefix: str, *, client: Any = None) -> None:
        self.prefix = prefix
        self._injected = client  # tests pass one client for both kinds of call
        self._async_client: Any = None
        self._sync_clients: dict[float, Any] = {}

    def function_name(self, model: str) -> str:
        """The function of a registry entry: derived, never taken from a request."""
        return f"{self.prefix}-{model}"

    @property
    def client(self) -> Any:
        """The client for asynchronous calls: boto3's defaults (its retries help an ``Event`` invoke)."""
        if self._injected is not None:
            return self._injected
        if self._async_client is None:
            import boto3  # on first use, not at import: boto3 is a tenth of a second of the cold start

            self._async_client = boto3.client("lambda")
        return self._async_client

    def invoke_async(self, model: str, payload: dict[str, Any]) -> None:
        body = json.dumps(payload).encode()
        if len(body) > MAX_ASYNC_PAYLOAD:
            raise InvokeError(f"The request is too large ({len(body):,} bytes) to queue.")
        try:
            self.client.invoke(FunctionName=self.function_name(model), InvocationType="Event", Payload=body)
        except Exception as exc:  # botocore raises many types; all mean "not queued"
            raise InvokeError(f"Could not start {model}: {type(exc).__name__}") from exc

    def _sync_client(self, timeout: float) -> Any:
        """A client that waits at most ``timeout`` for the answer and never retries (a retry would run it twice)."""
        if self._injected is not None:
            return self._injected
        if timeout not in self._sync_clients:
            import boto3  # on first use, as above
            from botocore.config import Config

            config = Config(read_timeout=timeout, connect_timeout=3, retries={"max_attempts": 0})
            self._sync_clients[timeout] = boto3.client("lambda", config=config)
        return self._sync_clients[timeout]

    def invoke_sync(self, model: str, payload: dict[str, Any], *, timeout: float) -> dict[str, Any]:
        from botocore.exceptions import ClientError, ReadTimeoutError  # with the client, on first use

        try:
            answer = self._sync_client(timeout).invoke(
                FunctionName=self.function_name(model), InvocationType="RequestResponse", Payload=json.dumps(payload)
            )
        except ReadTimeoutError as exc:
            raise InvokeTimeout(f"{model} is still warming up.") from exc
        except Exception as exc:
            if isinstance(exc, ClientError) and exc.response.get("Error", {}).get("Code") == THROTTLED_ERROR_CODE:
                raise InvokeBusy(f"{model} is busy: Lambda throttled the call.") from exc
            raise InvokeError(f"Could not invoke {model}: {type(exc).__name__}") from exc
        result = json.loads(answer["Payload"].read() or b"null")
        if answer.get("FunctionError"):
            raise ModelFailure(function_failure(result))
        return result
