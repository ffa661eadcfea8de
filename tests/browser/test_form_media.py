"""Files on the form in headless Chromium, against ``python -m bot serve`` with the tiny image and speech models.

A file comes by the file button (and by the keyboard, through the drop zone), by drag and drop and by
paste (dispatched in the page with a ``DataTransfer``, as a browser would), is previewed, and goes to
the model as ``multipart/form-data``; a file too large is refused by the page without a request, one
of the wrong kind by the server, in its words. Two tests take the README's screenshots
(docs/img/form-detect.png and docs/img/form-transcribe.png, rewritten with ``UPDATE_DOCS_SCREENSHOTS=1``).
"""

from __future__ import annotations

import base64
import os
import re
from pathlib import Path
from typing import Any

from playwright.sync_api import expect

from inference.media import MB
from tests.browser.conftest import ANSWER_TIMEOUT_MS, BROWSER_MARKS, OUTPUT_DIR, run
from tests.speech_models import make_wav
from tests.vision_models import make_image

pytestmark = BROWSER_MARKS
DOCS_IMG = Path(__file__).resolve().parents[2] / "docs" / "img"
PNG = make_image(96, 72)
TIME_SPAN = re.compile(r"\d+:\d\d\u2013\d+:\d\d")


def png_file(name: str = "photo.png", data: bytes = PNG, mime: str = "image/png") -> dict[str, Any]:
    return {"name": name, "mimeType": mime, "buffer": data}


def runs_sent(page: Any) -> list[Any]:
    """Every POST /go request the page sends from now on."""
    sent: list[Any] = []
    page.on(
        "request",
        lambda request: (
            sent.append(request) if request.method == "POST" and request.url.rstrip("/").endswith("/go") else None
        ),
    )
    return sent


def choose(page: Any, model: str) -> None:
    page.select_option("#model", model)
    expect(page.locator("#file-field")).to_be_visible()


def hand_over(page: Any, event: str, name: str, data: bytes, mime: str) -> None:
    """Dispatch a ``drop`` on the drop zone or a ``paste`` on the text box, carrying one file."""
    page.evaluate(
        """([event, name, encoded, mime]) => {
          const bytes = Uint8Array.from(atob(encoded), (c) => c.charCodeAt(0));
          const transfer = new DataTransfer();
          transfer.items.add(new File([bytes], name, { type: mime }));
          const init = { bubbles: true, cancelable: true };
          if (event === "drop") {
            document.getElementById("drop").dispatchEvent(new DragEvent("dragover", { ...init, dataTransfer: transfer }));
            document.getElementById("drop").dispatchEvent(new DragEvent("drop", { ...init, dataTransfer: transfer }));
          } else {
            document.getElementById("text").dispatchEvent(new ClipboardEvent("paste", { ...init, clipboardData: transfer }));
          }
        }""",
        [event, name, base64.b64encode(data).decode("ascii"), mime],
    )


def test_an_image_from_the_file_button_is_previewed_sent_and_labelled(page: Any, bot_server: Any) -> None:
    sent = runs_sent(page)
    choose(page, "tiny-classify-image")
    expect(page.locator("#file-label")).to_have_text("Image")
    expect(page.locator("#drop-limit")).to_have_text("Image files up to 20.0 MB.")
    expect(page.locator("#text-label")).to_have_text("Text (optional)")

    page.set_input_files("#file", png_file())

    preview = page.locator("#file-shown img")
    expect(preview).to_be_visible()
    expect(preview).to_have_attribute("alt", "Preview of photo.png")
    assert preview.get_attribute("src").startswith("blob:")
    expect(page.locator("#file-name")).to_have_text("photo.png")
    expect(page.locator("#file-size")).to_have_text("1 KB" if len(PNG) < 1536 else re.compile(r"\d+ KB"))
    expect(page.locator("#file-status")).to_contain_text("is ready to run")
    expect(page.locator("#drop")).to_be_hidden()

    result = run(page)

    expect(result.locator("h3")).to_have_text("Tiny image-classification")
    rows = result.locator(".bar-row")
    assert rows.count() >= 2
    for value in rows.locator(".bar-value").all_inner_texts():
        assert re.fullmatch(r"\d{1,3}\.\d%", value)
    [request] = sent
    assert request.headers["content-type"].startswith("multipart/form-data; boundary=")
    uploads = (bot_server.data_dir / "media" / "uploads").rglob("*.png")
    assert PNG in [path.read_bytes() for path in uploads], "the server stored the bytes the page sent"

    page.click("#file-remove")
    expect(page.locator("#file-preview")).to_be_hidden()
    expect(page.locator("#file-status")).to_have_text("The file was removed.")
    expect(page.locator("#drop")).to_be_focused()


def test_the_drop_zone_opens_the_file_chooser_from_the_keyboard(page: Any) -> None:
    choose(page, "tiny-classify-image")
    expect(page.locator("#drop")).to_have_attribute("role", "button")
    # Counted at the file input: whether Chromium then shows its dialog is the browser's affair.
    page.evaluate("window.opened = 0; document.getElementById('file').addEventListener('click', () => window.opened++)")
    page.focus("#drop")

    page.keyboard.press("Enter")
    page.keyboard.press(" ")
    page.keyboard.press("a")

    assert page.evaluate("window.opened") == 2
    page.set_input_files("#file", png_file("keyboard.png"))
    expect(page.locator("#file-name")).to_have_text("keyboard.png")


def test_a_dropped_image_is_scored_against_the_labels_typed_beside_it(page: Any) -> None:
    choose(page, "tiny-label-image")
    page.fill("#text", "cat, dog")

    hand_over(page, "drop", "dropped.png", PNG, "image/png")

    expect(page.locator("#file-name")).to_have_text("dropped.png")
    result = run(page)
    assert sorted(result.locator(".bar-label").all_inner_texts()) == ["cat", "dog"]


def test_a_pasted_image_is_captioned(page: Any) -> None:
    choose(page, "tiny-caption")

    hand_over(page, "paste", "image.png", PNG, "image/png")

    expect(page.locator("#file-shown img")).to_be_visible()
    result = run(page)
    expect(result.locator("h3")).to_have_text("Tiny image-to-text")
    assert result.locator(".big").inner_text().strip()


def test_pasted_text_stays_text(page: Any) -> None:
    choose(page, "tiny-caption")
    page.focus("#text")

    page.keyboard.insert_text("A photo of")

    expect(page.locator("#text")).to_have_value("A photo of")
    expect(page.locator("#file-preview")).to_be_hidden()


def test_detected_objects_are_boxed_over_the_image_at_its_displayed_size(page: Any) -> None:
    choose(page, "tiny-detect")
    page.set_input_files("#file", png_file("street.png", make_image(960, 640)))

    result = run(page)

    image = result.locator(".boxed img")
    expect(image).to_be_visible()
    page.wait_for_function("document.querySelector('.boxed img').complete")
    boxes = result.locator(".boxed .box")
    listed = result.locator(".entity-list li")
    assert boxes.count() == listed.count() > 0
    shown = image.bounding_box()
    assert shown["width"] < 960, "the image is shown smaller than its pixels, so the boxes must scale"
    scale = shown["width"] / 960
    first = listed.first.inner_text()
    xmin, ymin, xmax, ymax = map(int, re.search(r"\((\d+), (\d+)\)\u2013\((\d+), (\d+)\)", first).groups())
    box = boxes.first.bounding_box()
    assert abs(box["x"] - (shown["x"] + xmin * scale)) <= 2
    assert abs(box["y"] - (shown["y"] + ymin * scale)) <= 2
    assert abs(box["width"] - (xmax - xmin) * scale) <= 3
    assert abs(box["height"] - (ymax - ymin) * scale) <= 3
    label = first.split(" ")[0]
    expect(boxes.first.locator(".box-label")).to_contain_text(label)
    _docs_screenshot(page, "form-detect.png")


def test_a_recording_is_transcribed_with_the_times_of_each_part(page: Any) -> None:
    choose(page, "tiny-transcribe")
    expect(page.locator("#file-label")).to_have_text("Audio")
    page.set_input_files("#file", {"name": "meeting.wav", "mimeType": "audio/wav", "buffer": make_wav(35.0)})

    player = page.locator("#file-shown audio")
    expect(player).to_be_visible()
    expect(player).to_have_attribute("aria-label", "Play meeting.wav")
    result = run(page)

    times = result.locator(".transcript .time").all_inner_texts()
    assert times and all(TIME_SPAN.fullmatch(t) for t in times), times
    assert times[0].startswith("0:0"), "the first part starts near the beginning"
    expect(result).to_contain_text("0:35 of audio")
    _docs_screenshot(page, "form-transcribe.png")


def test_a_file_too_large_is_refused_by_the_page_without_a_request(page: Any) -> None:
    sent = runs_sent(page)
    choose(page, "tiny-classify-image")
    # Made in the page (a drop, as a person's would be): 20 MB through the test's channel would only be slow.
    page.evaluate(
        """(size) => {
          const transfer = new DataTransfer();
          transfer.items.add(new File([new Uint8Array(size)], "huge.png", { type: "image/png" }));
          document.getElementById("drop").dispatchEvent(
            new DragEvent("drop", { bubbles: true, cancelable: true, dataTransfer: transfer }));
        }""",
        21 * MB,
    )

    status = page.locator("#file-status")
    expect(status).to_have_text("The file is 21.0 MB; Tiny image-classification takes image files of at most 20.0 MB.")
    expect(status).to_have_class(re.compile(r"\berror\b"))
    expect(page.locator("#file-preview")).to_be_hidden()
    page.click("#run")
    expect(page.locator("#error")).to_have_text("Tiny image-classification reads an image: choose one first.")
    assert sent == []


def test_a_file_of_the_wrong_kind_gets_the_servers_words(page: Any) -> None:
    choose(page, "tiny-classify-image")
    page.set_input_files("#file", {"name": "song.wav", "mimeType": "audio/wav", "buffer": make_wav(0.5)})

    page.click("#run")

    error = page.locator("#error")
    expect(error).to_be_visible(timeout=ANSWER_TIMEOUT_MS)
    expect(error).to_contain_text("tiny-classify-image reads image files, and this is a WAV audio")


def test_another_kind_of_model_forgets_the_file_and_compare_mode_has_no_file_models(page: Any) -> None:
    choose(page, "tiny-classify-image")
    page.set_input_files("#file", png_file())
    page.select_option("#model", "tiny-caption")
    expect(page.locator("#file-name")).to_have_text("photo.png"), "another image model keeps the image"

    expect(page.locator("#text-label")).to_have_text("Text (optional)"), "a caption may start with words"

    choose(page, "tiny-transcribe")
    expect(page.locator("#file-preview")).to_be_hidden()
    expect(page.locator("#text-field")).to_be_hidden(), "a recording is all a transcription reads"
    page.select_option("#model", "tiny-sentiment")
    expect(page.locator("#file-field")).to_be_hidden()
    expect(page.locator("#text-field")).to_be_visible()
    expect(page.locator("#text-label")).to_have_text("Text")

    page.click('label[for="mode-compare"]')
    expect(page.locator('#compare-picks input[value="tiny-detect"]')).to_be_disabled()
    expect(page.locator('#compare-picks input[value="tiny-sentiment"]')).to_be_enabled()
    expect(page.locator("#file-field")).to_be_hidden()


def _docs_screenshot(page: Any, name: str) -> None:
    """The README's copy changes only when asked (its timings and ids differ on every run); else test-output/."""
    path = DOCS_IMG / name if os.environ.get("UPDATE_DOCS_SCREENSHOTS") else OUTPUT_DIR / name
    path.parent.mkdir(parents=True, exist_ok=True)
    page.locator("main").screenshot(path=str(path))
