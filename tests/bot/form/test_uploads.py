"""POST /go with a file (multipart/form-data): what is stored and invoked, and each bad file's one clear answer."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from bot.core.config import Settings
from bot.core.invoker import InvokeTimeout
from bot.core.messages import describe_error
from bot.core.multipart import MAX_UPLOAD_BODY_BYTES
from bot.form.limits import LAMBDA_FILE_BYTES, SLACK_INSTEAD
from bot.form.page import content_security_policy
from bot.router import MAX_BODY_BYTES, body_limit
from bot.stores.state import SqliteStateStore
from inference.media import AUDIO, IMAGE, MAX_BYTES, MB, UPLOADS
from inference.media_store import FolderStore
from inference.registry import Registry, parse_registry
from tests.bot.form.conftest import PASSCODE, body, make_request, page_data_of, upload_request
from tests.fakes.invoker import FakeInvoker, model_answer
from tests.speech_models import make_wav
from tests.vision_models import make_image

PNG = make_image(32, 24)
WAV = make_wav(0.5)
LABELS = {"labels": [{"label": "tabby cat", "score": 0.7}, {"label": "dog", "score": 0.3}]}


def _entry(name: str, task: str, **extra: object) -> dict[str, object]:
    return {"name": name, "task": task, "model": f"test/{name}", "revision": "0" * 40, **extra}


@pytest.fixture
def registry() -> Registry:
    """Text and file models: the form's file routes are chosen by the entry's task."""
    entries = [
        _entry("tiny-sentiment", "text-classification", title="Tiny sentiment"),
        _entry("tiny-classify-image", "image-classification", title="Tiny image classifier"),
        _entry("tiny-label-image", "zero-shot-image-classification", title="Tiny CLIP"),
        _entry("tiny-transcribe", "automatic-speech-recognition", title="Tiny Whisper"),
    ]
    return parse_registry({"models": entries}, base=Path("."), path=Path("upload-test.yaml"))


@pytest.fixture
def invoker() -> FakeInvoker:
    return FakeInvoker(answer=model_answer("tiny-classify-image", result=LABELS))


@pytest.fixture
def local_settings(settings: Settings) -> Settings:
    """``python -m bot serve``'s: no Lambda payload limit on files."""
    return dataclasses.replace(settings, local=True)


def file_parts(model: str, data: bytes, name: str = "photo.png", mime: str = "image/png", text: str | None = None):
    parts = [("model", model.encode(), None, None), ("file", data, name, mime)]
    return parts if text is None else [*parts, ("text", text.encode(), None, None)]


def stored(media: FolderStore) -> list[Path]:
    return [path for path in media.root.rglob("*") if path.is_file()] if media.root.exists() else []


def test_an_image_is_stored_and_the_model_invoked_with_its_key(call, invoker, media, settings):
    response = call(upload_request(file_parts("tiny-classify-image", PNG)))

    assert response.status == 200, response.body
    answer = body(response)
    assert answer["result"] == LABELS and answer["task"] == "image-classification"
    [(kind, model, payload, timeout)] = invoker.calls
    assert (kind, model, timeout) == ("sync", "tiny-classify-image", settings.form_wait_seconds)
    assert payload["text"] == ""
    assert payload["reply"] == {"request_id": answer["request_id"], "source": "form"}
    assert payload["annotate"] is False, "the page draws boxes over its own preview"
    file = payload["file"]
    assert file["key"].startswith(f"{UPLOADS}/{answer['request_id']}/")
    assert {k: file[k] for k in ("kind", "mime", "name", "size")} == {
        "kind": IMAGE,
        "mime": "image/png",
        "name": "photo.png",
        "size": len(PNG),
    }
    assert media.get(file["key"], max_bytes=MAX_BYTES[IMAGE]) == PNG


def test_the_text_beside_a_file_is_sent_as_the_models_text(call, invoker):
    response = call(upload_request(file_parts("tiny-label-image", PNG, text="  tabby cat, dog ")))

    assert response.status == 200, response.body
    assert invoker.calls[0].payload["text"] == "tabby cat, dog"


def test_audio_goes_to_a_speech_model_typed_by_its_content_not_its_name(call, invoker, media):
    response = call(upload_request(file_parts("tiny-transcribe", WAV, name="meeting.mp3", mime="audio/mpeg")))

    assert response.status == 200, response.body
    file = invoker.calls[0].payload["file"]
    assert (file["kind"], file["mime"], file["name"]) == (AUDIO, "audio/wav", "meeting.mp3")
    assert file["key"].endswith(".wav")
    assert media.get(file["key"], max_bytes=MAX_BYTES[AUDIO]) == WAV


def test_a_file_name_is_kept_for_display_only(call, invoker, media):
    response = call(upload_request(file_parts("tiny-classify-image", PNG, name="../../etc/passwd")))

    assert response.status == 200
    file = invoker.calls[0].payload["file"]
    assert file["name"] == "passwd"
    assert "etc" not in file["key"]
    assert [path.parent.parent for path in stored(media)] == [media.root / UPLOADS]


def refused(response, status: int, type: str) -> str:
    assert response.status == status, response.body
    error = body(response)["error"]
    assert error["type"] == type
    return error["message"]


def test_a_file_model_without_a_file_is_a_400(call, invoker):
    message = refused(call(upload_request([("model", b"tiny-classify-image", None, None)])), 400, "file_required")

    assert message == "Tiny image classifier reads an image: choose one to upload (or drop or paste it on the page)."
    assert invoker.calls == []


def test_a_file_input_with_nothing_chosen_is_no_file(call, invoker):
    parts = [("model", b"tiny-transcribe", None, None), ("file", b"", "", "application/octet-stream")]

    message = refused(call(upload_request(parts)), 400, "file_required")

    assert "reads an audio file" in message
    assert invoker.calls == []


def test_a_file_model_asked_with_json_is_a_400_that_says_to_upload(call, invoker):
    response = call(make_request("POST", json_body={"model": "tiny-classify-image", "text": ""}))

    assert "choose one to upload" in refused(response, 400, "file_required")
    assert invoker.calls == []


def test_a_file_for_a_text_model_is_a_400(call, invoker, media):
    response = call(upload_request(file_parts("tiny-sentiment", PNG, text="I love it.")))

    assert refused(response, 400, "not_a_file_model") == (
        "Tiny sentiment reads text, not files: type the text instead, or choose a model that reads files."
    )
    assert invoker.calls == [] and stored(media) == []


def test_a_text_model_may_still_be_sent_its_text_as_a_form(call, invoker):
    parts = [("model", b"tiny-sentiment", None, None), ("text", b"I love it.", None, None)]

    assert call(upload_request(parts)).status == 200
    assert "file" not in invoker.calls[0].payload


@pytest.mark.parametrize(
    ("model", "data", "says"),
    [
        pytest.param("tiny-classify-image", WAV, "reads image files, and this is a WAV audio", id="audio-for-image"),
        pytest.param("tiny-transcribe", PNG, "reads audio files, and this is a PNG image", id="image-for-audio"),
        pytest.param("tiny-classify-image", b"%PDF-1.7\n...", "not an image or audio file", id="pdf"),
        pytest.param("tiny-classify-image", b"<html><body>Sign in</body></html>", "not an image", id="html"),
        pytest.param("tiny-classify-image", b"\x00\x00\x00\x18ftypheic" + bytes(40), "export it as JPEG", id="heic"),
        pytest.param("tiny-classify-image", b"\x00", "not an image", id="one-byte"),
    ],
)
def test_a_file_of_the_wrong_kind_is_a_415_by_its_content(call, invoker, media, model, data, says):
    message = refused(call(upload_request(file_parts(model, data))), 415, "invalid_input")

    assert says in message
    assert message.startswith(describe_error({"type": "invalid_input"}).rstrip("."))
    assert invoker.calls == [] and stored(media) == []


def test_an_empty_file_is_a_400_in_plain_words(call, invoker):
    message = refused(call(upload_request(file_parts("tiny-classify-image", b""))), 400, "invalid_input")

    assert "The file is empty" in message
    assert invoker.calls == []


def test_a_file_over_its_kinds_cap_is_a_413(call, invoker, media, local_settings):
    big = PNG + bytes(MAX_BYTES[IMAGE] + 1 - len(PNG))

    response = call(upload_request(file_parts("tiny-classify-image", big)), settings=local_settings)

    message = refused(response, 413, "input_too_long")
    assert "The file is 20.0 MB; tiny-classify-image takes image files of at most 20.0 MB." in message
    assert invoker.calls == [] and stored(media) == []


def test_in_aws_a_file_larger_than_lambda_carries_is_a_413_that_points_to_slack(call, invoker, media, settings):
    assert not settings.local
    big = PNG + bytes(LAMBDA_FILE_BYTES + 1 - len(PNG))

    message = refused(call(upload_request(file_parts("tiny-classify-image", big))), 413, "input_too_long")

    assert "the form takes files of at most 4.0 MB" in message and SLACK_INSTEAD in message
    assert invoker.calls == [] and stored(media) == []


def test_locally_the_same_file_runs(call, invoker, local_settings):
    big = PNG + bytes(LAMBDA_FILE_BYTES + 1 - len(PNG))

    assert call(upload_request(file_parts("tiny-classify-image", big)), settings=local_settings).status == 200
    assert invoker.calls[0].payload["file"]["size"] == len(big)


@pytest.mark.parametrize(
    ("content_type", "status"),
    [("multipart/form-data", 400), ("multipart/form-data; boundary=", 400), ("multipart/form-data; boundary=x", 400)],
)
def test_a_body_that_is_not_the_multipart_it_says_is_a_400(call, invoker, content_type, status):
    raw = b"--other\r\nContent-Disposition: form-data; name=model\r\n\r\ntiny-classify-image\r\n--other--\r\n"
    request = make_request("POST", raw=raw, content_type=content_type, binary=True)

    assert call(request).status == status
    assert invoker.calls == []


def test_an_unknown_model_is_a_400_listing_the_names(call, invoker, registry):
    message = refused(call(upload_request(file_parts("../etc", PNG))), 400, "unknown_model")

    assert all(name in message for name in registry.names)
    assert invoker.calls == []


def test_an_unreadable_file_is_the_models_error_like_any_bad_input(call, media):
    error = {"type": "invalid_input", "message": "The image is damaged or cut short: send it again, or another one."}
    invoker = FakeInvoker(answer=model_answer("tiny-classify-image", error=error))

    response = call(upload_request(file_parts("tiny-classify-image", PNG[:40])), invoker=invoker)

    assert response.status == 422
    answer = body(response)
    assert answer["error"]["message"] == describe_error(error, request_id=answer["request_id"])


def test_a_model_warming_up_is_a_202_and_the_page_sends_the_file_again(call):
    invoker = FakeInvoker(error=InvokeTimeout("still loading"))

    response = call(upload_request(file_parts("tiny-classify-image", PNG)), invoker=invoker)

    assert response.status == 202 and body(response)["status"] == "warming_up"


def test_a_locked_form_stores_nothing(call, invoker, media, locked_settings):
    response = call(upload_request(file_parts("tiny-classify-image", PNG)), settings=locked_settings)

    assert refused(response, 401, "passcode_required")
    assert invoker.calls == [] and stored(media) == []
    assert PASSCODE not in response.body


def test_uploads_share_the_per_client_run_limit(call, media, settings, tmp_path):
    store = SqliteStateStore(tmp_path / "state.sqlite")
    store.claim("form-run:203.0.113.10:0", lease=60)
    limited = dataclasses.replace(settings, form_runs_per_client=1)

    response = call(upload_request(file_parts("tiny-classify-image", PNG)), settings=limited, store=store)

    assert response.status == 429 and body(response)["error"]["type"] == "too_many_runs"
    assert stored(media) == [], "a refused run stores nothing"


def test_compare_mode_refuses_models_that_read_files(call):
    response = call(
        make_request(
            "POST", "/go/compare-check", json_body={"models": ["tiny-sentiment", "tiny-transcribe"], "text": "hi"}
        )
    )

    assert response.status == 400
    assert body(response)["error"]["message"] == (
        "`tiny-transcribe` reads files; a comparison runs text models on one text. Run it as one model."
    )


def test_the_page_says_what_each_model_reads_and_the_caps_here(call, local_settings):
    aws = page_data_of(call(make_request("GET")).body)
    local = page_data_of(call(make_request("GET"), settings=local_settings).body)

    assert {m["name"]: m["media"] for m in aws["models"]} == {
        "tiny-sentiment": None,
        "tiny-classify-image": IMAGE,
        "tiny-label-image": IMAGE,
        "tiny-transcribe": AUDIO,
    }
    assert {m["name"]: m["reads_text"] for m in aws["models"]} == {
        "tiny-sentiment": True,
        "tiny-classify-image": False,
        "tiny-label-image": True,
        "tiny-transcribe": False,
    }
    assert local["uploads"] == MAX_BYTES and local["upload_note"] == ""
    assert aws["uploads"] == {IMAGE: 4 * MB, AUDIO: 4 * MB} and aws["upload_note"] == SLACK_INSTEAD


def test_the_pages_policy_allows_object_urls_for_previews_only():
    policy = content_security_policy("n0nce")

    assert "img-src data: blob:" in policy and "media-src blob:" in policy
    assert "connect-src 'self'" in policy and "blob:" not in policy.split("connect-src")[1].split(";")[0]


@pytest.mark.parametrize(
    ("method", "path", "content_type", "limit"),
    [
        ("POST", "/go", "multipart/form-data; boundary=x", MAX_UPLOAD_BODY_BYTES),
        ("POST", "/go", "application/json", MAX_BODY_BYTES),
        ("POST", "/go/feedback", "multipart/form-data; boundary=x", MAX_BODY_BYTES),
        ("POST", "/slack/events", "multipart/form-data; boundary=x", MAX_BODY_BYTES),
    ],
)
def test_only_an_upload_to_the_form_may_be_larger_than_a_megabyte(method, path, content_type, limit):
    request = make_request(method, path, raw=b"", content_type=content_type)

    assert body_limit(request) == limit
