"""The file tasks' benchmark fixtures: the requests' files as the handler reads them, and a shaped model."""

from __future__ import annotations

import io
import json
import wave
from pathlib import Path

from PIL import Image

from benchmarks.speed import media_fixtures
from inference.media import AUDIO, IMAGE, MAX_BYTES, FileRef, check_file
from inference.media_store import FolderStore


def test_the_requests_files_are_a_photo_and_thirty_seconds_of_speech_in_the_store(tmp_path: Path) -> None:
    files = media_fixtures.store_requests(tmp_path)
    store = FolderStore(tmp_path)
    image_ref, audio_ref = FileRef.from_event(files[IMAGE]), FileRef.from_event(files[AUDIO])
    image_bytes = store.get(image_ref.key, max_bytes=MAX_BYTES[IMAGE])
    audio_bytes = store.get(audio_ref.key, max_bytes=MAX_BYTES[AUDIO])
    assert check_file(image_bytes, kind=IMAGE, model="m").mime == image_ref.media_type.mime == "image/jpeg"
    assert check_file(audio_bytes, kind=AUDIO, model="m").mime == audio_ref.media_type.mime == "audio/wav"
    assert (image_ref.size, audio_ref.size) == (len(image_bytes), len(audio_bytes))
    photo = Image.open(io.BytesIO(image_bytes))
    assert photo.size == media_fixtures.PHOTO_SIZE and photo.mode == "RGB"
    with wave.open(io.BytesIO(audio_bytes)) as recording:
        assert (recording.getnchannels(), recording.getframerate()) == (1, media_fixtures.SAMPLING_RATE)
        assert recording.getnframes() == media_fixtures.SPEECH_SECONDS * media_fixtures.SAMPLING_RATE
    assert media_fixtures.photo() == image_bytes and media_fixtures.speech() == audio_bytes  # seeded: the same each run


def test_speech_has_syllables_and_pauses() -> None:
    import numpy as np

    with wave.open(io.BytesIO(media_fixtures.speech(seconds=5))) as recording:
        samples = np.frombuffer(recording.readframes(recording.getnframes()), dtype="<i2") / 32767
    loudness = np.sqrt(np.mean(samples.reshape(-1, 160) ** 2, axis=1))  # per 10 ms
    quiet = loudness < 0.02
    assert 0.1 < quiet.mean() < 0.6  # pauses between words, as speech has, and mostly voiced
    assert loudness.max() > 0.1


def test_a_full_build_has_the_models_shape_and_its_repositorys_files(tmp_path: Path) -> None:
    folder = tmp_path / "yolos"
    media_fixtures.build("yolos", folder, smoke=False)  # the smallest of the five: 6.5 M parameters
    config = json.loads((folder / "config.json").read_text())
    for key, value in media_fixtures.YOLOS_TINY.items():
        assert config[key] == value
    assert len(config["id2label"]) == media_fixtures.YOLOS_LABELS
    processor = json.loads((folder / "preprocessor_config.json").read_text())
    assert (processor["size"], processor["max_size"]) == (512, 1333)  # the repository's own file, as recorded
    assert sorted(path.name for path in folder.iterdir()) == [
        "config.json",
        "model.safetensors",
        "preprocessor_config.json",
    ]
    assert 25_000_000 < (folder / "model.safetensors").stat().st_size < 27_000_000  # yolos-tiny's 26 MB
