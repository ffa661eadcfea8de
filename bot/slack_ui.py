"""Block Kit builders: pure functions from data to Slack message payloads.

Everything a person typed goes through :func:`escape` before it is placed in
a message, so nobody can make the bot ping ``@channel`` or forge a link.
"""

from __future__ import annotations

import json
from typing import Any

from inference.registry import ModelSpec, Registry
from inference.tasks import get_task

#: Slack rejects section text longer than 3,000 characters.
SECTION_LIMIT = 3000
#: A message's own ``text`` (its notification, and what clients without blocks show): one section's worth.
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

Blocks = list[dict[str, Any]]


def escape(text: str) -> str:
    """Escape the three characters Slack treats as control sequences."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def clip(text: str, limit: int) -> str:
    """Shorten to ``limit`` characters with an ellipsis, for Slack's size limits."""
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def quote(text: str, limit: int = QUOTE_LIMIT) -> str:
    """The person's input, escaped, shortened and shown as a block quote.

    It is wrapped in Unicode's first-strong isolate (U+2068 … U+2069), so right-to-left or
    override characters in it cannot reorder the rest of the message.
    """
    lines = clip(" ".join(text.split()), limit)
    return "> \u2068" + escape(lines) + "\u2069"


def section(text: str) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": clip(text, SECTION_LIMIT)}}


def context(*parts: str) -> dict[str, Any]:
    return {"type": "context", "elements": [{"type": "mrkdwn", "text": clip(p, 300)} for p in parts if p]}


def bar(score: float, width: int = 10) -> str:
    filled = max(0, min(width, round(score * width)))
    return "█" * filled + "░" * (width - filled)


def percent(score: float) -> str:
    return f"{score * 100:.1f}%"


def seconds(ms: float) -> str:
    return f"{ms / 1000:.1f} s"


# --- answers per task -----------------------------------------------------------------


def _ranked(labels: list[dict[str, Any]], limit: int = 5) -> str:
    return "\n".join(
        f"`{bar(float(item.get('score', 0)))}` *{escape(str(item.get('label', '?')))}* {percent(float(item.get('score', 0)))}"
        for item in labels[:limit]
    )


def _entities(source: str, entities: list[dict[str, Any]]) -> str:
    """The input with each entity in bold and its label after it, escaped piece by piece."""
    pieces: list[str] = []
    cursor = 0
    for entity in sorted(entities, key=lambda e: int(e.get("start", 0))):
        start, end = int(entity.get("start", 0)), int(entity.get("end", 0))
        if start < cursor or end <= start or end > len(source):
            continue
        pieces.append(escape(source[cursor:start]))
        pieces.append(f"*{escape(source[start:end])}* `{escape(str(entity.get('label', '?')))}`")
        cursor = end
    pieces.append(escape(source[cursor:]))
    return "".join(pieces)


def answer_text(task: str, result: dict[str, Any], source: str) -> str:
    """The answer in mrkdwn, formatted for its task."""
    if task in ("text-classification", "zero-shot-classification"):
        return _ranked(result.get("labels") or []) or "_No labels._"
    if task == "token-classification":
        entities = result.get("entities") or []
        if not entities:
            return "_No entities found._"
        return _entities(source, entities)
    if task == "summarization":
        return escape(str(result.get("summary", "")))
    if task == "translation":
        return escape(str(result.get("translation", "")))
    if task == "text-generation":
        return escape(str(result.get("text", ""))) or "_(no text)_"
    if task == "question-answering":
        answer = escape(str(result.get("answer", ""))) or "_(no answer found)_"
        return f"*{answer}*  ({percent(float(result.get('score', 0)))} confident)"
    if task == "sentence-similarity":
        return "\n".join(
            f"`{bar(max(0.0, float(s.get('score', 0))))}` *{float(s.get('score', 0)):.2f}*  {escape(clip(str(s.get('sentence', '')), 200))}"
            for s in result.get("scores") or []
        )
    if task == "fill-mask":
        return "\n".join(
            f"`{bar(float(p.get('score', 0)))}` *{escape(str(p.get('token', '')).strip())}* "
            f"{percent(float(p.get('score', 0)))}: {escape(str(p.get('sequence', '')))}"
            for p in (result.get("predictions") or [])[:5]
        )
    if task == "feature-extraction":
        values = ", ".join(f"{float(v):.3f}" for v in (result.get("embedding") or [])[:6])
        return f"A vector of *{result.get('dimensions', '?')}* dimensions: `[{values}, …]`"
    return f"```{escape(clip(json.dumps(result, ensure_ascii=False), 2500))}```"


def _notes(result: dict[str, Any]) -> list[str]:
    notes = []
    if result.get("truncated"):
        notes.append("✂️ The input was longer than the model reads; only its beginning was used.")
    if int(result.get("chunks") or 1) > 1:
        notes.append(f"🧩 Long input: processed in {result['chunks']} parts.")
    return notes


def footer(spec: ModelSpec, *, elapsed_ms: float | None, request_id: str) -> str:
    parts = [f"`{spec.name}`"]
    if spec.revision:
        parts[0] += f" @ `{spec.revision[:7]}`"
    if elapsed_ms is not None:
        parts.append(f"answered in {seconds(elapsed_ms)}")
    if request_id:
        parts.append(f"request `{escape(request_id)}`")
    return " · ".join(parts)


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


def answer_blocks(
    spec: ModelSpec, result: dict[str, Any], *, source: str, elapsed_ms: float | None, request_id: str
) -> Blocks:
    """One answer: the result for its task, notes, the footer and its feedback buttons."""
    blocks: Blocks = [section(f"*{escape(spec.title)}*\n{answer_text(spec.task, result, source)}")]
    notes = _notes(result)
    if notes:
        blocks.append(context(*notes))
    blocks.append(context(footer(spec, elapsed_ms=elapsed_ms, request_id=request_id)))
    blocks.append(feedback_block(request_id))
    return blocks


def answer_message(
    spec: ModelSpec, result: dict[str, Any], *, source: str, elapsed_ms: float | None, request_id: str
) -> dict[str, Any]:
    """The thread reply carrying a model's answer."""
    body = answer_text(spec.task, result, source)
    blocks = answer_blocks(spec, result, source=source, elapsed_ms=elapsed_ms, request_id=request_id)
    return {"text": clip(f"{spec.title}: {body}", TEXT_LIMIT), "blocks": blocks}


def error_message(spec: ModelSpec | None, description: str, *, request_id: str) -> dict[str, Any]:
    """The thread reply when a model failed: plain words and the request id."""
    title = escape(spec.title) if spec else "The model"
    text = f"⚠️ *{title}* could not answer. {escape(description)}"
    blocks: Blocks = [section(text)]
    if request_id:
        blocks.append(context(f"If this keeps happening, quote request `{escape(request_id)}`."))
    return {"text": clip(text, TEXT_LIMIT), "blocks": blocks}


# --- placeholders -----------------------------------------------------------------------


def _asked(spec: ModelSpec, compare: list[ModelSpec] | None) -> str:
    if compare:
        return "to compare " + ", ".join(f"*{escape(s.title)}*" for s in compare)
    return f"*{escape(spec.title)}*"


def placeholder_message(
    spec: ModelSpec, *, user: str, text: str, compare: list[ModelSpec] | None = None
) -> dict[str, Any]:
    """Posted right after the ack: who asked, which model (or models), what they asked."""
    who = f"<@{escape(user)}>" if user else "Someone"
    head = f"⏳ {who} asked {_asked(spec, compare)}"
    return {
        "text": clip(f"{head}…", TEXT_LIMIT),
        "blocks": [section(f"{head}\n{quote(text)}"), context("Working on it…")],
    }


def placeholder_done(
    spec: ModelSpec, *, user: str, text: str, elapsed_ms: float, failed: bool, compare: list[ModelSpec] | None = None
) -> dict[str, Any]:
    """The placeholder once the answer (or the error) is in the thread."""
    who = f"<@{escape(user)}>" if user else "Someone"
    icon, status = ("⚠️", "failed") if failed else ("✅", "answered")
    head = f"{icon} {who} asked {_asked(spec, compare)}"
    return {
        "text": clip(f"{head}: {status}", TEXT_LIMIT),
        "blocks": [
            section(f"{head}\n{quote(text)}"),
            context(f"{status.capitalize()} in {seconds(elapsed_ms)} · see the thread"),
        ],
    }


# --- help, home and modal -----------------------------------------------------------------


def usage_line(spec: ModelSpec) -> str:
    task = get_task(spec.task)
    example = f"\n      e.g. `{spec.command} {escape(clip(spec.example, 150))}`" if spec.example else ""
    return f"• `{spec.command}` *{escape(spec.title)}*: {escape(spec.description or task.summary)}{example}"


def warning_message(problem: str, *, then: dict[str, Any] | None = None) -> dict[str, Any]:
    """An ephemeral "⚠️ what went wrong" (escaped), optionally followed by another message's blocks."""
    text = f"⚠️ {escape(problem)}"
    follow = then or {}
    return {
        "response_type": "ephemeral",
        "text": clip(" ".join(filter(None, [text, follow.get("text", "")])), TEXT_LIMIT),
        "blocks": [section(text), *follow.get("blocks", [])],
    }


def usage_message(spec: ModelSpec) -> dict[str, Any]:
    """Ephemeral help for one model, built from the registry."""
    task = get_task(spec.task)
    text = (
        f"*{escape(spec.title)}* ({escape(spec.task)})\n{escape(spec.description or task.summary)}\n"
        f"*Input:* {task.input_format}\n"
        + (f"*Example:* `{spec.command} {escape(spec.example)}`" if spec.example else "")
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
        if chunk and sum(len(x) + 1 for x in chunk) + len(line) > SECTION_LIMIT - 50:
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
        blocks.append(section(f"*{escape(spec.title)}*  `{spec.command}`\n{escape(spec.description)}"))
        blocks.append(
            context(
                f"{escape(spec.task)} · `{escape(spec.model)}` · used {count} time{'s' if count != 1 else ''}"
                f" · 👍 {votes.get('up', 0)} · 👎 {votes.get('down', 0)}"
            )
        )
    return {"type": "home", "blocks": blocks[:VIEW_BLOCKS]}


def model_picker_modal(registry: Registry, *, private_metadata: str) -> dict[str, Any]:
    """The modal a message shortcut opens: which model to run on that message."""
    # Slack allows a static select 100 options.
    options = [
        {"text": {"type": "plain_text", "text": clip(s.title, 75)}, "value": s.name} for s in list(registry)[:100]
    ]
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


def compare_message(specs: list[ModelSpec], text: str, columns: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """One reply with a column per model: its answer, time taken and feedback, or its error, or ⏳."""
    done = sum(1 for spec in specs if spec.name in columns)
    head = f"*Comparison* of {len(specs)} models ({done} of {len(specs)} answered)\n{quote(text)}"
    blocks: Blocks = [section(head)]
    for spec in specs:
        blocks.append({"type": "divider"})
        column = columns.get(spec.name)
        if column is None:
            blocks.append(section(f"*{escape(spec.title)}*\n⏳ Working on it…"))
        elif "error" in column:
            blocks.append(section(f"*{escape(spec.title)}*\n⚠️ {escape(str(column['error']))}"))
            blocks.append(
                context(footer(spec, elapsed_ms=column.get("elapsed_ms"), request_id=column.get("request_id", "")))
            )
        else:
            blocks.extend(
                answer_blocks(
                    spec,
                    column["result"],
                    source=text,
                    elapsed_ms=column.get("elapsed_ms"),
                    request_id=column.get("request_id", ""),
                )
            )
    summary = f"Comparison of {', '.join(s.title for s in specs)}: {done} of {len(specs)} answered"
    return {"text": clip(summary, TEXT_LIMIT), "blocks": blocks[:MESSAGE_BLOCKS]}
