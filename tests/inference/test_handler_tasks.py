"""Every task through the real Lambda handler, on tiny random-weight models.

Random weights make the answers meaningless, so these tests check what does
not depend on them: result shapes, spans that point into the input, limits,
chunking, and that the response survives ``json.dumps`` unchanged.
"""

from __future__ import annotations

import json
import math
from typing import Any

import pytest

from inference.backends import BACKENDS, TORCH
from inference.tasks import TASKS
from tests.fakes.destinations import destination_record

pytestmark = pytest.mark.slow

LONG_TEXT = " ".join(f"The team moved the meeting to thursday number {i}." for i in range(40))


def result_of(response: dict[str, Any]) -> dict[str, Any]:
    assert "error" not in response, response
    assert json.loads(json.dumps(response)) == response
    return response["result"]


def is_score(value: Any) -> bool:
    return type(value) is float and 0.0 <= value <= 1.0


def test_every_task_has_a_torch_runner_to_fall_back_on() -> None:
    assert set(BACKENDS[TORCH].runners) == set(TASKS)


def test_response_envelope_passes_reply_through_untouched(invoke) -> None:
    event = destination_record()["requestPayload"]  # what the router sends a model, reply target and all
    response = invoke("tiny-sentiment", event)
    assert response["reply"] == event["reply"]
    assert response["model"] == "tiny-sentiment"
    assert response["task"] == "text-classification"
    assert set(response["timings"]) == {"load_ms", "inference_ms"}
    assert all(type(v) is float and v >= 0 for v in response["timings"].values())
    result_of(response)


def test_inputs_and_parameters_shape_is_accepted(invoke) -> None:
    response = invoke("tiny-sentiment", {"inputs": "Great news!", "parameters": {"top_k": 1}})
    assert len(result_of(response)["labels"]) == 1


def test_text_classification_labels_and_truncation(invoke) -> None:
    short = result_of(invoke("tiny-sentiment", {"text": "Great news!"}))
    assert {item["label"] for item in short["labels"]} == {"POSITIVE", "NEGATIVE"}
    assert all(is_score(item["score"]) for item in short["labels"])
    assert [i["score"] for i in short["labels"]] == sorted((i["score"] for i in short["labels"]), reverse=True)
    assert short["truncated"] is False
    assert result_of(invoke("tiny-sentiment", {"text": LONG_TEXT}))["truncated"] is True


def test_token_classification_entities_point_into_the_text(invoke) -> None:
    text = "The woman was in London and Paris. " * 12
    entities = result_of(invoke("tiny-ner", {"text": text}))["entities"]
    assert entities
    for entity in entities:
        assert set(entity) == {"label", "word", "start", "end", "score"}
        assert entity["label"] in {"PER", "LOC"}
        assert 0 <= entity["start"] < entity["end"] <= len(text)
        assert is_score(entity["score"])
    # The text is longer than one 128-token window: entities come from the end too.
    assert max(e["end"] for e in entities) > len(text) // 2


def test_zero_shot_scores_each_label(invoke) -> None:
    result = result_of(invoke("tiny-zero-shot", {"text": "The news was great. | good, bad, terrible"}))
    assert sorted(item["label"] for item in result["labels"]) == ["bad", "good", "terrible"]
    assert math.isclose(sum(item["score"] for item in result["labels"]), 1.0, rel_tol=1e-5)
    assert result["truncated"] is False


def test_zero_shot_falls_back_to_the_registry_labels(invoke) -> None:
    result = result_of(invoke("tiny-zero-shot", {"text": "The news was great."}))
    assert sorted(item["label"] for item in result["labels"]) == ["bad", "good", "news"]


def test_zero_shot_multi_label_scores_independently(invoke) -> None:
    result = result_of(invoke("tiny-zero-shot", {"text": "Great. | good, bad", "parameters": {"multi_label": True}}))
    assert all(is_score(item["score"]) for item in result["labels"])


def test_fill_mask_accepts_the_bert_marker(invoke) -> None:
    result = result_of(invoke("tiny-fill-mask", {"text": "Paris is the [MASK] of France.", "parameters": {"top_k": 3}}))
    assert len(result["predictions"]) == 3
    for prediction in result["predictions"]:
        assert set(prediction) == {"token", "score", "sequence"}
        assert is_score(prediction["score"])
        assert prediction["sequence"].startswith("paris is the")


@pytest.mark.parametrize("text", ["Paris is the [MASK] of [MASK].", "Paris is the <mask> and [MASK]."])
def test_fill_mask_needs_exactly_one_mask(invoke, text: str) -> None:
    assert invoke("tiny-fill-mask", {"text": text})["error"]["type"] == "invalid_input"


def test_text_generation_returns_only_new_text(invoke) -> None:
    result = result_of(invoke("tiny-ask", {"text": "Where is the tower?"}))
    assert set(result) == {"text"}
    assert isinstance(result["text"], str)
    assert "<|im_start|>" not in result["text"]
    assert "where is the tower" not in result["text"]


def test_text_generation_refuses_a_prompt_longer_than_the_context(invoke) -> None:
    response = invoke("tiny-ask", {"text": LONG_TEXT})
    assert response["error"]["type"] == "invalid_input"
    assert "256" in response["error"]["message"]


def test_text_generation_is_deterministic_when_greedy(invoke) -> None:
    first = invoke("tiny-ask", {"text": "Where is the tower?", "parameters": {"system": "Be brief."}})
    again = invoke("tiny-ask", {"text": "Where is the tower?", "parameters": {"system": "Be brief."}})
    assert result_of(first) == result_of(again)


def test_feature_extraction_mean_vector(invoke) -> None:
    result = result_of(invoke("tiny-features", {"text": "A man is eating food."}))
    assert result["dimensions"] == 32 == len(result["embedding"])
    assert all(type(x) is float for x in result["embedding"])
    assert result["truncated"] is False
    unit = result_of(invoke("tiny-features", {"text": "A man is eating food.", "parameters": {"normalize": True}}))
    assert math.isclose(math.fsum(x * x for x in unit["embedding"]), 1.0, rel_tol=1e-4)


def test_feature_extraction_truncates_long_text(invoke) -> None:
    result = result_of(invoke("tiny-features", {"text": LONG_TEXT}))
    assert (result["dimensions"], result["truncated"]) == (32, True)


def test_sentence_similarity_reports_truncation(invoke) -> None:
    result = result_of(invoke("tiny-similarity", {"text": f"A man is eating food. | {LONG_TEXT}"}))
    assert result["truncated"] is True


def test_summarization_splits_a_long_text_into_chunks(invoke) -> None:
    result = result_of(invoke("tiny-summarize", {"text": LONG_TEXT}))
    assert result["chunks"] > 1
    assert isinstance(result["summary"], str) and result["summary"]


def test_summarization_of_a_short_text_is_one_chunk(invoke) -> None:
    assert result_of(invoke("tiny-summarize", {"text": "The tower is tall."}))["chunks"] == 1


def test_translation_result_and_chunks(invoke) -> None:
    short = result_of(invoke("tiny-translate", {"text": "The meeting was moved."}))
    assert set(short) == {"translation", "chunks"} and short["chunks"] == 1
    assert result_of(invoke("tiny-translate", {"text": LONG_TEXT}))["chunks"] > 1


def test_translation_forces_the_target_language_token(invoke) -> None:
    # Multilingual models name the target language with a token (fra_Latn for NLLB); any vocabulary token works here.
    event = {"text": "The meeting was moved.", "parameters": {"tgt_lang": "paris"}}
    assert result_of(invoke("tiny-translate", event))["translation"].startswith("paris")


def test_a_prefix_must_be_text(invoke) -> None:
    response = invoke("tiny-summarize", {"text": "The tower is tall.", "parameters": {"prefix": 3}})
    assert response["error"] == {"type": "invalid_input", "message": "`prefix` must be text, not 3."}


def test_question_answering_span_is_inside_the_context(invoke) -> None:
    context = "The tower is in Paris. " + "The team was there on thursday. " * 30
    result = result_of(invoke("tiny-qa", {"text": f"Where is the tower? | {context}"}))
    assert set(result) == {"answer", "score", "start", "end", "truncated"}
    assert result["answer"] == context.strip()[result["start"] : result["end"]]
    assert 0 <= result["start"] < result["end"] <= len(context.strip())
    assert 0.0 < result["score"] <= 1.0
    assert result["truncated"] is False


def test_question_answering_bounds_the_answer_length(invoke) -> None:
    context = "The team was there on thursday afternoon in london and paris. " * 3
    event = {"text": f"Who was there? | {context}", "parameters": {"max_answer_len": 1}}
    result = result_of(invoke("tiny-qa", event))
    assert " " not in result["answer"]


def test_question_answering_refuses_a_question_that_fills_the_window(invoke) -> None:
    response = invoke("tiny-qa", {"text": f"{LONG_TEXT} | The tower is in Paris."})
    assert response["error"]["type"] == "invalid_input"


def test_sentence_similarity_ranks_highest_first(invoke) -> None:
    text = "A man is eating food. | A horse. | A man is eating food. | Paris in the afternoon."
    result = result_of(invoke("tiny-similarity", {"text": text}))
    assert result["source"] == "A man is eating food."
    scores = [s["score"] for s in result["scores"]]
    assert scores == sorted(scores, reverse=True)
    assert result["scores"][0]["sentence"] == "A man is eating food."
    assert math.isclose(scores[0], 1.0, rel_tol=1e-5)
    assert result["truncated"] is False


def test_a_parameter_of_the_wrong_type_is_invalid_input(invoke) -> None:
    response = invoke("tiny-sentiment", {"text": "Great news!", "parameters": {"top_k": "many"}})
    assert response["error"] == {"type": "invalid_input", "message": "`top_k` must be a whole number, not 'many'."}


@pytest.fixture
def image_event(monkeypatch: pytest.MonkeyPatch, tmp_path) -> Any:
    """``image_event(text, **parameters)``: a request naming a 64x48 PNG in the store the handler reads (``MEDIA_DIR``)."""
    from inference.media import PNG, FileRef, upload_key
    from inference.media_store import MEDIA_DIR_ENV, FolderStore
    from tests.vision_models import make_image

    monkeypatch.setenv(MEDIA_DIR_ENV, str(tmp_path))
    data = make_image(64, 48)
    ref = FileRef(upload_key("c0ffee", PNG), PNG, "photo.png", len(data))
    FolderStore(tmp_path).put(ref.key, data, mime=PNG.mime)

    def event(text: str = "", **parameters: Any) -> dict[str, Any]:
        return {"text": text, "parameters": parameters, "file": ref.to_event()}

    return event


def test_image_classification_ranks_the_model_labels(invoke, image_event) -> None:
    labels = result_of(invoke("tiny-classify-image", image_event()))["labels"]
    assert sorted(item["label"] for item in labels) == ["car", "cat", "dog"]
    assert all(is_score(item["score"]) for item in labels)
    assert [i["score"] for i in labels] == sorted((i["score"] for i in labels), reverse=True)
    assert len(result_of(invoke("tiny-classify-image", image_event(top_k=1)))["labels"]) == 1


def test_zero_shot_image_scores_every_label(invoke, image_event) -> None:
    labels = result_of(invoke("tiny-label-image", image_event("red, blue, car, dog")))["labels"]
    assert sorted(item["label"] for item in labels) == ["blue", "car", "dog", "red"]
    assert math.isclose(sum(item["score"] for item in labels), 1.0, rel_tol=1e-5)
    default = result_of(invoke("tiny-label-image", image_event()))["labels"]  # the registry's candidate_labels
    assert sorted(item["label"] for item in default) == ["car", "cat", "dog"]
    template = invoke("tiny-label-image", image_event(hypothesis_template="no blank"))
    assert template["error"]["type"] == "invalid_input"


def test_object_detection_boxes_lie_in_the_image(invoke, image_event) -> None:
    result = result_of(invoke("tiny-detect", image_event(threshold=0.0)))
    assert (result["width"], result["height"]) == (64, 48)
    assert result["objects"] and result["annotated"]["mime"] == "image/png"
    scores = [o["score"] for o in result["objects"]]
    assert scores == sorted(scores, reverse=True) and all(is_score(s) for s in scores)
    for found in result["objects"]:
        assert found["label"] in {"person", "cat", "car", "tree"}
        b = found["box"]
        assert 0 <= b["xmin"] <= b["xmax"] <= 64 and 0 <= b["ymin"] <= b["ymax"] <= 48
    stricter = result_of(invoke("tiny-detect", image_event(threshold=0.9)))["objects"]
    assert len(stricter) == sum(s > 0.9 for s in scores)


def test_image_to_text_captions_and_continues_a_prompt(invoke, image_event) -> None:
    caption = result_of(invoke("tiny-caption", image_event()))["caption"]
    assert isinstance(caption, str) and caption and caption == caption.strip()
    prompted = result_of(invoke("tiny-caption", image_event("a photo of")))["caption"]
    assert prompted.startswith("a photo of")


@pytest.fixture
def audio_event(monkeypatch: pytest.MonkeyPatch, tmp_path) -> Any:
    """``audio_event(data, media_type, **parameters)``: a request naming ``data`` in the store the handler reads."""
    from inference.media import FileRef, upload_key
    from inference.media_store import MEDIA_DIR_ENV, FolderStore

    monkeypatch.setenv(MEDIA_DIR_ENV, str(tmp_path))

    def event(data: bytes, media_type: Any, **parameters: Any) -> dict[str, Any]:
        ref = FileRef(upload_key("5ca1ab1e", media_type), media_type, f"voice{media_type.extension}", len(data))
        FolderStore(tmp_path).put(ref.key, data, mime=media_type.mime)
        return {"text": "", "parameters": parameters, "file": ref.to_event()}

    return event


def assert_transcript(result: dict[str, Any], duration: float) -> None:
    assert set(result) == {"text", "chunks", "duration", "language"}
    assert result["duration"] == duration and isinstance(result["language"], str)
    assert result["text"] == result["text"].strip() and result["chunks"]
    previous = 0.0
    for chunk in result["chunks"]:
        assert set(chunk) == {"start", "end", "text"}
        assert previous <= chunk["start"] <= chunk["end"] <= duration
        assert chunk["text"] and chunk["text"] == chunk["text"].strip()
        previous = chunk["end"]


def test_speech_recognition_transcribes_each_format_with_timestamps(invoke, audio_event) -> None:
    from inference.media import FLAC, MP3, OGG, WAV
    from tests.speech_models import make_flac, make_mp3, make_ogg, make_wav

    for data, media_type in [(make_wav(4.0), WAV), (make_flac(4.0), FLAC), (make_ogg(4.0), OGG)]:
        assert_transcript(result_of(invoke("tiny-transcribe", audio_event(data, media_type))), 4.0)
    mp3 = result_of(invoke("tiny-transcribe", audio_event(make_mp3(4.0), MP3)))
    assert mp3["duration"] == pytest.approx(4.0, abs=0.1)  # an MP3 gains its encoder's padding


def test_speech_recognition_reads_long_audio_in_windows(invoke, audio_event) -> None:
    from inference.media import WAV
    from tests.speech_models import make_wav

    result = result_of(invoke("tiny-transcribe", audio_event(make_wav(65.0, 22050, channels=2), WAV)))
    assert_transcript(result, 65.0)
    assert {int(chunk["start"] // 30) for chunk in result["chunks"]} == {0, 1, 2}


def test_speech_recognition_takes_a_language_and_a_task(invoke, audio_event) -> None:
    from inference.media import WAV
    from tests.speech_models import make_wav

    french = result_of(invoke("tiny-transcribe", audio_event(make_wav(3.0), WAV, language="fr", task="translate")))
    assert french["language"] == "fr"
    refused = invoke("tiny-transcribe", audio_event(make_wav(3.0), WAV, task="dance"))
    assert refused["error"]["type"] == "invalid_input" and "`task` must be" in refused["error"]["message"]
    no_file = invoke("tiny-transcribe", {"text": "hello"})
    assert no_file["error"]["message"] == "tiny-transcribe reads audio files: attach one to the request (`file`)."
