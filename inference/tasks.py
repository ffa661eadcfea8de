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
4. its form renderer, the ``renderers`` table in ``bot/form/web/form/renderers.js``;
5. for a task that reads a file (``media``), what it draws on the file, if anything: :data:`inference.service.ANNOTATORS`.

A task here without a torch runner, a Slack renderer or a form renderer fails
the tests (``tests/inference/test_handler_tasks.py``,
``tests/bot/slack/test_answers.py``, ``tests/bot/form/test_page.py``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from inference.errors import InputTooLong, InvalidInput
from inference.media import AUDIO, IMAGE

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


#: A chat request's earlier turns (``"messages"``, beside ``"text"``, the new user turn) and how many
#: turns the caller already left out (``"trimmed_turns"``); :func:`inference.service.parse_event`
#: hands both to the text-generation parser, :func:`_chat`, in the runner's parameters.
MESSAGES, TRIMMED_TURNS = "messages", "trimmed_turns"
#: The roles an earlier turn may have (a ``system`` prompt is the registry's ``parameters.system``).
CHAT_ROLES = ("user", "assistant")
#: The most earlier turns one request may carry.
MAX_TURNS = 100


def check_messages(value: object) -> list[dict[str, str]]:
    """A chat's earlier turns, oldest first, checked: a list of at most :data:`MAX_TURNS`
    ``{"role": "user" | "assistant", "content": str}`` objects of Unicode text. ``None`` is no history.

    Raises:
        InvalidInput: one message naming the first thing wrong (which turn, and what).
    """
    if value is None:
        return []
    if not isinstance(value, list):
        raise InvalidInput(f"`messages` must be a list of turns, not {type(value).__name__}.")
    if len(value) > MAX_TURNS:
        raise InvalidInput(f"`messages` holds {len(value):,} turns; at most {MAX_TURNS} are accepted.")
    turns = []
    for number, turn in enumerate(value, start=1):
        if not isinstance(turn, dict) or set(turn) != {"role", "content"}:
            raise InvalidInput(f"Turn {number} of `messages` must be an object with exactly `role` and `content`.")
        role, content = turn["role"], turn["content"]
        if role not in CHAT_ROLES:
            raise InvalidInput(f"Turn {number} of `messages` has the role {role!r}; use `user` or `assistant`.")
        if not isinstance(content, str):
            raise InvalidInput(
                f"Turn {number} of `messages` must have text as its `content`, not {type(content).__name__}."
            )
        check_unicode(content)
        turns.append({"role": role, "content": content})
    return turns


def check_trimmed_turns(value: object) -> int:
    """How many turns the caller left out before sending (0 when absent).

    Raises:
        InvalidInput: not a whole number of at least 0.
    """
    if value is None:
        return 0
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise InvalidInput("`trimmed_turns` must be a whole number of at least 0.")
    return value


def trimmed_turns(dropped: int, inputs: dict[str, Any]) -> dict[str, int]:
    """A chat result's ``trimmed_turns``: the turns a runner dropped to fit the model and those the
    caller had already left out; nothing when none were."""
    total = dropped + int(inputs.get(TRIMMED_TURNS) or 0)
    return {TRIMMED_TURNS: total} if total else {}


def fit_chars(messages: list[dict[str, str]], text: str, max_chars: int) -> tuple[list[dict[str, str]], int]:
    """The newest earlier turns that, with ``text``, fit ``max_chars`` characters, and how many were dropped:
    the router's share of trimming a conversation (Slack's threads and the form's chat alike), before the
    model side fits it to the model's context.

    The history is left starting with a person's turn; an assistant's turns before the first person's
    (a greeting) are not counted as dropped.
    """
    kept = list(messages)
    while kept and kept[0]["role"] != "user":
        kept.pop(0)
    dropped = 0
    total = len(text) + sum(len(m["content"]) for m in kept)
    while kept and (total > max_chars or kept[0]["role"] != "user"):
        total -= len(kept.pop(0)["content"])
        dropped += 1
    return kept, dropped


def _chat(text: str, parameters: dict[str, Any]) -> dict[str, Any]:
    return {
        "text": text,
        MESSAGES: check_messages(parameters.get(MESSAGES)),
        TRIMMED_TURNS: check_trimmed_turns(parameters.get(TRIMMED_TURNS)),
    }


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


def _no_text(text: str, parameters: dict[str, Any]) -> dict[str, Any]:
    return {}


def _prompt(text: str, parameters: dict[str, Any]) -> dict[str, Any]:
    return {"prompt": text} if text else {}


def _image_labels(text: str, parameters: dict[str, Any]) -> dict[str, Any]:
    labels = _labels(text) if text else _labels(parameters.get("candidate_labels"))
    if len(labels) < 2:
        raise InvalidInput("Give at least two labels to score the image against: `cat, dog, car`.")
    return {"candidate_labels": labels}


@dataclass(frozen=True)
class Task:
    """What a task takes, how to write it on one line, and what it returns.

    ``name`` keys the task's other pieces: its runners, its Slack and its form renderer (the module docstring).
    ``media`` is the kind of file it reads (:mod:`inference.media`), None for a text task; a task that reads
    a file takes its text as an option (labels, a prompt) and may have none.
    """

    name: str
    summary: str
    input_format: str
    result: str
    parse: Callable[[str, dict[str, Any]], dict[str, Any]] = _plain
    native_pipeline: bool = True
    aliases: tuple[str, ...] = field(default_factory=tuple)
    media: str | None = None


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
            '{"text": str, "trimmed_turns"?: int} (a request may carry `messages`, the earlier turns, oldest first; '
            "trimmed_turns: how many of the oldest were left out to fit the model)",
            parse=_chat,
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
        Task(
            "image-classification",
            "Labels what an image shows.",
            "an image (no text needed)",
            '{"labels": [{"label", "score"}]} (the five likeliest, highest first)',
            parse=_no_text,
            media=IMAGE,
        ),
        Task(
            "zero-shot-image-classification",
            "Scores an image against labels you choose.",
            "an image, and `label1, label2, ...` as the text (labels default to the registry's `candidate_labels`)",
            '{"labels": [{"label", "score"}]} (every label, highest first)',
            parse=_image_labels,
            media=IMAGE,
        ),
        Task(
            "object-detection",
            "Finds the objects in an image and draws a box around each.",
            "an image (no text needed)",
            '{"objects": [{"label", "score", "box": {"xmin", "ymin", "xmax", "ymax"}}], "width": int, "height": int, '
            '"annotated"?: {"key", "mime"}} (boxes in the image\'s pixels; annotated: the image with the boxes drawn)',
            parse=_no_text,
            media=IMAGE,
        ),
        Task(
            "image-to-text",
            "Describes an image in a sentence.",
            "an image (the text, if any, starts the caption)",
            '{"caption": str}',
            parse=_prompt,
            native_pipeline=False,
            media=IMAGE,
        ),
        Task(
            "automatic-speech-recognition",
            "Transcribes speech; long recordings are transcribed in 30-second windows.",
            "an audio file (no text needed)",
            '{"text": str, "chunks": [{"start", "end", "text"}], "duration": float} (start, end: seconds into the audio)',
            parse=_no_text,
            media=AUDIO,
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
    if not text and get_task(task).media is None:
        raise InvalidInput("The text is empty. " + f"Expected {get_task(task).input_format}.")
    return get_task(task).parse(text, parameters or {})


def media_kind(task: str) -> str | None:
    """The kind of file ``task`` reads (``"image"``, ``"audio"``), None for a text task."""
    return get_task(task).media


def reads_text(task: str) -> bool:
    """Whether ``task`` reads any text: a file task may take none (its file is all), and its form shows no text box."""
    return get_task(task).parse is not _no_text
