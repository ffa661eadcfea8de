"""What a command or a mention asks for: an unknown name echoed back never formats the reply."""

from __future__ import annotations

import re

import pytest

from bot.core.services import Services
from bot.slack.plans import plan_command, plan_mention

HOSTILE_NAMES = ["a`*bold*`", "`*bold*"]


def mrkdwn_outside_code(reply: dict) -> str:
    """The reply's mrkdwn with its code spans removed: what Slack would format."""
    texts = [b["text"]["text"] for b in reply["blocks"] if b.get("text", {}).get("type") == "mrkdwn"]
    texts += [e["text"] for b in reply["blocks"] for e in b.get("elements", []) if e.get("type") == "mrkdwn"]
    return re.sub(r"`[^`\n]*`", "", "\n".join(texts))


@pytest.mark.parametrize("name", HOSTILE_NAMES)
def test_an_unknown_model_in_hf_stays_inside_its_code_span(services: Services, name: str) -> None:
    plan = plan_command(services, {"command": "/hf", "text": f"{name} some text"})
    assert plan.reply is not None and "no model called" in str(plan.reply)
    assert "*bold*" not in mrkdwn_outside_code(plan.reply)


@pytest.mark.parametrize("name", HOSTILE_NAMES)
def test_an_unknown_model_in_a_mention_stays_inside_its_code_span(services: Services, name: str) -> None:
    plan, _ = plan_mention(services, {"text": f"<@UBOT> {name} some text", "channel": "C1", "ts": "1.2"})
    assert plan.reply is not None and "know a model called" in str(plan.reply)
    assert "*bold*" not in mrkdwn_outside_code(plan.reply)
