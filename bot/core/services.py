"""What the listeners, the form and delivery share: built once per process."""

from __future__ import annotations

from dataclasses import dataclass

from bot.core.config import Settings
from bot.core.invoker import Invoker
from bot.core.metrics import Metrics
from bot.core.slack_ops import SlackOps
from bot.stores.feedback import FeedbackStore
from bot.stores.state import StateStore
from bot.stores.stats import UsageSource
from inference.media_store import MediaStore
from inference.registry import Registry


@dataclass
class Services:
    settings: Settings
    registry: Registry
    invoker: Invoker
    store: StateStore
    slack: SlackOps
    feedback: FeedbackStore
    metrics: Metrics
    #: Where /go/stats reads its figures: local mode's file, or CloudWatch in AWS.
    stats: UsageSource
    #: Where files wait for their model: the stack's bucket, or ``DATA_DIR/media`` (:mod:`bot.core.uploads`).
    media: MediaStore
