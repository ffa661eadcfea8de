"""A fake Slack Web API: a real HTTP server on 127.0.0.1 that slack_sdk can talk to.

Point ``WebClient(base_url=fake.base_url)`` (or the router's ``SLACK_API_URL``)
at it. It records every call, keeps the messages the bot posted (updates
included), serves ``response_url`` endpoints, and injects the faults the router
must survive: latency, 429 with ``Retry-After``, 5xx, ``{"ok": false}`` errors
and dropped connections. Every message, blocks array and view it receives is
checked against Block Kit's limits (:mod:`tests.fakes.block_kit`); what breaks
them is kept for :meth:`FakeSlackApi.take_violations`, and answered as usual.
Everything is guarded by one lock, so tests can read and reconfigure it while
the bot's threads are calling it.

It also holds the workspace's files: :meth:`FakeSlackApi.add_file` gives a file object whose
``url_private_download`` is served here (``/files-pri/T…-F…/name``) only with the bot token
(401 without one, 403 with another), answers ``files.info``, can refuse a file (403) or answer with
a sign-in page, and records every download requested (:meth:`FakeSlackApi.downloads`). The external
upload flow (``files.getUploadURLExternal``, the POST of the bytes to the ``upload_url`` it gives,
on this host, and ``files.completeUploadExternal``) is recorded as :meth:`FakeSlackApi.uploads`.
"""

from __future__ import annotations

import contextlib
import copy
import itertools
import json
import math
import threading
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qs, quote, urlsplit

from tests.fakes.block_kit import Violation, Violations, message_problems, view_problems
from tests.fakes.loopback import LoopbackServer

BOT_USER_ID = "UBOT"
BOT_ID = "BBOT"
TEAM_ID = "T0001"
#: The pseudo-method under which ``response_url`` posts take latency and faults.
RESPONSE_URL = "response_url"

#: Fields that slack_sdk sends as JSON strings inside form bodies.
_JSON_FIELDS = ("blocks", "attachments", "view", "metadata", "files")
#: Where files are served, and where the bytes of an external upload are posted.
FILES_PATH, UPLOAD_PATH = "/files-pri/", "/upload/"
#: What Slack answers a file download with when it will not hand the file over to this client.
LOGIN_PAGE = b"<!DOCTYPE html><html><head><title>Slack</title></head><body>Sign in to your workspace</body></html>"
_FIRST_TS = 1_700_000_000_000_000  # microseconds: ts "1700000000.000100" is the first one handed out
_POLL_SECONDS = 0.02

Handler = Callable[[dict[str, Any]], dict[str, Any]]
#: The Web API methods that carry a message or a view, and how each is checked.
_CHECKS: dict[str, Callable[[dict[str, Any]], list[str]]] = {
    **dict.fromkeys(("chat.postMessage", "chat.update", "chat.postEphemeral"), message_problems),
    **dict.fromkeys(
        ("views.open", "views.push", "views.update", "views.publish"), lambda params: view_problems(params.get("view"))
    ),
}


@dataclass(frozen=True)
class Call:
    """One request to the Web API, as received.

    ``headers`` has lower-case names; ``at`` is ``time.monotonic()`` on arrival;
    ``fault`` names the injected fault that answered it (``None``: answered normally).
    """

    method: str
    params: dict[str, Any]
    headers: dict[str, str]
    at: float
    fault: str | None = None


@dataclass(frozen=True)
class ResponsePost:
    """One POST to a ``response_url``; ``body`` is parsed JSON when it was JSON."""

    url: str
    body: Any
    headers: dict[str, str]
    at: float
    fault: str | None = None


@dataclass(frozen=True)
class Download:
    """One request for a file's bytes: the URL asked for, the ``Authorization`` it came with, the status answered."""

    url: str
    authorization: str
    status: int


@dataclass(frozen=True)
class Upload:
    """One file uploaded by the external flow and completed: its bytes and where it was shared."""

    file_id: str
    filename: str
    title: str
    data: bytes
    channel: str
    thread_ts: str


@dataclass
class _Fault:
    method: str
    status: int
    error: str
    retry_after: int
    drop: bool
    remaining: int | None

    @property
    def label(self) -> str:
        if self.drop:
            return "drop"
        return str(self.status) if self.status != 200 else self.error


@dataclass
class _Answer:
    status: int = 200
    body: dict[str, Any] = field(default_factory=lambda: {"ok": True})
    headers: dict[str, str] = field(default_factory=dict)
    drop: bool = False
    #: Bytes sent as they are (a file, a page) instead of the JSON ``body``, with ``headers``' Content-Type.
    raw: bytes | None = None


def decode_body(content_type: str, raw: bytes) -> dict[str, Any]:
    """Parse a form or JSON body the way Slack does; JSON-string fields become lists and dicts.

    Raises:
        ValueError: the body is neither a JSON object nor form data.
    """
    kind = content_type.split(";", 1)[0].strip().lower()
    if kind == "application/json":
        params = json.loads(raw.decode("utf-8") or "{}")
        if not isinstance(params, dict):
            raise ValueError("the JSON body is not an object")
    elif kind in ("application/x-www-form-urlencoded", ""):
        params = {k: v[-1] for k, v in parse_qs(raw.decode("utf-8"), keep_blank_values=True).items()}
    else:
        raise ValueError(f"unsupported content type {content_type!r}")
    for name in _JSON_FIELDS:
        value = params.get(name)
        if isinstance(value, str) and value[:1] in ("[", "{"):
            with contextlib.suppress(json.JSONDecodeError):  # otherwise left as sent, for the test to see
                params[name] = json.loads(value)
    return params


class FakeSlackApi(LoopbackServer):
    """The Slack Web API and ``response_url`` endpoints on an ephemeral loopback port.

    Use it as a context manager; ``base_url`` ends with ``/api/`` like Slack's.
    With ``expect_token``, calls without ``Authorization: Bearer <token>`` get
    ``invalid_auth``.
    """

    def __init__(self, *, expect_token: str | None = None) -> None:
        super().__init__()
        self.expect_token = expect_token
        self._lock = threading.Lock()
        self._calls: list[Call] = []
        self._response_posts: list[ResponsePost] = []
        self._response_ids: set[str] = set()
        self._messages: dict[tuple[str, str], dict[str, Any]] = {}
        self._threads: dict[tuple[str, str], list[dict[str, Any]]] = {}
        self._home_views: dict[str, str] = {}
        self._faults: list[_Fault] = []
        #: method -> (calls, seconds): more calls than that within the window are answered 429 (see ``limit_rate``).
        self._rate_limits: dict[str, tuple[int, float]] = {}
        self._rate_calls: dict[str, list[float]] = {}
        #: Whether the workspace lets the app use the streaming methods (``allow_streaming``).
        self._streaming = False
        #: The workspace's files: id -> file object, its bytes, and how a download of it is answered.
        self._files: dict[str, dict[str, Any]] = {}
        self._file_data: dict[str, bytes] = {}
        self._file_answers: dict[str, str] = {}
        self._downloads: list[Download] = []
        #: External uploads: file id -> (filename, length, bytes once posted); completed ones in ``_uploads``.
        self._pending_uploads: dict[str, dict[str, Any]] = {}
        self._uploads: list[Upload] = []
        self._violations = Violations()
        self._latency: dict[str | None, float] = {}
        self._ts = itertools.count(1)
        self._view_ids = itertools.count(1)
        self._handlers: dict[str, Handler] = {
            "auth.test": self._auth_test,
            "chat.postMessage": self._post_message,
            "chat.update": self._update,
            "chat.startStream": self._start_stream,
            "chat.appendStream": self._append_stream,
            "chat.stopStream": self._stop_stream,
            "chat.postEphemeral": self._post_ephemeral,
            "chat.delete": self._delete,
            "chat.getPermalink": self._permalink,
            "views.open": lambda params: self._view(params, required="trigger_id"),
            "views.push": lambda params: self._view(params, required="trigger_id"),
            "views.update": lambda params: self._view(params, required="view_id"),
            "views.publish": lambda params: self._view(params, required="user_id"),
            "conversations.replies": self._replies,
            "conversations.history": self._history,
            "users.info": self._user_info,
            "files.info": self._file_info,
            "files.getUploadURLExternal": self._upload_url,
            "files.completeUploadExternal": self._complete_upload,
            "reactions.add": lambda params: {"ok": True},
            "assistant.threads.setStatus": lambda params: self._assistant(params, required="status"),
            "assistant.threads.setSuggestedPrompts": lambda params: self._assistant(params, required="prompts"),
            "assistant.threads.setTitle": lambda params: self._assistant(params, required="title"),
        }

    #: Load tests open hundreds of connections at once.
    backlog = 256

    def handler(self) -> type[BaseHTTPRequestHandler]:
        return _make_handler(self)

    @property
    def base_url(self) -> str:
        """What ``WebClient(base_url=...)`` and ``SLACK_API_URL`` take."""
        return f"{self.origin}/api/"

    # -- what the bot did --------------------------------------------------------------------

    def calls(self, method: str | None = None) -> list[Call]:
        """Every Web API call received so far (faulted ones included), oldest first."""
        with self._lock:
            return [c for c in self._calls if method is None or c.method == method]

    def messages(self, channel: str | None = None) -> list[dict[str, Any]]:
        """Messages the bot posted and has not deleted, as they are now (updates applied), by ts."""
        with self._lock:
            found = [copy.deepcopy(m) for m in self._messages.values() if channel is None or m["channel"] == channel]
        return sorted(found, key=lambda m: float(m["ts"]))

    def new_response_url(self) -> str:
        """A fresh ``response_url`` served by this fake, as Slack puts in commands and actions."""
        key = uuid.uuid4().hex
        with self._lock:
            self._response_ids.add(key)
        return f"{self.origin}/response/{key}"

    def response_posts(self, url: str | None = None) -> list[ResponsePost]:
        """POSTs received on response URLs (all, or one URL's), oldest first."""
        with self._lock:
            return [p for p in self._response_posts if url is None or p.url == url]

    def take_violations(self) -> list[Violation]:
        """What broke Block Kit's limits since the last call (each call is checked as it arrives)."""
        return self._violations.take()

    def downloads(self) -> list[Download]:
        """Every request for a file's bytes so far, oldest first (refused ones included)."""
        with self._lock:
            return list(self._downloads)

    def uploads(self) -> list[Upload]:
        """Files uploaded and completed by the external flow, oldest first."""
        with self._lock:
            return list(self._uploads)

    def clear(self) -> None:
        """Forget calls, messages, threads, views, response posts, downloads and uploads (faults,
        latency and the workspace's files stay)."""
        with self._lock:
            self._downloads.clear()
            self._pending_uploads.clear()
            self._uploads.clear()
            self._calls.clear()
            self._response_posts.clear()
            self._messages.clear()
            self._threads.clear()
            self._home_views.clear()

    def wait_for(self, predicate: Callable[[], object], timeout: float = 10.0) -> bool:
        """Poll ``predicate`` every 20 ms until it is truthy; False once ``timeout`` passes."""
        deadline = time.monotonic() + timeout
        while True:
            if predicate():
                return True
            if time.monotonic() >= deadline:
                return False
            time.sleep(_POLL_SECONDS)

    # -- what the workspace holds ------------------------------------------------------------

    def set_thread(self, channel: str, ts: str, messages: Iterable[dict[str, Any]]) -> None:
        """Make ``messages`` (parent first) the thread at ``channel``/``ts``.

        Messages without a ``ts`` get one after the parent's; all get ``thread_ts``.
        ``conversations.replies`` returns them followed by the bot's own replies.
        """
        thread: list[dict[str, Any]] = []
        seconds, _, micros = ts.partition(".")
        base = int(seconds) * 1_000_000 + int(micros or 0)
        for index, message in enumerate(messages):
            item = {"type": "message", **copy.deepcopy(message)}
            item.setdefault("ts", ts if index == 0 else _format_ts(base + index))
            item.setdefault("thread_ts", ts)
            thread.append(item)
        with self._lock:
            self._threads[(channel, ts)] = thread

    def add_file(self, data: bytes, *, name: str, mimetype: str, user: str = "U7") -> dict[str, Any]:
        """Keep ``data`` as a file of the workspace; its file object, as an event's ``files`` carries it."""
        with self._lock:
            file_id = _new_file_id()
            url = f"{self.origin}{FILES_PATH}{TEAM_ID}-{file_id}/{quote(name)}"  # percent-encoded, as Slack's are
            found = {
                "id": file_id,
                "created": int(time.time()),
                "name": name,
                "title": name,
                "mimetype": mimetype,
                "filetype": name.rsplit(".", 1)[-1].lower(),
                "user": user,
                "size": len(data),
                "mode": "hosted",
                "is_external": False,
                "url_private": url,
                "url_private_download": f"{url}?download=1",
            }
            self._files[file_id] = found
            self._file_data[file_id] = data
        return copy.deepcopy(found)

    def refuse_file(self, file_id: str, answer: str = "403") -> None:
        """Answer downloads of ``file_id`` with ``"403"`` (forbidden), ``"404"``, or ``"login"``: 200 and a sign-in page.

        A download without the bot token is answered 401 (none) or 403 (another) whatever is told here.
        """
        with self._lock:
            self._file_answers[file_id] = answer

    def redirect_file(self, file_id: str, location: str) -> None:
        """Answer downloads of ``file_id`` with a 302 to ``location`` (as Enterprise Grid's file host does)."""
        with self._lock:
            self._file_answers[file_id] = "redirect " + location

    # -- faults ------------------------------------------------------------------------------

    def set_latency(self, seconds: float, methods: Iterable[str] | None = None) -> None:
        """Delay answers by ``seconds``: for ``methods`` (Web API names or ``"response_url"``), or all."""
        with self._lock:
            for method in [None] if methods is None else methods:
                self._latency[method] = seconds

    def fail(
        self,
        method: str,
        *,
        status: int | None = None,
        retry_after: int = 1,
        error: str | None = None,
        drop: bool = False,
        times: int | None = 1,
    ) -> None:
        """Answer the next ``times`` calls of ``method`` with a fault (``None``: until :meth:`heal`).

        - default, or ``status=429``: HTTP 429, ``Retry-After: retry_after``, ``ratelimited``;
        - ``status=500`` (any other status): that status and ``{"ok": false, "error": "fatal_error"}``;
        - ``error="not_in_channel"`` without a status: HTTP 200 ``{"ok": false, "error": error}``;
        - ``drop=True``: the connection is closed without a response.

        Faults on one method apply in the order they were added. ``method`` may be ``"response_url"``.
        """
        if status is None:
            status = 200 if error else 429
        if not error:
            error = "ratelimited" if status == 429 else "fatal_error"
        fault = _Fault(method, status, error, retry_after, drop, times)
        with self._lock:
            self._faults.append(fault)

    def heal(self) -> None:
        """Remove every fault, rate limit and all latency; the streaming methods are refused again."""
        with self._lock:
            self._faults.clear()
            self._latency.clear()
            self._rate_limits.clear()
            self._rate_calls.clear()
            self._streaming = False

    def limit_rate(self, method: str, calls: int, seconds: float) -> None:
        """Answer ``method`` with 429 and a ``Retry-After`` (whole seconds, as Slack's) past ``calls`` per ``seconds``."""
        with self._lock:
            self._rate_limits[method] = (calls, seconds)
            self._rate_calls[method] = []

    def allow_streaming(self, allowed: bool = True) -> None:
        """Let the app use ``chat.startStream``, ``chat.appendStream`` and ``chat.stopStream`` (refused by default,
        with ``feature_not_enabled``, as in a workspace or app without them)."""
        with self._lock:
            self._streaming = allowed

    def _rate_fault(self, method: str) -> _Fault | None:
        if method not in self._rate_limits:
            return None
        calls, seconds = self._rate_limits[method]
        now = time.monotonic()
        recent = self._rate_calls[method] = [t for t in self._rate_calls[method] if t > now - seconds]
        if len(recent) < calls:
            recent.append(now)
            return None
        return _Fault(method, 429, "ratelimited", max(1, math.ceil(recent[0] + seconds - now)), False, None)

    # -- request handling (called from the server's threads) ---------------------------------

    def _take_fault(self, method: str) -> _Fault | None:
        for fault in self._faults:
            if fault.method == method:
                if fault.remaining is not None:
                    fault.remaining -= 1
                    if fault.remaining <= 0:
                        self._faults.remove(fault)
                return fault
        return None

    def _latency_for(self, method: str) -> float:
        return self._latency.get(method, self._latency.get(None, 0.0))

    def _answer_api(self, method: str, params: dict[str, Any], headers: dict[str, str]) -> _Answer:
        with self._lock:
            fault = self._take_fault(method) or self._rate_fault(method)
            delay = self._latency_for(method)
            self._calls.append(Call(method, params, headers, time.monotonic(), fault.label if fault else None))
        check = _CHECKS.get(method)
        if check is not None:
            self._violations.record(method, check(params))
        if delay:
            self._closing.wait(delay)
        if fault is not None:
            return _fault_answer(fault)
        if self.expect_token is not None and headers.get("authorization") != f"Bearer {self.expect_token}":
            return _Answer(body={"ok": False, "error": "invalid_auth"})
        handler = self._handlers.get(method)
        if handler is None:
            return _Answer(body={"ok": False, "error": "unknown_method"})
        with self._lock:
            return _Answer(body=handler(params))

    def _answer_response_url(self, key: str, body: Any, headers: dict[str, str]) -> _Answer:
        with self._lock:
            if key not in self._response_ids:
                return _Answer(status=404, body={"ok": False, "error": "no_such_url"})
            fault = self._take_fault(RESPONSE_URL)
            delay = self._latency_for(RESPONSE_URL)
            url = f"{self.origin}/response/{key}"
            self._response_posts.append(
                ResponsePost(url, body, headers, time.monotonic(), fault.label if fault else None)
            )
        self._violations.record(
            RESPONSE_URL, message_problems(body) if isinstance(body, dict) else ["the body is not a JSON object"]
        )
        if delay:
            self._closing.wait(delay)
        return _fault_answer(fault) if fault is not None else _Answer()

    def _answer_download(self, path: str, query: str, headers: dict[str, str]) -> _Answer:
        """A file's bytes, for the bot token only; as told by :meth:`refuse_file` otherwise."""
        authorization = headers.get("authorization", "")
        folder = path[len(FILES_PATH) :].split("/", 1)[0]
        file_id = folder.rpartition("-")[2]
        with self._lock:
            found = self._files.get(file_id)
            told = self._file_answers.get(file_id, "")
            if not authorization:
                status = 401
            elif self.expect_token is not None and authorization != f"Bearer {self.expect_token}":
                status = 403
            elif found is None or not path.endswith("/" + quote(found["name"])) or not folder.startswith(TEAM_ID + "-"):
                status = 404
            else:
                status = int(told) if told.isdigit() else 302 if told.startswith("redirect ") else 200
            url = f"{self.origin}{path}" + (f"?{query}" if query else "")
            self._downloads.append(Download(url, authorization, status))
            data = self._file_data.get(file_id, b"")
        if status == 302:
            return _Answer(status=302, raw=b"", headers={"Location": told.removeprefix("redirect ")})
        if status != 200:
            return _Answer(status=status, raw=b"", headers={"Content-Type": "text/plain"})
        if told == "login":
            return _Answer(raw=LOGIN_PAGE, headers={"Content-Type": "text/html; charset=utf-8"})
        return _Answer(
            raw=data, headers={"Content-Type": str(found["mimetype"]) if found else "application/octet-stream"}
        )

    def _answer_upload(self, upload_id: str, raw: bytes) -> _Answer:
        """The bytes of an external upload, posted to the ``upload_url`` that ``files.getUploadURLExternal`` gave."""
        with self._lock:
            pending = self._pending_uploads.get(upload_id)
            if pending is None:
                return _Answer(status=404, raw=b"not found", headers={"Content-Type": "text/plain"})
            pending["data"] = raw
        return _Answer(raw=f"OK - {len(raw)}".encode(), headers={"Content-Type": "text/plain"})

    # -- the methods (called with the lock held) ---------------------------------------------

    def _file_info(self, params: dict[str, Any]) -> dict[str, Any]:
        found = self._files.get(str(params.get("file", "")))
        if found is None:
            return {"ok": False, "error": "file_not_found"}
        return {"ok": True, "file": copy.deepcopy(found), "comments": [], "response_metadata": {"next_cursor": ""}}

    def _upload_url(self, params: dict[str, Any]) -> dict[str, Any]:
        length = str(params.get("length", ""))
        if not params.get("filename") or not length.isdigit():
            return {"ok": False, "error": "invalid_arguments"}
        file_id = _new_file_id()
        self._pending_uploads[file_id] = {"filename": params["filename"], "length": int(length), "data": None}
        return {"ok": True, "upload_url": f"{self.origin}{UPLOAD_PATH}{file_id}", "file_id": file_id}

    def _complete_upload(self, params: dict[str, Any]) -> dict[str, Any]:
        files = params.get("files")
        if not isinstance(files, list) or not files or not all(isinstance(f, dict) for f in files):
            return {"ok": False, "error": "invalid_arguments"}
        if params.get("thread_ts") and not params.get("channel_id"):
            return {"ok": False, "error": "invalid_arguments"}
        done = []
        for item in files:
            pending = self._pending_uploads.get(str(item.get("id", "")))
            if pending is None or pending["data"] is None or len(pending["data"]) != pending["length"]:
                return {"ok": False, "error": "upload_not_found"}
            done.append((str(item["id"]), pending, str(item.get("title") or pending["filename"])))
        for file_id, pending, title in done:
            del self._pending_uploads[file_id]
            self._uploads.append(
                Upload(
                    file_id,
                    pending["filename"],
                    title,
                    pending["data"],
                    str(params.get("channel_id") or ""),
                    str(params.get("thread_ts") or ""),
                )
            )
        return {"ok": True, "files": [{"id": file_id, "title": title} for file_id, _, title in done]}

    def _auth_test(self, params: dict[str, Any]) -> dict[str, Any]:
        return {
            "ok": True,
            "url": "https://fake-workspace.slack.com/",
            "team": "Fake Workspace",
            "user": "hf-bot",
            "team_id": TEAM_ID,
            "user_id": BOT_USER_ID,
            "bot_id": BOT_ID,
            "is_enterprise_install": False,
        }

    def _next_ts(self) -> str:
        return _format_ts(_FIRST_TS + 100 * next(self._ts))

    def _post_message(self, params: dict[str, Any]) -> dict[str, Any]:
        channel = params.get("channel")
        if not channel:
            return {"ok": False, "error": "channel_not_found"}
        if not (params.get("text") or params.get("blocks") or params.get("attachments")):
            return {"ok": False, "error": "no_text"}
        message = {
            "type": "message",
            "user": BOT_USER_ID,
            "bot_id": BOT_ID,
            "channel": channel,
            "ts": self._next_ts(),
            "text": params.get("text", ""),
        }
        for name in ("blocks", "attachments", "thread_ts", "metadata"):
            if params.get(name) is not None:
                message[name] = params[name]
        self._messages[(channel, message["ts"])] = message
        return {"ok": True, "channel": channel, "ts": message["ts"], "message": _public(message)}

    def _update(self, params: dict[str, Any]) -> dict[str, Any]:
        channel, ts = params.get("channel", ""), params.get("ts", "")
        message = self._messages.get((channel, ts))
        if message is None:
            return {"ok": False, "error": "message_not_found"}
        for name in ("text", "blocks", "attachments", "metadata"):
            if name in params:
                message[name] = params[name]
        message["edited"] = {"user": BOT_USER_ID, "ts": self._next_ts()}
        return {"ok": True, "channel": channel, "ts": ts, "text": message["text"], "message": _public(message)}

    def _start_stream(self, params: dict[str, Any]) -> dict[str, Any]:
        channel, thread_ts = params.get("channel", ""), params.get("thread_ts", "")
        if not self._streaming:
            return {"ok": False, "error": "feature_not_enabled"}
        if not channel or not thread_ts:
            return {"ok": False, "error": "invalid_arguments"}
        if channel.startswith("C") and not (params.get("recipient_user_id") and params.get("recipient_team_id")):
            return {"ok": False, "error": "missing_recipient_team_id"}
        message = {
            "type": "message",
            "user": BOT_USER_ID,
            "bot_id": BOT_ID,
            "channel": channel,
            "ts": self._next_ts(),
            "thread_ts": thread_ts,
            "text": params.get("markdown_text", ""),
            "streaming": True,
        }
        self._messages[(channel, message["ts"])] = message
        return {"ok": True, "channel": channel, "ts": message["ts"]}

    def _append_stream(self, params: dict[str, Any]) -> dict[str, Any]:
        message = self._messages.get((params.get("channel", ""), params.get("ts", "")))
        if message is None:
            return {"ok": False, "error": "message_not_found"}
        if not message.get("streaming"):
            return {"ok": False, "error": "message_not_in_streaming_state"}
        message["text"] += params.get("markdown_text", "")
        return {"ok": True, "channel": message["channel"], "ts": message["ts"]}

    def _stop_stream(self, params: dict[str, Any]) -> dict[str, Any]:
        message = self._messages.get((params.get("channel", ""), params.get("ts", "")))
        if message is None:
            return {"ok": False, "error": "message_not_found"}
        if not message.get("streaming"):
            return {"ok": False, "error": "message_not_in_streaming_state"}
        message["text"] += params.get("markdown_text") or ""
        if params.get("blocks") is not None:
            message["blocks"] = params["blocks"]
        message["streaming"] = False
        return {"ok": True, "channel": message["channel"], "ts": message["ts"], "message": _public(message)}

    def _post_ephemeral(self, params: dict[str, Any]) -> dict[str, Any]:
        if not params.get("channel") or not params.get("user"):
            return {"ok": False, "error": "channel_not_found" if not params.get("channel") else "user_not_in_channel"}
        return {"ok": True, "message_ts": self._next_ts()}

    def _delete(self, params: dict[str, Any]) -> dict[str, Any]:
        channel, ts = params.get("channel", ""), params.get("ts", "")
        if self._messages.pop((channel, ts), None) is None:
            return {"ok": False, "error": "message_not_found"}
        return {"ok": True, "channel": channel, "ts": ts}

    def _permalink(self, params: dict[str, Any]) -> dict[str, Any]:
        channel, ts = params.get("channel", ""), params.get("message_ts", "")
        if not channel or not ts:
            return {"ok": False, "error": "message_not_found"}
        permalink = f"https://fake-workspace.slack.com/archives/{channel}/p{ts.replace('.', '')}"
        return {"ok": True, "channel": channel, "permalink": permalink}

    def _view(self, params: dict[str, Any], *, required: str) -> dict[str, Any]:
        view = params.get("view")
        if not isinstance(view, dict) or not (params.get(required) or params.get("external_id")):
            return {"ok": False, "error": "invalid_arguments"}
        user = params.get("user_id")
        view_id = params.get("view_id") or (self._home_views.get(user) if user else None)
        if not view_id:
            view_id = f"V{next(self._view_ids):08d}"
        if user:
            self._home_views[user] = view_id
        answer = {
            "id": view_id,
            "team_id": TEAM_ID,
            "type": view.get("type", "modal"),
            "blocks": view.get("blocks", []),
            "private_metadata": view.get("private_metadata", ""),
            "callback_id": view.get("callback_id", ""),
            "external_id": view.get("external_id", ""),
            "state": {"values": {}},
            "hash": f"{int(time.time())}.{uuid.uuid4().hex[:8]}",
            "bot_id": BOT_ID,
        }
        for name in ("title", "submit", "close"):
            if name in view:
                answer[name] = view[name]
        return {"ok": True, "view": answer}

    def _thread_messages(self, channel: str, ts: str) -> list[dict[str, Any]] | None:
        seeded = self._threads.get((channel, ts))
        parent = self._messages.get((channel, ts))
        if seeded is None and parent is None:
            return None
        found = copy.deepcopy(seeded) if seeded is not None else [_public(parent)]
        found += [_public(m) for m in self._messages.values() if m["channel"] == channel and m.get("thread_ts") == ts]
        return sorted(found, key=lambda m: float(m["ts"]))

    def _replies(self, params: dict[str, Any]) -> dict[str, Any]:
        found = self._thread_messages(params.get("channel", ""), params.get("ts", ""))
        if found is None:
            return {"ok": False, "error": "thread_not_found"}
        limit = int(params.get("limit") or 1000)
        start = int(params.get("cursor") or 0)  # Slack's cursor is opaque; here it is the next offset
        page, rest = found[start : start + limit], len(found) > start + limit
        next_cursor = {"response_metadata": {"next_cursor": str(start + limit)}} if rest else {}
        return {"ok": True, "messages": page, "has_more": rest, **next_cursor}

    def _assistant(self, params: dict[str, Any], *, required: str) -> dict[str, Any]:
        """``assistant.threads.*``: a channel, a thread and the method's own field, else Slack's error."""
        if not params.get("channel_id") or not params.get("thread_ts"):
            return {"ok": False, "error": "invalid_arguments"}
        if required not in params:
            return {"ok": False, "error": "invalid_arguments"}
        if required == "prompts":
            prompts = params["prompts"]
            valid = isinstance(prompts, list) and 0 < len(prompts) <= 4
            if not valid or not all(isinstance(p, dict) and p.get("title") and p.get("message") for p in prompts):
                return {"ok": False, "error": "invalid_arguments"}
        return {"ok": True}

    def _history(self, params: dict[str, Any]) -> dict[str, Any]:
        channel = params.get("channel", "")
        latest = float(params.get("latest") or "inf")
        oldest = float(params.get("oldest") or 0)
        inclusive = str(params.get("inclusive", "")).lower() in ("1", "true")
        parents = [t[0] for (c, _), t in self._threads.items() if c == channel and t]
        parents += [_public(m) for m in self._messages.values() if m["channel"] == channel and "thread_ts" not in m]

        def within(message: dict[str, Any]) -> bool:
            ts = float(message["ts"])
            if inclusive:
                return oldest <= ts <= latest
            return oldest < ts < latest

        found = sorted((m for m in parents if within(m)), key=lambda m: float(m["ts"]), reverse=True)
        limit = int(params.get("limit") or 100)
        return {"ok": True, "messages": copy.deepcopy(found[:limit]), "has_more": len(found) > limit}

    def _user_info(self, params: dict[str, Any]) -> dict[str, Any]:
        user = params.get("user")
        if not user:
            return {"ok": False, "error": "user_not_found"}
        name = f"user-{user.lower()}"
        return {
            "ok": True,
            "user": {
                "id": user,
                "team_id": TEAM_ID,
                "name": name,
                "real_name": name.title(),
                "is_bot": user == BOT_USER_ID,
                "tz": "Europe/Paris",
                "profile": {"display_name": name, "real_name": name.title()},
            },
        }


def _new_file_id() -> str:
    """A file id as Slack writes them (``F`` and upper-case letters and digits), unique across fakes."""
    return "F" + uuid.uuid4().hex[:10].upper()


def _format_ts(micros: int) -> str:
    return f"{micros // 1_000_000}.{micros % 1_000_000:06d}"


def _public(message: dict[str, Any]) -> dict[str, Any]:
    """A stored message as Slack returns it (without our ``channel`` bookkeeping)."""
    return {k: copy.deepcopy(v) for k, v in message.items() if k != "channel"}


def _fault_answer(fault: _Fault) -> _Answer:
    if fault.drop:
        return _Answer(drop=True)
    headers = {"Retry-After": str(fault.retry_after)} if fault.status == 429 else {}
    return _Answer(status=fault.status, body={"ok": False, "error": fault.error}, headers=headers)


def _make_handler(api: FakeSlackApi) -> type[BaseHTTPRequestHandler]:
    class SlackHandler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.0"  # one request per connection: a dropped call never poisons the next
        timeout = 10  # seconds a client may take to send its request: a stuck client cannot hold close() up

        def do_GET(self) -> None:
            self._serve()

        def do_POST(self) -> None:
            self._serve()

        def _serve(self) -> None:
            parts = urlsplit(self.path)
            headers = {k.lower(): v for k, v in self.headers.items()}
            raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            content_type = headers.get("content-type", "")
            if parts.path.startswith(FILES_PATH) and self.command == "GET":
                self._send(api._answer_download(parts.path, parts.query, headers))
            elif parts.path.startswith(UPLOAD_PATH) and self.command == "POST":
                self._send(api._answer_upload(parts.path[len(UPLOAD_PATH) :], raw))
            elif parts.path.startswith("/api/"):
                method = parts.path[len("/api/") :]
                params: dict[str, Any] = {k: v[-1] for k, v in parse_qs(parts.query, keep_blank_values=True).items()}
                try:
                    params.update(decode_body(content_type, raw))
                except (ValueError, UnicodeDecodeError):
                    self._send(_Answer(body={"ok": False, "error": "invalid_form_data"}))
                    return
                self._send(api._answer_api(method, params, headers))
            elif parts.path.startswith("/response/"):
                try:
                    body: Any = json.loads(raw.decode("utf-8"))
                except (ValueError, UnicodeDecodeError):
                    body = raw.decode("utf-8", "replace")
                self._send(api._answer_response_url(parts.path[len("/response/") :], body, headers))
            else:
                self._send(_Answer(status=404, body={"ok": False, "error": "not_found"}))

        def _send(self, answer: _Answer) -> None:
            if answer.drop:
                self.close_connection = True
                return  # the server closes the socket: the client sees a disconnect, no status line
            payload = json.dumps(answer.body).encode() if answer.raw is None else answer.raw
            self.send_response(answer.status)
            if answer.raw is None:
                self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Content-Length", str(len(payload)))
            for name, value in answer.headers.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, format: str, *args: Any) -> None:
            """Silent: tests read calls(), not stderr."""

    return SlackHandler
