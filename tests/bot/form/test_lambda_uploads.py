"""A file upload as the router's Lambda function gets it: API Gateway's proxy event, the body base64-encoded.

API Gateway passes a ``multipart/form-data`` body as bytes only when the API lists it among its binary
media types (``bot.core.multipart.BINARY_MEDIA_TYPES``); the event then says ``isBase64Encoded`` and the
router decodes it. A synchronous invocation carries at most 6 MB, so in AWS the form takes files of at most
``LAMBDA_FILE_BYTES`` and says where larger ones go.
"""

from __future__ import annotations

import base64
import dataclasses
import json

from bot.app import build_bolt_app
from bot.core.multipart import BINARY_MEDIA_TYPES, MULTIPART
from bot.core.services import Services
from bot.form.limits import LAMBDA_FILE_BYTES, SLACK_INSTEAD
from bot.router import Router
from inference.media import IMAGE, MAX_BYTES
from tests.bot.form.conftest import BOUNDARY, form_data
from tests.events import load_event
from tests.fakes.invoker import FakeInvoker, model_answer
from tests.vision_models import make_image

LABELS = {"labels": [{"label": "tabby cat", "score": 0.9}]}


def lambda_router(services: Services, invoker: FakeInvoker) -> Router:
    services.settings = dataclasses.replace(services.settings, local=False)
    invoker.answer = model_answer("classify-image", result=LABELS)
    return Router(services, build_bolt_app(services), lambda_mode=True)


def upload_event(data: bytes) -> dict:
    body = form_data([("model", b"classify-image", None, None), ("file", data, "photo.png", "image/png")])
    event = load_event(
        "api_gateway_get_go", httpMethod="POST", body=base64.b64encode(body).decode("ascii"), isBase64Encoded=True
    )
    event["headers"]["Content-Type"] = f"{MULTIPART}; boundary={BOUNDARY}"
    return event


def test_a_base64_encoded_upload_reaches_the_model_byte_for_byte(services: Services, invoker: FakeInvoker) -> None:
    router = lambda_router(services, invoker)
    image = make_image(64, 48)

    response = router.handle(upload_event(image))

    assert response["statusCode"] == 200, response["body"]
    assert json.loads(response["body"])["result"] == LABELS
    [call] = invoker.calls
    assert services.media.get(call.payload["file"]["key"], max_bytes=MAX_BYTES[IMAGE]) == image


def test_a_file_lambda_cannot_carry_is_a_413_that_points_to_slack(services: Services, invoker: FakeInvoker) -> None:
    router = lambda_router(services, invoker)
    image = make_image(64, 48)

    response = router.handle(upload_event(image + bytes(LAMBDA_FILE_BYTES + 1 - len(image))))

    assert response["statusCode"] == 413
    error = json.loads(response["body"])["error"]
    assert error["type"] == "input_too_long" and SLACK_INSTEAD in error["message"]
    assert invoker.calls == []


def test_the_file_cap_leaves_room_in_lambdas_six_megabytes() -> None:
    """4 MB of file, base64-encoded, with the rest of the form and the event's headers, stays under 6 MB."""
    encoded = len(base64.b64encode(bytes(LAMBDA_FILE_BYTES + 128 * 1024)))

    assert encoded + 64 * 1024 < 6 * 1024 * 1024
    assert MULTIPART in BINARY_MEDIA_TYPES


def test_a_multipart_body_that_came_as_text_is_refused_not_read(services: Services, invoker: FakeInvoker) -> None:
    """An API without multipart/form-data among its binary media types hands the body over as text."""
    router = lambda_router(services, invoker)
    event = upload_event(make_image(8, 8))
    event["body"], event["isBase64Encoded"] = base64.b64decode(event["body"]).decode("latin-1"), False

    response = router.handle(event)

    assert response["statusCode"] == 503
    error = json.loads(response["body"])["error"]
    assert error["type"] == "not_configured" and SLACK_INSTEAD in error["message"]
    assert invoker.calls == []
