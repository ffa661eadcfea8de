"""Feedback from the form: remembering its answers, and votes and comments by the browser that asked.

A person on the form has no Slack id, so the server gives each browser a random voter id in a
signed ``HttpOnly`` cookie (``go_voter``, stored as ``form:<id>``): on its first page load, or
with its first answer. Only this server can issue one, but anyone can ask for many, so a voter id
buys nothing on its own: a form answer takes feedback only from the voter that asked for it (one
vote, which voting again changes), and feedback is limited per voter and per client address.
One client can then move ``/go/stats`` and the export by at most one vote per answer it was given,
at the limits' pace. Votes are only taken on answers the form itself gave, so the form cannot be
used to vote on Slack answers.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import re
import secrets
import time
from collections.abc import Callable
from typing import Any

from bot.core.config import Settings
from bot.core.http import BadRequest, Request, set_cookie
from bot.form.passcode import FailureLimiter, sign
from bot.stores.feedback import VOTES, Answer, FeedbackStore
from inference.registry import ModelSpec

logger = logging.getLogger(__name__)

SOURCE = "form"
VOTER_COOKIE = "go_voter"
VOTER_PREFIX = "form:"
#: The voter cookie lasts a year, so a returning browser changes its vote rather than adding one.
VOTER_MAX_AGE_SECONDS = 365 * 24 * 3600
#: As long as Slack's comment modal allows.
MAX_COMMENT_CHARS = 2000
#: Feedback posts (votes and comments) one voter may send per window: ample for rating every answer
#: one person reads in an hour, and changing their mind.
MAX_POSTS_PER_VOTER = 60
#: Feedback posts one client address may send per window, however many voters it holds: a few people
#: behind one office address.
MAX_POSTS_PER_ADDRESS = 200
POST_WINDOW_SECONDS = 3600
_VOTER_KEY_LABEL = b"go-form-voter-cookie"
#: Signs voter cookies where the router has no Slack signing secret (a form-only local server):
#: its cookies then stay valid until it restarts, and the next page load issues a new one.
_PROCESS_KEY = secrets.token_bytes(32)
#: A voter cookie: a 128-bit id (``token_urlsafe(16)``) and its base64url HMAC-SHA256.
_VOTER_VALUE = re.compile(r"(?P<voter>[A-Za-z0-9_-]{22})\.(?P<signature>[A-Za-z0-9_-]{43})")
_REQUEST_ID = re.compile(r"[A-Za-z0-9-]{1,64}")


def record_form_answer(
    store: FeedbackStore,
    spec: ModelSpec,
    *,
    settings: Settings,
    request_id: str,
    text: str,
    result: Any,
    voter: str,
) -> bool:
    """Remember a form answer so that ``voter``, who asked for it, can vote on it; False (logged) when the store failed.

    A storage fault never holds the answer back: the page then shows it without feedback buttons.
    """
    answer = Answer.make(
        store_text=settings.feedback_store_text and spec.store_text,
        text=text,
        request_id=request_id,
        model=spec.name,
        revision=spec.revision,
        task=spec.task,
        output=result,
        source=SOURCE,
        asked_by=VOTER_PREFIX + voter,
    )
    try:
        store.record_answer(answer)
    except Exception:
        logger.exception("could not record the form answer for feedback", extra={"request_id": request_id})
        return False
    return True


def _voter_key(settings: Settings) -> bytes:
    secret = settings.secrets.signing_secret
    return hmac.new(secret.encode("utf-8"), _VOTER_KEY_LABEL, hashlib.sha256).digest() if secret else _PROCESS_KEY


def voter_of(request: Request, settings: Settings) -> str | None:
    """The voter id this server signed into the request's cookie; None when it has none, or a malformed or forged one."""
    match = _VOTER_VALUE.fullmatch(request.cookies.get(VOTER_COOKIE, ""))
    if match is None or not hmac.compare_digest(match["signature"], sign(_voter_key(settings), match["voter"])):
        return None
    return match["voter"]


def new_voter(settings: Settings) -> tuple[str, str]:
    """A fresh voter id and the ``Set-Cookie`` value that keeps it, signed (``Secure`` unless local)."""
    voter = secrets.token_urlsafe(16)
    value = f"{voter}.{sign(_voter_key(settings), voter)}"
    return voter, set_cookie(VOTER_COOKIE, value, max_age=VOTER_MAX_AGE_SECONDS, secure=not settings.local)


def voter_for(request: Request, settings: Settings) -> tuple[str, str | None]:
    """The request's voter, and the ``Set-Cookie`` value that issues a new one when it has none (else None)."""
    voter = voter_of(request, settings)
    return (voter, None) if voter is not None else new_voter(settings)


class FeedbackLimits:
    """How many feedback posts one voter and one client address may send per window.

    The counts are the passcode's sliding windows (``FailureLimiter`` counts any event, here a post)
    and live in this process: in AWS each warm router container counts on its own, as for passcodes.
    """

    def __init__(
        self,
        *,
        per_voter: int = MAX_POSTS_PER_VOTER,
        per_address: int = MAX_POSTS_PER_ADDRESS,
        window: float = POST_WINDOW_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._voters = FailureLimiter(max_failures=per_voter, window=window, clock=clock)
        self._addresses = FailureLimiter(max_failures=per_address, window=window, clock=clock)

    def take(self, voter: str, address: str) -> int | None:
        """Count one post by ``voter`` from ``address``; over either limit, count nothing and return the seconds to wait."""
        waits = [self._voters.retry_after(voter), self._addresses.retry_after(address)]
        if any(waits):
            return max(wait or 0 for wait in waits)
        self._voters.record_failure(voter)
        self._addresses.record_failure(address)
        return None


def _utf8(text: str, field: str) -> str:
    """``text`` if it can be stored; JSON can carry lone surrogates that no UTF-8 store takes.

    Raises:
        BadRequest: 400, the text holds characters that are not valid Unicode.
    """
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise BadRequest(f'The "{field}" field holds characters that are not valid text.') from exc
    return text


def apply_feedback(store: FeedbackStore, data: dict[str, Any], voter: str) -> dict[str, int]:
    """Record ``voter``'s vote or comment from a ``/go/feedback`` body; the answer's tally after it.

    Raises:
        BadRequest: 400 for a body that is neither ``{"request_id", "vote": "up"|"down"}`` nor
            ``{"request_id", "comment": "..."}``; 404 when no form answer has that request id;
            403 when ``voter`` did not ask for that answer.
    """
    request_id = data.get("request_id")
    if not isinstance(request_id, str) or not _REQUEST_ID.fullmatch(request_id):
        raise BadRequest('The request needs the answer\'s "request_id".')
    vote, comment = data.get("vote"), data.get("comment")
    if (vote is None) == (comment is None):
        raise BadRequest('Send either a "vote" ("up" or "down") or a "comment".')
    if vote is not None and vote not in VOTES:
        raise BadRequest('A vote is "up" or "down".')
    if comment is not None:
        if not isinstance(comment, str) or not comment.strip():
            raise BadRequest("Write a comment first.")
        comment = _utf8(comment.strip(), "comment")
        if len(comment) > MAX_COMMENT_CHARS:
            raise BadRequest(f"A comment can be at most {MAX_COMMENT_CHARS:,} characters.")
    answer = store.answer(request_id)
    if answer is None or answer.source != SOURCE:
        raise BadRequest("There is no answer with that request id to give feedback on.", status=404, type="not_found")
    who = VOTER_PREFIX + voter
    if answer.asked_by != who:
        raise BadRequest(
            "Only the browser that asked for this answer can give feedback on it.", status=403, type="not_your_answer"
        )
    if vote is not None:
        store.vote(request_id, who, vote)
    else:
        store.comment(request_id, who, comment)
    return store.tally(request_id)
