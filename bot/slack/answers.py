"""A model's answer in Slack: one renderer per task, and the messages that carry answers.

:data:`RENDERERS` is the Slack half of a task (its input format is in
:mod:`inference.tasks`, its runners in :mod:`inference.backends`, its form
renderer in ``bot/form/web/form/renderers.js``): task name -> a function from
the model's ``result`` and the person's input to rich-text parts. The bot's own
bars and scores are its words; every label, token and sentence the model gives
back is echoed (:func:`bot.slack.ui.echo`). ``tests/bot/slack/test_answers.py``
fails when a task in :data:`inference.tasks.TASKS` has no renderer here.

The messages built from them: one answer (:func:`answer_message`), a failed
one (:func:`error_message`) and a comparison's columns (:func:`compare_message`).
The building blocks (rich text, sections, feedback buttons) are in
:mod:`bot.slack.ui`.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from typing import Any

from bot.core.mrkdwn import clip, escape
from bot.slack.ui import (
    MESSAGE_BLOCKS,
    PREFORMATTED,
    QUOTE,
    SECTION,
    TEXT_LIMIT,
    Blocks,
    Part,
    Run,
    bar,
    context,
    echo,
    echo_lines,
    feedback_block,
    own,
    percent,
    plain,
    quote,
    rich_text,
    seconds,
    section,
)
from inference.registry import ModelSpec

#: A label, token, sentence or short answer a model gives back, as shown.
ECHO_LIMIT = 200
#: The most detected objects listed (the annotated picture shows them all).
MAX_OBJECTS = 20
#: Between a segment's start and end: an en dash, as in ``[0:00\u20130:30]``.
RANGE_DASH = "\u2013"
#: Characters a transcript's lines may take in an answer: one message's text, less its title and a note.
TRANSCRIPT_LIMIT = TEXT_LIMIT - 300

#: How a task's answer becomes rich text: ``(result, source) -> parts``, ``source`` being the person's input.
Renderer = Callable[[dict[str, Any], str], list[Part]]


def _lines(lines: Iterable[list[Run]]) -> list[Run]:
    """Several lines as the runs of one paragraph, a line break between each."""
    runs: list[Run] = []
    for number, line in enumerate(lines):
        runs += [own("\n")] * bool(number) + line
    return runs


def _scored(bar_score: float, label: Run, *after: Run) -> list[Run]:
    """One ranked line: the bot's bar in code, then the label and what follows it."""
    return [own(bar(bar_score), "code"), own(" "), label, *after]


def _label(item: dict[str, Any]) -> list[Run]:
    score = float(item.get("score", 0))
    return _scored(score, echo(str(item.get("label", "?")), "bold", limit=ECHO_LIMIT), own(f" {percent(score)}"))


def _similar(item: dict[str, Any]) -> list[Run]:
    score = float(item.get("score", 0))
    sentence = echo(str(item.get("sentence", "")), limit=ECHO_LIMIT)
    return _scored(max(0.0, score), own(f"{score:.2f}", "bold"), own("  "), sentence)


def _prediction(item: dict[str, Any]) -> list[Run]:
    score = float(item.get("score", 0))
    token = echo(str(item.get("token", "")).strip(), "bold", limit=ECHO_LIMIT)
    return _scored(score, token, own(f" {percent(score)}: "), echo(str(item.get("sequence", "")), limit=ECHO_LIMIT))


def _entities(source: str, entities: list[dict[str, Any]]) -> list[Run]:
    """The input with each entity in bold and its label after it, every piece of it echoed."""
    runs: list[Run] = []
    cursor = 0
    for entity in sorted(entities, key=lambda e: int(e.get("start", 0))):
        start, end = int(entity.get("start", 0)), int(entity.get("end", 0))
        if start < cursor or end <= start or end > len(source):
            continue
        label = echo(str(entity.get("label", "?")), "code", limit=ECHO_LIMIT)
        runs += [echo(source[cursor:start]), echo(source[start:end], "bold"), own(" "), label]
        cursor = end
    return [*runs, echo(source[cursor:])]


def _paragraph(runs: list[Run], empty: str) -> Part:
    """The runs as a paragraph, or the note ``empty`` in italics when the model gave nothing to show."""
    return (SECTION, runs or [own(empty, "italic")])


def _prose(text: str, empty: str) -> Part:
    """A model's own writing (a summary, a translation, a reply) as a quote, its lines kept."""
    return (QUOTE, echo_lines(text)) if text.strip() else _paragraph([], empty)


# --- one renderer per task ------------------------------------------------------------------


def _ranked_labels(result: dict[str, Any], source: str) -> list[Part]:
    return [_paragraph(_lines(map(_label, (result.get("labels") or [])[:5])), "No labels.")]


def _token_classification(result: dict[str, Any], source: str) -> list[Part]:
    entities = result.get("entities") or []
    return [_paragraph(_entities(source, entities) if entities else [], "No entities found.")]


def _fill_mask(result: dict[str, Any], source: str) -> list[Part]:
    return [_paragraph(_lines(map(_prediction, (result.get("predictions") or [])[:5])), "No predictions.")]


def _text_generation(result: dict[str, Any], source: str) -> list[Part]:
    return [_prose(str(result.get("text", "")), "(no text)")]


def _feature_extraction(result: dict[str, Any], source: str) -> list[Part]:
    values = ", ".join(f"{float(v):.3f}" for v in (result.get("embedding") or [])[:6])
    size = echo(str(result.get("dimensions", "?")), "bold", limit=ECHO_LIMIT)
    return [(SECTION, [own("A vector of "), size, own(" dimensions: "), own(f"[{values}, …]", "code")])]


def _summarization(result: dict[str, Any], source: str) -> list[Part]:
    return [_prose(str(result.get("summary", "")), "(no summary)")]


def _translation(result: dict[str, Any], source: str) -> list[Part]:
    return [_prose(str(result.get("translation", "")), "(no translation)")]


def _question_answering(result: dict[str, Any], source: str) -> list[Part]:
    answer = str(result.get("answer", ""))
    shown = echo(answer, "bold", limit=ECHO_LIMIT) if answer else own("(no answer found)", "italic")
    return [(SECTION, [shown, own(f"  ({percent(float(result.get('score', 0)))} confident)")])]


def _sentence_similarity(result: dict[str, Any], source: str) -> list[Part]:
    return [_paragraph(_lines(map(_similar, result.get("scores") or [])), "No scores.")]


def _items(result: dict[str, Any], name: str) -> list[dict[str, Any]]:
    """The objects listed under ``name``; none where it is not a list (a result is the model's, not trusted)."""
    value = result.get(name)
    return [item for item in value if isinstance(item, dict)] if isinstance(value, list) else []


def _object_detection(result: dict[str, Any], source: str) -> list[Part]:
    found = sorted(_items(result, "objects"), key=lambda o: float(o.get("score", 0)), reverse=True)
    lines = [_label(o) for o in found[:MAX_OBJECTS]]
    if len(found) > MAX_OBJECTS:
        lines.append([own(f"…and {len(found) - MAX_OBJECTS} more (all of them in the picture).", "italic")])
    return [_paragraph(_lines(lines), "No objects found.")]


def _image_to_text(result: dict[str, Any], source: str) -> list[Part]:
    return [_prose(str(result.get("caption", "")), "(no caption)")]


def clock(seconds: float) -> str:
    """``seconds`` into a recording as ``m:ss`` (``h:mm:ss`` past an hour)."""
    whole = max(0, int(seconds))
    hours, rest = divmod(whole, 3600)
    return f"{hours}:{rest // 60:02d}:{rest % 60:02d}" if hours else f"{rest // 60}:{rest % 60:02d}"


def _segment(chunk: dict[str, Any]) -> list[Run]:
    start, end = float(chunk.get("start") or 0), float(chunk.get("end") or 0)
    return [
        own(f"[{clock(start)}{RANGE_DASH}{clock(end)}]", "code"),
        own(" "),
        echo(str(chunk.get("text", "")).strip()),
    ]


def _shown_length(runs: list[Run]) -> int:
    """How many characters ``runs`` take in a message (an echo's isolate included), and its line break."""
    return 1 + sum(len(run.text) + (2 if run.echoed else 0) for run in runs)


def _transcript(result: dict[str, Any], source: str) -> list[Part]:
    """One timestamped line per segment; what does not fit in one message is left out, with a note."""
    chunks = [c for c in _items(result, "chunks") if str(c.get("text", "")).strip()]
    if not chunks:
        return [_prose(str(result.get("text", "")), "(no speech found)")]
    lines: list[list[Run]] = []
    room = TRANSCRIPT_LIMIT
    for chunk in chunks:
        line = _segment(chunk)
        if _shown_length(line) > room:
            break
        lines.append(line)
        room -= _shown_length(line)
    if len(lines) < len(chunks):
        left = clock(float(chunks[len(lines)].get("start") or 0))
        lines.append(
            [own(f"✂️ The transcript is longer than a Slack message: from {left} on, it is left out.", "italic")]
        )
    return [(SECTION, _lines(lines))]


#: Task name (as in :data:`inference.tasks.TASKS`) -> its Slack renderer.
RENDERERS: dict[str, Renderer] = {
    "text-classification": _ranked_labels,
    "token-classification": _token_classification,
    "zero-shot-classification": _ranked_labels,
    "fill-mask": _fill_mask,
    "text-generation": _text_generation,
    "feature-extraction": _feature_extraction,
    "summarization": _summarization,
    "translation": _translation,
    "question-answering": _question_answering,
    "sentence-similarity": _sentence_similarity,
    "image-classification": _ranked_labels,
    "zero-shot-image-classification": _ranked_labels,
    "object-detection": _object_detection,
    "image-to-text": _image_to_text,
    "automatic-speech-recognition": _transcript,
}


def answer_parts(task: str, result: dict[str, Any], source: str) -> list[Part]:
    """The answer as rich text for its task: the bot's bars and scores, the model's words echoed.

    A task with no renderer (which the tests do not let in) shows the result as JSON, echoed.
    """
    render = RENDERERS.get(task)
    if render is None:
        return [(PREFORMATTED, [echo(json.dumps(result, ensure_ascii=False))])]
    return render(result, source)


# --- the messages -----------------------------------------------------------------------------


def _titled(title: str, parts: list[Part]) -> list[Part]:
    """The model's title in bold above its answer (a paragraph after it needs its own line break)."""
    head = [own(title, "bold")]
    if parts and parts[0][0] == SECTION:
        return [(SECTION, [*head, own("\n"), *parts[0][1]]), *parts[1:]]
    return [(SECTION, head), *parts]


#: Said under a chat answer whose conversation lost its oldest turns; once a thread has said it, later answers
#: there do not say it again (:attr:`bot.slack.reply.ReplyTarget.trim_noted`).
TRIMMED_NOTE = "🧵 Older messages were left out: the conversation is longer than the model reads."


def _notes(result: dict[str, Any]) -> list[str]:
    notes = []
    if result.get("truncated"):
        notes.append("✂️ The input was longer than the model reads; only its beginning was used.")
    if int(result.get("trimmed_turns") or 0) > 0:
        notes.append(TRIMMED_NOTE)
    chunks = result.get("chunks")  # a count of parts; a transcript's are its timed segments, shown as lines
    if isinstance(chunks, int) and not isinstance(chunks, bool) and chunks > 1:
        notes.append(f"🧩 Long input: processed in {chunks} parts.")
    return notes


#: Said in the thread when an answer's picture (the boxes drawn on the image) could not be posted there.
PICTURE_NOT_POSTED = "🖼️ The picture with the boxes drawn could not be posted here; the objects are listed above."


def footer(spec: ModelSpec, *, elapsed_ms: float | None, request_id: str) -> str:
    parts = [f"`{spec.name}`"]
    if spec.revision:
        parts[0] += f" @ `{spec.revision[:7]}`"
    if elapsed_ms is not None:
        parts.append(f"answered in {seconds(elapsed_ms)}")
    if request_id:
        parts.append(f"request `{escape(request_id)}`")
    return " · ".join(parts)


def answer_blocks(
    spec: ModelSpec, result: dict[str, Any], *, source: str, elapsed_ms: float | None, request_id: str
) -> Blocks:
    """One answer: the result for its task, notes, the footer and its feedback buttons."""
    blocks: Blocks = [rich_text(*_titled(spec.title, answer_parts(spec.task, result, source)))]
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
    body = answer_parts(spec.task, result, source)
    blocks = answer_blocks(spec, result, source=source, elapsed_ms=elapsed_ms, request_id=request_id)
    return {"text": plain((SECTION, [own(f"{spec.title}: ")]), *body), "blocks": blocks}


def error_message(spec: ModelSpec | None, description: str, *, request_id: str) -> dict[str, Any]:
    """The thread reply when a model failed: plain words and the request id."""
    title = escape(spec.title) if spec else "The model"
    text = f"⚠️ *{title}* could not answer. {escape(description)}"
    blocks: Blocks = [section(text)]
    if request_id:
        blocks.append(context(f"If this keeps happening, quote request `{escape(request_id)}`."))
    return {"text": clip(text, TEXT_LIMIT), "blocks": blocks}


def compare_message(specs: list[ModelSpec], text: str, columns: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """One reply with a column per model: its answer, time taken and feedback, or its error, or ⏳."""
    done = sum(1 for spec in specs if spec.name in columns)
    head = f"*Comparison* of {len(specs)} models ({done} of {len(specs)} answered)"
    blocks: Blocks = [section(head), *quote(text)]
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
    summary = f"Comparison of {', '.join(escape(s.title) for s in specs)}: {done} of {len(specs)} answered"
    return {"text": clip(summary, TEXT_LIMIT), "blocks": blocks[:MESSAGE_BLOCKS]}
