"""Slack Web API calls, with retries and the fallbacks people rely on.

slack_sdk's retry handlers honour ``429 Retry-After`` and retry server errors
and dropped connections. Where the bot cannot post in a channel (it is not a
member, or it is a DM), messages go through the command's ``response_url``.
"""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import urlsplit
from urllib.request import Request

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_handlers import (
    ConnectionErrorRetryHandler,
    RateLimitErrorRetryHandler,
    ServerErrorRetryHandler,
)
from slack_sdk.webhook import WebhookClient

from bot.core.http import split_host

logger = logging.getLogger(__name__)

#: Errors that mean "you cannot post here", where ``response_url`` still works.
CANNOT_POST = frozenset(
    {"not_in_channel", "channel_not_found", "is_archived", "restricted_action", "cant_update_message"}
)
#: Where Slack's response_urls point: (scheme, host, port).
SLACK_HOOKS = ("https", "hooks.slack.com", 443)
DEFAULT_PORTS = {"http": 80, "https": 443}
#: Slack allows 5 posts to a response_url within 30 minutes.
MAX_THREAD_MESSAGES = 200


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


class SlackUnavailable(Exception):
    """A message could not be delivered by any route; the caller should retry later."""


class SlackOps:
    """The few Slack operations the bot performs, each with its fallback."""

    def __init__(self, client: WebClient, *, api_url: str) -> None:
        self.client = client
        # response_url comes from Slack's signed request; still, only ever post to Slack's hooks
        # (or to the Slack API the bot talks to: in tests and local mode, the server that plays it).
        api = url_origin(api_url)
        self.response_url_origins = {SLACK_HOOKS} if api is None else {SLACK_HOOKS, api}

    def _respond(self, response_url: str, payload: dict[str, Any]) -> bool:
        if not response_url:
            return False
        origin = url_origin(response_url)
        if origin is None:
            logger.warning("response_url refused: parsers could read it as different addresses")
            return False
        if origin not in self.response_url_origins:
            logger.warning("response_url refused: %s://%s:%d is not Slack", *origin)
            return False
        try:
            response = WebhookClient(response_url, timeout=10, retry_handlers=retry_handlers()).send_dict(payload)
        except Exception:
            logger.warning("response_url post failed", exc_info=True)
            return False
        return response.status_code == 200

    def post(self, channel: str, message: dict[str, Any], *, thread_ts: str | None = None) -> str | None:
        """Post in a channel or thread; the new message's ts, or None where the bot cannot post.

        Raises:
            SlackUnavailable: Slack kept failing after the retries.
        """
        try:
            response = self.client.chat_postMessage(
                channel=channel,
                thread_ts=thread_ts,
                text=message["text"],
                blocks=message.get("blocks"),
                unfurl_links=False,
            )
        except SlackApiError as exc:
            error = exc.response.get("error", "")
            if error in CANNOT_POST:
                return None
            raise SlackUnavailable(f"chat.postMessage failed: {error or exc.response.status_code}") from exc
        except Exception as exc:  # connection errors after the retries
            raise SlackUnavailable(f"chat.postMessage failed: {type(exc).__name__}") from exc
        return str(response["ts"])

    def update(self, channel: str, ts: str, message: dict[str, Any]) -> bool:
        """Edit a message the bot posted; False when it could not (the caller carries on)."""
        try:
            self.client.chat_update(channel=channel, ts=ts, text=message["text"], blocks=message.get("blocks"))
        except Exception:
            logger.warning("chat.update failed", exc_info=True)
            return False
        return True

    def respond(self, response_url: str, message: dict[str, Any], *, ephemeral: bool = False) -> bool:
        """Post through a command's ``response_url`` (visible to the channel unless ``ephemeral``)."""
        payload = {**message, "response_type": "ephemeral" if ephemeral else "in_channel", "replace_original": False}
        return self._respond(response_url, payload)

    def post_ephemeral(self, channel: str, user: str, message: dict[str, Any], *, thread_ts: str | None = None) -> bool:
        try:
            self.client.chat_postEphemeral(
                channel=channel, user=user, thread_ts=thread_ts, text=message["text"], blocks=message.get("blocks")
            )
        except Exception:
            logger.warning("chat.postEphemeral failed", exc_info=True)
            return False
        return True

    def thread_text(self, channel: str, thread_ts: str, *, exclude_ts: str | None = None) -> str:
        """The human messages of a thread, oldest first, joined by blank lines."""
        response = self.client.conversations_replies(channel=channel, ts=thread_ts, limit=MAX_THREAD_MESSAGES)
        texts = [
            str(m.get("text", "")).strip()
            for m in response.get("messages", [])
            if not m.get("bot_id") and m.get("ts") != exclude_ts and str(m.get("text", "")).strip()
        ]
        return "\n\n".join(texts)

    def open_view(self, trigger_id: str, view: dict[str, Any]) -> None:
        self.client.views_open(trigger_id=trigger_id, view=view)

    def publish_home(self, user: str, view: dict[str, Any]) -> None:
        self.client.views_publish(user_id=user, view=view)
