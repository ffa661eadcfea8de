"""What a command or a mention asks for (plan_command, plan_mention), decided without any I/O;
an unknown name echoed back never formats the reply."""

from __future__ import annotations

import copy
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


# -- plan_command: every shape of slash command --------------------------------------------


def command(name: str, text: str = "") -> dict[str, str]:
    return {"command": name, "text": text, "trigger_id": "t1", "user_id": "U1", "channel_id": "C1"}


@pytest.mark.parametrize("text", ["", "help", "HELP"])
def test_hf_alone_or_with_help_lists_every_model(services: Services, text: str) -> None:
    plan = plan_command(services, command("/hf", text))
    assert plan.spec is None and plan.reply is not None and plan.reply["response_type"] == "ephemeral"
    assert all(name in str(plan.reply) for name in services.registry.names)


def test_hf_runs_any_model_by_name(services: Services) -> None:
    plan = plan_command(services, command("/hf", "Sentiment   I love it  "))
    assert (plan.reply, plan.spec, plan.text, plan.compare) == (
        None,
        services.registry.get("sentiment"),
        "I love it",
        None,
    )


def test_a_models_own_command_runs_it(services: Services) -> None:
    spec = services.registry.get("sentiment")
    plan = plan_command(services, command(spec.command, "I love it"))
    assert (plan.reply, plan.spec, plan.text) == (None, spec, "I love it")


@pytest.mark.parametrize("text", ["", "help", "  Help  "])
def test_a_model_without_text_or_with_help_gets_its_usage(services: Services, text: str) -> None:
    spec = services.registry.get("qa")
    plan = plan_command(services, command(spec.command, text))
    assert plan.spec is None and plan.reply is not None and plan.reply["response_type"] == "ephemeral"
    assert spec.example.split(" ")[0] in str(plan.reply)


def test_a_command_this_app_does_not_have_gets_help(services: Services) -> None:
    plan = plan_command(services, command("/nope", "hi"))
    assert plan.spec is None and "is not a command of this app" in str(plan.reply)


def test_an_input_the_model_cannot_take_is_explained_before_any_run(services: Services) -> None:
    spec = services.registry.get("qa")
    plan = plan_command(services, command(spec.command, "a question without a context"))
    assert plan.spec is None and plan.reply is not None
    too_long = plan_command(services, command(spec.command, "x" * (spec.max_chars + 1) + " | y"))
    assert too_long.spec is None and f"{spec.max_chars:,}" in str(too_long.reply)


def test_slack_markup_is_read_as_the_text_it_shows(services: Services) -> None:
    plan = plan_command(services, command("/hf", "sentiment 1 &lt; 2 &amp; <https://example.com|a link>"))
    assert plan.text == "1 < 2 & a link"


def test_hf_compare_plans_every_model_on_one_text(services: Services) -> None:
    plan = plan_command(services, command("/hf", "compare sentiment,NER  the text"))
    specs = [services.registry.get("sentiment"), services.registry.get("ner")]
    assert (plan.reply, plan.spec, plan.compare, plan.text) == (None, specs[0], specs, "the text")


@pytest.mark.parametrize("rest", ["sentiment hi", "sentiment,sentiment hi", "sentiment,nope hi", "sentiment,ner"])
def test_a_comparison_that_cannot_run_is_explained(services: Services, rest: str) -> None:
    plan = plan_command(services, command("/hf", f"compare {rest}"))
    assert plan.spec is None and plan.compare is None and "compare" in str(plan.reply).lower()


def test_a_plan_is_the_same_every_time_and_copies_as_itself(services: Services) -> None:
    """The Lambda's lazy half plans again from the same body: it must reach the same plan."""
    for text in ["", "sentiment hi", "compare sentiment,ner hi", "nope hi", "qa no context"]:
        first, again = plan_command(services, command("/hf", text)), plan_command(services, command("/hf", text))
        assert first == again
        assert copy.deepcopy({"plan": first})["plan"] is first  # Bolt's copy of the context for the lazy half


# -- plan_mention ----------------------------------------------------------------------------


def mention(text: str, **fields: str) -> dict[str, str]:
    return {"type": "app_mention", "text": text, "user": "U1", "channel": "C1", "ts": "1700000000.000200", **fields}


@pytest.mark.parametrize("text", ["<@UBOT>", "<@UBOT> help", "<@UBOT>   HELP"])
def test_a_bare_mention_or_help_lists_every_model(services: Services, text: str) -> None:
    plan, from_thread = plan_mention(services, mention(text))
    assert not from_thread and plan.spec is None
    assert all(name in str(plan.reply) for name in services.registry.names)


def test_a_mention_runs_the_model_it_names(services: Services) -> None:
    plan, from_thread = plan_mention(services, mention("<@UBOT> sentiment I love it"))
    assert not from_thread and (plan.reply, plan.spec, plan.text) == (
        None,
        services.registry.get("sentiment"),
        "I love it",
    )


def test_a_mention_without_text_in_a_thread_reads_the_thread(services: Services) -> None:
    plan, from_thread = plan_mention(services, mention("<@UBOT> summarize", thread_ts="1700000000.000100"))
    assert from_thread and (plan.reply, plan.spec, plan.text) == (None, services.registry.get("summarize"), "")


def test_a_mention_without_text_outside_a_thread_gets_the_usage(services: Services) -> None:
    plan, from_thread = plan_mention(services, mention("<@UBOT> summarize"))
    assert not from_thread and plan.spec is None and plan.reply is not None


def test_a_mention_can_compare(services: Services) -> None:
    plan, _ = plan_mention(services, mention("<@UBOT> compare sentiment,ner hi there"))
    assert plan.compare == [services.registry.get("sentiment"), services.registry.get("ner")]
    assert plan.text == "hi there"


def test_a_mention_of_an_unknown_model_gets_help(services: Services) -> None:
    plan, from_thread = plan_mention(services, mention("<@UBOT> nope hi"))
    assert not from_thread and plan.spec is None and "know a model called" in str(plan.reply)
