"""Block Kit builders and views: pure functions from data to Slack message payloads.

The building blocks (rich text, sections, quotes, bars, feedback buttons), the
placeholders, help, the Home tab and the modals. A model's answer, rendered per
task, and the messages that carry answers are in :mod:`bot.slack.answers`.

A message mixes two kinds of text. The bot's own words and formatting (titles,
bars, scores, bold labels) are mrkdwn or styled runs of rich text. Everything
the bot did not write, a person's input and a model's output alike, is *echoed*
(:func:`echo`): a ``rich_text`` text element, which Slack shows as it is and
never parses, so it cannot format, ping ``@channel`` or forge a link, and it
keeps every character the person typed. mrkdwn could not do this: it has no
escape for ``*``, ``_``, ``~`` or a backtick, only entities for ``&``, ``<``,
``>``. An echo stays on one line (a line break would let it start a line that
looks like the bot's) unless it sits in a quote, and it is wrapped in a Unicode
isolate (:func:`isolate`), so right-to-left or override characters in it cannot
reorder the bot's words. Registry text (titles, descriptions) is the operator's:
it is mrkdwn, through :func:`bot.core.mrkdwn.escape`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from bot.core.commands import takes_command
from bot.core.mrkdwn import clip, escape, one_line
from inference.media import with_article
from inference.registry import ModelSpec, Registry
from inference.tasks import get_task, media_kind

#: Slack's 3,000 characters, the one text limit the bot holds everything to: Slack refuses a longer
#: section or text object, documents no length for a ``rich_text`` block (the bot holds one to a
#: section's), and a message's own ``text`` (its notification, what clients without blocks show) gets
#: one section's worth.
TEXT_LIMIT = 3000
#: Slack takes at most 50 blocks in a message and 100 in a view.
MESSAGE_BLOCKS, VIEW_BLOCKS = 50, 100
QUOTE_LIMIT = 280
RUN_MODAL_CALLBACK = "run_model_modal"
SHORTCUT_CALLBACK = "run_model_on_message"
MODEL_SELECT_BLOCK = "model_block"
MODEL_SELECT_ACTION = "model_select"
FEEDBACK_BLOCK = "feedback:"
VOTE_UP, VOTE_DOWN, COMMENT_ACTION = "feedback_up", "feedback_down", "feedback_comment"
COMMENT_MODAL_CALLBACK = "feedback_comment_modal"
COMMENT_BLOCK, COMMENT_INPUT = "comment_block", "comment_input"
#: Unicode's first-strong isolate and its closing pop (U+2068, U+2069), and the other two openers.
FSI, PDI = "\u2068", "\u2069"
_OPENERS = frozenset("\u2066\u2067\u2068")
#: The containers of a rich_text block: a paragraph (runs follow on, ``\n`` breaks the line), a quote, code.
SECTION, QUOTE, PREFORMATTED = "rich_text_section", "rich_text_quote", "rich_text_preformatted"

Blocks = list[dict[str, Any]]


def isolate(text: str) -> str:
    """``text`` inside a first-strong isolate (U+2068 … U+2069) that nothing in it can close or leave open.

    An isolate keeps right-to-left and override characters from reordering what is around it.
    A pop (U+2069) in the text with no opener before it would end the isolate early, so each gets
    an opener of its own; an opener left unclosed gets its pop.
    """
    depth = unopened = 0
    for char in text:
        if char in _OPENERS:
            depth += 1
        elif char == PDI:
            if depth:
                depth -= 1
            else:
                unopened += 1
    return FSI * (1 + unopened) + text + PDI * (1 + depth)


@dataclass(frozen=True)
class Run:
    """A stretch of rich text: the bot's own words with its styling, or an echo of someone else's."""

    text: str
    style: tuple[str, ...] = ()
    echoed: bool = False


Part = tuple[str, Sequence[Run]]


def own(text: str, *style: str) -> Run:
    """The bot's own words, styled ``bold``, ``italic`` or ``code``."""
    return Run(text, style)


def echo(text: str, *style: str, limit: int = TEXT_LIMIT) -> Run:
    """Text the bot did not write, on one line and shortened: shown as it is, in the bot's ``style``."""
    return Run(clip(one_line(text), limit), style, echoed=True)


def echo_lines(text: str) -> list[Run]:
    """A longer text the bot did not write, line by line (each its own echo), for a quote."""
    runs: list[Run] = []
    for number, line in enumerate(clip(text, TEXT_LIMIT).splitlines()):
        runs += [own("\n")] * bool(number) + [echo(line)]
    return runs


def _fit(run: Run, room: int) -> tuple[str, bool]:
    """The run as shown within ``room`` characters, and whether it is whole (an echo keeps its isolate)."""
    whole = isolate(run.text) if run.echoed and run.text else run.text
    if len(whole) <= room:
        return whole, True
    if not run.echoed:
        return (clip(run.text, room) if room > 0 else ""), False
    size = room - 2
    while size > 0:
        shown = isolate(clip(run.text, size))
        if len(shown) <= room:
            return shown, False
        size -= len(shown) - room
    return "", False


def _fitted(parts: Iterable[Part], limit: int) -> list[tuple[str, list[tuple[str, Run]]]]:
    """Each part's runs as shown, dropping what does not fit in ``limit`` characters in all."""
    fitted, room = [], limit
    for kind, runs in parts:
        shown: list[tuple[str, Run]] = []
        whole = True
        for run in runs:
            text, whole = _fit(run, room)
            if text:
                shown.append((text, run))
                room -= len(text)
            if not whole:
                break
        if shown:
            fitted.append((kind, shown))
        if not whole:
            break
    return fitted


def rich_text(*parts: Part, limit: int = TEXT_LIMIT) -> dict[str, Any]:
    """A ``rich_text`` block of paragraphs, quotes and code (:data:`SECTION`, ...), within ``limit`` characters."""

    def element(text: str, run: Run) -> dict[str, Any]:
        return {"type": "text", "text": text, **({"style": dict.fromkeys(run.style, True)} if run.style else {})}

    return {
        "type": "rich_text",
        "elements": [
            {"type": kind, "elements": [element(text, run) for text, run in shown]}
            for kind, shown in _fitted(parts, limit)
        ],
    }


def plain(*parts: Part) -> str:
    """The same words for a message's ``text`` (notifications): one line, escaped, echoes still isolated."""
    flat = [Run(escape(one_line(run.text)), echoed=run.echoed) for _, runs in parts for run in runs]
    return "".join(text for _, shown in _fitted([(SECTION, flat)], TEXT_LIMIT) for text, _ in shown)


def section(text: str) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": clip(text, TEXT_LIMIT)}}


def context(*parts: str) -> dict[str, Any]:
    return {"type": "context", "elements": [{"type": "mrkdwn", "text": clip(p, 300)} for p in parts if p]}


def quote(text: str) -> Blocks:
    """The person's input, shortened, as a quote of rich text (no block at all for no text)."""
    return [rich_text((QUOTE, [echo(text, limit=QUOTE_LIMIT)]))] if text else []


def bar(score: float, width: int = 10) -> str:
    filled = max(0, min(width, round(score * width)))
    return "█" * filled + "░" * (width - filled)


def percent(score: float) -> str:
    return f"{score * 100:.1f}%"


def seconds(ms: float) -> str:
    return f"{ms / 1000:.1f} s"


def feedback_block(request_id: str, tally: dict[str, int] | None = None) -> dict[str, Any]:
    """👍 / 👎 with running counts, and "Add a comment"; the block id names the answer."""
    tally = tally or {}

    def button(action: str, label: str) -> dict[str, Any]:
        return {
            "type": "button",
            "action_id": action,
            "value": request_id,
            "text": {"type": "plain_text", "text": label, "emoji": True},
        }

    comments = tally.get("comments", 0)
    return {
        "type": "actions",
        "block_id": FEEDBACK_BLOCK + request_id,
        "elements": [
            button(VOTE_UP, f"👍 {tally.get('up', 0)}"),
            button(VOTE_DOWN, f"👎 {tally.get('down', 0)}"),
            button(COMMENT_ACTION, "💬 Add a comment" + (f" ({comments})" if comments else "")),
        ],
    }


def with_tally(blocks: Blocks, request_id: str, tally: dict[str, int]) -> Blocks:
    """The message's blocks with one answer's feedback counts brought up to date."""
    return [
        feedback_block(request_id, tally) if b.get("block_id") == FEEDBACK_BLOCK + request_id else b for b in blocks
    ]


# --- placeholders -----------------------------------------------------------------------


def _asked(spec: ModelSpec, compare: list[ModelSpec] | None) -> str:
    if compare:
        return "to compare " + ", ".join(f"*{escape(s.title)}*" for s in compare)
    return f"*{escape(spec.title)}*"


def _input(text: str, file_name: str) -> Blocks:
    """What was asked: the text, quoted, and the file a file model reads, named."""
    return [*quote(text), *quote(f"📎 {file_name}" if file_name else "")]


def placeholder_message(
    spec: ModelSpec, *, user: str, text: str, compare: list[ModelSpec] | None = None, file_name: str = ""
) -> dict[str, Any]:
    """Posted right after the ack: who asked, which model (or models), what they asked (and on which file)."""
    who = f"<@{escape(user)}>" if user else "Someone"
    head = f"⏳ {who} asked {_asked(spec, compare)}"
    return {
        "text": clip(f"{head}…", TEXT_LIMIT),
        "blocks": [section(head), *_input(text, file_name), context("Working on it…")],
    }


def placeholder_done(
    spec: ModelSpec,
    *,
    user: str,
    text: str,
    elapsed_ms: float,
    failed: bool,
    compare: list[ModelSpec] | None = None,
    file_name: str = "",
) -> dict[str, Any]:
    """The placeholder once the answer (or the error) is in the thread."""
    who = f"<@{escape(user)}>" if user else "Someone"
    icon, status = ("⚠️", "failed") if failed else ("✅", "answered")
    head = f"{icon} {who} asked {_asked(spec, compare)}"
    return {
        "text": clip(f"{head}: {status}", TEXT_LIMIT),
        "blocks": [
            section(head),
            *_input(text, file_name),
            context(f"{status.capitalize()} in {seconds(elapsed_ms)} · see the thread"),
        ],
    }


# --- help, home and modal -----------------------------------------------------------------


def how_to_run(spec: ModelSpec) -> str:
    """What a person types to run ``spec``: its slash command, or for a model that reads a file (which no
    command carries, so it has none: :func:`bot.core.commands.takes_command`) a mention."""
    return spec.command if takes_command(spec) else f"@bot {spec.name}"


def usage_line(spec: ModelSpec) -> str:
    task = get_task(spec.task)
    example = f"\n      e.g. `{how_to_run(spec)} {escape(clip(spec.example, 150))}`" if spec.example else ""
    return f"• `{how_to_run(spec)}` *{escape(spec.title)}*: {escape(spec.description or task.summary)}{example}"


def warning_message(problem: str, *, then: dict[str, Any] | None = None) -> dict[str, Any]:
    """An ephemeral "⚠️ what went wrong" (escaped), optionally followed by another message's blocks."""
    text = f"⚠️ {escape(problem)}"
    follow = then or {}
    return {
        "response_type": "ephemeral",
        "text": clip(" ".join(filter(None, [text, follow.get("text", "")])), TEXT_LIMIT),
        "blocks": [section(text), *follow.get("blocks", [])],
    }


def how_to_send_a_file(spec: ModelSpec, *, command: bool = False) -> str:
    """How to give the file model ``spec`` its file (plain words, escaped by the message they go in):
    attached to a mention, or on the form; ``command``: said to a slash command, which carries none."""
    kind = media_kind(spec.task) or "image"
    head = (
        f"Slash commands can't carry files, so {spec.name} can't be given one from here."
        if command
        else f"{spec.name} reads {kind} files, and there is none here."
    )
    return (
        f"{head} Attach {with_article(kind)} file to a message that mentions me (`{how_to_run(spec)}`), "
        "or mention me in the file's thread, or use the form at /go."
    )


def usage_message(spec: ModelSpec) -> dict[str, Any]:
    """Ephemeral help for one model, built from the registry."""
    task = get_task(spec.task)
    text = (
        f"*{escape(spec.title)}* ({escape(spec.task)})\n{escape(spec.description or task.summary)}\n"
        f"*Input:* {task.input_format}\n"
        + (f"*Example:* `{how_to_run(spec)} {escape(spec.example)}`" if spec.example else "")
    )
    return {"response_type": "ephemeral", "text": clip(text, TEXT_LIMIT), "blocks": [section(text)]}


def help_message(registry: Registry, *, note: str = "") -> dict[str, Any]:
    """All models, with how to call them (slash command, /hf, or a mention)."""
    lines = [usage_line(spec) for spec in registry]
    intro = (note + "\n") if note else ""
    head = f"{intro}*Models you can run* (also `/hf NAME text`, or mention me: `@bot NAME text`):"
    blocks: Blocks = [section(head)]
    chunk: list[str] = []
    for line in lines:
        if chunk and sum(len(x) + 1 for x in chunk) + len(line) > TEXT_LIMIT - 50:
            blocks.append(section("\n".join(chunk)))
            chunk = []
        chunk.append(line)
    if chunk:
        blocks.append(section("\n".join(chunk)))
    return {"response_type": "ephemeral", "text": clip(head, TEXT_LIMIT), "blocks": blocks[:MESSAGE_BLOCKS]}


def home_view(
    registry: Registry, usage: dict[str, int], tallies: dict[str, dict[str, int]] | None = None
) -> dict[str, Any]:
    """The App Home tab: every model with how often it was used and how people voted."""
    tallies = tallies or {}
    blocks: Blocks = [
        {"type": "header", "text": {"type": "plain_text", "text": "Hugging Face models"}},
        context("Run one with its slash command, `/hf NAME text`, or by mentioning me in a channel."),
    ]
    for spec in registry:
        count = usage.get(spec.name, 0)
        votes = tallies.get(spec.name, {})
        blocks.append(section(f"*{escape(spec.title)}*  `{how_to_run(spec)}`\n{escape(spec.description)}"))
        blocks.append(
            context(
                f"{escape(spec.task)} · `{escape(spec.model)}` · used {count} time{'s' if count != 1 else ''}"
                f" · 👍 {votes.get('up', 0)} · 👎 {votes.get('down', 0)}"
            )
        )
    return {"type": "home", "blocks": blocks[:VIEW_BLOCKS]}


def model_picker_modal(registry: Registry, *, private_metadata: str, has_file: bool = False) -> dict[str, Any]:
    """The modal a message shortcut opens: which model to run on that message (the models that read
    a file first, when it has one)."""
    specs = sorted(registry, key=lambda s: media_kind(s.task) is None) if has_file else list(registry)
    # Slack allows a static select 100 options.
    options = [{"text": {"type": "plain_text", "text": clip(s.title, 75)}, "value": s.name} for s in specs[:100]]
    blocks = [
        {
            "type": "input",
            "block_id": MODEL_SELECT_BLOCK,
            "label": {"type": "plain_text", "text": "Model"},
            "element": {"type": "static_select", "action_id": MODEL_SELECT_ACTION, "options": options},
        },
        context("The answer appears in the message's thread."),
    ]
    return modal(RUN_MODAL_CALLBACK, "Run a model", "Run", private_metadata=private_metadata, blocks=blocks)


def comment_modal(*, private_metadata: str) -> dict[str, Any]:
    """The modal behind "Add a comment"."""
    blocks = [
        {
            "type": "input",
            "block_id": COMMENT_BLOCK,
            "label": {"type": "plain_text", "text": "What was right or wrong with it?"},
            "element": {"type": "plain_text_input", "action_id": COMMENT_INPUT, "multiline": True, "max_length": 2000},
        }
    ]
    return modal(
        COMMENT_MODAL_CALLBACK, "Comment on the answer", "Save", private_metadata=private_metadata, blocks=blocks
    )


def modal(callback_id: str, title: str, submit: str, *, private_metadata: str, blocks: Blocks) -> dict[str, Any]:
    """A modal with a submit and a cancel button; ``private_metadata`` comes back on submission."""
    return {
        "type": "modal",
        "callback_id": callback_id,
        "private_metadata": private_metadata,
        "title": {"type": "plain_text", "text": title},
        "submit": {"type": "plain_text", "text": submit},
        "close": {"type": "plain_text", "text": "Cancel"},
        "blocks": blocks,
    }
