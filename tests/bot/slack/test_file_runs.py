"""File models from Slack: what a mention, the shortcut and /hf plan for a file, the lazy half that
downloads it and invokes the model with it, and the annotated picture posted back once."""

from __future__ import annotations

import json
from typing import Any

import pytest

from bot.core.services import Services
from bot.slack.delivery import deliver_record
from bot.slack.listeners import SHORTCUT_NO_FILE, ack_command, ack_modal, open_picker, run_mention, run_modal
from bot.slack.plans import plan_command, plan_mention
from bot.slack.ui import MODEL_SELECT_BLOCK
from inference.media import ANNOTATED, IMAGE, MAX_BYTES, annotated_key
from tests.fakes.destinations import destination_record
from tests.fakes.invoker import FakeInvoker
from tests.fakes.slack_api import FakeSlackApi

PNG_BYTES = b"\x89PNG\r\n\x1a\n" + bytes(200)
WAV_BYTES = b"RIFF\x24\x00\x00\x00WAVEfmt " + bytes(200)
TS, PARENT_TS = "1699999999.000200", "1699999999.000100"


def mention(text: str, *, files: list[dict[str, Any]] | None = None, **fields: str) -> dict[str, Any]:
    event: dict[str, Any] = {"type": "app_mention", "text": text, "user": "U1", "channel": "C1", "ts": TS, **fields}
    if files is not None:
        event["files"] = files
    return event


def replies(slack: FakeSlackApi, thread_ts: str) -> list[dict[str, Any]]:
    return [m for m in slack.messages("C1") if m.get("thread_ts") == thread_ts and m["ts"] != thread_ts]


def flat(message: dict[str, Any]) -> str:
    return message["text"] + json.dumps(message.get("blocks", []), ensure_ascii=False)


# -- plans: pure, no I/O -----------------------------------------------------------------------


def test_a_mention_with_a_file_plans_a_run_on_it(services: Services) -> None:
    png = {"id": "F1", "mimetype": "image/png", "url_private_download": "https://files.slack.com/x"}
    plan, from_thread = plan_mention(services, mention("<@UBOT> caption", files=[png]))
    assert (plan.spec, plan.text, plan.file, from_thread) == (services.registry.get("caption"), "", png, False)


def test_a_mention_picks_the_file_of_its_model_s_kind(services: Services) -> None:
    png, wav = {"id": "F1", "mimetype": "image/png"}, {"id": "F2", "mimetype": "audio/wav"}
    plan, _ = plan_mention(services, mention("<@UBOT> transcribe", files=[png, wav]))
    assert plan.file == wav


def test_labels_after_a_file_model_are_its_text(services: Services) -> None:
    plan, _ = plan_mention(services, mention("<@UBOT> label-image cat, dog", files=[{"id": "F1"}]))
    assert (plan.spec.name if plan.spec else None, plan.text) == ("label-image", "cat, dog")


def test_a_text_model_given_a_file_answers_from_the_text(services: Services) -> None:
    plan, _ = plan_mention(services, mention("<@UBOT> sentiment I love it", files=[{"id": "F1"}]))
    assert (plan.spec.name if plan.spec else None, plan.text, plan.file) == ("sentiment", "I love it", None)


def test_a_file_model_without_a_file_says_how_to_send_one(services: Services) -> None:
    plan, from_thread = plan_mention(services, mention("<@UBOT> detect"))
    assert plan.spec is None and not from_thread and plan.reply is not None
    text = flat(plan.reply)
    assert "detect reads image files" in text and "Attach an image file" in text and "/go" in text


def test_a_file_model_mentioned_in_a_thread_takes_the_parent_s_file(services: Services) -> None:
    plan, from_thread = plan_mention(services, mention("<@UBOT> caption", thread_ts=PARENT_TS))
    assert (plan.spec.name if plan.spec else None, plan.file, from_thread) == ("caption", None, True)


def test_help_for_a_file_model_is_its_usage(services: Services) -> None:
    plan, _ = plan_mention(services, mention("<@UBOT> transcribe help", thread_ts=PARENT_TS))
    assert plan.spec is None and plan.reply is not None and "audio file" in flat(plan.reply)


@pytest.mark.parametrize(
    "command", [{"command": "/hf", "text": "caption"}, {"command": "/hf", "text": "transcribe now"}]
)
def test_hf_with_a_file_model_answers_how_in_the_ack_and_runs_nothing(
    services: Services, slack: FakeSlackApi, invoker: FakeInvoker, command: dict[str, str]
) -> None:
    plan = plan_command(services, command)
    assert plan.spec is None and plan.reply is not None
    assert "Slash commands can't carry files" in flat(plan.reply) and "/go" in flat(plan.reply)
    acks: list[dict[str, Any]] = []
    ack_command(services, lambda **kwargs: acks.append(kwargs), {**command, "trigger_id": "t1"}, {})
    assert acks[0]["response_type"] == "ephemeral" and invoker.calls == [] and slack.calls() == []


# -- the lazy half of a mention: download, store, invoke -------------------------------------


def test_a_mention_with_an_image_invokes_the_model_with_the_stored_file(
    services: Services, slack: FakeSlackApi, invoker: FakeInvoker
) -> None:
    png = slack.add_file(PNG_BYTES, name="cat.png", mimetype="image/png")
    run_mention(services, mention("<@UBOT> label-image cat, dog", files=[png]), {"event_id": "Ev1"})
    [(kind, model, payload, _)] = invoker.calls
    assert (kind, model, payload["text"]) == ("async", "label-image", "cat, dog")
    assert {k: payload["file"][k] for k in ("kind", "mime", "name", "size")} == {
        "kind": "image",
        "mime": "image/png",
        "name": "cat.png",
        "size": len(PNG_BYTES),
    }
    assert services.media.get(payload["file"]["key"], max_bytes=MAX_BYTES[IMAGE]) == PNG_BYTES
    [placeholder] = replies(slack, TS)
    assert len(slack.downloads()) == 1 and "⏳" in flat(placeholder)
    assert "📎" in flat(placeholder) and "cat.png" in flat(placeholder) and payload["reply"]["file_name"] == "cat.png"


def test_the_placeholder_done_still_names_the_file(
    services: Services, slack: FakeSlackApi, invoker: FakeInvoker
) -> None:
    png = slack.add_file(PNG_BYTES, name="*cat* & dog <1>.png", mimetype="image/png")
    run_mention(services, mention("<@UBOT> classify-image", files=[png]), {"event_id": "Ev1"})
    [(_, _, payload, _)] = invoker.calls
    deliver_record(services, destination_record(payload, {"model": "classify-image", "result": {"labels": []}}))
    [placeholder] = [m for m in replies(slack, TS) if "asked" in m["text"]]
    assert "✅" in flat(placeholder) and "📎" in flat(placeholder) and "*cat* & dog <1>.png" in flat(placeholder)
    assert all(b["type"] == "rich_text" for b in placeholder["blocks"][1:-1]), "the name is echoed, never parsed"


def test_a_stub_file_in_the_event_is_asked_of_files_info(
    services: Services, slack: FakeSlackApi, invoker: FakeInvoker
) -> None:
    wav = slack.add_file(WAV_BYTES, name="meeting.wav", mimetype="audio/wav")
    stub = {"id": wav["id"], "file_access": "check_file_info"}
    run_mention(services, mention("<@UBOT> transcribe", files=[stub]), {"event_id": "Ev1"})
    assert [c.params["file"] for c in slack.calls("files.info")] == [wav["id"]]
    [(_, model, payload, _)] = invoker.calls
    assert (model, payload["file"]["mime"]) == ("transcribe", "audio/wav")


def test_a_mention_in_a_thread_reads_the_parent_s_file(
    services: Services, slack: FakeSlackApi, invoker: FakeInvoker
) -> None:
    png = slack.add_file(PNG_BYTES, name="photo.png", mimetype="image/png")
    slack.set_thread("C1", PARENT_TS, [{"user": "U2", "text": "look", "files": [png]}])
    run_mention(services, mention("<@UBOT> caption", thread_ts=PARENT_TS), {"event_id": "Ev1"})
    [(_, model, payload, _)] = invoker.calls
    assert (model, payload["file"]["name"], payload["reply"]["thread_ts"]) == ("caption", "photo.png", PARENT_TS)


def test_a_thread_whose_parent_has_no_file_is_told_how(
    services: Services, slack: FakeSlackApi, invoker: FakeInvoker
) -> None:
    slack.set_thread("C1", PARENT_TS, [{"user": "U2", "text": "no picture here"}])
    run_mention(services, mention("<@UBOT> caption", thread_ts=PARENT_TS), {"event_id": "Ev1"})
    [told] = replies(slack, PARENT_TS)
    assert "caption reads image files" in flat(told) and invoker.calls == []


def test_slack_refusing_the_file_is_one_clear_message_and_no_invocation(
    services: Services, slack: FakeSlackApi, invoker: FakeInvoker
) -> None:
    png = slack.add_file(PNG_BYTES, name="cat.png", mimetype="image/png")
    slack.refuse_file(png["id"], "403")
    run_mention(services, mention("<@UBOT> caption", files=[png]), {"event_id": "Ev1"})
    [told] = replies(slack, TS)
    assert "can't read that file" in flat(told) and "HTTP 403" in flat(told)
    assert invoker.calls == []


def test_a_file_outside_slack_is_never_fetched_nor_run(
    services: Services, slack: FakeSlackApi, invoker: FakeInvoker
) -> None:
    forged = {
        "id": "F1",
        "name": "x.png",
        "mimetype": "image/png",
        "size": 10,
        "url_private_download": "https://evil.example/x.png",
    }
    run_mention(services, mention("<@UBOT> caption", files=[forged]), {"event_id": "Ev1"})
    [told] = replies(slack, TS)
    assert "can't read that file" in flat(told) and invoker.calls == [] and slack.downloads() == []


def test_a_file_of_the_wrong_kind_is_explained(services: Services, slack: FakeSlackApi, invoker: FakeInvoker) -> None:
    png = slack.add_file(PNG_BYTES, name="cat.png", mimetype="image/png")
    run_mention(services, mention("<@UBOT> transcribe", files=[png]), {"event_id": "Ev1"})
    [told] = replies(slack, TS)
    assert "transcribe reads audio files, and this is a PNG image" in flat(told) and invoker.calls == []


# -- the shortcut ------------------------------------------------------------------------------


def shortcut(files: list[dict[str, Any]] | None = None, text: str = "") -> dict[str, Any]:
    message: dict[str, Any] = {"type": "message", "user": "U2", "ts": "1700000000.000900", "text": text}
    if files is not None:
        message["files"] = files
    return {
        "type": "message_action",
        "trigger_id": "trig",
        "user": {"id": "U1"},
        "channel": {"id": "C1"},
        "message": message,
    }


def submitted(view: dict[str, Any], model: str) -> dict[str, Any]:
    values = {MODEL_SELECT_BLOCK: {"model_select": {"selected_option": {"value": model}}}}
    return {"id": "V1", "private_metadata": view["private_metadata"], "state": {"values": values}}


def test_the_shortcut_on_a_message_with_a_file_offers_file_models_first_and_keeps_only_its_id(
    services: Services, slack: FakeSlackApi
) -> None:
    png = slack.add_file(PNG_BYTES, name="x" * 200 + ".png", mimetype="image/png")
    open_picker(services, shortcut([png], text="é" * 3000))
    [opened] = slack.calls("views.open")
    view = opened.params["view"]
    metadata = json.loads(view["private_metadata"])
    assert metadata["file"] == png["id"] and "files-pri" not in view["private_metadata"]
    assert len(view["private_metadata"]) <= 3000
    offered = [o["value"] for o in view["blocks"][0]["element"]["options"]]
    file_models = ["classify-image", "label-image", "detect", "caption", "transcribe"]
    assert offered[: len(file_models)] == file_models and "sentiment" in offered


def test_the_shortcut_runs_a_file_model_on_the_message_s_file(
    services: Services, slack: FakeSlackApi, invoker: FakeInvoker
) -> None:
    png = slack.add_file(PNG_BYTES, name="cat.png", mimetype="image/png")
    open_picker(services, shortcut([png], text="what is this?"))
    view = submitted(slack.calls("views.open")[0].params["view"], "caption")
    acks: list[dict[str, Any]] = []
    context: dict[str, Any] = {}
    ack_modal(services, lambda **kwargs: acks.append(kwargs), view, context)
    assert acks == [{}] and slack.downloads() == []  # the ack downloads nothing
    run_modal(services, view, {"user": {"id": "U1"}}, context)
    [(_, model, payload, _)] = invoker.calls
    assert (model, payload["text"], payload["file"]["name"]) == ("caption", "", "cat.png")
    assert payload["reply"]["thread_ts"] == "1700000000.000900"
    assert [c.params["file"] for c in slack.calls("files.info")] == [png["id"]]


def test_a_file_model_picked_for_a_message_without_a_file_keeps_the_modal_open(
    services: Services, slack: FakeSlackApi, invoker: FakeInvoker
) -> None:
    open_picker(services, shortcut(text="just words"))
    view = submitted(slack.calls("views.open")[0].params["view"], "detect")
    acks: list[dict[str, Any]] = []
    ack_modal(services, lambda **kwargs: acks.append(kwargs), view, {})
    assert acks == [{"response_action": "errors", "errors": {MODEL_SELECT_BLOCK: SHORTCUT_NO_FILE}}]
    assert invoker.calls == []


# -- the annotated picture, posted back once -------------------------------------------------


def detection_record(services: Services, slack: FakeSlackApi, *, picture: bytes | None) -> dict[str, Any]:
    ts = services.slack.post("C1", {"text": "⏳ working"})
    upload = "uploads/abc123/" + "0" * 32 + ".png"
    result: dict[str, Any] = {"objects": [{"label": "cat", "score": 0.9, "box": {}}], "width": 32, "height": 32}
    if picture is not None:
        key = annotated_key(upload)
        assert key.startswith(ANNOTATED)
        services.media.put(key, picture, mime="image/png")
        result["annotated"] = {"key": key, "mime": "image/png"}
    reply = {
        "request_id": "a1b2c3d4e5f6",
        "source": "mention",
        "user": "U1",
        "channel": "C1",
        "thread_ts": ts,
        "placeholder_ts": ts,
    }
    response = {"model": "detect", "task": "object-detection", "revision": "0" * 40, "timings": {}, "result": result}
    return destination_record({"text": "", "file": {"key": upload}, "reply": reply}, response)


def test_detection_posts_its_picture_into_the_thread_once(services: Services, slack: FakeSlackApi) -> None:
    record = detection_record(services, slack, picture=PNG_BYTES)
    deliver_record(services, record)
    deliver_record(services, record)  # Lambda retried the record
    [upload] = slack.uploads()
    thread = record["requestPayload"]["reply"]["thread_ts"]
    assert (upload.data, upload.channel, upload.thread_ts) == (PNG_BYTES, "C1", thread)
    assert upload.filename.endswith(".png")
    [answer] = replies(slack, thread)
    assert "cat" in flat(answer) and "90.0%" in flat(answer)


@pytest.mark.parametrize("fault", ["files.getUploadURLExternal", "files.completeUploadExternal"])
def test_a_picture_slack_will_not_take_leaves_the_answer_and_says_so(
    services: Services, slack: FakeSlackApi, fault: str
) -> None:
    slack.fail(fault, error="not_allowed_token_type")
    record = detection_record(services, slack, picture=PNG_BYTES)
    deliver_record(services, record)
    answer, note = replies(slack, record["requestPayload"]["reply"]["thread_ts"])
    assert "cat" in flat(answer) and "could not be posted" in flat(note)
    assert slack.uploads() == []


def test_a_picture_no_longer_stored_is_said_and_the_answer_stands(services: Services, slack: FakeSlackApi) -> None:
    record = detection_record(services, slack, picture=None)
    record["responsePayload"]["result"]["annotated"] = {
        "key": "annotated/abc123/" + "1" * 32 + ".png",
        "mime": "image/png",
    }
    deliver_record(services, record)
    answer, note = replies(slack, record["requestPayload"]["reply"]["thread_ts"])
    assert "cat" in flat(answer) and "could not be posted" in flat(note) and slack.uploads() == []


def test_a_store_that_fails_to_read_the_picture_is_said_and_the_placeholder_is_done(
    services: Services, slack: FakeSlackApi, monkeypatch: pytest.MonkeyPatch
) -> None:
    record = detection_record(services, slack, picture=PNG_BYTES)

    def unreachable(key: str, *, max_bytes: int) -> bytes:
        raise ConnectionError("S3 could not be reached")

    monkeypatch.setattr(services.media, "get", unreachable)
    deliver_record(services, record)
    thread = record["requestPayload"]["reply"]["thread_ts"]
    answer, note = replies(slack, thread)
    assert "cat" in flat(answer) and "could not be posted" in flat(note) and slack.uploads() == []
    [placeholder] = [m for m in slack.messages("C1") if m["ts"] == thread]
    assert "answered" in flat(placeholder)


def test_detection_without_a_picture_posts_only_the_answer(services: Services, slack: FakeSlackApi) -> None:
    record = detection_record(services, slack, picture=None)
    deliver_record(services, record)
    assert len(replies(slack, record["requestPayload"]["reply"]["thread_ts"])) == 1 and slack.uploads() == []


@pytest.mark.parametrize("text", ["compare caption,detect a photo", "compare sentiment,transcribe hello"])
def test_a_comparison_with_a_file_model_is_refused_in_words(services: Services, text: str) -> None:
    plan = plan_command(services, {"command": "/hf", "text": text})
    assert plan.compare is None and plan.reply is not None and "a comparison runs text models" in flat(plan.reply)
