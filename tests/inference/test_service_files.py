"""How the model side takes a request's file: from the store, checked again, to the runner, and its annotation back.

A recording runner stands in for a model, so these tests are about the service's contract alone
(each task's own runners are tested on tiny models in test_handler_tasks.py and beside them).
"""

from __future__ import annotations

import io
import logging
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from inference import media, service
from inference.media import FileRef, MediaFile, upload_key
from inference.media_store import FolderStore
from inference.service import handle
from tests.fakes.specs import model_spec


def png() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (4, 4)).save(out, format="PNG")
    return out.getvalue()


class Recorder:
    """A runner that keeps what it was given and answers a fixed shape."""

    def __init__(self, result: dict[str, Any] | None = None) -> None:
        self.calls: list[tuple[str, dict[str, Any], MediaFile | None]] = []
        self.result = result or {"labels": [{"label": "cat", "score": 1.0}]}

    def run(self, text: str, parameters: dict[str, Any], *, file: MediaFile | None = None) -> dict[str, Any]:
        self.calls.append((text, parameters, file))
        return dict(self.result)


@pytest.fixture
def store(tmp_path: Path) -> FolderStore:
    return FolderStore(tmp_path / "media")


def stored(store: FolderStore, data: bytes, media_type: media.MediaType = media.PNG) -> dict[str, Any]:
    key = upload_key("ab12", media_type)
    store.put(key, data, mime=media_type.mime)
    return FileRef(key, media_type, "photo.png", len(data)).to_event()


def serve(spec: Any, event: dict[str, Any], runner: Recorder, store: FolderStore | None) -> dict[str, Any]:
    return handle(event, spec=spec, get_runner=lambda: runner, get_store=lambda: store)


IMAGE_SPEC = model_spec("classify-image", task="image-classification")


def test_the_runner_gets_the_stored_bytes_checked(store: FolderStore) -> None:
    runner = Recorder()
    response = serve(IMAGE_SPEC, {"text": "", "file": stored(store, png())}, runner, store)
    assert response["result"] == {"labels": [{"label": "cat", "score": 1.0}]}
    [(text, _, file)] = runner.calls
    assert text == "" and file == MediaFile(png(), media.PNG, "photo.png")


@pytest.mark.parametrize(
    ("spec", "event", "words"),
    [
        (IMAGE_SPEC, {"text": ""}, "classify-image reads image files: attach one to the request (`file`)."),
        (model_spec(), {"text": "hi", "file": {}}, "sentiment reads text, not files: send it text."),
        (IMAGE_SPEC, {"text": "", "file": "uploads/x.png"}, "`file` must be an object"),
        (
            model_spec("transcribe", task="automatic-speech-recognition"),
            {"text": "", "file": FileRef(upload_key("ab", media.PNG), media.PNG, "a.png", 4).to_event()},
            "transcribe reads audio files, and this is a PNG image: send it an audio file.",
        ),
    ],
)
def test_a_request_with_the_wrong_file_or_none_is_refused_before_loading(
    store: FolderStore, spec: Any, event: dict[str, Any], words: str
) -> None:
    runner = Recorder()
    response = serve(spec, event, runner, store)
    assert response["error"]["type"] == "invalid_input"
    assert words in response["error"]["message"]
    assert not runner.calls and response["timings"]["load_ms"] == 0.0


def test_a_stored_file_is_checked_again_by_its_content(store: FolderStore) -> None:
    """What the router saw as a PNG may since be something else: the bytes decide, not the reference."""
    response = serve(IMAGE_SPEC, {"text": "", "file": stored(store, b"<html>not an image</html>")}, Recorder(), store)
    assert response["error"]["type"] == "invalid_input"
    assert "not an image or audio file" in response["error"]["message"]


def test_an_expired_file_is_named_as_such(store: FolderStore) -> None:
    event = {"text": "", "file": FileRef(upload_key("ab", media.PNG), media.PNG, "a.png", 4).to_event()}
    response = serve(IMAGE_SPEC, event, Recorder(), store)
    assert response["error"] == {
        "type": "invalid_input",
        "message": "The file is no longer stored (files are kept 1 day); send it again.",
    }


def test_a_function_without_a_store_is_our_failure_not_the_callers(store: FolderStore) -> None:
    response = serve(IMAGE_SPEC, {"text": "", "file": stored(store, png())}, Recorder(), None)
    assert response["error"]["type"] == "model_load_failed"
    assert "MEDIA_BUCKET or MEDIA_DIR" in response["error"]["message"]


def test_the_model_side_reads_its_store_from_the_environment(
    store: FolderStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    event = {"text": "", "file": stored(store, png())}
    monkeypatch.setenv("MEDIA_DIR", str(store.root))
    monkeypatch.delenv("MEDIA_BUCKET", raising=False)
    response = handle(event, spec=IMAGE_SPEC, get_runner=Recorder)
    assert "result" in response, response


DETECT_SPEC = model_spec("detect", task="object-detection")
OBJECTS = {"objects": [{"label": "cat", "score": 0.9, "box": {"xmin": 0, "ymin": 0, "xmax": 2, "ymax": 2}}]}


def test_a_detection_is_drawn_and_stored_beside_its_upload(store: FolderStore, monkeypatch: pytest.MonkeyPatch) -> None:
    drawn: list[tuple[MediaFile, dict[str, Any]]] = []

    def draw(file: MediaFile, result: dict[str, Any]) -> bytes:
        drawn.append((file, result))
        return b"\x89PNG\r\n\x1a\n drawn"

    monkeypatch.setattr(service, "ANNOTATORS", {"object-detection": f"{__name__}:DRAW"})
    monkeypatch.setitem(globals(), "DRAW", draw)
    event = {"text": "", "file": stored(store, png())}
    response = serve(DETECT_SPEC, event, Recorder(OBJECTS), store)
    annotated = response["result"]["annotated"]
    assert annotated == {"key": media.annotated_key(event["file"]["key"]), "mime": "image/png"}
    assert store.get(annotated["key"], max_bytes=100) == b"\x89PNG\r\n\x1a\n drawn"
    assert drawn[0][1]["objects"] == OBJECTS["objects"]


def test_a_request_may_ask_for_no_drawing(store: FolderStore, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(service, "ANNOTATORS", {"object-detection": f"{__name__}:DRAW"})
    monkeypatch.setitem(globals(), "DRAW", lambda file, result: pytest.fail("drawn though the request said not to"))
    response = serve(
        DETECT_SPEC, {"text": "", "file": stored(store, png()), "annotate": False}, Recorder(OBJECTS), store
    )
    assert response["result"] == OBJECTS
    assert not (store.root / media.ANNOTATED).exists()


def test_a_failed_drawing_leaves_the_answer_whole(
    store: FolderStore, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def draw(file: MediaFile, result: dict[str, Any]) -> bytes:
        raise OSError("disk full")

    monkeypatch.setattr(service, "ANNOTATORS", {"object-detection": f"{__name__}:DRAW"})
    monkeypatch.setitem(globals(), "DRAW", draw)
    with caplog.at_level(logging.WARNING):
        response = serve(DETECT_SPEC, {"text": "", "file": stored(store, png())}, Recorder(OBJECTS), store)
    assert response["result"] == OBJECTS
    assert "the annotated image was not made" in caplog.text


def test_every_annotator_names_a_task_that_reads_images() -> None:
    from inference.tasks import media_kind

    assert service.ANNOTATORS and all(media_kind(task) == media.IMAGE for task in service.ANNOTATORS)
