"""Audio people send, good and bad, and Whisper's features computed without transformers.

Bad files go through :func:`inference.service.handle` with a :class:`FolderStore`, as the model function
reads them, to the tiny Whisper on both of its backends: each is refused in plain words, none crashes.
:func:`inference.audio.log_mel_spectrogram` is checked against transformers' ``WhisperFeatureExtractor``.
"""

from __future__ import annotations

import dataclasses
import io
import re
import struct
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import soundfile

from inference import audio
from inference.audio import FeatureSettings, load_audio, log_mel_spectrogram
from inference.conversions import convert_entry
from inference.errors import InputTooLong, InvalidInput
from inference.media import FLAC, MP3, OGG, PNG, WAV, FileRef, MediaFile, MediaType, upload_key
from inference.media_store import FolderStore
from inference.registry import ModelSpec, load_registry
from inference.runners import load_runner
from inference.service import Runner, handle
from tests.speech_models import SAMPLING_RATE, make_flac, make_mp3, make_ogg, make_wav, tone

Send = Callable[..., dict[str, Any]]


def wav_file(data: bytes) -> MediaFile:
    return MediaFile(data, WAV, "voice.wav")


def silent_wav(seconds: float) -> bytes:
    out = io.BytesIO()
    soundfile.write(out, np.zeros(round(seconds * SAMPLING_RATE), dtype=np.float32), SAMPLING_RATE, format="WAV")
    return out.getvalue()


def peak_hz(samples: np.ndarray, rate: int) -> float:
    spectrum = np.abs(np.fft.rfft(samples))
    return float(np.fft.rfftfreq(samples.size, 1 / rate)[spectrum.argmax()])


# Features ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "samples",
    [
        np.random.default_rng(7).uniform(-1, 1, SAMPLING_RATE * 7).astype(np.float32),
        tone(12.3, tone_hz=440.0)[:, 0],
        tone(30.0, tone_hz=3000.0)[:, 0],
        tone(31.0, tone_hz=200.0)[:, 0],  # longer than a window: both cut it at 30 s
        tone(0.05)[:, 0],
    ],
    ids=["noise-7s", "tone-12s", "tone-30s", "tone-31s", "tone-50ms"],
)
def test_log_mel_spectrogram_is_whisper_feature_extractors(samples: np.ndarray) -> None:
    from transformers import WhisperFeatureExtractor

    extractor = WhisperFeatureExtractor(feature_size=80, sampling_rate=SAMPLING_RATE)
    theirs = extractor(samples, sampling_rate=SAMPLING_RATE, return_tensors="np").input_features[0]
    ours = log_mel_spectrogram(samples)
    assert ours.dtype == np.float32
    assert ours.shape == theirs.shape == (80, 3000)
    np.testing.assert_allclose(ours, theirs, atol=1e-4)


def test_feature_settings_are_read_from_the_models_preprocessor_config(tmp_path: Path) -> None:
    from transformers import WhisperFeatureExtractor

    WhisperFeatureExtractor(feature_size=128, hop_length=160, chunk_length=10).save_pretrained(tmp_path)
    settings = FeatureSettings.read(tmp_path)
    assert settings == FeatureSettings(feature_size=128, chunk_samples=160000)
    features = log_mel_spectrogram(tone(3.0)[:, 0], **settings.as_options())
    assert features.shape == (128, 1000)


# Decoding ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("make", "media_type"), [(make_wav, WAV), (make_flac, FLAC), (make_ogg, OGG), (make_mp3, MP3)])
def test_each_readable_format_decodes_to_mono_16_khz(make: Callable[..., bytes], media_type: MediaType) -> None:
    samples = load_audio(MediaFile(make(2.0, 22050), media_type, "voice"), sampling_rate=SAMPLING_RATE)
    assert samples.dtype == np.float32 and samples.ndim == 1
    assert abs(samples.size - 2 * SAMPLING_RATE) < 0.05 * SAMPLING_RATE  # an MP3 gains its encoder's padding
    assert abs(peak_hz(samples, SAMPLING_RATE) - 440.0) < 5


def test_stereo_44_1_khz_is_downmixed_and_resampled() -> None:
    samples = load_audio(wav_file(make_wav(3.0, 44100, channels=2, tone_hz=1000.0)), sampling_rate=SAMPLING_RATE)
    assert samples.shape == (3 * SAMPLING_RATE,)
    assert abs(peak_hz(samples, SAMPLING_RATE) - 1000.0) < 5
    assert 0.4 < float(np.abs(samples).max()) < 0.6  # the channels averaged, not summed


def test_channels_are_averaged() -> None:
    left = tone(1.0)
    out = io.BytesIO()
    soundfile.write(out, np.hstack([left, -left]), SAMPLING_RATE, format="WAV")  # they cancel out
    with pytest.raises(InvalidInput, match="silent"):
        load_audio(wav_file(out.getvalue()), sampling_rate=SAMPLING_RATE)


def test_the_length_is_read_from_the_header_before_decoding(monkeypatch: pytest.MonkeyPatch) -> None:
    def never(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("decoded a file that was too long")

    monkeypatch.setattr(soundfile.SoundFile, "read", never)
    with pytest.raises(InputTooLong, match="11 min 0 s long; at most 10 minutes"):
        load_audio(wav_file(make_wav(660.0, 8000)), sampling_rate=SAMPLING_RATE)


def test_a_decoded_length_over_the_cap_is_refused_too(monkeypatch: pytest.MonkeyPatch) -> None:
    # An MP3's header length is an estimate: the samples themselves are counted again.
    monkeypatch.setattr(audio, "MAX_AUDIO_SECONDS", 2)
    monkeypatch.setattr(audio, "DECODED_SLACK_SECONDS", 0.5)
    monkeypatch.setattr(soundfile.SoundFile, "read", lambda self, **options: tone(3.0))
    with pytest.raises(InputTooLong, match=r"3\.0 s long"):
        load_audio(wav_file(make_wav(1.0)), sampling_rate=SAMPLING_RATE)


# Bad files through the service, on both backends --------------------------------------------------------


@pytest.fixture(scope="module", params=["torch", "ctranslate2"])
def transcriber(request: pytest.FixtureRequest, tiny_registry: Path) -> tuple[ModelSpec, Runner]:
    spec = next(s for s in load_registry(tiny_registry) if s.name == "tiny-transcribe")
    spec = dataclasses.replace(spec, backend=request.param)
    if request.param != "torch":
        _, record = convert_entry(spec, spec.local_path)
        assert record.refused is None, record.refused
    return spec, load_runner(spec)


@pytest.fixture
def send(transcriber: tuple[ModelSpec, Runner], tmp_path: Path) -> Send:
    """``send(data, media_type)`` stores ``data`` as the router would and serves a request naming it."""
    spec, runner = transcriber
    store = FolderStore(tmp_path / "media")

    def call(data: bytes, media_type: MediaType = WAV, **parameters: Any) -> dict[str, Any]:
        ref = FileRef(upload_key("ab12", media_type), media_type, f"voice{media_type.extension}", len(data))
        store.put(ref.key, data, mime=media_type.mime)
        event = {"text": "", "parameters": parameters, "file": ref.to_event()}
        return handle(event, spec=spec, get_runner=lambda: runner, get_store=lambda: store)

    return call


def refusal(response: dict[str, Any], kind: str = "invalid_input") -> str:
    assert response["error"]["type"] == kind, response
    return response["error"]["message"]


def truncated_header(data: bytes) -> bytes:
    return data[:30]  # RIFF, WAVE and half the format chunk: no data chunk


def corrupt_flac(data: bytes) -> bytes:
    return data[:200] + bytes(400) + data[600:]  # the stream info intact, frames zeroed out


def m4a() -> bytes:
    return struct.pack(">I", 24) + b"ftypM4A " + bytes(4) + b"M4A mp42" + bytes(64)


BAD = {
    "empty": (b"", WAV, "The file is empty"),
    "not-audio": (b"<html><body>404 Not Found</body></html>", WAV, "not an image or audio file this bot can read"),
    "an-image": (b"\x89PNG\r\n\x1a\n" + bytes(64), WAV, "reads audio files, and this is a PNG image"),
    "truncated-header": (truncated_header(make_wav(1.0)), WAV, r"could not be decoded \(WAV audio: .*'data' chunk"),
    "header-only": (make_wav(1.0)[:44], WAV, "has no samples"),
    "corrupt-flac": (corrupt_flac(make_flac(2.0)), FLAC, r"could not be decoded \(FLAC audio: .*\): send a WAV, FLAC"),
    "garbage-ogg": (b"OggS" + bytes(range(256)) * 4, OGG, r"could not be decoded \(Ogg audio: .*\): send a WAV"),
    "garbage-mp3": (b"ID3" + bytes(range(256)) * 4, MP3, r"could not be decoded \(MP3 audio"),
    "m4a": (m4a(), MP3, "MP4/M4A audio or video cannot be read here: convert it to MP3, WAV or FLAC"),
    "zero-seconds": (make_wav(0.0), WAV, "has no samples"),
    "silence": (silent_wav(2.0), WAV, "The audio is silent"),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_a_bad_file_is_refused_in_plain_words(send: Send, case: str) -> None:
    data, claimed, words = BAD[case]
    message = refusal(send(data, claimed))
    assert re.search(words, message), message
    assert "Traceback" not in message and "BytesIO" not in message


def test_an_image_named_as_the_file_is_refused(send: Send) -> None:
    data = b"\x89PNG\r\n\x1a\n" + bytes(64)
    assert "reads audio files, and this is a PNG image" in refusal(send(data, PNG))


def test_over_ten_minutes_is_refused(send: Send) -> None:
    message = refusal(send(make_wav(660.0, 8000)), "input_too_long")
    assert message == (
        "The audio is 11 min 0 s long; at most 10 minutes are transcribed. Send a shorter recording, or split it."
    )


@pytest.mark.parametrize(
    ("data", "media_type"),
    [(make_wav(3.0, 44100, channels=2), WAV), (make_flac(2.0, 48000, channels=2), FLAC), (make_ogg(2.0), OGG)],
    ids=["stereo-44.1k-wav", "stereo-48k-flac", "ogg"],
)
def test_stereo_and_other_rates_are_accepted(send: Send, data: bytes, media_type: MediaType) -> None:
    response = send(data, media_type)
    assert "error" not in response, response
    result = response["result"]
    assert set(result) == {"text", "chunks", "duration", "language"}
    seconds = soundfile.info(io.BytesIO(data)).duration
    assert result["duration"] == pytest.approx(seconds, abs=0.01)
