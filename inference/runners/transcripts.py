"""What both Whisper runners share, torch-free: the request's options, the 30-second windows, tokens → chunks.

The torch runner (:mod:`inference.runners.speech`) and the CTranslate2 one
(:mod:`inference.runners.ct2_speech`) differ only in how one window's features are made and decoded; each
implements :class:`WindowModel` and :func:`transcribe` does the rest, so both give the same result for the
same tokens. A recording is read in consecutive 30-second windows, each decoded on its own from the prompt
``<|startoftranscript|><|lang|><|task|>`` with timestamps on (no ``<|notimestamps|>``). The language, when
the request names none and the model knows several, is detected on the first window and kept for the rest.
Whisper's timestamp tokens mark where its segments start and end; they become the result's chunks, in
seconds into the whole recording.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

from inference.errors import InvalidInput
from inference.records import JsonRecord
from inference.runners import parameters as params

#: What a request may ask Whisper to do: write the speech down, or translate it into English.
TASKS = ("transcribe", "translate")
#: Seconds between two timestamp tokens.
TIME_PRECISION = 0.02
#: Timestamp tokens in a 30-second window: a first timestamp limited to these is not limited.
ALL_TIMESTAMPS = 1500
#: Bumped when :class:`WhisperTokens` changes in a way older runners cannot read.
FORMAT = 1


@dataclass(frozen=True)
class WhisperTokens(JsonRecord):
    """The token ids Whisper's decoding needs, read from its generation config (and kept by the CTranslate2 conversion)."""

    FILE = "whisper.json"
    KIND = "Whisper manifest"

    start: int
    end: int
    #: The first timestamp token, ``<|0.00|>``; every id from it on is a time.
    timestamp_begin: int
    #: The most tokens decoded per window: half the decoder's positions, as openai's Whisper decodes.
    max_new_tokens: int
    #: How far into the window the first timestamp may be (in timestamp steps); unset, anywhere.
    max_initial_timestamp_index: int = 50
    #: Language code (``"en"``) → its token id; empty for an English-only model.
    languages: dict[str, int] = field(default_factory=dict)
    #: Task (:data:`TASKS`) → its token id; empty for an English-only model.
    tasks: dict[str, int] = field(default_factory=dict)
    #: Whether transformers' decoding tidies spaces before punctuation (the CTranslate2 runner repeats it).
    clean_up_tokenization_spaces: bool = False
    format: int = FORMAT

    @property
    def multilingual(self) -> bool:
        return bool(self.languages)

    @classmethod
    def from_generation_config(
        cls, generation: dict[str, Any], *, max_target_positions: int, **extra: Any
    ) -> WhisperTokens:
        """The ids in a Whisper ``generation_config.json`` (as a dict).

        Raises:
            ValueError: a field Whisper's decoding needs is missing.
        """
        missing = [
            key
            for key in ("decoder_start_token_id", "eos_token_id", "no_timestamps_token_id")
            if generation.get(key) is None
        ]
        if missing:
            raise ValueError(f"its generation config has no {', '.join(missing)}")
        end = generation["eos_token_id"]
        multilingual = bool(generation.get("is_multilingual", bool(generation.get("lang_to_id"))))
        return cls(
            start=int(generation["decoder_start_token_id"]),
            end=int(end[0] if isinstance(end, list) else end),
            timestamp_begin=int(generation["no_timestamps_token_id"]) + 1,
            max_new_tokens=max_target_positions // 2,
            max_initial_timestamp_index=int(generation.get("max_initial_timestamp_index") or ALL_TIMESTAMPS),
            languages={token.strip("<|>"): int(i) for token, i in (generation.get("lang_to_id") or {}).items()}
            if multilingual
            else {},
            tasks={task: int(i) for task, i in (generation.get("task_to_id") or {}).items()} if multilingual else {},
            **extra,
        )

    def language_of(self, token_id: int) -> str:
        """The code of a language token (``"fr"`` for ``<|fr|>``)."""
        return next(code for code, i in self.languages.items() if i == token_id)


@dataclass(frozen=True)
class Request:
    """One request's options, checked: the language (None: detect it), the task and the tokens per window."""

    language: str | None
    task: str
    max_new_tokens: int


def read_request(parameters: dict[str, Any], tokens: WhisperTokens) -> Request:
    """``language``, ``task`` and ``max_new_tokens`` from the request's parameters.

    Raises:
        InvalidInput: a language the model does not know, a task other than :data:`TASKS`, translation or
            another language than English asked of an English-only model, or a count that is not a whole number.
    """
    language = params.text(parameters, "language")
    if language is not None:
        language = language.lower().strip("<|>")
    task = params.text(parameters, "task") or TASKS[0]
    if task not in TASKS:
        raise InvalidInput(f"`task` must be `transcribe` or `translate` (into English), not {task!r}.")
    if not tokens.multilingual:
        if task != TASKS[0]:
            raise InvalidInput("This model only transcribes English: it cannot translate. Leave `task` out.")
        if language not in (None, "en"):
            raise InvalidInput(f"This model only transcribes English, not {language!r}. Leave `language` out.")
        language = "en"
    elif language is not None and language not in tokens.languages:
        known = ", ".join(sorted(tokens.languages, key=tokens.languages.__getitem__)[:8])  # Whisper's order
        raise InvalidInput(
            f"`language` must be the code of a language this model knows ({known}...), not {language!r}; "
            "leave it out to have it detected."
        )
    most = tokens.max_new_tokens
    return Request(language, task, params.integer(parameters, "max_new_tokens", most, low=1, high=most))


def prompt(tokens: WhisperTokens, language: str, task: str) -> list[int]:
    """The decoder's prompt: ``<|startoftranscript|>``, then, for a multilingual model, the language and the task."""
    if not tokens.multilingual:
        return [tokens.start]
    return [tokens.start, tokens.languages[language], tokens.tasks[task]]


def window_chunks(
    ids: list[int], *, tokens: WhisperTokens, offset: float, end: float, decode: Callable[[list[int]], str]
) -> list[tuple[float, float, str]]:
    """One window's segments from its generated ``ids`` (prompt excluded): ``(start, end, text)``, times in
    seconds into the recording (the window starts at ``offset``; its audio ends at ``end``).

    A timestamp token opens a segment and the next one closes it; text left open when decoding stopped ends
    at ``end``. Text that no timestamp opened starts where the last segment ended (the window's start, before
    any); generation stops at the end token.
    """
    segments: list[tuple[float, float, str]] = []
    start: float | None = None
    last = offset
    text: list[int] = []
    for token in ids:
        if token == tokens.end:
            break
        if token < tokens.timestamp_begin:
            text.append(token)
            continue
        time = offset + (token - tokens.timestamp_begin) * TIME_PRECISION
        if start is None and not text:
            start = time
            continue
        segments.append((last if start is None else start, time, decode(text)))
        start, last, text = None, time, []
    if text:
        segments.append((last if start is None else start, end, decode(text)))
    return segments


class WindowModel(Protocol):
    """One runtime's Whisper: what :func:`transcribe` asks of it for each window."""

    def encode(self, audio: np.ndarray) -> Any:
        """The window's features, encoded (``audio`` is at most one window long)."""
        ...

    def detect_language(self, encoded: Any) -> int:
        """The likeliest language token for the window."""
        ...

    def generate(self, encoded: Any, prompt: list[int], max_new_tokens: int) -> list[int]:
        """Greedy decoding from ``prompt`` with timestamps on: the new ids, prompt excluded."""
        ...

    def decode(self, ids: list[int]) -> str:
        """The text of ``ids``, special tokens left out."""
        ...


def transcribe(
    model: WindowModel, audio: np.ndarray, *, tokens: WhisperTokens, request: Request, sampling_rate: int, window: int
) -> dict[str, Any]:
    """The task's result for ``audio`` (mono, at ``sampling_rate``), read in windows of ``window`` samples.

    Chunks are ordered and never overlap: a time past the audio's end is moved to it, a start before the
    previous chunk's end to that end; times are rounded to hundredths of a second, texts stripped, empty ones left out.
    """
    duration = audio.size / sampling_rate
    language = request.language
    chunks: list[dict[str, Any]] = []
    pieces: list[str] = []
    for first in range(0, audio.size, window):
        offset = first / sampling_rate
        end = min(offset + window / sampling_rate, duration)
        encoded = model.encode(audio[first : first + window])
        if language is None:
            language = tokens.language_of(model.detect_language(encoded))
        ids = model.generate(encoded, prompt(tokens, language, request.task), request.max_new_tokens)
        for start, stop, text in window_chunks(ids, tokens=tokens, offset=offset, end=end, decode=model.decode):
            pieces.append(text)
            floor = chunks[-1]["end"] if chunks else 0.0
            start = max(floor, min(round(start, 2), round(end, 2)))
            stop = max(start, min(round(stop, 2), round(end, 2)))
            if text.strip():
                chunks.append({"start": start, "end": stop, "text": text.strip()})
    result: dict[str, Any] = {"text": "".join(pieces).strip(), "chunks": chunks, "duration": round(duration, 2)}
    if language is not None:
        result["language"] = language
    return result
