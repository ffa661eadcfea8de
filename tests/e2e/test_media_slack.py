"""Files from Slack, end to end: a mention with an image or a recording into `python -m bot serve`, the file
downloaded from the fake Slack with the bot token, the tiny model reading it from the same media folder
(its worker's MEDIA_DIR), and the answer (labels, a transcript, an annotated picture) back in the thread."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import BOT_TOKEN, BotServer, start_server, stop_server
from tests.e2e.conftest import assert_within_limits
from tests.fakes.slack_api import FakeSlackApi
from tests.speech_models import make_wav
from tests.vision_models import CLASSES, make_image

pytestmark = [pytest.mark.e2e, pytest.mark.slow]
ANSWER_WAIT = 120.0  # generous: a model's first request starts its worker and loads it
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def media_server(tiny_registry: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[BotServer]:
    """The tiny models, the detector at threshold 0 so its random weights find boxes to draw."""
    data = yaml.safe_load(tiny_registry.read_text())
    for entry in data["models"]:
        entry["model"] = str((tiny_registry.parent / entry["model"]).resolve())
        if entry["name"] == "tiny-detect":
            entry["parameters"] = {**entry.get("parameters", {}), "threshold": 0.0}
    folder = tmp_path_factory.mktemp("media-slack")
    registry = folder / "models.yaml"
    registry.write_text(yaml.safe_dump(data, sort_keys=False))
    with FakeSlackApi(expect_token=BOT_TOKEN) as slack:
        running = start_server(registry=registry, slack=slack, workdir=folder)
        yield running
        stop_server(running)


@pytest.fixture
def server(media_server: BotServer) -> Iterator[BotServer]:
    """The server with a healthy Slack, failing the test on anything it sent that Slack would refuse."""
    media_server.slack.heal()
    yield media_server
    media_server.slack.heal()
    assert_within_limits(media_server)


@pytest.fixture
def elsewhere() -> Iterator[FakeSlackApi]:
    """A server on loopback that is not the Slack the bot is configured with: it must never be asked for a file."""
    with FakeSlackApi(expect_token=BOT_TOKEN) as api:
        yield api


def fresh_channel() -> str:
    return "C" + uuid.uuid4().hex[:10].upper()


def mention(channel: str, text: str, files: list[dict[str, Any]]) -> tuple[dict[str, Any], str]:
    """An app_mention with ``files`` attached, as Slack sends it, and its ts (where the answers go)."""
    ts = f"{int(time.time())}.{uuid.uuid4().int % 1_000_000:06d}"
    event = {
        "type": "app_mention",
        "user": "U7",
        "text": f"<@UBOT> {text}",
        "ts": ts,
        "channel": channel,
        "event_ts": ts,
        "files": files,
    }
    return event, ts


def replies(server: BotServer, channel: str, ts: str) -> list[dict[str, Any]]:
    return [m for m in server.slack.messages(channel) if m.get("thread_ts") == ts and m["ts"] != ts]


def flat(message: dict[str, Any]) -> str:
    return message.get("text", "") + json.dumps(message.get("blocks", []), ensure_ascii=False)


def answer(server: BotServer, channel: str, ts: str, model: str) -> dict[str, Any]:
    """The thread's answer from ``model`` (its footer names it), once it is in."""

    def found() -> dict[str, Any] | None:
        return next((m for m in replies(server, channel, ts) if f"`{model}`" in flat(m)), None)

    assert server.slack.wait_for(lambda: found() is not None, ANSWER_WAIT), [
        flat(m) for m in replies(server, channel, ts)
    ]
    message = found()
    assert message is not None
    return message


def test_a_mention_with_an_image_gets_labels_in_its_thread(server: BotServer) -> None:
    channel = fresh_channel()
    png = server.slack.add_file(make_image(), name="photo.png", mimetype="image/png")
    event, ts = mention(channel, "tiny-classify-image", [png])
    response = server.sender.event(event)
    assert response.status == 200 and response.elapsed < 3.0
    text = flat(answer(server, channel, ts, "tiny-classify-image"))
    assert any(label in text for label in CLASSES) and "%" in text and "could not answer" not in text
    [asked] = [d for d in server.slack.downloads() if png["id"] in d.url]
    assert (asked.status, asked.authorization) == (200, f"Bearer {BOT_TOKEN}")


def test_detection_uploads_the_annotated_picture_into_the_thread(server: BotServer) -> None:
    channel = fresh_channel()
    png = server.slack.add_file(make_image(96, 64), name="street.png", mimetype="image/png")
    event, ts = mention(channel, "tiny-detect", [png])
    assert server.sender.event(event).status == 200
    text = flat(answer(server, channel, ts, "tiny-detect"))
    assert "%" in text and "could not answer" not in text
    assert server.slack.wait_for(lambda: any(u.channel == channel for u in server.slack.uploads()), ANSWER_WAIT)
    server.wait_idle()
    [upload] = [u for u in server.slack.uploads() if u.channel == channel]
    assert upload.thread_ts == ts and upload.data.startswith(PNG_SIGNATURE) and upload.filename.endswith(".png")
    assert not any("could not be posted" in flat(m) for m in replies(server, channel, ts))


def test_a_recording_gets_a_transcript_with_times(server: BotServer) -> None:
    channel = fresh_channel()
    wav = server.slack.add_file(make_wav(2.0), name="meeting.wav", mimetype="audio/wav")
    event, ts = mention(channel, "tiny-transcribe", [{"id": wav["id"], "file_access": "check_file_info"}])
    assert server.sender.event(event).status == 200
    text = flat(answer(server, channel, ts, "tiny-transcribe"))
    assert "could not answer" not in text
    assert "[0:00\u20130:0" in text  # its first segment's times (the seeded weights say something, in 2 s)


def test_a_file_outside_slack_is_never_fetched_and_no_model_runs(server: BotServer, elsewhere: FakeSlackApi) -> None:
    channel = fresh_channel()
    forged = elsewhere.add_file(make_image(), name="photo.png", mimetype="image/png")
    event, ts = mention(channel, "tiny-caption", [forged])
    assert server.sender.event(event).status == 200
    assert server.slack.wait_for(lambda: replies(server, channel, ts), ANSWER_WAIT)
    server.wait_idle()
    [told] = replies(server, channel, ts)
    assert "can't read that file" in flat(told) and "not stored on Slack" in flat(told)
    assert elsewhere.downloads() == [] and not any(forged["id"] in d.url for d in server.slack.downloads())
    # A run posts its placeholder before it invokes the model: none, and no answer, means no model ran.
    assert not any("⏳" in flat(m) or "`tiny-caption`" in flat(m) for m in server.slack.messages(channel))


def test_slack_refusing_the_file_is_one_clear_message(server: BotServer) -> None:
    channel = fresh_channel()
    png = server.slack.add_file(make_image(), name="private.png", mimetype="image/png")
    server.slack.refuse_file(png["id"], "login")
    event, ts = mention(channel, "tiny-label-image cat, dog", [png])
    assert server.sender.event(event).status == 200
    assert server.slack.wait_for(lambda: replies(server, channel, ts), ANSWER_WAIT)
    server.wait_idle()
    [told] = replies(server, channel, ts)
    assert "can't read that file" in flat(told) and "sign-in page" in flat(told)
    assert not any("⏳" in flat(m) for m in server.slack.messages(channel))
