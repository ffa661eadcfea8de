"""Slack Web API calls, with retries and the fallbacks people rely on.

slack_sdk's retry handlers honour ``429 Retry-After`` and retry server errors
and dropped connections. Where the bot cannot post in a channel (it is not a
member, or it is a DM), messages go through the command's ``response_url``.

The failure contract, the same for every :class:`SlackOps` method: a call that
returns has done what it was asked (and returns what it was asked for: a
message's ts, a thread's text, or None); a call that did not raises a
:class:`SlackError`, and nothing else, once slack_sdk's retries are spent:

- :class:`CannotPost`: this route is closed to the bot. Slack answered with one of
  :data:`CANNOT_POST` (not a member, an archived channel, a message it may not edit),
  or the ``response_url`` is missing, is not Slack's, or has expired. Trying the same
  call again will not help; another route (the ``response_url``, the placeholder) may.
- :class:`SlackUnavailable`: anything else. Another API error, a server error, a 429
  whose retries ran out, a connection that kept dropping. Trying later may help.

No method returns a sentinel (``None``, ``False``) for a failure, so a caller cannot
mistake one for success: a caller that can carry on without the call (marking a
placeholder done, a vote's tally) catches :class:`SlackError` where it makes the call
and says so; a caller that cannot lets it rise, which for a listener ends in
its one clear error (:mod:`bot.slack.listeners`) and for a destination record in
Lambda's retry (:mod:`bot.slack.delivery`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from http.client import HTTPException
from typing import Any
from urllib.parse import urlsplit
from urllib.request import Request

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.http_retry.builtin_handlers import (
    ConnectionErrorRetryHandler,
    RateLimitErrorRetryHandler,
    ServerErrorRetryHandler,
)
from slack_sdk.web import SlackResponse
from slack_sdk.webhook import WebhookClient

from bot.core.http import split_host

logger = logging.getLogger(__name__)

#: Errors that mean "you cannot post here", where ``response_url`` still works.
CANNOT_POST = frozenset(
    {"not_in_channel", "channel_not_found", "is_archived", "restricted_action", "cant_update_message"}
)
#: What a ``response_url`` answers once it has expired or its posts are used up.
GONE_STATUSES = frozenset({404, 410})
#: The "method" a failed ``response_url`` post names.
RESPONSE_URL = "response_url"
#: Where Slack's response_urls point: (scheme, host, port).
SLACK_HOOKS = ("https", "hooks.slack.com", 443)
DEFAULT_PORTS = {"http": 80, "https": 443}
#: Slack allows 5 posts to a response_url within 30 minutes.
MAX_THREAD_MESSAGES = 200
#: A conversation in a thread: ``conversations.replies`` pages of this many messages (Slack's
#: suggested most), at most this many pages, and the newest this many messages kept.
REPLIES_PAGE, MAX_CONVERSATION_PAGES, MAX_CONVERSATION_MESSAGES = 200, 10, 400


def retry_handlers() -> list[Any]:
    """Bounded retries: a rate limit waits as Slack says, other faults retry twice."""
    return [
        RateLimitErrorRetryHandler(max_retry_count=4),
        ServerErrorRetryHandler(max_retry_count=2),
        ConnectionErrorRetryHandler(max_retry_count=2),
    ]


def make_client(token: str, base_url: str) -> WebClient:
    """A WebClient with retries, pointed at ``base_url`` (a fake Slack in tests)."""
    return WebClient(token=token or None, base_url=base_url, timeout=10, retry_handlers=retry_handlers())


def url_origin(url: str) -> tuple[str, str, int] | None:
    """(scheme, host, port) that a POST to ``url`` connects to; None for a URL two parsers could read apart.

    Read by ``urllib.request``, which slack_sdk's ``WebhookClient`` sends with, then held to what
    ``urlsplit`` reads: userinfo, backslashes, percent-escapes in the host, spaces and control
    characters (which ``urlsplit`` drops and urllib keeps) are all refused.
    """
    if not (url.isascii() and url.isprintable()) or " " in url or "\\" in url:
        return None
    try:
        request = Request(url)  # noqa: S310 (parsed to see where it goes, not opened)
    except ValueError:  # no scheme
        return None
    host = split_host(request.host)
    if request.full_url != url or request.host != urlsplit(url).netloc or host is None:
        return None
    if request.type not in DEFAULT_PORTS:
        return None
    name, port = host
    return request.type, name, port or DEFAULT_PORTS[request.type]


class SlackError(Exception):
    """A Slack call did not do what it was asked, after the retries; see the module's contract."""

    def __init__(self, method: str, error: str) -> None:
        super().__init__(f"{method} failed: {error}")
        #: The Web API method (or ``response_url``) that failed, and Slack's error code or what went wrong.
        self.method, self.error = method, error


class CannotPost(SlackError):
    """This route is closed to the bot (see :data:`CANNOT_POST`); another route may still work."""


class SlackUnavailable(SlackError):
    """Slack kept failing (or refused for another reason); the caller should retry later."""


class SlackOps:
    """The few Slack operations the bot performs; each raises :class:`SlackError` when it fails."""

    def __init__(self, client: WebClient, *, api_url: str) -> None:
        self.client = client
        # response_url comes from Slack's signed request; still, only ever post to Slack's hooks
        # (or to the Slack API the bot talks to: in tests and local mode, the server that plays it).
        api = url_origin(api_url)
        self.response_url_origins = {SLACK_HOOKS} if api is None else {SLACK_HOOKS, api}

    def _call(self, method: str, call: Callable[[], SlackResponse]) -> SlackResponse:
        """Make one Web API call; its failures become the contract's two errors."""
        try:
            return call()
        except SlackApiError as exc:
            error = str(exc.response.get("error") or f"HTTP {exc.response.status_code}")
            raise (CannotPost if error in CANNOT_POST else SlackUnavailable)(method, error) from exc
        except (SlackClientError, OSError, HTTPException) as exc:  # connection errors after the retries
            raise SlackUnavailable(method, type(exc).__name__) from exc

    def post(self, channel: str, message: dict[str, Any], *, thread_ts: str | None = None) -> str:
        """Post in a channel or thread; the new message's ts.

        Raises:
            CannotPost: the bot cannot post there (the ``response_url`` may still work).
            SlackUnavailable: Slack kept failing after the retries.
        """
        text, blocks = message["text"], message.get("blocks")
        response = self._call(
            "chat.postMessage",
            lambda: self.client.chat_postMessage(
                channel=channel, thread_ts=thread_ts, text=text, blocks=blocks, unfurl_links=False
            ),
        )
        return str(response["ts"])

    def update(self, channel: str, ts: str, message: dict[str, Any]) -> None:
        """Edit a message the bot posted.

        Raises:
            CannotPost: the bot may not edit it (``cant_update_message``, not in the channel).
            SlackUnavailable: Slack kept failing, or refused for another reason (``message_not_found``).
        """
        text, blocks = message["text"], message.get("blocks")
        self._call("chat.update", lambda: self.client.chat_update(channel=channel, ts=ts, text=text, blocks=blocks))

    def respond(self, response_url: str, message: dict[str, Any], *, ephemeral: bool = False) -> None:
        """Post through a command's ``response_url`` (visible to the channel unless ``ephemeral``).

        Raises:
            CannotPost: no ``response_url``, one that is not Slack's, or one Slack no longer
                takes (404 or 410: expired, or its five posts used).
            SlackUnavailable: Slack kept failing after the retries, or refused the message.
        """
        payload = {**message, "response_type": "ephemeral" if ephemeral else "in_channel", "replace_original": False}
        if not response_url:
            raise CannotPost(RESPONSE_URL, "no response_url")
        origin = url_origin(response_url)
        if origin is None:
            logger.warning("response_url refused: parsers could read it as different addresses")
            raise CannotPost(RESPONSE_URL, "refused: parsers could read it as different addresses")
        if origin not in self.response_url_origins:
            logger.warning("response_url refused: %s://%s:%d is not Slack", *origin)
            raise CannotPost(RESPONSE_URL, "refused: not Slack")
        try:
            response = WebhookClient(response_url, timeout=10, retry_handlers=retry_handlers()).send_dict(payload)
        except (SlackClientError, OSError, HTTPException) as exc:  # connection errors after the retries
            raise SlackUnavailable(RESPONSE_URL, type(exc).__name__) from exc
        if response.status_code in GONE_STATUSES:
            raise CannotPost(RESPONSE_URL, f"HTTP {response.status_code}")
        if response.status_code != 200:
            raise SlackUnavailable(RESPONSE_URL, f"HTTP {response.status_code}")

    def post_ephemeral(self, channel: str, user: str, message: dict[str, Any], *, thread_ts: str | None = None) -> None:
        """Post a message only ``user`` sees.

        Raises:
            CannotPost: the bot cannot post there.
            SlackUnavailable: Slack kept failing, or refused for another reason (``user_not_in_channel``).
        """
        text, blocks = message["text"], message.get("blocks")
        self._call(
            "chat.postEphemeral",
            lambda: self.client.chat_postEphemeral(
                channel=channel, user=user, thread_ts=thread_ts, text=text, blocks=blocks
            ),
        )

    def thread_text(self, channel: str, thread_ts: str, *, exclude_ts: str | None = None) -> str:
        """The human messages of a thread, oldest first, joined by blank lines.

        Raises:
            CannotPost: the bot cannot read that conversation.
            SlackUnavailable: Slack kept failing, or refused for another reason (``thread_not_found``).
        """
        response = self._call(
            "conversations.replies",
            lambda: self.client.conversations_replies(channel=channel, ts=thread_ts, limit=MAX_THREAD_MESSAGES),
        )
        texts = [
            str(m.get("text", "")).strip()
            for m in response.get("messages", [])
            if not m.get("bot_id") and m.get("ts") != exclude_ts and str(m.get("text", "")).strip()
        ]
        return "\n\n".join(texts)

    def open_view(self, trigger_id: str, view: dict[str, Any]) -> None:
        """Open a modal for the person whose action gave ``trigger_id``.

        Raises:
            SlackError: Slack kept failing, or refused (``expired_trigger_id``: the trigger is 3 seconds old).
        """
        self._call("views.open", lambda: self.client.views_open(trigger_id=trigger_id, view=view))

    def publish_home(self, user: str, view: dict[str, Any]) -> None:
        """Publish ``user``'s Home tab.

        Raises:
            SlackError: Slack kept failing, or refused.
        """
        self._call("views.publish", lambda: self.client.views_publish(user_id=user, view=view))

    def replies(
        self, channel: str, thread_ts: str, *, max_messages: int = MAX_CONVERSATION_MESSAGES
    ) -> list[dict[str, Any]]:
        """A thread's messages, parent first, every page of ``conversations.replies`` (its ``cursor``),
        at most ``max_messages`` of the newest (a longer thread's oldest are left out: a conversation
        keeps its newest turns).

        Raises:
            CannotPost: the bot cannot read that conversation.
            SlackUnavailable: Slack kept failing, or refused for another reason (``thread_not_found``).
        """
        messages: list[dict[str, Any]] = []
        cursor: str | None = None
        while True:
            page = self._call(
                "conversations.replies",
                lambda cursor=cursor: self.client.conversations_replies(
                    channel=channel, ts=thread_ts, limit=REPLIES_PAGE, cursor=cursor
                ),
            )
            messages += [m for m in page.get("messages") or [] if isinstance(m, dict)]
            cursor = str((page.get("response_metadata") or {}).get("next_cursor") or "")
            if not (page.get("has_more") and cursor) or len(messages) >= MAX_CONVERSATION_PAGES * REPLIES_PAGE:
                break
        parent, rest = messages[:1], messages[1:]
        return parent + rest[-max(0, max_messages - 1) :] if len(messages) > max_messages else messages

    def parent_message(self, channel: str, thread_ts: str) -> dict[str, Any]:
        """The message that starts the thread at ``thread_ts`` (its ``files`` included): the first of
        ``conversations.replies``.

        Raises:
            CannotPost: the bot cannot read that conversation.
            SlackUnavailable: Slack kept failing, or refused for another reason (``thread_not_found``).
        """
        response = self._call(
            "conversations.replies",
            lambda: self.client.conversations_replies(channel=channel, ts=thread_ts, limit=1),
        )
        found = [m for m in response.get("messages") or [] if isinstance(m, dict)]
        if not found or found[0].get("ts") != thread_ts:
            raise SlackUnavailable("conversations.replies", "thread_not_found")
        return found[0]

    def file_info(self, file_id: str) -> dict[str, Any]:
        """The file object Slack keeps for ``file_id`` (its private download URL, size and type).

        Raises:
            SlackError: Slack refused (``file_not_found``, ``file_deleted``, a missing ``files:read``),
                or kept failing.
        """
        response = self._call("files.info", lambda: self.client.files_info(file=file_id))
        found = response.get("file")
        if not isinstance(found, dict):
            raise SlackUnavailable("files.info", "no file in the answer")
        return found

    def upload_file(self, channel: str, thread_ts: str, data: bytes, *, filename: str, title: str) -> None:
        """Post ``data`` as a file in the thread, by Slack's external upload flow (``files.getUploadURLExternal``,
        the bytes to its ``upload_url``, ``files.completeUploadExternal``: slack_sdk's ``files_upload_v2``).

        Raises:
            SlackError: a step was refused, or Slack kept failing.
        """
        self._call(
            "files.upload_v2",
            lambda: self.client.files_upload_v2(
                file=data, filename=filename, title=title, channel=channel, thread_ts=thread_ts or None
            ),
        )

    def user_name(self, user: str) -> str:
        """How Slack shows ``user``: their display name, else their full name, else their user name.

        Raises:
            SlackError: Slack kept failing, or refused (``user_not_found``, a missing ``users:read``).
        """
        response = self._call("users.info", lambda: self.client.users_info(user=user))
        found = response.get("user") or {}
        profile = found.get("profile") or {}
        for name in (profile.get("display_name"), profile.get("real_name"), found.get("real_name"), found.get("name")):
            if isinstance(name, str) and name.strip():
                return name.strip()
        return user

    # -- the app's own chat surface (assistant threads) ----------------------------------------

    def set_status(self, channel: str, thread_ts: str, status: str) -> None:
        """Show ``status`` ("is thinking…") under an assistant thread; an empty one clears it.

        Raises:
            SlackError: Slack kept failing, or refused.
        """
        self._call(
            "assistant.threads.setStatus",
            lambda: self.client.assistant_threads_setStatus(channel_id=channel, thread_ts=thread_ts, status=status),
        )

    def set_suggested_prompts(
        self, channel: str, thread_ts: str, prompts: list[dict[str, str]], *, title: str | None = None
    ) -> None:
        """Offer ``prompts`` (``{"title", "message"}``, at most four) in an assistant thread.

        Raises:
            SlackError: Slack kept failing, or refused.
        """
        self._call(
            "assistant.threads.setSuggestedPrompts",
            lambda: self.client.assistant_threads_setSuggestedPrompts(
                channel_id=channel, thread_ts=thread_ts, prompts=prompts, title=title
            ),
        )

    def set_title(self, channel: str, thread_ts: str, title: str) -> None:
        """Name an assistant thread in the app's history.

        Raises:
            SlackError: Slack kept failing, or refused.
        """
        self._call(
            "assistant.threads.setTitle",
            lambda: self.client.assistant_threads_setTitle(channel_id=channel, thread_ts=thread_ts, title=title),
        )
