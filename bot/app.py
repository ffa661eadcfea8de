"""Composition: the Bolt app, the services and the router, built once per process."""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from slack_bolt import App
from slack_bolt.authorization import AuthorizeResult

from bot.core.cloudwatch_stats import CloudWatchStats
from bot.core.config import MEDIA_FOLDER, Settings
from bot.core.invoker import Invoker
from bot.core.metrics import MeteredInvoker, Metrics
from bot.core.services import Services
from bot.core.slack_ops import SlackOps, make_client
from bot.slack.listeners import register_listeners
from bot.stores.feedback import FeedbackStore, SqliteFeedbackStore
from bot.stores.state import StateStore
from bot.stores.stats import LocalStats
from inference.media_store import FolderStore, MediaStore, S3Store
from inference.registry import Registry

logger = logging.getLogger(__name__)

#: Lazy listeners run in threads locally; enough for bursts of commands while Slack is slow.
LOCAL_LAZY_WORKERS = 64


def build_services(
    settings: Settings,
    registry: Registry,
    invoker: Invoker,
    store: StateStore,
    feedback: FeedbackStore | None = None,
    metrics: Metrics | None = None,
) -> Services:
    """Everything the listeners, the form and delivery share.

    Feedback and figures default to local mode's: SQLite files in the data folder. Without local
    figures (in AWS), /go/stats reads the emitted ones back from CloudWatch.
    """
    client = make_client(settings.secrets.bot_token, settings.slack_api_url)
    metrics = metrics or Metrics(emit=False, local=LocalStats(settings.data_dir / "stats.sqlite"))
    return Services(
        settings=settings,
        registry=registry,
        invoker=MeteredInvoker(invoker, metrics, registry),
        store=store,
        slack=SlackOps(client, api_url=settings.slack_api_url),
        feedback=feedback or SqliteFeedbackStore(settings.data_dir / "feedback.sqlite"),
        metrics=metrics,
        stats=metrics.local if metrics.local is not None else CloudWatchStats(),
        media=media_store(settings),
    )


def media_store(settings: Settings) -> MediaStore:
    """Where files wait for their model: the stack's bucket in AWS, else a folder in the data folder."""
    if settings.media_bucket:
        return S3Store(settings.media_bucket)
    return FolderStore(settings.data_dir / MEDIA_FOLDER)


def build_bolt_app(services: Services) -> App:
    """The Bolt app; its single-workspace token needs no ``auth.test`` call on the ack path."""
    token = services.settings.secrets.bot_token

    def authorize(enterprise_id: str | None, team_id: str | None, **_: Any) -> AuthorizeResult:
        return AuthorizeResult(enterprise_id=enterprise_id, team_id=team_id, bot_token=token)

    app = App(
        signing_secret=services.settings.secrets.signing_secret,
        client=services.slack.client,
        authorize=authorize,
        process_before_response=True,
        listener_executor=ThreadPoolExecutor(max_workers=LOCAL_LAZY_WORKERS),
        logger=logging.getLogger("bot.bolt"),
    )
    register_listeners(app, services)
    return app
