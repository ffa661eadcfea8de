"""POST /go: validation, what gets invoked, and how each model outcome is answered."""

from __future__ import annotations

import json

import pytest

from bot.core.invoker import InvokeError, InvokeTimeout
from bot.core.messages import describe_error
from bot.form.routes import MAX_BODY_BYTES, RETRY_AFTER_SECONDS
from tests.bot.form.conftest import body, make_request
from tests.fakes.invoker import Call, FakeInvoker, model_answer


def post(json_body=None, **kwargs):
    return make_request("POST", json_body=json_body, **kwargs)


def test_success_invokes_the_named_model_and_answers_with_its_result(call, invoker, settings):
    response = call(post({"model": "tiny-sentiment", "text": "  I love it.\n"}))

    assert response.status == 200
    answer = body(response)
    assert answer == {
        "model": "tiny-sentiment",
        "task": "text-classification",
        "title": "Tiny sentiment",
        "result": {"labels": [{"label": "POSITIVE", "score": 0.98}]},
        "timings": {"load_ms": 120.5, "inference_ms": 8.25},
        "request_id": answer["request_id"],
        "feedback": False,
    }
    assert answer["request_id"]
    payload = {"text": "I love it.", "reply": {"request_id": answer["request_id"], "source": "form"}}
    assert invoker.calls == [Call("sync", "tiny-sentiment", payload, settings.form_wait_seconds)]


def test_function_names_and_arns_in_the_request_are_ignored(call, invoker):
    evil = "arn:aws:lambda:us-east-1:123456789012:function:someone-elses-function"
    response = call(
        post({"model": "tiny-sentiment", "text": "hi", "function": evil, "arn": evil, "FunctionName": evil})
    )

    assert response.status == 200
    [(kind, model, payload, _)] = invoker.calls
    assert (kind, model) == ("sync", "tiny-sentiment")
    assert set(payload) == {"text", "reply"}
    assert evil not in json.dumps(payload)


def test_unknown_model_is_a_400_that_lists_the_valid_names(call, invoker, registry):
    response = call(post({"model": "../etc/passwd", "text": "hi"}))

    assert response.status == 400
    error = body(response)["error"]
    assert error["type"] == "unknown_model"
    for name in registry.names:
        assert name in error["message"]
    assert body(response)["valid_models"] == registry.names
    assert invoker.calls == []


@pytest.mark.parametrize(
    ("raw", "status"),
    [
        (b"{not json", 400),
        (b"[1, 2]", 400),
        (b'"text"', 400),
        (b'{"text": "hi"}', 400),
        (b'{"model": "tiny-sentiment"}', 400),
        (b'{"model": 7, "text": "hi"}', 400),
        (b'{"model": "", "text": "hi"}', 400),
        (b'{"model": "tiny-sentiment", "text": ["hi"]}', 400),
        (b"[" * 5000 + b"]" * 5000, 400),
    ],
)
def test_malformed_requests_are_400s_and_invoke_nothing(call, invoker, raw, status):
    response = call(post(raw=raw))

    assert response.status == status
    assert body(response)["error"]["message"]
    assert invoker.calls == []


@pytest.mark.parametrize("text", ["", "   \n\t "])
def test_empty_text_is_a_400_in_plain_words(call, invoker, text):
    response = call(post({"model": "tiny-sentiment", "text": text}))

    assert response.status == 400
    error = body(response)["error"]
    assert error["type"] == "invalid_input"
    assert error["message"].startswith(describe_error({"type": "invalid_input"}).rstrip("."))
    assert "empty" in error["message"]
    assert invoker.calls == []


def test_text_over_the_models_limit_is_a_413(call, invoker):
    response = call(post({"model": "tiny-qa", "text": "Why? | " + "x" * 300}))

    assert response.status == 413
    error = body(response)["error"]
    assert error["type"] == "input_too_long"
    assert "200" in error["message"]
    assert invoker.calls == []


def test_text_that_does_not_fit_the_task_format_is_a_400(call, invoker):
    response = call(post({"model": "tiny-qa", "text": "no separator here"}))

    assert response.status == 400
    assert "question | context" in body(response)["error"]["message"]
    assert invoker.calls == []


def test_bodies_over_64_kb_are_413(call, invoker):
    response = call(post({"model": "tiny-sentiment", "text": "x" * MAX_BODY_BYTES}))

    assert response.status == 413
    assert invoker.calls == []


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded", ""])
def test_other_content_types_are_415(call, invoker, content_type):
    request = post({"model": "tiny-sentiment", "text": "hi"}, content_type=content_type)

    assert call(request).status == 415
    assert invoker.calls == []


def test_json_content_type_with_charset_is_accepted(call):
    request = post({"model": "tiny-sentiment", "text": "hi"}, content_type="Application/JSON; charset=utf-8")

    assert call(request).status == 200


@pytest.mark.parametrize(("kind", "status"), [("invalid_input", 422), ("input_too_long", 422), ("model_failed", 502)])
def test_model_errors_are_worded_for_people(call, kind, status):
    error = {"type": kind, "message": "Details from the model."}
    invoker = FakeInvoker(answer=model_answer(error=error))

    response = call(post({"model": "tiny-sentiment", "text": "hi"}), invoker=invoker)

    assert response.status == status
    answer = body(response)
    assert answer["error"] == {"type": kind, "message": describe_error(error, request_id=answer["request_id"])}
    assert answer["request_id"] in answer["error"]["message"]


@pytest.mark.parametrize("answer", [None, {}, {"result": "not a mapping"}, ["result"]])
def test_an_unreadable_model_answer_is_a_502(call, answer):
    response = call(post({"model": "tiny-sentiment", "text": "hi"}), invoker=FakeInvoker(answer=answer))

    assert response.status == 502
    assert body(response)["error"]["type"] == "internal_error"


def test_a_model_still_warming_up_is_a_202_the_page_retries(call):
    invoker = FakeInvoker(error=InvokeTimeout("tiny-sentiment is still warming up."))

    response = call(post({"model": "tiny-sentiment", "text": "hi"}), invoker=invoker)

    assert response.status == 202
    answer = body(response)
    assert answer["status"] == "warming_up"
    assert answer["retry_after"] == RETRY_AFTER_SECONDS
    assert answer["message"].startswith(describe_error({"type": "warming_up"}).rstrip("."))
    assert response.headers["Retry-After"] == str(RETRY_AFTER_SECONDS)


def test_a_failed_invocation_is_a_502_with_a_request_id(call):
    invoker = FakeInvoker(error=InvokeError("Could not invoke tiny-sentiment: ClientError"))

    response = call(post({"model": "tiny-sentiment", "text": "hi"}), invoker=invoker)

    assert response.status == 502
    answer = body(response)
    assert answer["error"]["type"] == "invoke_failed"
    assert answer["request_id"] in answer["error"]["message"]


def test_markup_in_text_and_results_only_ever_travels_as_json(call, invoker):
    markup = "<script>alert(1)</script><img src=x onerror=alert(2)>"
    invoker.answer = model_answer(result={"labels": [{"label": markup, "score": 1.0}]})

    response = call(post({"model": "tiny-sentiment", "text": markup}))

    assert response.status == 200
    assert response.headers["Content-Type"] == "application/json; charset=utf-8"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert "default-src 'none'" in response.headers["Content-Security-Policy"]
    assert body(response)["result"]["labels"][0]["label"] == markup
    assert invoker.calls[0].payload["text"] == markup
    page = call(make_request("GET"))
    assert markup not in page.body
    assert "onerror" not in page.body
