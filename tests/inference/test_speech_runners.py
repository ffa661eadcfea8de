"""The Whisper runners: CTranslate2 against torch on the tiny Whisper, windows, timestamps, options, conversion.

Greedy decoding of a float32 conversion gives torch's tokens, so both results are compared whole: the same
text, chunk times and language. The chunking of timestamp tokens is checked on its own on crafted ids.
"""

from __future__ import annotations

import dataclasses
import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from inference.conversions import convert_entry
from inference.errors import InvalidInput
from inference.media import WAV, MediaFile
from inference.registry import ModelSpec, load_registry
from inference.runners import load_runner
from inference.runners.transcripts import TIME_PRECISION, WhisperTokens, window_chunks
from inference.service import Runner
from tests.probes import probe
from tests.speech_models import make_wav

ROOT = Path(__file__).resolve().parents[2]
NAME = "tiny-transcribe"


@pytest.fixture(scope="module")
def whisper(tiny_registry: Path) -> ModelSpec:
    return next(s for s in load_registry(tiny_registry) if s.name == NAME)


def on(spec: ModelSpec, backend: str, quantize: str = "none") -> ModelSpec:
    """``spec`` on ``backend``, converted for it into the session's HF_HOME."""
    moved = dataclasses.replace(spec, backend=backend, quantize=quantize)
    if backend != "torch":
        _, record = convert_entry(moved, spec.local_path)
        assert record.refused is None, record.refused
    return moved


@pytest.fixture(scope="module")
def runners(whisper: ModelSpec) -> dict[str, Runner]:
    return {
        "torch": load_runner(on(whisper, "torch")),
        "ct2": load_runner(on(whisper, "ctranslate2")),
        "ct2-int8": load_runner(on(whisper, "ctranslate2", "int8")),
    }


def wav(seconds: float, **options: Any) -> MediaFile:
    return MediaFile(make_wav(seconds, **options), WAV, "voice.wav")


def check_shape(result: dict[str, Any], duration: float) -> None:
    assert set(result) == {"text", "chunks", "duration", "language"}
    assert json.loads(json.dumps(result)) == result
    assert result["duration"] == duration
    assert result["text"] == result["text"].strip()
    previous = 0.0
    for chunk in result["chunks"]:
        assert set(chunk) == {"start", "end", "text"}
        assert previous <= chunk["start"] <= chunk["end"] <= duration
        assert chunk["start"] == round(chunk["start"], 2) and chunk["end"] == round(chunk["end"], 2)
        assert chunk["text"] and chunk["text"] == chunk["text"].strip()
        previous = chunk["end"]


REQUESTS = [
    (12.3, {}),
    (40.0, {"language": "fr", "max_new_tokens": 30}),
    (3.0, {"task": "translate", "max_new_tokens": 224}),
    (5.0, {"language": "<|de|>", "max_new_tokens": 1}),  # one timestamp: no text, no chunk
]


@pytest.mark.parametrize(("seconds", "parameters"), REQUESTS, ids=["detected", "french", "translate", "one-token"])
def test_the_fast_runner_gives_torchs_transcript(
    runners: dict[str, Runner], seconds: float, parameters: dict[str, Any]
) -> None:
    file = wav(seconds, tone_hz=330.0)
    theirs = runners["torch"].run("", {"max_new_tokens": 8, **parameters}, file=file)
    ours = runners["ct2"].run("", {"max_new_tokens": 8, **parameters}, file=file)
    assert type(runners["ct2"]).__module__ == "inference.runners.ct2_speech"
    check_shape(ours, seconds)
    assert ours == theirs
    assert bool(ours["chunks"]) == (parameters.get("max_new_tokens") != 1)
    if "language" in parameters:
        assert ours["language"] == parameters["language"].strip("<|>")


def test_the_int8_conversion_answers_in_the_same_shape(runners: dict[str, Runner]) -> None:
    check_shape(runners["ct2-int8"].run("", {"max_new_tokens": 8}, file=wav(7.5)), 7.5)


@pytest.mark.parametrize("backend", ["torch", "ct2"])
def test_long_audio_is_read_in_30_second_windows_in_order(
    runners: dict[str, Runner], backend: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from inference.runners.speech import _Windows

    lengths: list[int] = []
    # Where each runner makes a window's features: the CTranslate2 runner itself, the torch runner's windows.
    owner: Any = runners["ct2"] if backend == "ct2" else _Windows
    encode = owner.encode

    def spy(*args: Any) -> Any:
        lengths.append(args[-1].size)
        return encode(*args)

    monkeypatch.setattr(owner, "encode", spy)
    result = runners[backend].run("", {"max_new_tokens": 8}, file=wav(70.0))
    assert lengths == [480000, 480000, 160000]
    check_shape(result, 70.0)
    windows = [int(chunk["start"] // 30) for chunk in result["chunks"]]
    assert windows == sorted(windows) and set(windows) == {0, 1, 2}


TOKENS = WhisperTokens(start=10, end=11, timestamp_begin=100, max_new_tokens=224, languages={"en": 12}, tasks={})


def at(seconds: float) -> int:
    return TOKENS.timestamp_begin + round(seconds / TIME_PRECISION)


def words(ids: list[int]) -> str:
    return "".join(f" w{i}" for i in ids)


#: Crafted windows (times in seconds into a window that starts at 30 s and whose audio ends at 40 s).
SEGMENTS = {
    "two-segments": ([at(0), 1, 2, at(1.5), at(1.5), 3, at(4), 11], [(30.0, 31.5, " w1 w2"), (31.5, 34.0, " w3")]),
    "left-open-ends-with-the-audio": ([at(0.5), 1, at(2), 2, 3], [(30.5, 32.0, " w1"), (32.0, 40.0, " w2 w3")]),
    "no-first-timestamp": ([1, at(2), 11, 5], [(30.0, 32.0, " w1")]),
    "empty-segment": ([at(0), at(3), 11], [(30.0, 33.0, "")]),
    "nothing": ([11, 1], []),
}


@pytest.mark.parametrize("case", sorted(SEGMENTS))
def test_timestamp_tokens_become_segments(case: str) -> None:
    ids, expected = SEGMENTS[case]
    segments = window_chunks(ids, tokens=TOKENS, offset=30.0, end=40.0, decode=words)
    assert [(pytest.approx(a), pytest.approx(b), text) for a, b, text in segments] == expected


@pytest.mark.parametrize(
    ("parameters", "words_"),
    [
        ({"language": "klingon"}, "`language` must be the code of a language this model knows (en, zh, de"),
        ({"language": 3}, "`language` must be text"),
        ({"task": "summarize"}, "`task` must be `transcribe` or `translate` (into English), not 'summarize'."),
        ({"max_new_tokens": "many"}, "`max_new_tokens` must be a whole number"),
    ],
)
@pytest.mark.parametrize("backend", ["torch", "ct2"])
def test_a_bad_option_is_refused_in_plain_words(
    runners: dict[str, Runner], backend: str, parameters: dict[str, Any], words_: str
) -> None:
    with pytest.raises(InvalidInput) as refusal:
        runners[backend].run("", parameters, file=wav(1.0))
    assert words_ in str(refusal.value)


def test_more_new_tokens_than_a_window_takes_are_clamped(runners: dict[str, Runner]) -> None:
    file = wav(2.0)
    assert runners["ct2"].run("", {"max_new_tokens": 10_000}, file=file) == runners["ct2"].run(
        "", {"max_new_tokens": 224}, file=file
    )


def test_an_english_only_model_refuses_other_languages(whisper: ModelSpec, tmp_path: Path) -> None:
    folder = tmp_path / "whisper-en"
    shutil.copytree(whisper.local_path, folder)
    generation = json.loads((folder / "generation_config.json").read_text())
    # As whisper-tiny.en's: no languages or tasks to choose.
    generation = {key: value for key, value in generation.items() if key not in ("lang_to_id", "task_to_id")}
    generation["is_multilingual"] = False
    (folder / "generation_config.json").write_text(json.dumps(generation))
    runner = load_runner(dataclasses.replace(whisper, local_path=folder, model=str(folder)))
    result = runner.run("", {"max_new_tokens": 4}, file=wav(2.0))
    assert result["language"] == "en"
    with pytest.raises(InvalidInput, match="only transcribes English: it cannot translate"):
        runner.run("", {"task": "translate"}, file=wav(2.0))
    with pytest.raises(InvalidInput, match="only transcribes English, not 'fr'"):
        runner.run("", {"language": "fr"}, file=wav(2.0))


def test_a_whisper_without_its_feature_extractor_is_not_converted(whisper: ModelSpec, tmp_path: Path) -> None:
    folder = tmp_path / "whisper-bare"
    shutil.copytree(whisper.local_path, folder)
    (folder / "preprocessor_config.json").unlink()
    spec = dataclasses.replace(whisper, backend="ctranslate2", quantize="int8", local_path=folder, model=str(folder))
    _, record = convert_entry(spec, folder)
    assert record.refused == "it has no readable preprocessor_config.json"


def test_the_conversion_keeps_what_the_runner_reads(whisper: ModelSpec) -> None:
    from inference.conversions import backend_folder

    folder = backend_folder(on(whisper, "ctranslate2", "int8"))
    names = {path.name for path in folder.iterdir()}
    assert {"model.bin", "config.json", "vocabulary.json", "tokenizer.json", "preprocessor_config.json"} <= names
    tokens = WhisperTokens.read(folder)
    assert (tokens.start, tokens.end, tokens.timestamp_begin, tokens.max_new_tokens) == (50258, 50257, 50364, 224)
    assert len(tokens.languages) == 99 and tokens.languages["en"] == 50259


#: Loads the fast runner over a conversion and answers, then reports which heavy packages the process imported.
PROBE = """
import json, sys
from pathlib import Path
from inference.media import WAV, MediaFile
from inference.registry import load_registry
from inference.runners.ct2_speech import SpeechRecognitionCt2
from tests.speech_models import make_wav
runner = SpeechRecognitionCt2(load_registry(sys.argv[1]).get("tiny-transcribe"), Path(sys.argv[2]))
answer = runner.run("", {"max_new_tokens": 4}, file=MediaFile(make_wav(2.0), WAV, "a.wav"))
print(json.dumps({"answer": answer, "heavy": sorted({m.split(".")[0] for m in sys.modules} & {"torch", "transformers"})}))
"""


def test_the_fast_runner_imports_neither_torch_nor_transformers(whisper: ModelSpec, tiny_registry: Path) -> None:
    from inference.conversions import backend_folder

    folder = backend_folder(on(whisper, "ctranslate2", "int8"))
    report = probe(PROBE, str(tiny_registry), str(folder))
    assert report["heavy"] == []
    assert set(report["answer"]) == {"text", "chunks", "duration", "language"}
