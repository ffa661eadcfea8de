"""``python -m inference``: run, warm and list, called in-process through ``main``."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from inference import cli, loader
from inference.tasks import TASKS
from tests.conftest import ROOT
from tests.fakes.hub import FakeHub
from tests.tiny_models import write_registry

PIN = "0123456789abcdef0123456789abcdef01234567"
HUB_ENTRY = {
    "name": "hub-model",
    "task": "fill-mask",
    "model": "owner/model",
    "revision": PIN,
    "memory": 1024,
    "backend": "torch",
}


@pytest.fixture
def registry(tiny_registry: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("MODELS_FILE", str(tiny_registry))
    return tiny_registry


@pytest.fixture
def hub_registry(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    (tmp_path / "local").mkdir()
    local = {"name": "local-model", "task": "fill-mask", "model": "./local", "backend": "torch"}
    path = write_registry(tmp_path / "models.yaml", [HUB_ENTRY, local])
    monkeypatch.setenv("MODELS_FILE", str(path))
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf-home"))
    monkeypatch.delenv("HF_HUB_CACHE", raising=False)
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    return path


@pytest.mark.slow
def test_run_prints_the_handler_response(registry: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = cli.main(["run", "tiny-sentiment", "Great news!", "--param", "top_k=1"])
    response = json.loads(capsys.readouterr().out)
    assert code == 0
    assert response["model"] == "tiny-sentiment"
    assert len(response["result"]["labels"]) == 1
    assert set(response["timings"]) == {"load_ms", "inference_ms"}


@pytest.mark.slow
def test_run_stream_writes_the_answer_to_stderr_as_it_grows_and_the_json_to_stdout(
    registry: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PARTIAL_INTERVAL_SECONDS", "0")  # every token's text is passed on
    seen: list[str] = []
    monkeypatch.setattr(cli._StreamedText, "__call__", _recording(cli._StreamedText.__call__, seen))
    args = ["run", "tiny-ask", "Where is the tower?", "--param", "max_new_tokens=8", "--param", "min_new_tokens=8"]
    assert cli.main([*args, "--stream"]) == 0
    captured = capsys.readouterr()
    text = json.loads(captured.out)["result"]["text"]
    assert len(seen) >= 2, "the text came in more than one piece"
    assert captured.err.endswith(seen[-1] + "\n") and text.startswith(seen[0].strip()[:1])
    streamed = len(seen)
    assert cli.main(args) == 0
    assert len(seen) == streamed  # without --stream, nothing is streamed


def _recording(call: Any, seen: list[str]) -> Any:
    def record(self: Any, sequence: int, text: str) -> None:
        seen.append(text)
        call(self, sequence, text)

    return record


@pytest.mark.slow
def test_run_decodes_json_parameters(registry: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = cli.main(["run", "tiny-zero-shot", "Great news.", "--param", 'candidate_labels=["yes", "no"]'])
    labels = {item["label"] for item in json.loads(capsys.readouterr().out)["result"]["labels"]}
    assert (code, labels) == (0, {"yes", "no"})


@pytest.mark.slow
def test_run_exits_1_when_the_response_is_an_error(registry: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = cli.main(["run", "tiny-qa", "no separator here"])
    assert code == 1
    assert json.loads(capsys.readouterr().out)["error"]["type"] == "invalid_input"


def test_run_an_unknown_model(registry: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["run", "nope", "text"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: Unknown model 'nope'. Valid names: tiny-sentiment,")
    assert err.count("\n") == 1


def test_a_malformed_param_is_a_usage_error(registry: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as caught:
        cli.main(["run", "tiny-sentiment", "text", "--param", "no-equals-sign"])
    assert caught.value.code == 2
    assert "expected key=value" in capsys.readouterr().err


def test_a_broken_registry_is_one_line_and_exit_2(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write_registry(tmp_path / "models.yaml", [{"name": "x", "task": "painting", "model": "a/b"}])
    monkeypatch.setenv("MODELS_FILE", str(path))
    assert cli.main(["list"]) == 2
    supported = ", ".join(TASKS)
    assert capsys.readouterr().err == f"error: entry 1 ('x'): unknown task 'painting'; supported: {supported}\n"


def test_list_is_an_aligned_table(hub_registry: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["list"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["NAME", "COMMAND", "TASK", "MODEL", "MEMORY", "TIMEOUT", "BACKEND", "QUANTIZE"]
    assert lines[1].split() == [
        "hub-model",
        "/hub-model",
        "fill-mask",
        "owner/model@0123456",
        "1024",
        "MB",
        "120",
        "s",
        "torch",
        "none",
    ]
    assert lines[2].split()[:4] == ["local-model", "/local-model", "fill-mask", "./local"]
    model_column = lines[0].index("MODEL")
    assert lines[1][model_column:].startswith("owner/model@0123456")
    assert lines[2][model_column:].startswith("./local")


def test_warm_downloads_pinned_snapshots_and_skips_local_folders(
    hub_registry: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    calls: list[dict[str, Any]] = []
    snapshot = tmp_path / "snapshot"
    snapshot.mkdir()
    (snapshot / "model.safetensors").write_bytes(b"")

    def fake_snapshot_download(repo_id: str, **kwargs: Any) -> str:
        calls.append({"repo_id": repo_id, **kwargs})
        return str(snapshot)

    monkeypatch.setattr(loader, "snapshot_download", fake_snapshot_download)
    monkeypatch.setattr(loader, "hub_files", lambda spec: [loader.HubFile("model.safetensors", 0, "blob")])
    assert cli.main(["warm"]) == 0
    [call] = calls
    assert (call["repo_id"], call["revision"], call["local_files_only"]) == ("owner/model", PIN, False)
    assert call["allow_patterns"] == loader.ALLOW_PATTERNS
    assert call["cache_dir"] == tmp_path / "hf-home" / "hub"
    out = capsys.readouterr().out
    assert f"hub-model: ready in {snapshot}" in out
    assert "local-model: skipped, the model is the local folder" in out


def test_warm_named_entries_only(hub_registry: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["warm", "local-model"]) == 0
    assert "hub-model" not in capsys.readouterr().out


def test_warm_offline_with_an_empty_cache_fails(
    hub_registry: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    assert cli.main(["warm", "hub-model"]) == 1
    err = capsys.readouterr().err
    assert "hub-model: owner/model@0123456 is not in the model cache" in err
    assert "HF_HUB_OFFLINE=1 forbids downloading it" in err


def test_ctrl_c_while_warm_downloads(tmp_path: Path) -> None:
    """One line and exit 130 at once, not after the files in flight (huggingface_hub's pool waits for them)."""
    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / "config.json").write_text('{"model_type": "bert"}')
    (repo / "model.safetensors").write_bytes(os.urandom(1_000_000))
    with FakeHub(bytes_per_second=20_000) as hub:  # the weights would take 50 s
        sha = hub.add_repo("owner/model", repo)
        registry = write_registry(tmp_path / "models.yaml", [{**HUB_ENTRY, "revision": sha}])
        env = {
            **os.environ,
            "MODELS_FILE": str(registry),
            "HF_ENDPOINT": hub.url,
            "HF_HOME": str(tmp_path / "hf-home"),
            "HF_HUB_OFFLINE": "0",
            "HF_HUB_DISABLE_PROGRESS_BARS": "1",
        }
        warm = subprocess.Popen(
            [sys.executable, "-m", "inference", "warm", "hub-model"],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            deadline = time.monotonic() + 30
            while not hub.calls("GET", "model.safetensors") and time.monotonic() < deadline:
                time.sleep(0.05)
            assert hub.calls("GET", "model.safetensors"), "the download never started"
            warm.send_signal(signal.SIGINT)
            _, err = warm.communicate(timeout=10)
        finally:
            warm.kill()
    assert (warm.returncode, err) == (
        130,
        "interrupted: `python -m inference warm` resumes the download where it stopped\n",
    )
