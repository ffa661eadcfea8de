"""Delivering a model's answer, or its failure, into the Slack thread: exactly once.

In AWS the model function's asynchronous invocation ends in a Lambda
Destinations record (on success and on failure) sent to the router; locally
the worker pool builds the same record. Both come through :func:`deliver_record`.

An answer with a picture (object detection's boxes drawn on the image, which the model left in the
media store: ``result["annotated"]``) has it uploaded into the thread after the answer, within the
answer's one claim, so a retried record never posts it twice.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

from bot.core.invoker import function_failure
from bot.core.messages import describe_error
from bot.core.metrics import model_sample
from bot.core.services import Services
from bot.core.slack_ops import SlackError, SlackUnavailable
from bot.slack.answers import PICTURE_NOT_POSTED, answer_message, error_message
from bot.slack.compare_reply import deliver_column
from bot.slack.reply import RESPONSE_URL, ReplyTarget
from bot.slack.streaming import Stream, begin_final, end_final, finish, post_continuations, split_result
from bot.slack.ui import placeholder_done
from bot.stores.feedback import Answer
from bot.stores.state import DONE_TTL
from inference.errors import InferenceError, InvalidInput
from inference.media import HEAD_BYTES, IMAGE, MAX_BYTES, PNG, check_key, sniff
from inference.registry import ModelSpec
from inference.tasks import TRIMMED_TURNS

logger = logging.getLogger(__name__)


def is_destination_record(event: Any) -> bool:
    """True for a Lambda Destinations invocation record (not an HTTP event)."""
    return (
        isinstance(event, dict)
        and "requestPayload" in event
        and isinstance(event.get("requestContext"), dict)
        and "condition" in event["requestContext"]
    )


def failure_from_record(record: dict[str, Any]) -> dict[str, str]:
    """Word a failed invocation record: a timeout, a crash, or an event too old to run."""
    return function_failure(record.get("responsePayload"), condition=str(record["requestContext"].get("condition", "")))


def deliver_record(services: Services, record: dict[str, Any]) -> None:
    """Deliver a destination record's outcome; records not from Slack are ignored.

    Raises:
        SlackUnavailable: nothing could be posted; Lambda retries the record later.
    """
    payload = record.get("requestPayload") or {}
    reply = payload.get("reply") if isinstance(payload, dict) else None
    if not isinstance(reply, dict) or not reply.get("request_id") or reply.get("source") == "form":
        logger.info("destination record without a Slack reply target: ignored")
        return
    target = ReplyTarget.from_dict(reply)
    response = record.get("responsePayload")
    model = response.get("model") if isinstance(response, dict) else None
    spec = services.registry.find(model or "") or _spec_from_arn(services, record)
    success = record["requestContext"].get("condition") == "Success" and isinstance(response, dict)
    text = str(payload.get("text", ""))
    if spec is not None and services.store.claim(f"metrics:{target.request_id}", lease=DONE_TTL):
        services.metrics.model(model_sample(spec.name, spec.task, response, text=text))
    if success and "result" in response:
        deliver_outcome(services, spec, target, text=text, result=response["result"])
    elif success and isinstance(response.get("error"), dict):
        deliver_outcome(services, spec, target, text=text, error=response["error"])
    else:
        deliver_outcome(services, spec, target, text=text, error=failure_from_record(record))


def _spec_from_arn(services: Services, record: dict[str, Any]) -> ModelSpec | None:
    arn = str(record["requestContext"].get("functionArn", ""))
    name = arn.split(":function:")[-1].split(":")[0]
    return next((s for s in services.registry if name.endswith(f"-{s.name}")), None)


def deliver_outcome(
    services: Services,
    spec: ModelSpec | None,
    target: ReplyTarget,
    *,
    text: str,
    result: dict[str, Any] | None = None,
    error: dict[str, Any] | None = None,
) -> None:
    """Post the answer (or error) once, then mark the placeholder done.

    The claim on ``answer:<request_id>`` makes a second record for the same
    request (a Lambda retry, a duplicate destination) a no-op.

    Raises:
        SlackUnavailable: no route worked; the claim is released for a retry.
    """
    key = f"answer:{target.request_id}"
    if not services.store.claim(key):
        logger.info("answer already delivered", extra={"request_id": target.request_id})
        return
    elapsed_ms = max(0.0, (time.time() - target.started_at) * 1000) if target.started_at else 0.0
    if target.compare:
        _deliver_compare_column(
            services, spec, target, key, text=text, result=result, error=error, elapsed_ms=elapsed_ms
        )
        return
    parts: list[str] = []
    if error is None and result is not None and spec is not None:
        shown, parts = split_result(spec.task, result)
        if target.trim_noted:  # an earlier answer in the conversation said older messages were left out
            shown = {name: value for name, value in shown.items() if name != TRIMMED_TURNS}
        message = answer_message(spec, shown, source=text, elapsed_ms=elapsed_ms, request_id=target.request_id)
        record_for_feedback(services, spec, target, text=text, result=result)
    else:
        message = error_message(spec, describe_error(error), request_id=target.request_id)
    # No partial lands after this; the streamed message, if one was started (only a model that streams has one).
    stream = begin_final(services, target, spec_task=spec.task if spec is not None else None)
    try:
        in_placeholder = _post(services, target, message, stream=stream)
    except SlackUnavailable:
        services.store.release(key)
        raise
    finally:
        end_final(services, target)
    services.store.complete(key)
    post_continuations(services, target, parts)
    if error is None and result is not None and spec is not None and isinstance(result.get("annotated"), dict):
        post_picture(services, spec, target, result["annotated"])
    if target.placeholder_ts and not in_placeholder and spec is not None:
        done = placeholder_done(
            spec,
            user=target.user,
            text=text,
            elapsed_ms=elapsed_ms,
            failed=error is not None,
            file_name=target.file_name,
        )
        mark_done(services, target, done)


def post_picture(services: Services, spec: ModelSpec, target: ReplyTarget, annotated: dict[str, Any]) -> None:
    """Upload the answer's picture (``{"key", "mime"}`` in the media store) into its thread; when it cannot be
    read or posted, the thread is told, and the answer above stands.

    The answer's claim is already complete, so nothing raised here is retried: a failure of the store itself
    (S3 throttled or unreachable, a disk error) must end here too, or the placeholder would stay "working"."""
    try:
        data = services.media.get(check_key(annotated.get("key")), max_bytes=MAX_BYTES[IMAGE])
        if sniff(data[:HEAD_BYTES]) is not PNG:
            raise InvalidInput("the stored picture is not a PNG")
        if target.mode == RESPONSE_URL or not target.channel:
            raise InvalidInput("there is no thread to post it in")
        services.slack.upload_file(
            target.channel,
            target.thread_ts,
            data,
            filename=f"{spec.name}-boxes.png",
            title=f"{spec.title}: boxes drawn",
        )
    except Exception as exc:  # any failure: the answer is posted and its claim complete
        logger.warning(
            "picture not posted: %s",
            exc if isinstance(exc, (InferenceError, SlackError)) else type(exc).__name__,
            extra={"request_id": target.request_id},
        )
        note = {"text": PICTURE_NOT_POSTED}
        try:
            if target.mode == RESPONSE_URL:
                services.slack.respond(target.response_url, note)
            else:
                services.slack.post(target.channel, note, thread_ts=target.thread_ts or None)
        except SlackError as again:
            logger.warning(
                "could not say the picture was not posted: %s", again, extra={"request_id": target.request_id}
            )


def mark_done(services: Services, target: ReplyTarget, done: dict[str, Any]) -> None:
    """Mark the placeholder done; the answer is already in, so a failure here is only logged."""
    try:
        services.slack.update(target.channel, target.placeholder_ts, done)
    except SlackError as exc:
        logger.warning("placeholder not marked done: %s", exc, extra={"request_id": target.request_id})


def _post(services: Services, target: ReplyTarget, message: dict[str, Any], *, stream: Stream | None = None) -> bool:
    """Post by the best route left; True when the answer replaced the placeholder.

    A streamed message (the text so far, :mod:`bot.slack.streaming`) is the first route: the answer
    replaces its text, so the words are posted once.

    Raises:
        SlackUnavailable: no route took the answer (each route's failure is logged).
    """
    slack = services.slack
    if target.mode == RESPONSE_URL:
        try:
            slack.respond(target.response_url, message)
        except SlackError as exc:
            raise SlackUnavailable(exc.method, f"the answer was refused: {exc.error}") from exc
        return False
    routes: list[tuple[str, Callable[[], object]]] = []
    if stream is not None:
        routes.append(("streamed message", lambda: finish(services, target, stream, message)))
    routes.append(("thread", lambda: slack.post(target.channel, message, thread_ts=target.thread_ts or None)))
    if target.placeholder_ts:
        routes.append(("placeholder", lambda: slack.update(target.channel, target.placeholder_ts, message)))
    if target.response_url:
        routes.append(("response_url", lambda: slack.respond(target.response_url, message)))
    for route, deliver in routes:
        try:
            deliver()
        except SlackError as exc:
            logger.warning("answer not delivered by the %s: %s", route, exc, extra={"request_id": target.request_id})
            continue
        return route == "placeholder"
    raise SlackUnavailable("delivery", "no route could deliver the answer")


def record_for_feedback(services: Services, spec: ModelSpec, target: ReplyTarget, *, text: str, result: Any) -> None:
    """Remember the answer so votes can name it; a storage fault never holds the answer back."""
    answer = Answer.make(
        store_text=services.settings.feedback_store_text and spec.store_text,
        text=text,
        request_id=target.request_id,
        model=spec.name,
        revision=spec.revision,
        task=spec.task,
        output=result,
        source=target.source,
        channel=target.channel,
        thread_ts=target.thread_ts,
    )
    try:
        services.feedback.record_answer(answer)
    except Exception:
        logger.exception("could not record the answer for feedback", extra={"request_id": target.request_id})


def _deliver_compare_column(
    services: Services,
    spec: ModelSpec | None,
    target: ReplyTarget,
    key: str,
    *,
    text: str,
    result: dict[str, Any] | None,
    error: dict[str, Any] | None,
    elapsed_ms: float,
) -> None:
    column: dict[str, Any] = {"elapsed_ms": round(elapsed_ms, 1), "request_id": target.request_id}
    if error is None and result is not None and spec is not None:
        column["result"] = result
        record_for_feedback(services, spec, target, text=text, result=result)
    else:
        column["error"] = describe_error(error)
    try:
        deliver_column(services, spec, target, text=text, column=column)
    except Exception as exc:
        services.store.release(key)
        raise SlackUnavailable("chat.update", f"could not update the comparison: {exc}") from exc
    services.store.complete(key)
