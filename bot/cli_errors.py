"""What ``python -m bot`` says when a command fails, in one table.

Commands raise typed errors where a failure happens (nothing answers at ``--url``, the port is
taken, no AWS region is configured...); ``main`` hands them to :func:`report`, which prints one
``error: ...`` line saying what to do and returns the exit status ``python -m inference`` uses
too: 1 a failure, 2 a usage error (130 on Ctrl-C). Anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

import errno
import socket
import sys
from dataclasses import dataclass

from bot.core.config import SettingError
from inference.cli import FAILURE, USAGE_ERROR
from inference.errors import RegistryError, UnknownModel

SERVE = "`python -m bot serve`"
LOCAL_FEEDBACK = "or unset FEEDBACK_TABLE to export this machine's feedback"


class CommandError(Exception):
    """A failure the person at the command line can do something about; :func:`explain` words it."""


@dataclass(eq=False)
class InvalidUrl(CommandError):
    """``--url`` is not an http(s) URL."""

    url: str


@dataclass(eq=False)
class ServerUnreachable(CommandError):
    """Nothing answered at the server's address."""

    url: str
    reason: str


@dataclass(eq=False)
class ServerHungUp(CommandError):
    """The server took the request but did not finish its answer."""

    url: str
    reason: str


@dataclass(eq=False)
class NotJson(CommandError):
    """Something answered, but not with the bot's JSON: another program at that address."""

    url: str
    status: int
    content_type: str


@dataclass(eq=False)
class CannotListen(CommandError):
    """``serve`` could not listen at ``host:port``."""

    host: str
    port: int
    error: OSError


@dataclass(eq=False)
class CannotWrite(CommandError):
    """An output file could not be written."""

    path: str
    reason: str


class NoAwsRegion(CommandError):
    """``FEEDBACK_TABLE`` says to read DynamoDB, but no AWS region says where."""


def explain(exc: BaseException) -> tuple[str, int] | None:
    """The words for a failure people can act on, and its exit status; None for anything else (a bug)."""
    # The manifest brings the Slack side (slack_sdk, the Block Kit builders): imported only when a command failed.
    from bot.slack.manifest import ManifestError

    match exc:
        case InvalidUrl(url=url):
            return f"--url must start with http:// or https://, got {url!r}", USAGE_ERROR
        case ServerUnreachable(url=url, reason=reason):
            return f"cannot reach {url} ({reason}): is {SERVE} running at {url}?", FAILURE
        case ServerHungUp(url=url, reason=reason):
            return f"{url} stopped answering mid-request ({reason}): did {SERVE} stop? Its output says why.", FAILURE
        case NotJson(url=url, status=status, content_type=content_type):
            what = content_type or "no Content-Type"
            return (
                f"{url} answered HTTP {status} with {what}, not the bot's JSON: is {SERVE} running at {url}?",
                FAILURE,
            )
        case CannotListen():
            return _cannot_listen(exc), FAILURE
        case CannotWrite(path=path, reason=reason):
            return f"cannot write {path} ({reason}): pass --output a file you can write, or - for the terminal", FAILURE
        case NoAwsRegion():
            return (
                "FEEDBACK_TABLE is set, so the export reads DynamoDB, but no AWS region is configured: "
                f"set AWS_DEFAULT_REGION to the stack's region, {LOCAL_FEEDBACK}"
            ), FAILURE
        case SettingError():
            return f"{exc} (unset it for the default)", FAILURE
        case ManifestError():
            return f"--url: {exc}", USAGE_ERROR
        case RegistryError() | UnknownModel():
            return str(exc), USAGE_ERROR
    if type(exc).__module__.startswith("botocore."):
        return _aws(exc), FAILURE
    return None


def _cannot_listen(exc: CannotListen) -> str:
    reason = exc.error.strerror or str(exc.error)
    if isinstance(exc.error, socket.gaierror) or exc.error.errno == errno.EADDRNOTAVAIL:
        return (
            f"cannot listen on {exc.host!r}: it is no name or address of this machine ({reason}); "
            "pass --host 127.0.0.1 (this machine only) or --host 0.0.0.0 (every network)"
        )
    if exc.error.errno == errno.EADDRINUSE:
        return (
            f"cannot listen on {exc.host}:{exc.port}: the port is in use (another {SERVE}?); "
            "stop that program or pass --port with a free port"
        )
    return f"cannot listen on {exc.host}:{exc.port}: {reason}"


def _aws(exc: BaseException) -> str:
    from botocore.exceptions import NoCredentialsError  # only for an AWS error: botocore is then loaded already

    if isinstance(exc, NoCredentialsError):
        return (
            "no AWS credentials to read FEEDBACK_TABLE with: set AWS_PROFILE (after `aws sso login` if it uses SSO) "
            f"or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, {LOCAL_FEEDBACK}"
        )
    return f"AWS: {exc} (check FEEDBACK_TABLE, which names the stack's feedback table, and AWS_DEFAULT_REGION)"


def report(exc: Exception) -> int:
    """Print ``error: <what to do>`` for ``exc`` and return its exit status; a bug is raised again."""
    worded = explain(exc)
    if worded is None:
        raise exc
    message, status = worded
    print(f"error: {message}", file=sys.stderr)
    return status
