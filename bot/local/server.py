"""``python -m bot serve``: the router's routes over plain HTTP, models in worker processes.

Each HTTP request becomes the same API Gateway proxy event the Lambda gets,
and goes through the same ``Router``; model results come back from the worker
pool as Lambda Destinations records, through the same delivery code.
"""

from __future__ import annotations

import logging
import os
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from bot.app import build_bolt_app, build_services
from bot.config import LOCAL_MODE, Settings, load_settings
from bot.http import Response
from bot.local.workers import WorkerPool
from bot.logs import set_correlation_id, set_request, setup_logging
from bot.routes import MAX_BODY_BYTES, Router
from bot.state import SqliteStateStore
from inference.registry import Registry, load_registry

logger = logging.getLogger(__name__)

#: Seconds a client may take to send one request.
REQUEST_TIMEOUT_SECONDS = 30


def proxy_event(method: str, target: str, headers: dict[str, str], body: bytes, *, source_ip: str) -> dict[str, Any]:
    """The REST API (v1) proxy event API Gateway would build for this request."""
    url = urlsplit(target)
    text = body.decode("utf-8", "surrogateescape")
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
        "isBase64Encoded": False,
    }


class LocalHTTPServer(ThreadingHTTPServer):
    """Threads per request, and a listen backlog deep enough for bursts of Slack requests
    (the standard library's 5 makes the kernel reset connections under load)."""

    daemon_threads = True
    request_queue_size = 512


class LocalServer:
    """The router and the worker pool on one machine."""

    def __init__(self, settings: Settings, registry: Registry) -> None:
        store = SqliteStateStore(settings.data_dir / "state.sqlite")
        self.pool = WorkerPool(registry, on_record=lambda record: self.router.handle(record))
        services = build_services(settings, registry, self.pool, store)
        self.router = Router(services, build_bolt_app(services), lambda_mode=False)
        self.settings = settings

    def handler_class(self) -> type[BaseHTTPRequestHandler]:
        router = self.router

        class Handler(BaseHTTPRequestHandler):
            server_version = "hf-slack-bot"
            protocol_version = "HTTP/1.1"
            #: A client that stalls mid-request is dropped rather than holding a thread forever.
            timeout = REQUEST_TIMEOUT_SECONDS

            def __getattr__(self, name: str) -> Any:
                """Every method reaches the router, which answers 405 where no route takes it (never 501)."""
                if name.startswith("do_"):
                    return self._serve
                raise AttributeError(name)

            def _serve(self) -> None:
                refusal = self._refuse_framing()
                if refusal is not None:
                    self.close_connection = True  # the unread body must not be read as the next request
                    self._send(refusal.to_event())
                    return
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
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

            def _refuse_framing(self) -> Response | None:
                """The answer to a body we will not read: chunked, of no clear length, or over the limit."""
                if "Transfer-Encoding" in self.headers:
                    return Response.error("Send the body with a Content-Length.", status=411, type="length_required")
                lengths = set(self.headers.get_all("Content-Length") or ["0"])
                raw = lengths.pop() if len(lengths) == 1 else ""
                if not (raw.isascii() and raw.isdigit()):
                    return Response.error("The Content-Length header is invalid.", status=400, type="bad_request")
                if int(raw) > MAX_BODY_BYTES:
                    return Response.error("The request body is too large.", status=413, type="too_large")
                return None

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
        httpd = LocalHTTPServer((host, port), self.handler_class())
        url = f"http://{httpd.server_address[0]}:{httpd.server_address[1]}"
        print(f"Serving on {url}  (form: {url}/go, Slack: {url}/slack/events)", flush=True)
        if ready is not None:
            ready.set()
        try:
            httpd.serve_forever(poll_interval=0.2)
        finally:
            httpd.server_close()
            self.pool.close()


def start_socket_mode(router: Router, app_token: str) -> None:
    """Also take Slack's events over Socket Mode, so no public URL is needed."""
    from slack_bolt.adapter.socket_mode import SocketModeHandler

    SocketModeHandler(router.app, app_token).connect()
    print("Connected to Slack through Socket Mode.", flush=True)


def serve(host: str, port: int) -> None:
    """Run local mode until interrupted."""
    os.environ.setdefault(LOCAL_MODE, "1")
    settings = load_settings()
    secrets = settings.secrets
    setup_logging([secrets.bot_token, secrets.signing_secret, secrets.passcode])
    registry = load_registry()
    server = LocalServer(settings, registry)
    app_token = os.environ.get("SLACK_APP_TOKEN", "")
    if app_token:
        start_socket_mode(server.router, app_token)
    if not secrets.signing_secret:
        print("SLACK_SIGNING_SECRET is not set: Slack requests will be refused; the form works.", flush=True)
    server.serve(host, port)
