"""What every fake service of the tests shares: an HTTP server on 127.0.0.1 (a free port) in a daemon thread.

A fake subclasses :class:`LoopbackServer`, says how it answers (:meth:`handler`) and how deep its
listen backlog is, and gets ``start()``/``close()``, the context manager and ``origin``. ``_closing``
is set while it closes, so a request sleeping on injected latency or a throttle can stop at once.
"""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Self


class LoopbackServer:
    """Start, stop and address one fake HTTP service."""

    #: listen() backlog: the default 5 makes bursts of connections wait a second for SYN retries.
    backlog = 64

    def __init__(self) -> None:
        self._closing = threading.Event()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    def handler(self) -> type[BaseHTTPRequestHandler]:
        """The request handler class, bound to this fake."""
        raise NotImplementedError

    def start(self) -> Self:
        """Listen on 127.0.0.1 (a free port) and serve from a daemon thread."""
        if self._server is not None:
            return self
        self._closing.clear()
        server = ThreadingHTTPServer(("127.0.0.1", 0), self.handler(), bind_and_activate=False)
        server.daemon_threads = True
        server.request_queue_size = self.backlog
        try:
            server.server_bind()
            server.server_activate()
        except OSError:
            server.server_close()
            raise
        self._server = server
        self._thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()
        return self

    def close(self) -> None:
        """Stop serving; requests sleeping on injected latency or a throttle are cut short."""
        if self._server is None:
            return
        self._closing.set()
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._server = None
        self._thread = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def origin(self) -> str:
        """``http://127.0.0.1:PORT``"""
        if self._server is None:
            raise RuntimeError(f"{type(self).__name__} is not started")
        return f"http://127.0.0.1:{self._server.server_address[1]}"
