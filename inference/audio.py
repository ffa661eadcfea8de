"""Audio for speech models: a file's samples, and Whisper's log-mel features, with numpy, soundfile and soxr only.

The serving image has neither torch nor transformers, so this is what both Whisper runners read audio
with. :func:`load_audio` decodes WAV, FLAC, Ogg and MP3 (libsndfile), refuses audio over
:data:`~inference.media.MAX_AUDIO_SECONDS` from its header before decoding it, and returns mono float32
samples at the model's rate (channels averaged, resampled with soxr). :func:`log_mel_spectrogram` is
transformers' ``WhisperFeatureExtractor`` in numpy (its ``_np_extract_fbank_features``): a periodic Hann
window, the power spectrum, Slaney mel filters, log10, a floor 8 below the maximum, then ``(x + 4) / 4``.
"""

from __future__ import annotations

import io
import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import soundfile
import soxr

from inference.errors import InputTooLong, InvalidInput
from inference.media import AUDIO, MAX_AUDIO_SECONDS, MediaFile, readable_names

#: Where a Whisper model keeps its feature extractor's settings.
PREPROCESSOR_FILE = "preprocessor_config.json"
#: A recording whose loudest sample is below this (one step of 16-bit audio) has no sound to transcribe.
SILENCE = 2.0**-15
#: The highest frequency Whisper's mel filters reach, whatever the rate (as transformers' extractor has it).
MAX_MEL_HZ = 8000.0
#: How much longer than the header said a decoded file may be (an MP3's header length is an estimate).
DECODED_SLACK_SECONDS = 5.0


def describe_seconds(seconds: float) -> str:
    """A length for people: ``"11 min 0 s"``, ``"42.5 s"``."""
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, rest = divmod(round(seconds), 60)
    return f"{minutes} min {rest} s"


def _undecodable(file: MediaFile, reason: str) -> InvalidInput:
    reason = reason.removeprefix("Error : ").strip().rstrip(".")
    return InvalidInput(
        f"The audio could not be decoded ({file.media_type.label}: {reason}): send a {readable_names(AUDIO)} file."
    )


def _too_long(seconds: float) -> InputTooLong:
    return InputTooLong(
        f"The audio is {describe_seconds(seconds)} long; at most {MAX_AUDIO_SECONDS // 60} minutes are transcribed. "
        "Send a shorter recording, or split it."
    )


def load_audio(file: MediaFile, *, sampling_rate: int) -> np.ndarray:
    """``file``'s samples as one float32 channel at ``sampling_rate`` Hz.

    Raises:
        InputTooLong: longer than :data:`~inference.media.MAX_AUDIO_SECONDS` (read from the header where the
            format states it, before decoding).
        InvalidInput: a file libsndfile cannot decode (corrupt, truncated, another format behind the header),
            no samples, or only silence, each said in plain words.
    """
    try:
        with soundfile.SoundFile(io.BytesIO(file.data)) as sound:
            rate, frames = sound.samplerate, sound.frames
            if rate <= 0:
                raise _undecodable(file, f"a sample rate of {rate} Hz")
            if frames / rate > MAX_AUDIO_SECONDS:
                raise _too_long(frames / rate)
            samples = sound.read(dtype="float32", always_2d=True)
    except soundfile.LibsndfileError as exc:  # libsndfile's own words, without the Python object it opened
        raise _undecodable(file, exc.error_string) from exc
    except (RuntimeError, ValueError, TypeError) as exc:  # soundfile's checks of what libsndfile returned
        raise _undecodable(file, str(exc) or type(exc).__name__) from exc
    if samples.shape[0] == 0:
        raise InvalidInput("The audio has no samples (it is zero seconds long): send a recording with speech in it.")
    if samples.shape[0] / rate > MAX_AUDIO_SECONDS + DECODED_SLACK_SECONDS:
        raise _too_long(samples.shape[0] / rate)
    if not np.isfinite(samples).all():
        raise _undecodable(file, "some samples are not numbers")
    mono = samples.mean(axis=1, dtype=np.float32) if samples.shape[1] > 1 else samples[:, 0]
    if float(np.abs(mono).max()) < SILENCE:
        raise InvalidInput(
            f"The audio is silent ({describe_seconds(mono.size / rate)} without a sound): send a recording with speech in it."
        )
    if rate != sampling_rate:
        mono = soxr.resample(mono, rate, sampling_rate, quality="HQ")
    return np.ascontiguousarray(mono, dtype=np.float32)


@dataclass(frozen=True)
class FeatureSettings:
    """What a Whisper feature extractor computes features with (its ``preprocessor_config.json``)."""

    feature_size: int = 80
    n_fft: int = 400
    hop_length: int = 160
    sampling_rate: int = 16000
    #: Samples in one window (``chunk_length`` seconds at ``sampling_rate``): 30 s for Whisper.
    chunk_samples: int = 480000

    @classmethod
    def read(cls, folder: Path) -> FeatureSettings:
        """The settings in ``folder``'s :data:`PREPROCESSOR_FILE`, with transformers' defaults for any missing.

        Raises:
            OSError, ValueError: the file is missing or not JSON (a load failure to the caller).
        """
        config: dict[str, Any] = json.loads((folder / PREPROCESSOR_FILE).read_text(encoding="utf-8"))
        defaults = cls()
        rate = int(config.get("sampling_rate", defaults.sampling_rate))
        chunk = config.get("n_samples") or int(config.get("chunk_length", 30)) * rate
        return cls(
            feature_size=int(config.get("feature_size", defaults.feature_size)),
            n_fft=int(config.get("n_fft", defaults.n_fft)),
            hop_length=int(config.get("hop_length", defaults.hop_length)),
            sampling_rate=rate,
            chunk_samples=int(chunk),
        )

    def as_options(self) -> dict[str, int]:
        """The keyword arguments of :func:`log_mel_spectrogram`."""
        return {
            "feature_size": self.feature_size,
            "n_fft": self.n_fft,
            "hop_length": self.hop_length,
            "sampling_rate": self.sampling_rate,
            "chunk_samples": self.chunk_samples,
        }


def _hertz_to_mel(hertz: np.ndarray) -> np.ndarray:
    """Slaney's mel scale: linear below 1 kHz, logarithmic above."""
    mels = 3.0 * hertz / 200.0
    above = hertz >= 1000.0
    mels[above] = 15.0 + np.log(hertz[above] / 1000.0) * (27.0 / np.log(6.4))
    return mels


def _mel_to_hertz(mels: np.ndarray) -> np.ndarray:
    hertz = 200.0 * mels / 3.0
    above = mels >= 15.0
    hertz[above] = 1000.0 * np.exp((np.log(6.4) / 27.0) * (mels[above] - 15.0))
    return hertz


@lru_cache(maxsize=4)
def mel_filters(feature_size: int, n_fft: int, sampling_rate: int) -> np.ndarray:
    """Slaney-normalised triangular mel filters, shape (``1 + n_fft // 2``, ``feature_size``), float64."""
    edges = _mel_to_hertz(np.linspace(*_hertz_to_mel(np.array([0.0, MAX_MEL_HZ])), feature_size + 2))
    bins = np.linspace(0, sampling_rate // 2, 1 + n_fft // 2)
    slopes = edges[None, :] - bins[:, None]
    widths = np.diff(edges)
    filters = np.maximum(0.0, np.minimum(-slopes[:, :-2] / widths[:-1], slopes[:, 2:] / widths[1:]))
    return filters * (2.0 / (edges[2:] - edges[:-2]))[None, :]


def log_mel_spectrogram(
    audio: np.ndarray,
    *,
    feature_size: int = 80,
    n_fft: int = 400,
    hop_length: int = 160,
    sampling_rate: int = 16000,
    chunk_samples: int = 480000,
) -> np.ndarray:
    """Whisper's input features for one window of ``audio`` (mono, at ``sampling_rate``), float32,
    shape (``feature_size``, ``chunk_samples // hop_length``): the window is padded with zeros (or cut) to
    ``chunk_samples`` first, as the feature extractor does."""
    window = np.zeros(chunk_samples, dtype=np.float64)
    take = min(audio.size, chunk_samples)
    window[:take] = audio[:take]
    padded = np.pad(window, n_fft // 2, mode="reflect")
    count = 1 + (padded.size - n_fft) // hop_length
    frames = np.lib.stride_tricks.as_strided(
        padded, shape=(count, n_fft), strides=(padded.strides[0] * hop_length, padded.strides[0]), writeable=False
    )
    hann = 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(n_fft) / n_fft)  # periodic
    power = np.abs(np.fft.rfft(frames * hann, n=n_fft, axis=1)) ** 2
    mel = mel_filters(feature_size, n_fft, sampling_rate).T @ power.T
    log_spec = np.log10(np.maximum(mel, 1e-10))[:, :-1]
    log_spec = np.maximum(log_spec, log_spec.max() - 8.0)
    return ((log_spec + 4.0) / 4.0).astype(np.float32)
