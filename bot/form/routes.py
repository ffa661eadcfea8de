"""The browser form at /go: the page, synchronous model runs, feedback, and the optional passcode.

``handle_form`` is the one entry point; the router sends it every request whose
path is ``/go`` or under ``/go/``, except ``/go/stats``, which is ``handle_stats``. What to invoke is always the registry entry
named by ``model``: no other field of the request (an ARN, a function name) is
ever read. Compare mode is the page's: it checks at ``/go/compare-check``, then
posts one ordinary run per model.

A run is JSON (``model``, ``text``) for a text model, and ``multipart/form-data`` (``model``, ``file``,
an optional ``text``) for a model that reads an image or audio: the file is checked by its content,
stored in the media store and named in the request (``"file"``, :class:`inference.media.FileRef`).

Runs are limited twice, each with a 429 and ``Retry-After`` that the page waits out
by itself: per client address (``FORM_RUNS_PER_CLIENT`` at once, in the state store, so
every router process shares the count: :mod:`bot.form.limits`), and per model by the
invoker (``InvokeBusy``: local mode's small queue per worker; in AWS the model
function's reserved concurrency, over which Lambda throttles the call). A model that
is busy says so; only one that is loading answers 202 "warming up".
"""

from __future__ import annotations

import logging
import re
from contextlib import nullcontext
from dataclasses import dataclass, field
from typing import Any

from bot.core.config import Settings
from bot.core.http import BadRequest, Request, Response, json_headers
from bot.core.invoker import InvokeBusy, InvokeError, Invoker, InvokeTimeout, ModelFailure
from bot.core.messages import describe_error
from bot.core.model_requests import check_input, new_request_id
from bot.core.multipart import MAX_UPLOAD_BODY_BYTES, MULTIPART, Part, is_multipart, parse_form_data
from bot.core.uploads import put_file, reads_files
from bot.form.compare import check_compare_request
from bot.form.feedback import FeedbackLimits, apply_feedback, record_form_answer, voter_for, voter_of
from bot.form.limits import SLACK_INSTEAD, RunSlots, check_upload_size, upload_caps
from bot.form.page import model_catalog, new_nonce, page_headers, render_page
from bot.form.passcode import (
    FailureLimiter,
    client_address,
    has_valid_session,
    passcode_matches,
    session_cookie,
)
from bot.form.stats import render_stats
from bot.stores.feedback import FeedbackStore
from bot.stores.state import StateStore
from bot.stores.stats import UsageSource
from inference.errors import InputTooLong, InvalidInput, UnsupportedFile
from inference.media import ANNOTATE, IMAGE
from inference.media_store import MediaStore
from inference.registry import ModelSpec, Registry
from inference.tasks import MESSAGES, TRIMMED_TURNS, check_messages, fit_chars, media_kind

logger = logging.getLogger(__name__)

PREFIX = "/go"
MAX_BODY_BYTES = 64 * 1024
#: The fields of a run with a file and the most bytes each may hold: the file's own caps are its kind's,
#: checked when it is stored (:func:`bot.core.uploads.put_file`).
UPLOAD_FIELDS = {"model": 200, "text": MAX_BODY_BYTES, "file": MAX_UPLOAD_BODY_BYTES}
#: Seconds the page waits before asking again while a model warms up.
RETRY_AFTER_SECONDS = 3
#: Seconds the page waits before asking again when the model is busy or the client has too many runs going.
BUSY_RETRY_AFTER_SECONDS = 5
#: Model error types that are the person's to fix (422); anything else is ours (502).
INPUT_ERRORS = frozenset({"invalid_input", "input_too_long"})

#: What the page names a run by to ask for its text so far (``crypto.randomUUID()``): unguessable, so only it can read it.
STREAM_ID = re.compile(r"[A-Za-z0-9_-]{16,64}")
#: How long a run's text so far is kept for the page (longer than any model's timeout).
PARTIAL_TTL = 900
#: Wrong-passcode counts for this process; tests pass their own limiter.
LOGIN_LIMITER = FailureLimiter()
#: Feedback counts per voter and per address for this process; tests pass their own.
FEEDBACK_LIMITS = FeedbackLimits()


def handle_form(
    request: Request,
    *,
    registry: Registry,
    invoker: Invoker,
    settings: Settings,
    limiter: FailureLimiter | None = None,
    feedback: FeedbackStore | None = None,
    feedback_limits: FeedbackLimits | None = None,
    store: StateStore | None = None,
    media: MediaStore,
) -> Response:
    """Answer one request under /go: the page, a model run, feedback, a compare check, or a passcode login.

    Without a ``feedback`` store, answers carry no feedback buttons and ``/go/feedback`` does not exist.
    Without a state ``store`` (tests of other routes), runs are not limited per client.
    """
    if request.path != PREFIX and not request.path.startswith(PREFIX + "/"):
        return _error(404, "not_found", "There is nothing at this address.")
    route = request.path[len(PREFIX) :].strip("/")
    try:
        if route == "":
            if request.method == "GET":
                return _page(request, registry, settings)
            if request.method == "POST":
                return _run(request, registry, invoker, settings, feedback, store, media)
            return _not_allowed("GET, POST")
        if route == "feedback" and feedback is not None:
            if request.method == "POST":
                return _feedback(request, feedback, settings, feedback_limits or FEEDBACK_LIMITS)
            return _not_allowed("POST")
        if route == "partial" and store is not None:
            if request.method == "POST":
                return _partial(request, settings, store)
            return _not_allowed("POST")
        if route == "compare-check":
            if request.method == "POST":
                return _compare_check(request, registry, settings)
            return _not_allowed("POST")
        if route == "login" and settings.secrets.passcode:
            if request.method == "POST":
                return _login(request, settings, LOGIN_LIMITER if limiter is None else limiter)
            return _not_allowed("POST")
    except BadRequest as exc:
        return _error(exc.status, exc.type, str(exc))
    return _error(404, "not_found", "There is nothing at this address.")


def _json(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response.json(data, status=status, headers={**json_headers(), **(headers or {})})


def _error(status: int, type: str, message: str, **extra: Any) -> Response:
    return _json({"error": {"type": type, "message": message}, **extra}, status=status)


def _try_again(type: str, message: str, wait: int, **extra: Any) -> Response:
    """A 429 that says when to ask again, in ``Retry-After`` and in the body (as the 202 "warming up" does)."""
    response = _error(429, type, message, retry_after=wait, **extra)
    response.headers["Retry-After"] = str(wait)
    return response


def _not_allowed(allow: str) -> Response:
    response = _error(405, "method_not_allowed", f"This address only accepts {allow}.")
    response.headers["Allow"] = allow
    return response


def _locked(request: Request, settings: Settings) -> bool:
    return bool(settings.secrets.passcode) and not has_valid_session(request, settings)


def _json_object(request: Request) -> dict[str, Any]:
    """The body as a JSON object, checked for size and content type first.

    Raises:
        BadRequest: 413 too large, 415 not JSON by its content type, 400 not a JSON object.
    """
    if len(request.body) > MAX_BODY_BYTES:
        raise BadRequest("The request is larger than 64 KB.", status=413, type="too_large")
    content_type = request.header("content-type").split(";")[0].strip().lower()
    if content_type != "application/json":
        raise BadRequest("Send the request as JSON (Content-Type: application/json).", status=415, type="unsupported")
    data = request.json()
    if not isinstance(data, dict):
        raise BadRequest("The request body must be a JSON object.")
    return data


def _page(request: Request, registry: Registry, settings: Settings) -> Response:
    """The page, issuing this browser's voter cookie if it has none (before the runs of a comparison race to)."""
    nonce = new_nonce()
    body = render_page(
        catalog=model_catalog(registry),
        locked=_locked(request, settings),
        nonce=nonce,
        uploads=upload_caps(local=settings.local),
        upload_note="" if settings.local else SLACK_INSTEAD,
    )
    _, cookie = voter_for(request, settings)
    return Response(status=200, body=body, headers=page_headers(nonce), cookies=[cookie] if cookie else [])


def _passcode_required() -> Response:
    return _error(401, "passcode_required", "This form needs the passcode: enter it to continue.")


@dataclass(frozen=True)
class RunRequest:
    """One run the page asked for, checked before anything is invoked: the model, its text, and what goes beside it."""

    spec: ModelSpec
    text: str
    #: The chat mode's conversation (:func:`form_chat`), empty for a one-shot run.
    chat: dict[str, Any] = field(default_factory=dict)
    stream: str = ""
    #: The file of an upload run, as sent (checked by its content when stored).
    upload: Part | None = None


class Refused(Exception):
    """A run refused before anything is invoked, with its answer (one that carries more than a message)."""

    def __init__(self, response: Response) -> None:
        super().__init__(response.body)
        self.response = response


def _run(
    request: Request,
    registry: Registry,
    invoker: Invoker,
    settings: Settings,
    feedback: FeedbackStore | None,
    store: StateStore | None,
    media: MediaStore,
) -> Response:
    if _locked(request, settings):
        return _passcode_required()
    try:
        if is_multipart(request.header("content-type")):
            run = _upload_run(request, registry, settings)
        else:
            run = _json_run(request, registry)
    except Refused as exc:
        return exc.response
    voter, cookie = voter_for(request, settings)
    limit = settings.form_runs_per_client
    slot = (
        nullcontext(True)
        if store is None
        else RunSlots(store, limit=limit, wait_seconds=settings.form_wait_seconds).hold(client_address(request))
    )
    with slot as free:
        if not free:
            detail = (
                f"one address may have {limit} at a time; this page asks again in {BUSY_RETRY_AFTER_SECONDS} seconds."
            )
            message = describe_error({"type": "too_many_runs", "message": detail})
            return _try_again("too_many_runs", message, BUSY_RETRY_AFTER_SECONDS)
        response = _invoke(run, invoker, settings, feedback, voter, media)
    if cookie:
        response.cookies.append(cookie)
    return response


def _refusal(exc: InvalidInput, status: int = 400) -> Refused:
    """A person's input that cannot run, in the words Slack uses too; too long is always a 413."""
    status = 413 if isinstance(exc, InputTooLong) else status
    return Refused(_error(status, exc.type, describe_error(exc.to_result()["error"])))


def _model(registry: Registry, name: object) -> ModelSpec:
    """The registry entry a run names.

    Raises:
        BadRequest: no name.
        Refused: a name the registry does not have (the answer lists the valid ones).
    """
    if not isinstance(name, str) or not name:
        raise BadRequest('Choose a model: the request needs a "model" name.')
    spec = registry.find(name)
    if spec is None:
        message = describe_error({"type": "unknown_model", "message": f"choose one of {', '.join(registry.names)}."})
        raise Refused(_error(400, "unknown_model", message, valid_models=registry.names))
    return spec


def _text(spec: ModelSpec, text: object) -> str:
    """``text`` checked for ``spec`` (:func:`check_input`).

    Raises:
        Refused: 413 too long, 400 anything else wrong with it.
    """
    try:
        return check_input(spec, text)
    except InvalidInput as exc:
        raise _refusal(exc) from exc


def _file_required(spec: ModelSpec) -> Refused:
    what = "an image" if media_kind(spec.task) == IMAGE else "an audio file"
    return Refused(
        _error(
            400, "file_required", f"{spec.title} reads {what}: choose one to upload (or drop or paste it on the page)."
        )
    )


def _json_run(request: Request, registry: Registry) -> RunRequest:
    """A text run, sent as JSON: ``model``, ``text``, and the chat mode's ``messages`` and the page's ``stream``.

    Raises:
        BadRequest, Refused: what is wrong with it, before anything is invoked.
    """
    data = _json_object(request)
    spec = _model(registry, data.get("model"))
    if "text" not in data:
        raise BadRequest('The request needs a "text" field.')
    if reads_files(spec):
        raise _file_required(spec)
    text = _text(spec, data["text"])
    try:
        chat = form_chat(spec, data.get(MESSAGES), text)
    except InvalidInput as exc:
        raise _refusal(exc) from exc
    stream = data.get("stream")
    stream = stream if isinstance(stream, str) and STREAM_ID.fullmatch(stream) else ""
    return RunRequest(spec, text, chat, stream)


def _upload_run(request: Request, registry: Registry, settings: Settings) -> RunRequest:
    """A run with a file, sent as ``multipart/form-data``: ``model``, ``file`` and an optional ``text``
    (zero-shot labels, the start of a caption).

    Raises:
        BadRequest, Refused: what is wrong with it, before anything is invoked or stored.
    """
    if not request.event.get("isBase64Encoded"):
        # API Gateway passes a body as text unless its type is one of the API's binary media types
        # (BINARY_MEDIA_TYPES); a file's bytes would not survive the trip, so none is taken this way.
        logger.warning("a multipart body arrived as text: list %s among the API's binary media types", MULTIPART)
        raise BadRequest(
            f"Files cannot reach this server as sent (its API passes {MULTIPART} as text). {SLACK_INSTEAD}",
            status=503,
            type="not_configured",
        )
    fields = parse_form_data(request.body, request.header("content-type"), limits=UPLOAD_FIELDS)
    spec = _model(registry, fields["model"].text() if "model" in fields else None)
    upload = fields.get("file")
    if upload is not None and not upload.data and not upload.filename:
        upload = None  # a form's file input with nothing chosen
    kind = media_kind(spec.task)
    if kind is None and upload is not None:
        message = f"{spec.title} reads text, not files: type the text instead, or choose a model that reads files."
        raise Refused(_error(400, "not_a_file_model", message))
    if kind is not None and upload is None:
        raise _file_required(spec)
    if kind is not None and upload is not None:
        try:
            check_upload_size(len(upload.data), kind=kind, local=settings.local)
        except InputTooLong as exc:
            raise _refusal(exc) from exc
    text = _text(spec, fields["text"].text() if "text" in fields else "")
    return RunRequest(spec, text, upload=upload)


def form_chat(spec: ModelSpec, raw: Any, text: str) -> dict[str, Any]:
    """The form's chat mode: the conversation on the page (``"messages"``, oldest first) checked as the
    model side checks it, and its oldest turns dropped to fit ``max_chars`` with ``text``; what the request
    carries beside its text (nothing for a one-shot run).

    Raises:
        InvalidInput: not a conversation, or a model that does not chat.
    """
    if raw is None:
        return {}
    if spec.task != "text-generation":
        raise InvalidInput(f"{spec.title} answers one text at a time; only a chat model keeps a conversation.")
    messages, dropped = fit_chars(check_messages(raw), text, spec.max_chars)
    return {MESSAGES: messages, **({TRIMMED_TURNS: dropped} if dropped else {})}


def _invoke(
    run: RunRequest,
    invoker: Invoker,
    settings: Settings,
    feedback: FeedbackStore | None,
    voter: str,
    media: MediaStore,
) -> Response:
    """Store the run's file, if any, invoke its model and wait for the answer (or say it is warming up)."""
    spec, text = run.spec, run.text
    request_id = new_request_id()
    reply = {"request_id": request_id, "source": "form", **({"stream": run.stream} if run.stream else {})}
    payload: dict[str, Any] = {"text": text, **run.chat}
    if run.upload is not None:
        try:
            ref = put_file(media, spec, run.upload.data, name=run.upload.filename or "", request_id=request_id)
        except InputTooLong as exc:
            return _refusal(exc, status=413).response
        except UnsupportedFile as exc:  # by its content: of the other kind, or a type no model here reads
            return _refusal(exc, status=415).response
        except InvalidInput as exc:  # an empty file, or a file for a model that reads text
            return _refusal(exc, status=400).response
        payload["file"] = ref.to_event()
        payload[ANNOTATE] = False  # the page draws a detection's boxes over its own preview
    payload["reply"] = reply
    try:
        answer = invoker.invoke_sync(spec.name, payload, timeout=settings.form_wait_seconds)
    except InvokeTimeout as exc:
        logger.info("form request %s: %s is warming up %s", request_id, spec.name, exc.progress)
        doing = f": {exc.progress}" if exc.progress else ""
        message = describe_error(
            {"type": "warming_up", "message": f"{spec.title} is loading{doing}. This page keeps trying by itself."}
        )
        return _json(
            {"status": "warming_up", "retry_after": RETRY_AFTER_SECONDS, "message": message, "request_id": request_id},
            status=202,
            headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
        )
    except InvokeBusy as exc:
        logger.info("form request %s: %s", request_id, exc)
        detail = (
            f"{spec.title} takes yours as soon as it can; this page asks again in {BUSY_RETRY_AFTER_SECONDS} seconds."
        )
        message = describe_error({"type": "busy", "message": detail})
        return _try_again("busy", message, BUSY_RETRY_AFTER_SECONDS, request_id=request_id)
    except ModelFailure as exc:
        logger.warning("form request %s: %s failed: %s", request_id, spec.name, exc)
        status = 504 if exc.error["type"] == "timeout" else 502
        return _error(
            status, exc.error["type"], describe_error(exc.error, request_id=request_id), request_id=request_id
        )
    except InvokeError as exc:
        logger.warning("form request %s: invoking %s failed: %s", request_id, spec.name, exc)
        error = {"type": "invoke_failed", "message": str(exc)}
        return _error(502, "invoke_failed", describe_error(error, request_id=request_id), request_id=request_id)
    return _answer(spec, answer, request_id, text=text, settings=settings, feedback=feedback, voter=voter)


def _stream_key(stream: str) -> str:
    return f"form-stream:{stream}"


def keep_partial(store: StateStore, record: dict[str, Any]) -> None:
    """Keep a form run's newest text so far for its page (a partial record: ``bot.slack.streaming``'s shape).

    Partials come at least once and in any order: one with a sequence no newer than the kept one
    changes nothing; one that finds another being kept is dropped (the next carries its text too).
    """
    stream = str(record["reply"].get("stream") or "")
    partial = record["partial"]
    if not STREAM_ID.fullmatch(stream) or not isinstance(partial.get("sequence"), int):
        return
    key = _stream_key(stream)
    if not store.claim(f"{key}:lock", lease=15):
        return
    try:
        if partial["sequence"] > int(store.fields(key).get("sequence", "0") or 0):
            store.set_field(key, "text", str(partial.get("text", "")), ttl=PARTIAL_TTL)
            store.set_field(key, "sequence", str(partial["sequence"]), ttl=PARTIAL_TTL)
    finally:
        store.release(f"{key}:lock")


def _partial(request: Request, settings: Settings, store: StateStore) -> Response:
    """The text so far of the run the page named ``stream`` ("" before the first words, and for an unknown one)."""
    if _locked(request, settings):
        return _passcode_required()
    stream = _json_object(request).get("stream")
    if not isinstance(stream, str) or not STREAM_ID.fullmatch(stream):
        raise BadRequest('The request needs the run\'s "stream" name.')
    return _json({"text": store.fields(_stream_key(stream)).get("text", "")})


def _answer(
    spec: ModelSpec,
    answer: Any,
    request_id: str,
    *,
    text: str,
    settings: Settings,
    feedback: FeedbackStore | None,
    voter: str,
) -> Response:
    """Turn the model's response into the page's JSON: a result (remembered for feedback), or an error in plain words."""
    error = answer.get("error") if isinstance(answer, dict) else None
    result = answer.get("result") if isinstance(answer, dict) else None
    if isinstance(error, dict) or not isinstance(result, dict):
        error = (
            error if isinstance(error, dict) else {"type": "internal_error", "message": "The answer was unreadable."}
        )
        kind = str(error.get("type") or "internal_error")
        logger.info("form request %s: %s answered with %s", request_id, spec.name, kind)
        status = 422 if kind in INPUT_ERRORS else 502
        return _error(status, kind, describe_error(error, request_id=request_id), request_id=request_id)
    logger.info("form request %s: %s answered", request_id, spec.name)
    votable = feedback is not None and record_form_answer(
        feedback, spec, settings=settings, request_id=request_id, text=text, result=result, voter=voter
    )
    return _json(
        {
            "model": spec.name,
            "task": spec.task,
            "title": spec.title,
            "result": result,
            "timings": answer.get("timings") or {},
            "request_id": request_id,
            "feedback": votable,
        }
    )


def _feedback(request: Request, feedback: FeedbackStore, settings: Settings, limits: FeedbackLimits) -> Response:
    """A vote or comment by the voter this server issued to the browser, on an answer it asked for."""
    if _locked(request, settings):
        return _passcode_required()
    data = _json_object(request)
    voter = voter_of(request, settings)
    if voter is None:
        return _error(403, "no_voter", "Feedback comes from the page that got the answer: reload it and try again.")
    wait = limits.take(voter, client_address(request))
    if wait is not None:
        minutes = max(1, round(wait / 60))
        message = f"That is a lot of feedback from here in one hour. Try again in about {minutes} minute(s)."
        return _try_again("too_much_feedback", message, wait)
    return _json({"tally": apply_feedback(feedback, data, voter)})


def _compare_check(request: Request, registry: Registry, settings: Settings) -> Response:
    """Whether the chosen models can all take the text, asked before the page fans out."""
    if _locked(request, settings):
        return _passcode_required()
    check_compare_request(registry, _json_object(request))
    return _json({"ok": True})


def _login(request: Request, settings: Settings, limiter: FailureLimiter) -> Response:
    client = client_address(request)
    wait = limiter.retry_after(client)
    if wait is not None:
        minutes = max(1, round(wait / 60))
        response = _error(
            429, "too_many_attempts", f"Too many wrong passcodes. Try again in about {minutes} minute(s)."
        )
        response.headers["Retry-After"] = str(wait)
        return response
    data = _json_object(request)
    if not passcode_matches(data.get("passcode"), settings):
        limiter.record_failure(client)
        logger.warning("wrong form passcode from %s", client)
        return _error(401, "wrong_passcode", "That passcode is not right.")
    limiter.forget(client)
    return Response(status=204, headers=json_headers(), cookies=[session_cookie(settings)])


def handle_stats(
    request: Request, *, registry: Registry, settings: Settings, stats: UsageSource, feedback: FeedbackStore
) -> Response:
    """Answer ``/go/stats``: the stats page, behind the form's passcode when it has one."""
    if request.method != "GET":
        return Response(status=405, headers={"Allow": "GET"})
    if settings.secrets.passcode and not has_valid_session(request, settings):
        return Response(status=303, headers={"Location": "../go"})
    return render_stats(registry, stats, feedback.model_tallies(registry.names))
