"""Every task's answer as the form renders it, from one answer per task the browser is handed (no model runs).

The page's POST is answered by the test with a result of the task's shape (inference/tasks.py), so this
checks the form's renderer of each task (bot/form/web/form/renderers.js) in a real browser, under the
page's policy: the answer is shown for its task, never as the raw JSON a task without a renderer gets.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from playwright.sync_api import expect

from inference.media import AUDIO, IMAGE
from inference.tasks import TASKS, get_task, reads_text
from tests.browser.conftest import BROWSER_MARKS, example_of, run
from tests.speech_models import make_wav
from tests.tiny_models import ENTRIES
from tests.vision_models import make_image

pytestmark = BROWSER_MARKS

#: Per task: a result of its shape, and texts the rendered answer must show.
ANSWERS: dict[str, tuple[dict[str, Any], list[str]]] = {
    "text-classification": (
        {"labels": [{"label": "POSITIVE", "score": 0.9}, {"label": "NEGATIVE", "score": 0.1}]},
        ["POSITIVE", "90.0%", "NEGATIVE"],
    ),
    "zero-shot-classification": (
        {"labels": [{"label": "finance", "score": 0.7}, {"label": "sports", "score": 0.3}]},
        ["finance", "70.0%", "sports"],
    ),
    "fill-mask": (
        {"predictions": [{"token": " capital", "score": 0.8, "sequence": "Paris is the capital of France."}]},
        ["Paris is the capital of France.", "capital", "80.0%"],
    ),
    "token-classification": (
        {"entities": [{"label": "LOC", "word": "London", "start": 17, "end": 23, "score": 0.9}]},
        ["London", "LOC", "London — LOC (90.0%)"],
    ),
    "question-answering": (
        {"answer": "Paris", "score": 0.5, "start": 16, "end": 21},
        ["Paris", "Confidence 50.0%", "In context:"],
    ),
    "sentence-similarity": (
        {"source": "A man is eating food.", "scores": [{"sentence": "A man is eating bread.", "score": 0.75}]},
        ["Compared with: A man is eating food.", "A man is eating bread.", "0.750"],
    ),
    "summarization": ({"summary": "A short summary.", "chunks": 2}, ["A short summary.", "in 2 parts"]),
    "translation": ({"translation": "Bonjour le monde.", "chunks": 1}, ["Bonjour le monde."]),
    "text-generation": ({"text": "In Paris."}, ["In Paris."]),
    "feature-extraction": ({"dimensions": 4, "embedding": [0.1, 0.2, 0.3, 0.4]}, ["4 dimensions", "[0.1000, 0.2000"]),
    "image-classification": (
        {"labels": [{"label": "tabby cat", "score": 0.8}, {"label": "tiger cat", "score": 0.2}]},
        ["tabby cat", "80.0%", "tiger cat"],
    ),
    "zero-shot-image-classification": (
        {"labels": [{"label": "a cat", "score": 0.6}, {"label": "a dog", "score": 0.4}]},
        ["a cat", "60.0%", "a dog"],
    ),
    "object-detection": (
        {
            "objects": [{"label": "cat", "score": 0.9, "box": {"xmin": 8, "ymin": 6, "xmax": 40, "ymax": 30}}],
            "width": 64,
            "height": 48,
        },
        ["cat 90.0%", "at (8, 6)\u2013(40, 30)"],
    ),
    "image-to-text": ({"caption": "a red square on a gradient"}, ["a red square on a gradient"]),
    "automatic-speech-recognition": (
        {
            "text": "Hello there. General Kenobi.",
            "chunks": [
                {"start": 0.0, "end": 30.0, "text": " Hello there."},
                {"start": 30.0, "end": 42.4, "text": " General Kenobi."},
            ],
            "duration": 42.4,
        },
        ["0:00\u20130:30", "Hello there.", "0:30\u20130:42", "General Kenobi.", "0:42 of audio"],
    ),
}
#: The file each task that reads one is run on.
FILES = {
    IMAGE: {"name": "photo.png", "mimeType": "image/png", "buffer": make_image(64, 48)},
    AUDIO: {"name": "clip.wav", "mimeType": "audio/wav", "buffer": make_wav(0.5)},
}


def test_every_task_has_an_answer_here() -> None:
    """A task added to inference/tasks.py gets a case here, so its form renderer is seen in a browser."""
    assert set(ANSWERS) == set(TASKS)


@pytest.mark.parametrize("task", sorted(TASKS))
def test_each_task_is_rendered_for_its_task_not_as_json(page: Any, bot_server: Any, task: str) -> None:
    entry = next((entry for entry in ENTRIES if entry["task"] == task), None)
    assert entry, f"tests/tiny_models.py has no tiny model for {task}"
    result, shown = ANSWERS[task]
    body = {
        "model": entry["name"],
        "task": task,
        "title": entry["title"],
        "result": result,
        "timings": {"load_ms": 0, "inference_ms": 5},
        "request_id": "req-1",
        "feedback": False,
    }

    def answer(route: Any) -> None:
        if route.request.method != "POST":
            route.continue_()
            return
        route.fulfill(status=200, content_type="application/json", body=json.dumps(body))

    page.route(f"{bot_server.url}/go", answer)
    page.select_option("#model", entry["name"])
    if reads_text(task):
        page.fill("#text", example_of(entry["name"]))
    else:
        expect(page.locator("#text")).to_be_hidden()
    if get_task(task).media:
        page.set_input_files("#file", FILES[get_task(task).media])

    article = run(page)

    expect(article.locator("h3")).to_have_text(entry["title"])
    assert article.locator("pre").count() == 0, "a task without a renderer shows its result as JSON"
    for text in shown:
        expect(article).to_contain_text(text)
