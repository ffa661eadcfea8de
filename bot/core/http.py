"""API Gateway proxy events in and out, as two small value types.

The Lambda entry point and the local HTTP server both speak these, so every
route is tested the same way in both modes.
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from http.cookies import CookieError, SimpleCookie
from typing import Any

#: JSON escapes for the characters HTML cares about and for lone surrogates (which no UTF-8 body can
#: carry); such characters only ever occur inside JSON strings, where the escape means the same thing.
_JSON_ESCAPES = str.maketrans({c: f"\\u{ord(c):04x}" for c in ["<", ">", "&", *map(chr, range(0xD800, 0xE000))]})

#: Headers every answer of the form and every error of the router carries: nothing is sniffed into
#: markup, no address leaks in a Referer, nothing is kept by a cache.
SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}
#: For everything but the form's page: nothing in it may ever run or be framed.
JSON_POLICY = "default-src 'none'; frame-ancestors 'none'"


def json_headers() -> dict[str, str]:
    """The security headers of a JSON answer or an error: the form's, and every error the router gives."""
    return {"Content-Security-Policy": JSON_POLICY, **SECURITY_HEADERS}


def parse_cookies(header: str) -> dict[str, str]:
    """The cookies of a ``Cookie`` header by name (the last of a name wins), read by :mod:`http.cookies`.

    Each ``;``-separated pair is read on its own, so a malformed one (anything on the same host may
    set cookies) costs only itself: :class:`~http.cookies.SimpleCookie` stops at the first pair it
    cannot read, and refuses a name it finds illegal with an error.
    """
    jar: dict[str, str] = {}
    for part in header.split(";"):
        cookie: SimpleCookie = SimpleCookie()
        try:
            cookie.load(part)
        except CookieError:
            continue
        jar.update((name, morsel.value) for name, morsel in cookie.items())
    return jar


def set_cookie(name: str, value: str, *, max_age: int, secure: bool) -> str:
    """A ``Set-Cookie`` value as every cookie of this site is set: for the whole site (``Path=/``), out
    of scripts' reach (``HttpOnly``), never sent by another site's request (``SameSite=Strict``), for
    ``max_age`` seconds, and ``Secure`` unless serving plain HTTP locally."""
    cookie: SimpleCookie = SimpleCookie()
    cookie[name] = value
    morsel = cookie[name]
    morsel.update({"path": "/", "max-age": max_age, "httponly": True, "samesite": "Strict", "secure": secure})
    return morsel.OutputString()


def cookies_to_send_back(set_cookies: Iterable[str]) -> str:
    """The ``Cookie`` header a client sends back after receiving ``set_cookies`` (their attributes dropped)."""
    cookie: SimpleCookie = SimpleCookie()
    for value in set_cookies:
        cookie.load(value)
    return "; ".join(f"{name}={morsel.coded_value}" for name, morsel in cookie.items())


def json_for_html(data: Any) -> str:
    """``data`` as JSON that is valid UTF-8 and in which no HTML parser finds markup: ``<``, ``>``, ``&``
    and lone surrogates are escaped, so it is safe in a response a browser may sniff and inside
    ``<script type="application/json">`` alike."""
    return json.dumps(data, ensure_ascii=False).translate(_JSON_ESCAPES)


#: A host and optional port as this project accepts them, in a Host header or a URL: a name of letters,
#: digits, dots and hyphens (so an IPv4 address too) or a bracketed IPv6 address. Nothing else (no
#: userinfo, percent-escapes, backslashes or spaces), so no two parsers can read it differently.
_HOST_AND_PORT = re.compile(r"(?P<name>[A-Za-z0-9.-]+|\[[0-9A-Fa-f:.]+\])(?::(?P<port>[0-9]{1,5}))?")


def split_host(authority: str) -> tuple[str, int | None] | None:
    """``name[:port]`` as (lower-case name, port or None); None unless it is only that.

    A trailing dot is dropped (``localhost.`` is ``localhost``) and an IPv6 address is written the
    one short way (``[::1]``), so equal hosts compare equal.
    """
    match = _HOST_AND_PORT.fullmatch(authority)
    if match is None:
        return None
    name = match["name"].lower()
    if name.startswith("["):
        try:
            name = f"[{ipaddress.IPv6Address(name[1:-1]).compressed}]"
        except ValueError:
            return None
    elif name.endswith("."):
        name = name[:-1]
    port = None if match["port"] is None else int(match["port"])
    if not name.strip(".") or (port is not None and not 0 < port <= 65535):
        return None
    return name, port


class BadRequest(Exception):
    """A client's mistake: becomes a 4xx with a JSON error body."""

    def __init__(self, message: str, *, status: int = 400, type: str = "bad_request") -> None:
        super().__init__(message)
        self.status = status
        self.type = type


@dataclass
class Request:
    """One HTTP request, as API Gateway's REST (v1) proxy event describes it."""

    method: str
    path: str
    headers: dict[str, str] = field(default_factory=dict)
    query: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    #: The original proxy event (Bolt's Lambda adapter needs it for lazy listeners).
    event: dict[str, Any] = field(default_factory=dict)

    def header(self, name: str, default: str = "") -> str:
        """Header lookup that ignores case, as HTTP does."""
        return self.headers.get(name.lower(), default)

    def text(self) -> str:
        """The body as UTF-8 text.

        Raises:
            BadRequest: the body is not valid UTF-8.
        """
        try:
            return self.body.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise BadRequest("The request body is not valid UTF-8.") from exc

    def json(self) -> Any:
        """The body parsed as JSON.

        Raises:
            BadRequest: not UTF-8, not JSON, or too deeply nested.
        """
        try:
            return json.loads(self.text())
        except (json.JSONDecodeError, RecursionError) as exc:
            raise BadRequest("The request body is not valid JSON.") from exc

    @property
    def cookies(self) -> dict[str, str]:
        """The request's cookies by name (:func:`parse_cookies`)."""
        return parse_cookies(self.header("cookie"))

    @classmethod
    def from_event(cls, event: dict[str, Any]) -> Request:
        """Build a request from a REST API (v1) or HTTP API (v2) proxy event.

        A body the event carries base64-encoded (``isBase64Encoded``: API Gateway does so for the API's
        binary media types, the form's file uploads among them, :mod:`bot.core.multipart`) is decoded
        to its bytes; any other is the event's text, encoded as UTF-8.

        Raises:
            BadRequest: the body is not valid base64.
        """
        context = event.get("requestContext") or {}
        method = event.get("httpMethod") or (context.get("http") or {}).get("method") or "GET"
        path = event.get("path") or event.get("rawPath") or "/"
        stage = context.get("stage")
        # REST APIs put the stage in front of the path only on custom domains; strip it if present.
        if stage and stage != "$default" and path.startswith(f"/{stage}/"):
            path = path[len(stage) + 1 :]
        headers = {str(k).lower(): str(v) for k, v in (event.get("headers") or {}).items()}
        raw = event.get("body") or ""
        if event.get("isBase64Encoded"):
            try:
                body = base64.b64decode(raw, validate=True)
            except (binascii.Error, ValueError) as exc:
                raise BadRequest("The request body is not valid base64.") from exc
        else:
            body = raw.encode("utf-8", "surrogatepass") if isinstance(raw, str) else bytes(raw)
        query = {str(k): str(v) for k, v in (event.get("queryStringParameters") or {}).items()}
        return cls(method=method.upper(), path=path, headers=headers, query=query, body=body, event=event)


@dataclass
class Response:
    """An HTTP response, convertible to an API Gateway proxy result."""

    status: int = 200
    body: str = ""
    headers: dict[str, str] = field(default_factory=dict)
    cookies: list[str] = field(default_factory=list)

    @classmethod
    def json(cls, data: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
        """A JSON answer that is always valid UTF-8 and in which no sniffing browser ever finds markup."""
        return cls(
            status=status,
            body=json_for_html(data),
            headers={"Content-Type": "application/json; charset=utf-8", **(headers or {})},
        )

    @classmethod
    def error(cls, message: str, *, status: int = 400, type: str = "bad_request") -> Response:
        """A JSON error, with the security headers (:func:`json_headers`)."""
        return cls.json({"error": {"type": type, "message": message}}, status=status, headers=json_headers())

    def with_security_headers(self) -> Response:
        """This response, with every security header it does not set itself (:func:`json_headers`)."""
        self.headers = {**json_headers(), **self.headers}
        return self

    def to_event(self) -> dict[str, Any]:
        """The proxy integration's response shape (cookies as multi-value headers)."""
        result: dict[str, Any] = {"statusCode": self.status, "headers": dict(self.headers), "body": self.body}
        if self.cookies:
            result["multiValueHeaders"] = {"Set-Cookie": list(self.cookies)}
        return result
