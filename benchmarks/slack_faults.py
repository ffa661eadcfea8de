"""A slow and flaky Slack for the load run: varying latency, 429s and 500s, at a bounded share.

The fake Slack API answers the *next* call of a method with an armed fault.
Arming faults on a clock alone would pile them up while the bot is idle, and
when few requests are left every call would fail: that measures the retry
budget, not the bot. So a fault is armed on a method only when none is
waiting there and at least ``spacing`` calls of it went through since the
last one: at most one call in ``spacing + 1`` fails, however busy the bot is.
"""

from __future__ import annotations

import itertools
import random
import threading
from collections import Counter

from tests.fakes.slack_api import FakeSlackApi

#: The Web API methods the bot posts with (the streaming ones too: the load lets the workspace use
#: them), and the faults they take in turn. A 500 on ``chat.startStream`` is a refusal to the bot:
#: that conversation's partials go by ``chat.postMessage`` and ``chat.update`` instead.
SCHEDULE = (
    ("chat.postMessage", 429),
    ("chat.update", 500),
    ("chat.startStream", 500),
    ("chat.appendStream", 429),
    ("chat.postMessage", 500),
    ("chat.update", 429),
    ("chat.startStream", 429),
    ("chat.appendStream", 500),
)
RETRY_AFTER_SECONDS = 1


class FaultInjector:
    """Re-arms faults and re-draws latency every ``interval`` seconds from a thread, until stopped."""

    def __init__(
        self,
        slack: FakeSlackApi,
        *,
        latency: tuple[float, float] = (0.2, 0.5),
        spacing: int = 4,
        interval: float = 0.1,
        seed: int = 7,
    ) -> None:
        self.slack = slack
        self.latency = latency
        self.spacing = spacing
        self.interval = interval
        self._random = random.Random(seed)
        self._schedule = itertools.cycle(SCHEDULE)
        self._armed: Counter[str] = Counter()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="slack-faults", daemon=True)

    def injected(self) -> Counter[str]:
        """Faults that answered a call so far, by label (``"429"``, ``"500"``)."""
        return Counter(call.fault for call in self.slack.calls() if call.fault)

    def _ready(self, method: str) -> bool:
        calls = self.slack.calls(method)
        spent = sum(1 for call in calls if call.fault)
        if self._armed[method] > spent:
            return False  # the last one is still waiting for a call
        clean = 0
        for call in reversed(calls):
            if call.fault:
                break
            clean += 1
        return spent == 0 or clean >= self.spacing

    def tick(self) -> None:
        """Draw a new latency, and arm the next scheduled fault if its method may take one."""
        self.slack.set_latency(self._random.uniform(*self.latency))
        method, status = next(self._schedule)
        if self._ready(method):
            self.slack.fail(method, status=status, retry_after=RETRY_AFTER_SECONDS, times=1)
            self._armed[method] += 1

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self.tick()

    def start(self) -> FaultInjector:
        self.tick()
        self._thread.start()
        return self

    def stop(self) -> Counter[str]:
        """Stop, heal the fake (no faults, no latency) and return the faults injected."""
        self._stop.set()
        if self._thread.ident is not None:
            self._thread.join(timeout=5)
        self.slack.heal()
        return self.injected()
