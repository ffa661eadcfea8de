"""Feedback from the form: remembering its answers, and votes and comments by a browser session.

A person on the form has no Slack id, so a random voter id in an ``HttpOnly``
cookie stands for them (stored as ``form:<id>``). It makes "one vote per
person per answer" hold per browser; it is not an identity, and with no
passcode anyone can start a new session. Votes are only taken on answers the
form itself gave, so the form cannot be used to vote on Slack answers.
"""

from __future__ import annotations

import logging
import re
import secrets
from typing import Any

from bot.config import Settings
from bot.feedback import VOTES, Answer, FeedbackStore
from bot.http import BadRequest, Request
from inference.registry import ModelSpec

logger = logging.getLogger(__name__)

SOURCE = "form"
VOTER_COOKIE = "go_voter"
VOTER_PREFIX = "form:"
#: The voter cookie lasts a year, so a returning browser changes its vote rather than adding one.
VOTER_MAX_AGE_SECONDS = 365 * 24 * 3600
#: As long as Slack's comment modal allows.
MAX_COMMENT_CHARS = 2000
_VOTER_ID = re.compile(r"[A-Za-z0-9_-]{22,64}")
_REQUEST_ID = re.compile(r"[A-Za-z0-9-]{1,64}")


def record_form_answer(
    store: FeedbackStore, spec: ModelSpec, *, settings: Settings, request_id: str, text: str, result: Any
) -> bool:
    """Remember a form answer so it can be voted on; False (logged) when the store failed.

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
    )
    try:
        store.record_answer(answer)
    except Exception:
        logger.exception("could not record the form answer for feedback", extra={"request_id": request_id})
        return False
    return True


def voter_of(request: Request) -> str | None:
    """The voter id from the request's cookie, or None when it has none (or a malformed one)."""
    value = request.cookies.get(VOTER_COOKIE, "")
    return value if _VOTER_ID.fullmatch(value) else None


def new_voter(settings: Settings) -> tuple[str, str]:
    """A fresh voter id and the ``Set-Cookie`` value that keeps it (``Secure`` unless local)."""
    voter = secrets.token_urlsafe(16)
    attributes = [
        f"{VOTER_COOKIE}={voter}",
        "Path=/",
        f"Max-Age={VOTER_MAX_AGE_SECONDS}",
        "HttpOnly",
        "SameSite=Strict",
    ]
    if not settings.local:
        attributes.append("Secure")
    return voter, "; ".join(attributes)


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
            ``{"request_id", "comment": "..."}``; 404 when no form answer has that request id.
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
    if not _is_form_answer(store, request_id):
        raise BadRequest("There is no answer with that request id to give feedback on.", status=404, type="not_found")
    who = VOTER_PREFIX + voter
    if vote is not None:
        store.vote(request_id, who, vote)
    else:
        store.comment(request_id, who, comment)
    return store.tally(request_id)


def _is_form_answer(store: FeedbackStore, request_id: str) -> bool:
    answer = store.answer(request_id)
    return answer is not None and answer.source == SOURCE
