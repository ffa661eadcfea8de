"""``python -m infra``: synthesizes without Docker or AWS credentials and fails on any finding."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from aws_cdk import App, Stack
from aws_cdk import aws_sqs as sqs

import infra.app
from infra import nag
from infra.__main__ import main

REPO = Path(__file__).resolve().parents[2]


def fake_build_app(tmp_path: Path, *, careless: bool, seen: dict[str, Any]) -> Any:
    """A stand-in for ``infra.app.build_app``: an empty stack, or one with an unencrypted queue."""

    def build_app(*, context: dict[str, Any]) -> tuple[App, Stack]:
        seen.update(context)
        app = App(outdir=str(tmp_path))
        stack = Stack(app, "Tiny")
        if careless:
            sqs.Queue(stack, "Queue", encryption=sqs.QueueEncryption.UNENCRYPTED)
        nag.check(app)
        return app, stack

    return build_app


def test_a_clean_app_exits_zero_and_context_values_reach_the_app(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    seen: dict[str, Any] = {}
    monkeypatch.setattr(infra.app, "build_app", fake_build_app(tmp_path, careless=False, seen=seen))
    assert main(["-c", "offline=true", "--context", "removal=destroy"]) == 0
    assert seen == {"offline": "true", "removal": "destroy"}
    assert "(0 findings)" in capsys.readouterr().err


def test_a_finding_is_printed_and_fails_the_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(infra.app, "build_app", fake_build_app(tmp_path, careless=True, seen={}))
    assert main([]) == 1
    assert "AwsSolutions-SQS2" in capsys.readouterr().err


def test_a_context_value_without_a_value_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["-c", "offline"])
    assert exit_info.value.code == 2
    assert "expected KEY=VALUE, got 'offline'" in capsys.readouterr().err


def test_a_bad_setting_is_one_line_and_exit_code_two(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["-c", "removal=snapshot"]) == 2
    assert capsys.readouterr().err.strip() == "error: context `removal` must be one of retain, destroy, got 'snapshot'"


def test_python_m_infra_synthesizes_without_docker_or_credentials(tmp_path: Path) -> None:
    environment = {key: value for key, value in os.environ.items() if not key.startswith(("AWS_", "CDK_", "JSII_"))}
    environment.update(
        CDK_OUTDIR=str(tmp_path / "cdk.out"),
        AWS_CONFIG_FILE=str(tmp_path / "no-config"),
        AWS_SHARED_CREDENTIALS_FILE=str(tmp_path / "no-credentials"),
        DOCKER_HOST="unix:///nonexistent/docker.sock",
    )
    environment.pop("MODELS_FILE", None)
    done = subprocess.run(
        [sys.executable, "-m", "infra"], cwd=REPO, env=environment, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
    assert "(0 findings)" in done.stderr
    assert "!!" not in done.stderr  # no jsii banner about the Node.js release
    assert (tmp_path / "cdk.out" / "HfSlackBot.template.json").is_file()
