"""Files on the form end to end: multipart POST /go through ``python -m bot serve`` to the tiny image and speech models.

Each upload crosses the real HTTP server (its body caps, base64 into the event as API Gateway does), the
router, the media folder and a model worker, which reads the stored file back: the answers show that the
bytes arrived whole (a WAV's duration, a detector's drawing of the image), and the caps hold everywhere else.
"""

from __future__ import annotations

import http.client
import json
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from bot.core.multipart import MAX_UPLOAD_BODY_BYTES
from bot.router import MAX_BODY_BYTES
from tests.bot.form.conftest import BOUNDARY, FormPart, form_data
from tests.conftest import BotServer
from tests.speech_models import make_wav
from tests.vision_models import make_image

pytestmark = [pytest.mark.e2e]

MULTIPART = f"multipart/form-data; boundary={BOUNDARY}"
#: A cold tiny model loads in seconds; the page would keep asking while it warms up.
WARM_UP_SECONDS = 120


def send(server: BotServer, body: bytes, *, content_type: str = MULTIPART, path: str = "/go", **headers: str):
    """One POST; the status and the JSON answer."""
    url = urlsplit(server.url)
    connection = http.client.HTTPConnection(url.hostname, url.port, timeout=WARM_UP_SECONDS)
    try:
        connection.request("POST", path, body=body, headers={"Content-Type": content_type, **headers})
        response = connection.getresponse()
        return response.status, json.loads(response.read() or b"null")
    finally:
        connection.close()


def upload(server: BotServer, parts: list[FormPart]) -> tuple[int, Any]:
    """A run with a file, asked again while the model warms up or is busy, as the page does."""
    deadline = time.monotonic() + WARM_UP_SECONDS
    while True:
        status, answer = send(server, form_data(parts))
        if status not in (202, 429) or time.monotonic() > deadline:
            return status, answer
        time.sleep(1)


def parts(model: str, data: bytes, name: str, mime: str) -> list[FormPart]:
    return [("model", model.encode(), None, None), ("file", data, name, mime)]


def media(server: BotServer) -> Path:
    return server.data_dir / "media"


def test_an_image_is_stored_and_labelled(bot_server: BotServer) -> None:
    image = make_image(64, 48)

    status, answer = upload(bot_server, parts("tiny-classify-image", image, "photo.png", "image/png"))

    assert status == 200, answer
    assert answer["task"] == "image-classification"
    assert answer["result"]["labels"] and all(0 <= label["score"] <= 1 for label in answer["result"]["labels"])
    stored = list((media(bot_server) / "uploads" / answer["request_id"]).iterdir())
    assert [path.read_bytes() for path in stored] == [image]


def test_detection_answers_with_boxes_and_draws_no_picture_the_page_would_not_read(bot_server: BotServer) -> None:
    """The page draws the boxes over its own preview, so the form asks the model for no annotated copy."""
    status, answer = upload(bot_server, parts("tiny-detect", make_image(320, 240), "street.png", "image/png"))

    assert status == 200, answer
    result = answer["result"]
    assert (result["width"], result["height"]) == (320, 240), "the model read the image the page sent"
    assert result["objects"] and "annotated" not in result
    assert not (media(bot_server) / "annotated").exists()


def test_a_recording_larger_than_the_routers_usual_cap_is_transcribed_whole(bot_server: BotServer) -> None:
    recording = make_wav(40.0)
    assert len(recording) > MAX_BODY_BYTES

    status, answer = upload(bot_server, parts("tiny-transcribe", recording, "meeting.wav", "audio/wav"))

    assert status == 200, answer
    result = answer["result"]
    assert result["duration"] == pytest.approx(40.0, abs=0.01), "every byte of the WAV arrived"
    assert result["chunks"] and all(chunk["end"] <= 40.0 for chunk in result["chunks"])
    assert max(chunk["start"] for chunk in result["chunks"]) >= 30.0, "read in two 30-second windows"


def test_a_truncated_image_is_the_models_error_in_plain_words(bot_server: BotServer) -> None:
    image = make_image(64, 48)

    status, answer = upload(bot_server, parts("tiny-classify-image", image[: len(image) // 2], "cut.png", "image/png"))

    assert status == 422, answer
    assert answer["error"]["type"] == "invalid_input"
    assert "truncated" in answer["error"]["message"] or "damaged" in answer["error"]["message"]
    assert "Traceback" not in json.dumps(answer)


def test_the_wrong_kind_is_refused_before_any_model_runs(bot_server: BotServer) -> None:
    status, answer = send(bot_server, form_data(parts("tiny-transcribe", make_image(8, 8), "song.mp3", "audio/mpeg")))

    assert status == 415
    assert "tiny-transcribe reads audio files, and this is a PNG image" in answer["error"]["message"]


def test_only_an_upload_to_the_form_may_be_larger_than_a_megabyte(bot_server: BotServer) -> None:
    large = b"x" * (MAX_BODY_BYTES + 1)
    text = json.dumps({"model": "tiny-sentiment", "text": large.decode()}).encode()

    assert send(bot_server, text, content_type="application/json")[0] == 413
    assert send(bot_server, form_data([("model", large, None, None)]), path="/slack/events")[0] == 413
    assert send(bot_server, form_data([("model", large, None, None)]), path="/go/feedback")[0] == 413
    status, answer = send(bot_server, form_data([("text", large, None, None)]))
    assert (status, answer["error"]["type"]) == (413, "too_large"), "the form's own cap on its text field"


def test_a_body_over_the_upload_cap_is_refused_before_it_is_read(bot_server: BotServer) -> None:
    url = urlsplit(bot_server.url)
    connection = http.client.HTTPConnection(url.hostname, url.port, timeout=30)
    try:
        connection.putrequest("POST", "/go")
        connection.putheader("Content-Type", MULTIPART)
        connection.putheader("Content-Length", str(MAX_UPLOAD_BODY_BYTES + 1))
        connection.endheaders()
        response = connection.getresponse()
        assert response.status == 413
        assert json.loads(response.read())["error"]["message"] == "The request body is too large."
    finally:
        connection.close()


def test_an_upload_from_another_site_is_refused(bot_server: BotServer) -> None:
    body = form_data(parts("tiny-classify-image", make_image(8, 8), "photo.png", "image/png"))

    status, answer = send(bot_server, body, **{"Sec-Fetch-Site": "cross-site"})

    assert status == 403 and answer["error"]["type"] == "cross_site"
