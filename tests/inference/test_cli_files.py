"""``python -m inference run NAME --file PATH``: a model that reads a file gets it as the router would send it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from inference import cli
from tests.speech_models import make_wav
from tests.vision_models import make_image


@pytest.fixture
def registry(tiny_registry: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("MODELS_FILE", str(tiny_registry))
    return tiny_registry


def written(folder: Path, name: str, data: bytes) -> Path:
    path = folder / name
    path.write_bytes(data)
    return path


@pytest.mark.slow
def test_run_reads_an_image_by_its_content_whatever_its_name(
    registry: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    photo = written(tmp_path, "photo.dat", make_image(fmt="JPEG"))
    code = cli.main(["run", "tiny-classify-image", "--file", str(photo), "--param", "top_k=2"])
    response = json.loads(capsys.readouterr().out)
    assert code == 0, response
    assert len(response["result"]["labels"]) == 2


@pytest.mark.slow
def test_run_passes_the_text_beside_the_file(
    registry: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    photo = written(tmp_path, "photo.png", make_image())
    assert cli.main(["run", "tiny-label-image", "red, blue", "--file", str(photo)]) == 0
    labels = json.loads(capsys.readouterr().out)["result"]["labels"]
    assert sorted(item["label"] for item in labels) == ["blue", "red"]


@pytest.mark.parametrize(
    ("argv", "words"),
    [
        (["run", "tiny-classify-image"], "tiny-classify-image reads image files: give one with --file PATH"),
        (["run", "tiny-sentiment", "hi", "--file", "{wav}"], "tiny-sentiment reads text, not files"),
        (["run", "tiny-classify-image", "--file", "{wav}"], "tiny-classify-image reads image files, and this is a WAV"),
        (["run", "tiny-transcribe", "--file", "{text}"], "not an image or audio file this bot can read"),
        (["run", "tiny-classify-image", "--file", "{missing}"], "cannot read"),
    ],
)
def test_a_file_the_model_cannot_take_is_one_error_line(
    registry: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], argv: list[str], words: str
) -> None:
    paths = {
        "wav": str(written(tmp_path, "a.wav", make_wav(0.5))),
        "text": str(written(tmp_path, "notes.mp3", b"just some notes, not audio")),
        "missing": str(tmp_path / "nowhere.png"),
    }
    code = cli.main([arg.format(**paths) for arg in argv])
    out, err = capsys.readouterr()
    assert code == cli.USAGE_ERROR and out == ""
    assert err.startswith("error: ") and words in err and err.count("\n") == 1, err
