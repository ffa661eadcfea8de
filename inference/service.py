"""Turns one invocation event into one JSON-able response, whatever happens.

The Lambda handler and the local workers both call :func:`handle`; it never
raises for a caller's mistake or a model failure, it reports them as
``{"error": {"type", "message"}}`` so the router can word them for people.
"""

from __future__ import annotations

import importlib
import logging
import os
import threading
import time
from collections.abc import Callable
from typing import Any, Protocol

from inference.errors import InferenceError, InvalidInput, ModelLoadError
from inference.media import ANNOTATE, MAX_BYTES, FileRef, MediaFile, annotated_key, check_file, wrong_kind
from inference.media_store import MediaStore, store_from_env
from inference.registry import ModelSpec
from inference.tasks import MESSAGES, TRIMMED_TURNS, check_text, media_kind, require_text

logger = logging.getLogger(__name__)


class Runner(Protocol):
    """A loaded model: load once, then ``run`` many times.

    A runner that generates text a token at a time says so with ``streams = True``, and its ``run``
    then also takes ``on_text``, which it calls after each step with a function returning the text so
    far (a :class:`Partials`, which decodes only when a partial is due). A runner of a task that reads
    a file (:func:`inference.tasks.media_kind`) takes it as ``file``, a checked :class:`~inference.media.MediaFile`.
    """

    def run(self, text: str, parameters: dict[str, Any]) -> dict[str, Any]:
        """Run the task on one line of text; the result is JSON-able."""
        ...


#: Where partial text goes: ``(sequence, text so far)``, the sequence counting from 1 within one request.
PartialSink = Callable[[int, str], None]
#: A generating runner's text so far is passed on at most this often (Slack's ``chat.update`` takes about one a
#: second); the first half as long after generation starts. ``PARTIAL_INTERVAL_SECONDS`` in the environment overrides it.
PARTIAL_INTERVAL_SECONDS = 1.0
PARTIAL_INTERVAL_ENV = "PARTIAL_INTERVAL_SECONDS"
#: A partial's text is cut to this many characters: it only previews the answer, which travels whole at the end.
PARTIAL_TEXT_LIMIT = 40_000


def partial_interval() -> float:
    """The interval between partials: the environment's ``PARTIAL_INTERVAL_SECONDS``, else the default."""
    try:
        return max(0.0, float(os.environ.get(PARTIAL_INTERVAL_ENV, PARTIAL_INTERVAL_SECONDS)))
    except ValueError:
        return PARTIAL_INTERVAL_SECONDS


class Partials:
    """Hands a runner's text so far to ``sink``: the first words half an ``interval`` in, then at most once per ``interval``.

    An answer that takes less than half an interval sends no partial at all: it arrives whole about as
    soon, and Slack is spared the calls.

    Called after every generated token with a function returning the text so far, so the text is decoded
    only when a partial is due. Text that has not changed, or is still blank, is not sent. A sink that fails
    costs only that partial: the request goes on, and its final result is what counts.
    """

    def __init__(self, sink: PartialSink, *, interval: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.sink, self.interval, self.clock = sink, interval, clock
        self.sequence = 0
        self._last_at = self.clock() - interval / 2  # as if one had been sent: the first comes half an interval in
        self._sent = ""

    def __call__(self, text: Callable[[], str] | str) -> None:
        now = self.clock()
        if now - self._last_at < self.interval:
            return
        value = (text() if callable(text) else text).rstrip("\ufffd")[:PARTIAL_TEXT_LIMIT]
        if not value.strip() or value == self._sent:
            return
        self.sequence += 1
        self._last_at, self._sent = now, value
        try:
            self.sink(self.sequence, value)
        except Exception:  # a partial is a preview: losing one must never fail the answer
            logger.warning("partial %d not passed on", self.sequence, exc_info=True)


def partial_record(event: dict[str, Any], *, model: str, sequence: int, text: str) -> dict[str, Any]:
    """What a model sends the router while it generates: which request, which partial, the text so far.

    The router tells it from a destination record and an HTTP event by its ``partial`` field
    (``bot.slack.streaming.is_partial_record``); ``reply`` is the request's own, as in the final result.
    """
    return {"partial": {"model": model, "sequence": sequence, "text": text}, "reply": event.get("reply")}


#: After a failed load, requests get the same error at once for this long; then loading is tried again.
#: An unreachable Hub or a missing cache then costs one attempt per half minute, not every request.
LOAD_RETRY_SECONDS = 30.0


class LoadOnce:
    """Loads a model on first use and keeps it; a failure is remembered, with its reason, for a short backoff.

    Calls from several threads wait for one load. Any exception while loading
    is a :class:`ModelLoadError` to the caller, so a person sees why the model
    could not be loaded, and not a generic failure.
    """

    def __init__(
        self,
        load: Callable[[], Runner],
        *,
        retry_after: float = LOAD_RETRY_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._load, self._retry_after, self._clock = load, retry_after, clock
        self._lock = threading.Lock()
        self._runner: Runner | None = None
        self._failure: ModelLoadError | None = None
        self._failed_at = 0.0

    def __call__(self) -> Runner:
        with self._lock:
            if self._runner is not None:
                return self._runner
            if self._failure is not None:
                wait = self._failed_at + self._retry_after - self._clock()
                if wait > 0:
                    raise ModelLoadError(f"{self._failure} (the next attempt to load it is in {wait:.0f} s)")
            try:
                self._runner = self._load()
            except Exception as exc:
                failure = exc if isinstance(exc, ModelLoadError) else ModelLoadError(f"{type(exc).__name__}: {exc}")
                self._failure, self._failed_at = failure, self._clock()
                raise failure from exc
            self._failure = None
            return self._runner


def parse_event(event: Any) -> tuple[str, dict[str, Any]]:
    """Accept ``{"text": ...}`` (the seed's shape) or ``{"inputs": ..., "parameters": {...}}``.

    Raises:
        InvalidInput: for anything else, and for text that is not a string (its length and
            characters are :func:`handle`'s to check, as the router checks them).
    """
    if not isinstance(event, dict):
        raise InvalidInput("The request must be a JSON object with a `text` or `inputs` field.")
    if "text" in event:
        text = event["text"]
    elif "inputs" in event:
        text = event["inputs"]
    else:
        raise InvalidInput("The request has no `text` (or `inputs`) field.")
    text = require_text(text)
    parameters = event.get("parameters") or {}
    if not isinstance(parameters, dict):
        raise InvalidInput("`parameters` must be a JSON object.")
    for key in (MESSAGES, TRIMMED_TURNS):  # a chat's history, for the text-generation parser (inference.tasks)
        if key in event:
            parameters = {**parameters, key: event[key]}
    return text, parameters


def parse_file(event: dict[str, Any], spec: ModelSpec) -> FileRef | None:
    """The request's ``"file"``, for a task that reads one.

    Raises:
        InvalidInput: a file task without a file (saying how to send one), a text task with one,
            a file of the other kind, or a malformed ``file``.
    """
    kind, value = media_kind(spec.task), event.get("file")
    if kind is None:
        if value is not None:
            raise InvalidInput(f"{spec.name} reads text, not files: send it text.")
        return None
    if value is None:
        raise InvalidInput(f"{spec.name} reads {kind} files: attach one to the request (`file`).")
    ref = FileRef.from_event(value)
    if ref.media_type.kind != kind:
        raise wrong_kind(ref.media_type, kind=kind, model=spec.name)
    return ref


def read_file(ref: FileRef, *, spec: ModelSpec, store: MediaStore | None) -> MediaFile:
    """The bytes ``ref`` names, from ``store``, checked again by content (they may not be what the router saw).

    Raises:
        InvalidInput: the file is gone, too large, or not what its model reads.
        ModelLoadError: this function has no store (its stack gives it none).
    """
    if store is None:
        raise ModelLoadError(f"{spec.name} has no file store to read from (MEDIA_BUCKET or MEDIA_DIR is not set).")
    kind = ref.media_type.kind
    data = store.get(ref.key, max_bytes=MAX_BYTES[kind])
    return MediaFile(data, check_file(data, kind=kind, model=spec.name), ref.name)


#: Per task, what is drawn on its file from a result and stored beside it (``module:function``, called
#: as ``draw(file, result) -> PNG bytes | None``): the router posts it with the answer.
ANNOTATORS = {"object-detection": "inference.images:draw_detections"}


def annotate(spec: ModelSpec, ref: FileRef, file: MediaFile, result: dict[str, Any], store: MediaStore) -> None:
    """Draw ``result`` on ``file`` as the task's annotator does, store it and name it in ``result["annotated"]``.

    An annotation is a picture of the answer: failing to make one is logged and leaves the answer whole.
    """
    path = ANNOTATORS.get(spec.task)
    if path is None:
        return
    module_name, _, function = path.partition(":")
    try:
        image = getattr(importlib.import_module(module_name), function)(file, result)
        if image:
            key = annotated_key(ref.key)
            store.put(key, image, mime="image/png")
            result["annotated"] = {"key": key, "mime": "image/png"}
    except Exception:
        logger.warning("%s: the annotated image was not made", spec.name, exc_info=True)


def handle(
    event: Any,
    *,
    spec: ModelSpec,
    get_runner: Callable[[], Runner],
    on_partial: PartialSink | None = None,
    get_store: Callable[[], MediaStore | None] = store_from_env,
) -> dict[str, Any]:
    """Serve one request for ``spec``; ``get_runner`` loads the model on first use.

    With ``on_partial``, a runner that streams passes its text so far there while it generates
    (:class:`Partials`); the response is the same either way. A task that reads a file reads it from
    ``get_store()`` (:func:`inference.media_store.store_from_env`), and what it draws goes back there
    unless the event says ``"annotate": false``.

    Returns ``{"model", "task", "revision", "result" | "error", "timings", "reply"?}``;
    the ``reply`` field of the event is passed through untouched.
    """
    response: dict[str, Any] = {"model": spec.name, "task": spec.task, "revision": spec.revision}
    if isinstance(event, dict) and "reply" in event:
        response["reply"] = event["reply"]
    timings = {"load_ms": 0.0, "inference_ms": 0.0}
    response["timings"] = timings
    try:
        text, parameters = parse_event(event)
        # The router's check (bot.core.model_requests), again for a direct invocation; a lone
        # surrogate, which JSON can carry, would fail in a tokenizer with a TypeError.
        text = check_text(text, model=spec.name, max_chars=spec.max_chars)
        ref = parse_file(event, spec)
        store = get_store() if ref is not None else None
        file = read_file(ref, spec=spec, store=store) if ref is not None else None
        started = time.perf_counter()
        try:
            runner = get_runner()
        finally:
            loaded = time.perf_counter()
            timings["load_ms"] = round((loaded - started) * 1000, 1)
        settings = {**spec.parameters, **parameters}
        if file is not None:
            result = runner.run(text, settings, file=file)
        elif on_partial is not None and getattr(runner, "streams", False):
            result = runner.run(text, settings, on_text=Partials(on_partial, interval=partial_interval()))
        else:
            result = runner.run(text, settings)
        timings["inference_ms"] = round((time.perf_counter() - loaded) * 1000, 1)
        if file is not None and ref is not None and store is not None and event.get(ANNOTATE) is not False:
            annotate(spec, ref, file, result, store)
        response["result"] = result
    except InferenceError as exc:
        response.update(exc.to_result())
    except Exception as exc:  # a bug or a model failure: reported, not retried by Lambda
        logger.exception("model %s failed", spec.name)
        response["error"] = {"type": "model_failed", "message": f"The model failed: {type(exc).__name__}."}
    return response
