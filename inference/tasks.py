"""The supported tasks: how one line of text maps to a task's inputs.

Slack and the form send a single string, so each task documents its input
format here, and parses it here. This module is pure Python so the router
can validate input and show help without importing torch.

A task is found from its entry in :data:`TASKS`, keyed by its name; each other
piece of it is keyed by the same name (docs/architecture.md, "Adding a task"):

1. here: its summary, one-line input format, result shape and parser;
2. its runner on each backend, ``module:Class`` in :data:`inference.backends.BACKENDS`
   (the classes in ``inference/runners/``; ``torch`` must serve every task), its
   default backend in :data:`inference.backends.PREFERRED`, and the converter
   ``python -m inference warm`` runs for a fast backend (that backend's ``converter``);
3. its Slack renderer, :data:`bot.slack.answers.RENDERERS`;
4. its form renderer, the ``renderers`` table in ``bot/form/web/form/renderers.js``.

A task here without a torch runner, a Slack renderer or a form renderer fails
the tests (``tests/inference/test_handler_tasks.py``,
``tests/bot/slack/test_answers.py``, ``tests/bot/form/test_page.py``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from inference.errors import InputTooLong, InvalidInput

SEPARATOR = "|"


def check_unicode(text: str) -> None:
    """Refuse text that is not Unicode characters: JSON's ``"\\ud800"`` decodes to a lone surrogate,
    which no tokenizer reads and no UTF-8 store, log or Slack message can hold. The router checks
    where text enters; the model side again, for a direct invocation.

    Raises:
        InvalidInput: the text holds a lone surrogate, named with its position.
    """
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise InvalidInput(
            f"The text is not valid Unicode: character {exc.start + 1:,} is U+{ord(text[exc.start]):04X}, "
            "half of a surrogate pair without its other half. Remove it and try again."
        ) from exc


def require_text(text: object) -> str:
    """``text``, if it is a string.

    Raises:
        InvalidInput: naming the type it is instead.
    """
    if not isinstance(text, str):
        raise InvalidInput(f"The text must be a string, not {type(text).__name__}.")
    return text


def check_text(text: object, *, model: str, max_chars: int) -> str:
    """The one check of a model's text, for the router (before it pays for an invocation) and for the
    model side (a direct invocation): a string of Unicode characters, at most ``max_chars`` long.

    Raises:
        InvalidInput: not a string, or not Unicode (:func:`check_unicode`).
        InputTooLong: longer than ``max_chars``, naming ``model`` and its cap.
    """
    text = require_text(text)
    if len(text) > max_chars:
        raise InputTooLong(f"The text is {len(text):,} characters long; {model} accepts at most {max_chars:,}.")
    check_unicode(text)
    return text


def _split(text: str, *, parts: int, names: tuple[str, ...]) -> list[str]:
    pieces = [p.strip() for p in text.split(SEPARATOR, parts - 1)]
    if len(pieces) != parts or not all(pieces):
        raise InvalidInput(f"Expected `{' | '.join(names)}`, separated by `{SEPARATOR}`.")
    return pieces


def _plain(text: str, parameters: dict[str, Any]) -> dict[str, Any]:
    return {"text": text}


def _labels(raw: Any) -> list[str]:
    if isinstance(raw, str):
        raw = raw.split(",")
    if not isinstance(raw, list):
        return []
    return [str(label).strip() for label in raw if str(label).strip()]


def _zero_shot(text: str, parameters: dict[str, Any]) -> dict[str, Any]:
    if SEPARATOR in text:
        body, labels_text = (p.strip() for p in text.rsplit(SEPARATOR, 1))
        labels = _labels(labels_text)
    else:
        body, labels = text, _labels(parameters.get("candidate_labels"))
    if not body:
        raise InvalidInput("There is no text to classify before the `|`.")
    if len(labels) < 2:
        raise InvalidInput("Give at least two labels: `text | label1, label2`.")
    return {"text": body, "candidate_labels": labels}


def _question_answering(text: str, parameters: dict[str, Any]) -> dict[str, Any]:
    question, context = _split(text, parts=2, names=("question", "context"))
    return {"question": question, "context": context}


def _similarity(text: str, parameters: dict[str, Any]) -> dict[str, Any]:
    pieces = [p.strip() for p in text.split(SEPARATOR)]
    if len(pieces) < 2 or not all(pieces):
        raise InvalidInput("Expected `sentence A | sentence B` (add more `| sentence` to rank several).")
    return {"source": pieces[0], "sentences": pieces[1:]}


def _fill_mask(text: str, parameters: dict[str, Any]) -> dict[str, Any]:
    if "[MASK]" not in text and "<mask>" not in text:
        raise InvalidInput("Put `[MASK]` where the missing word goes.")
    return {"text": text}


@dataclass(frozen=True)
class Task:
    """What a task takes, how to write it on one line, and what it returns.

    ``name`` keys the task's other pieces: its runners, its Slack and its form renderer (the module docstring).
    """

    name: str
    summary: str
    input_format: str
    result: str
    parse: Callable[[str, dict[str, Any]], dict[str, Any]] = _plain
    native_pipeline: bool = True
    aliases: tuple[str, ...] = field(default_factory=tuple)


TASKS: dict[str, Task] = {
    t.name: t
    for t in (
        Task(
            "text-classification",
            "Labels a text (sentiment, topic, toxicity...).",
            "any text",
            '{"labels": [{"label", "score"}], "truncated": bool}',
            aliases=("sentiment-analysis",),
        ),
        Task(
            "token-classification",
            "Finds entities (people, places, organisations...) in a text.",
            "any text",
            '{"entities": [{"label", "word", "start", "end", "score"}]} (the whole text, read in overlapping windows)',
            aliases=("ner",),
        ),
        Task(
            "zero-shot-classification",
            "Scores a text against labels you choose.",
            "`text | label1, label2, ...` (labels default to the registry's `candidate_labels`)",
            '{"labels": [{"label", "score"}], "truncated": bool}',
            parse=_zero_shot,
        ),
        Task(
            "fill-mask",
            "Guesses the word hidden behind `[MASK]`.",
            "a sentence with `[MASK]` in it",
            '{"predictions": [{"token", "score", "sequence"}]}',
            parse=_fill_mask,
        ),
        Task(
            "text-generation",
            "Answers a prompt with a chat model.",
            "a question or instruction",
            '{"text": str}',
        ),
        Task(
            "feature-extraction",
            "Turns a text into an embedding vector.",
            "any text",
            '{"dimensions": int, "embedding": [float], "truncated": bool}',
        ),
        Task(
            "summarization",
            "Summarizes a long text; longer than the model's window is summarized in chunks.",
            "the text to summarize",
            '{"summary": str, "chunks": int}',
            native_pipeline=False,
        ),
        Task(
            "translation",
            "Translates a text.",
            "the text to translate",
            '{"translation": str, "chunks": int}',
            native_pipeline=False,
        ),
        Task(
            "question-answering",
            "Finds the answer to a question inside a text you give.",
            "`question | context`",
            '{"answer": str, "score": float, "start": int, "end": int, "truncated": bool} (start, end: characters of the context)',
            parse=_question_answering,
            native_pipeline=False,
        ),
        Task(
            "sentence-similarity",
            "Scores how close in meaning sentences are (cosine of the embeddings, pooled as the model says).",
            "`sentence A | sentence B` (more `| sentence` ranks several against A)",
            '{"source": str, "scores": [{"sentence", "score"}] (highest score first), "truncated": bool}',
            parse=_similarity,
            native_pipeline=False,
        ),
    )
}

ALIASES = {alias: task.name for task in TASKS.values() for alias in task.aliases}


def get_task(name: str) -> Task:
    """Return the task called ``name`` (or one of its aliases)."""
    return TASKS[ALIASES.get(name, name)]


def parse_input(task: str, text: Any, parameters: dict[str, Any] | None = None) -> dict[str, Any]:
    """Validate one line of text and split it into the task's inputs.

    Raises:
        InvalidInput: empty text, wrong type, or a line that does not fit the task's format.
    """
    text = require_text(text).strip()
    if not text:
        raise InvalidInput("The text is empty. " + f"Expected {get_task(task).input_format}.")
    return get_task(task).parse(text, parameters or {})
