"""The form's optional passcode: a signed session cookie and a limit on wrong guesses.

The cookie carries its own expiry and an HMAC-SHA256 over it, so the router
keeps no session state. The key is derived from both the passcode and the
signing secret: rotating either one logs everybody out.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import math
import re
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable

from bot.core.config import Settings
from bot.core.http import Request, set_cookie

COOKIE_NAME = "go_session"
#: How long one login lasts.
MAX_AGE_SECONDS = 12 * 3600
#: More wrong passcodes than this from one client within the window are refused with 429.
MAX_FAILURES = 5
FAILURE_WINDOW_SECONDS = 15 * 60
#: Bounds the limiter's memory when many addresses guess (oldest clients are forgotten first).
MAX_TRACKED_CLIENTS = 10_000

_VERSION = "v1"
_KEY_LABEL = b"go-form-session-cookie"
#: The only shape a session cookie has: version, expiry in Unix seconds (ASCII digits, few enough
#: for ``int()``, which refuses over 4,300), base64url HMAC-SHA256. Anything else is not a session.
_SESSION_VALUE = re.compile(rf"{_VERSION}\.(?P<expires>[0-9]{{1,12}})\.(?P<signature>[A-Za-z0-9_-]{{43}})")


def _key(settings: Settings) -> bytes:
    secrets = settings.secrets
    material = _KEY_LABEL + b"\x00" + secrets.passcode.encode("utf-8")
    return hmac.new(secrets.signing_secret.encode("utf-8"), material, hashlib.sha256).digest()


def sign(key: bytes, message: str) -> str:
    """The HMAC-SHA256 of ``message`` under ``key``, base64url without padding: what the form's signed cookies carry."""
    digest = hmac.new(key, message.encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def _signature(key: bytes, expires: int) -> str:
    return sign(key, f"{_VERSION}.{expires}")


def passcode_matches(given: object, settings: Settings) -> bool:
    """Compare a submitted passcode with the configured one in constant time."""
    if not isinstance(given, str) or not settings.secrets.passcode:
        return False
    return hmac.compare_digest(given.encode("utf-8"), settings.secrets.passcode.encode("utf-8"))


def session_cookie(settings: Settings, *, now: float | None = None) -> str:
    """A ``Set-Cookie`` value for a fresh 12-hour session (``Secure`` unless local)."""
    issued = time.time() if now is None else now
    expires = int(issued) + MAX_AGE_SECONDS
    value = f"{_VERSION}.{expires}.{_signature(_key(settings), expires)}"
    return set_cookie(COOKIE_NAME, value, max_age=MAX_AGE_SECONDS, secure=not settings.local)


def has_valid_session(request: Request, settings: Settings, *, now: float | None = None) -> bool:
    """True if the request carries an unexpired cookie signed with the current key."""
    match = _SESSION_VALUE.fullmatch(request.cookies.get(COOKIE_NAME, ""))
    if match is None:
        return False
    expires = int(match["expires"])
    current = time.time() if now is None else now
    if expires <= current:
        return False
    return hmac.compare_digest(match["signature"], _signature(_key(settings), expires))


def client_address(request: Request) -> str:
    """Who is guessing: API Gateway's source IP, else the first X-Forwarded-For hop, else "local"."""
    context = request.event.get("requestContext") or {}
    source = (context.get("identity") or {}).get("sourceIp") or (context.get("http") or {}).get("sourceIp")
    if source:
        return str(source)
    forwarded = request.header("x-forwarded-for").split(",")[0].strip()
    return forwarded or "local"


class FailureLimiter:
    """Counts wrong passcodes per client in a sliding window.

    State lives in this process only: in AWS each warm router container counts
    on its own, which still caps guessing at a handful per container per window.
    """

    def __init__(
        self,
        *,
        max_failures: int = MAX_FAILURES,
        window: float = FAILURE_WINDOW_SECONDS,
        max_clients: int = MAX_TRACKED_CLIENTS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.max_failures = max_failures
        self.window = window
        self.max_clients = max_clients
        self._clock = clock
        self._failures: OrderedDict[str, deque[float]] = OrderedDict()
        self._lock = threading.Lock()

    def _recent(self, client: str, now: float) -> deque[float]:
        times = self._failures.get(client) or deque(maxlen=self.max_failures)
        while times and times[0] <= now - self.window:
            times.popleft()
        return times

    def retry_after(self, client: str) -> int | None:
        """Seconds until ``client`` may try again, or None if it may try now."""
        with self._lock:
            now = self._clock()
            times = self._recent(client, now)
            if len(times) < self.max_failures:
                return None
            return max(1, math.ceil(times[0] + self.window - now))

    def record_failure(self, client: str) -> None:
        with self._lock:
            now = self._clock()
            times = self._recent(client, now)
            times.append(now)
            self._failures[client] = times
            self._failures.move_to_end(client)
            while len(self._failures) > self.max_clients:
                self._failures.popitem(last=False)

    def forget(self, client: str) -> None:
        """Clear a client's count after it logs in."""
        with self._lock:
            self._failures.pop(client, None)
