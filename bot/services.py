"""What the listeners, the form and delivery share: built once per process."""

from __future__ import annotations

from dataclasses import dataclass

from bot.config import Settings
from bot.feedback import FeedbackStore
from bot.invoker import Invoker
from bot.metrics import Metrics, UsageSource
from bot.slack_ops import SlackOps
from bot.state import StateStore
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
