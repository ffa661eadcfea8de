"""``python -m bot serve``: the router's routes over plain HTTP, models in worker processes.

Each HTTP request becomes the same API Gateway proxy event the Lambda gets,
and goes through the same ``Router``; model results come back from the worker
pool as Lambda Destinations records, through the same delivery code.
"""

from __future__ import annotations

import base64
import contextlib
import io
import ipaddress
import logging
import re
import socket
import sys
import threading
import time
import uuid
from collections import Counter
from email.message import Message
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from bot.app import build_bolt_app, build_services
from bot.cli_errors import CannotListen
from bot.core.config import ALLOWED_HOSTS, CONNECTIONS_PER_CLIENT, MEDIA_FOLDER, Settings, load_settings
from bot.core.http import Request, Response, split_host
from bot.core.logs import set_correlation_id, set_request, setup_logging
from bot.core.multipart import BINARY_MEDIA_TYPES
from bot.local.workers import WorkerPool, count_listener_work
from bot.router import Router, body_limit
from bot.stores.state import SqliteStateStore
from inference.registry import Registry, load_registry

logger = logging.getLogger(__name__)

#: An idle keep-alive connection is closed after this long without the start of a new request.
IDLE_SECONDS = 10.0
#: A request's line and headers must all arrive within this long of its first byte.
HEAD_SECONDS = 10.0
#: A body must arrive within ``HEAD_SECONDS`` plus its length at this rate: about 30 s for the 1 MB limit,
#: about 9 minutes for the largest file upload.
BODY_BYTES_PER_SECOND = 50_000
#: A client that stops reading an answer is dropped after this long without progress.
SEND_SECONDS = 30.0
#: How long a closing connection is still read (and discarded), so that an answer sent before the
#: request was read in full reaches the client instead of a reset.
LINGER_SECONDS = 2.0
#: ``Retry-After`` for a client over its connections: a slow request is over within about this long.
CONNECTIONS_RETRY_AFTER_SECONDS = 10
#: A Content-Length longer than this is no length any client sends (and ``int()`` refuses 4,300 digits).
MAX_LENGTH_DIGITS = 18
#: What the server calls itself in the ``Server`` header: no version of Python or of anything else.
SERVER_NAME = "hf-slack-bot"
#: The names loopback goes by: always accepted in the Host header.
LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "[::1]")
#: Methods that change nothing, which a page on another site may send (a link to ``/go`` is one).
SAFE_METHODS = frozenset({"GET", "HEAD"})
#: Local mode only, for loopback clients only: the work in flight (``bot.local.workers.Activity``), which
#: tests poll to know the server is idle. Anyone else gets the router's 404, as for any unknown path.
ACTIVITY_PATH = "/local/activity"
#: An ``Origin`` header as browsers write it: a scheme and a host, nothing more.
_ORIGIN = re.compile(r"https?://(?P<authority>[^/?#]+)", re.IGNORECASE)


def proxy_event(method: str, target: str, headers: dict[str, str], body: bytes, *, source_ip: str) -> dict[str, Any]:
    """The REST API (v1) proxy event API Gateway would build for this request: a body of one of the
    API's binary media types (a file upload) base64-encoded, any other as text."""
    url = urlsplit(target)
    content_type = next((v for k, v in headers.items() if k.lower() == "content-type"), "")
    binary = content_type.split(";")[0].strip().lower() in BINARY_MEDIA_TYPES
    text = base64.b64encode(body).decode("ascii") if binary else body.decode("utf-8", "surrogateescape")
    return {
        "resource": url.path,
        "path": url.path,
        "httpMethod": method,
        "headers": headers,
        "multiValueHeaders": {k: [v] for k, v in headers.items()},
        "queryStringParameters": dict(parse_qsl(url.query)) or None,
        "requestContext": {
            "stage": "local",
            "requestId": str(uuid.uuid4()),
            "httpMethod": method,
            "path": url.path,
            "identity": {"sourceIp": source_ip},
            "requestTimeEpoch": int(time.time() * 1000),
        },
        "body": text,
        "isBase64Encoded": binary,
    }


def is_loopback(address: str) -> bool:
    """Whether a client's address is this machine's loopback (``127.0.0.0/8``, ``::1``, or IPv4-mapped)."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    mapped = getattr(ip, "ipv4_mapped", None)
    return ip.is_loopback or (mapped is not None and mapped.is_loopback)


def machine_names() -> set[str]:
    """This machine's host name and the addresses it resolves to, for a server listening on every address."""
    name = socket.gethostname()
    names = {name}
    with contextlib.suppress(OSError):  # a host name that does not resolve is still a name
        names.update(str(info[4][0]) for info in socket.getaddrinfo(name, None))
    return names


def listens_everywhere(host: str) -> bool:
    """Whether a server bound to ``host`` listens on every address of the machine (``--host 0.0.0.0``)."""
    try:
        return not host or ipaddress.ip_address(host).is_unspecified
    except ValueError:  # a name
        return False


def accepted_hosts(bound: str, configured: tuple[str, ...]) -> frozenset[str]:
    """The names a Host header may give: loopback's, the listening address (or, listening on every
    address, this machine's names), and ``ALLOWED_HOSTS``. Anything else is a DNS-rebinding page."""
    names = set(LOOPBACK_HOSTS) | set(configured)
    for name in machine_names() if listens_everywhere(bound) else {bound}:
        host = split_host(f"[{name}]" if ":" in name else name)
        if host is not None:
            names.add(host[0])
    return frozenset(names)


def _cross_site(headers: Message) -> bool:
    """Whether a browser sent this request from another site than the Host it names.

    Fetch metadata first (``Sec-Fetch-Site``, which every current browser sends); else the ``Origin``
    against the ``Host``. ``Origin: null`` alone passes: the form's own posts carry it in browsers
    without fetch metadata (the page's ``Referrer-Policy: no-referrer``). No header: not a browser.
    """
    site = headers.get("Sec-Fetch-Site")
    if site is not None:
        return site not in ("same-origin", "none")
    origin = headers.get("Origin")
    if origin is None or origin == "null":
        return False
    match = _ORIGIN.fullmatch(origin)
    own = split_host(headers.get("Host") or "")
    return match is None or own is None or split_host(match["authority"]) != own


class RequestTimeout(Exception):
    """The client did not send what it was sending before its deadline."""


class Deadline:
    """When the part of a request being read must have arrived, for the request as a whole.

    A socket timeout alone restarts on every read, so a client sending a byte every few seconds
    would hold its thread forever.
    """

    def __init__(self) -> None:
        self.at = 0.0
        self.seconds = 0.0
        self.what = ""

    def start(self, seconds: float, what: str) -> None:
        self.at, self.seconds, self.what = time.monotonic() + seconds, seconds, what


class DeadlineReader(io.RawIOBase):
    """A connection's bytes, each read bounded by what is left of the deadline."""

    def __init__(self, connection: socket.socket, deadline: Deadline) -> None:
        self.connection = connection
        self.deadline = deadline

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        """Read what has arrived.

        Raises:
            RequestTimeout: the deadline passed before the bytes did.
        """
        left = self.deadline.at - time.monotonic()
        if left <= 0:
            raise RequestTimeout
        self.connection.settimeout(left)
        try:
            return self.connection.recv_into(buffer)
        except TimeoutError as exc:
            raise RequestTimeout from exc
        finally:
            self.connection.settimeout(SEND_SECONDS)


class ConnectionCounts:
    """Open connections per client address, so that no one address can hold every thread."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._open: Counter[str] = Counter()
        self._lock = threading.Lock()

    def enter(self, address: str) -> bool:
        """Count a new connection; False (and not counted) when its address is at the limit."""
        with self._lock:
            if self._open[address] >= self.limit:
                return False
            self._open[address] += 1
            return True

    def leave(self, address: str) -> None:
        with self._lock:
            self._open[address] -= 1
            if not self._open[address]:
                del self._open[address]


class LocalHTTPServer(ThreadingHTTPServer):
    """Threads per request, and a listen backlog deep enough for bursts of Slack requests
    (the standard library's 5 makes the kernel reset connections under load)."""

    daemon_threads = True
    request_queue_size = 512

    def shutdown_request(self, request: Any) -> None:
        """Close a connection after reading what its client still sends, for at most ``LINGER_SECONDS``:
        closing with unread bytes makes the kernel send a reset, which can destroy the answer."""
        try:
            request.shutdown(socket.SHUT_WR)
            until = time.monotonic() + LINGER_SECONDS
            while (left := until - time.monotonic()) > 0:
                request.settimeout(left)
                if not request.recv(65536):
                    break
        except OSError:
            pass  # the client is gone or stayed silent: nothing more to wait for
        self.close_request(request)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that drops its connection is one line in the log, not a traceback on stderr."""
        error = sys.exc_info()[1]
        if isinstance(error, OSError):
            logger.info("connection from %s dropped: %s", client_address[0], error)
        else:
            logger.exception("unhandled error on a connection from %s", client_address[0])


class LocalServer:
    """The router and the worker pool on one machine."""

    def __init__(self, settings: Settings, registry: Registry) -> None:
        store = SqliteStateStore(settings.data_dir / "state.sqlite")
        self.pool = WorkerPool(
            registry,
            on_record=lambda record: self.router.handle(record),
            media_dir=settings.data_dir / MEDIA_FOLDER,  # where the router's media store keeps files (bot.app)
        )
        services = build_services(settings, registry, self.pool, store)
        self.router = Router(services, build_bolt_app(services), lambda_mode=False)
        count_listener_work(self.router.app, self.pool.activity)
        self.settings = settings

    def handler_class(self, hosts: frozenset[str]) -> type[BaseHTTPRequestHandler]:
        """The request handler for a server that answers for the host names ``hosts``."""
        router = self.router
        activity = self.pool.activity
        connections = ConnectionCounts(self.settings.connections_per_client)

        class Handler(BaseHTTPRequestHandler):
            server_version = SERVER_NAME
            protocol_version = "HTTP/1.1"
            #: Writes are bounded too (reads by the request's deadline, see ``DeadlineReader``).
            timeout = SEND_SECONDS
            #: For answers sent before a request line was read (a refused connection, a timeout).
            command = requestline = ""
            request_version = protocol_version

            def __getattr__(self, name: str) -> Any:
                """Every method reaches the router, which answers 405 where no route takes it (never 501)."""
                if name.startswith("do_"):
                    return self._serve
                raise AttributeError(name)

            def version_string(self) -> str:
                """The ``Server`` header: the standard library's names the Python version."""
                return self.server_version

            def setup(self) -> None:
                super().setup()
                self.rfile.close()
                self.deadline = Deadline()
                self.rfile = io.BufferedReader(DeadlineReader(self.connection, self.deadline))

            def handle(self) -> None:
                address = self.client_address[0]
                if not connections.enter(address):
                    refusal = Response.error(
                        f"Too many connections from your address at once (at most {connections.limit}, "
                        f"{CONNECTIONS_PER_CLIENT}). Try again in a few seconds.",
                        status=429,
                        type="too_many_connections",
                    )
                    refusal.headers["Retry-After"] = str(CONNECTIONS_RETRY_AFTER_SECONDS)
                    self._refuse(refusal)
                    return
                try:
                    super().handle()
                finally:
                    connections.leave(address)

            def handle_one_request(self) -> None:
                """One request, or closing an idle connection; its head and body each have a deadline."""
                self.command, self.requestline, self.request_version = "", "", self.protocol_version
                self.deadline.start(IDLE_SECONDS, "next request")
                try:
                    started = self.rfile.peek(1)
                except RequestTimeout:
                    started = b""  # an idle keep-alive connection: closed without a word
                if not started:
                    self.close_connection = True
                    return
                self.deadline.start(HEAD_SECONDS, "headers")
                try:
                    super().handle_one_request()
                except RequestTimeout:
                    message = f"The request's {self.deadline.what} did not arrive within {self.deadline.seconds:.0f} s."
                    self._refuse(Response.error(message, status=408, type="request_timeout"))

            def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
                """The standard library's own refusals (a malformed request line, headers too long) as
                the router's JSON errors; a version it cannot speak is the client's mistake, a 400."""
                self.request_version = (
                    self.protocol_version
                )  # a request line it could not read counts as 0.9: no headers
                status = HTTPStatus.BAD_REQUEST if code == HTTPStatus.HTTP_VERSION_NOT_SUPPORTED else HTTPStatus(code)
                text = (message or HTTPStatus(code).phrase).rstrip(".")
                self._refuse(Response.error(f"{text}.", status=status, type=status.name.lower()))

            def _serve(self) -> None:
                refusal = self._refuse_host() or self._refuse_framing()
                if refusal is not None:
                    self._refuse(refusal)  # the unread body must not be read as the next request
                    return
                length = int(self.headers.get("Content-Length") or 0)
                self.deadline.start(HEAD_SECONDS + length / BODY_BYTES_PER_SECOND, "body")
                body = self.rfile.read(length) if length else b""
                if len(body) < length:
                    message = f"The body ended after {len(body)} of its {length} bytes (Content-Length)."
                    self._refuse(Response.error(message, status=400, type="bad_request"))
                    return
                local = is_loopback(self.client_address[0]) and self.command in SAFE_METHODS
                if local and urlsplit(self.path).path == ACTIVITY_PATH:
                    self._send(Response.json(activity.snapshot(), headers={"Cache-Control": "no-store"}).to_event())
                    return
                headers = {k.lower(): v for k, v in self.headers.items()}
                event = proxy_event(self.command, self.path, headers, body, source_ip=self.client_address[0])
                set_correlation_id(event["requestContext"]["requestId"])
                set_request(event)
                try:
                    result = router.handle(event)
                except Exception:
                    logger.exception("unhandled error in %s %s", self.command, urlsplit(self.path).path)
                    result = Response.error("Something went wrong on our side.", status=500, type="internal_error")
                    result = result.to_event()
                self._send(result)

            def _refuse_host(self) -> Response | None:
                """The answer to a request for another host (a DNS-rebinding page), or one that would change
                something, sent from another site."""
                names = self.headers.get_all("Host") or []
                host = split_host(names[0]) if len(names) == 1 else None
                if host is None:
                    return Response.error("Send one Host header naming this server.", status=400, type="bad_request")
                if host[0] not in hosts:
                    message = (
                        "This server does not answer for the host this request names (its Host header). "
                        f"To reach it by that name, add the name to {ALLOWED_HOSTS} and start it again."
                    )
                    return Response.error(message, status=421, type="misdirected_request")
                if self.command not in SAFE_METHODS and _cross_site(self.headers):
                    message = "Requests from other sites are refused: use the page this server serves."
                    return Response.error(message, status=403, type="cross_site")
                return None

            def _refuse_framing(self) -> Response | None:
                """The answer to a body we will not read: chunked, of no clear length, or over the limit."""
                if "Transfer-Encoding" in self.headers:
                    if "Content-Length" in self.headers:
                        message = "Send either Transfer-Encoding or Content-Length, not both."
                        return Response.error(message, status=400, type="bad_request")
                    return Response.error("Send the body with a Content-Length.", status=411, type="length_required")
                lengths = set(self.headers.get_all("Content-Length") or ["0"])
                raw = lengths.pop() if len(lengths) == 1 else ""
                if not (raw.isascii() and raw.isdigit() and len(raw) <= MAX_LENGTH_DIGITS):
                    return Response.error("The Content-Length header is invalid.", status=400, type="bad_request")
                asked = Request(
                    method=self.command,
                    path=urlsplit(self.path).path,
                    headers={"content-type": self.headers.get("Content-Type") or ""},
                )
                if int(raw) > body_limit(asked):  # a file upload to the form may be larger than the rest
                    return Response.error("The request body is too large.", status=413, type="too_large")
                return None

            def _refuse(self, refusal: Response) -> None:
                """Answer and close: what is left of the request is not read."""
                self.close_connection = True
                self._send(refusal.to_event())

            def _send(self, result: dict[str, Any]) -> None:
                payload = str(result.get("body") or "").encode("utf-8")
                self.send_response(int(result["statusCode"]))
                for name, value in (result.get("headers") or {}).items():
                    self.send_header(name, str(value))
                for cookie in (result.get("multiValueHeaders") or {}).get("Set-Cookie", []):
                    self.send_header("Set-Cookie", cookie)
                self.send_header("Content-Length", str(len(payload)))
                if self.close_connection:
                    self.send_header("Connection", "close")
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(payload)

            def log_message(self, format: str, *args: Any) -> None:
                logger.debug("%s %s", self.address_string(), format % args)

        return Handler

    def serve(self, host: str, port: int, *, ready: threading.Event | None = None) -> None:
        """Answer HTTP at ``host:port`` until interrupted, then stop the model workers.

        Raises:
            CannotListen: the port is taken, or ``host`` is no address of this machine.
        """
        hosts = accepted_hosts(host, self.settings.allowed_hosts)
        try:
            httpd = LocalHTTPServer((host, port), self.handler_class(hosts))
        except OSError as exc:
            raise CannotListen(host, port, exc) from exc
        url = f"http://{httpd.server_address[0]}:{httpd.server_address[1]}"
        print(f"Serving on {url}  (form: {url}/go, Slack: {url}/slack/events)", flush=True)
        if listens_everywhere(host):
            names = ", ".join(sorted(hosts))
            print(f"Answering requests for {names}; {ALLOWED_HOSTS} adds names.", flush=True)
        if ready is not None:
            ready.set()
        try:
            httpd.serve_forever(poll_interval=0.2)
        finally:
            httpd.server_close()
            self.pool.close()


def start_socket_mode(router: Router, app_token: str) -> None:
    """Also take Slack's events over Socket Mode, so no public URL is needed."""
    from slack_bolt.adapter.socket_mode import SocketModeHandler  # only with an app token

    SocketModeHandler(router.app, app_token).connect()
    print("Connected to Slack through Socket Mode.", flush=True)


def serve(host: str, port: int) -> None:
    """Run local mode until interrupted."""
    settings = load_settings(local_by_default=True)
    secrets = settings.secrets
    setup_logging(secrets.values(), level=settings.log_level, service=settings.service_name)
    registry = load_registry()
    server = LocalServer(settings, registry)
    if secrets.app_token:
        start_socket_mode(server.router, secrets.app_token)
    if not secrets.signing_secret:
        print("SLACK_SIGNING_SECRET is not set: Slack requests will be refused; the form works.", flush=True)
    server.serve(host, port)
