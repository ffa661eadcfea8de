"""The checks the issue asks of every synthesized template: cdk-nag's AwsSolutions pack and cfn-lint."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path

import pytest
from aws_cdk import App, Stack
from aws_cdk import aws_sqs as sqs

from infra import nag
from infra.app import findings
from tests.infra.conftest import Synthesis

CFN_LINT = Path(sys.executable).with_name("cfn-lint")
#: CDK adds a DependsOn beside a GetAtt of the same role on purpose; cfn-lint calls it redundant.
ACCEPTED_CFN_LINT_WARNINGS = {"W3005"}
#: Findings on a wildcard must say which permission or policy they accept.
WILDCARD_RULES = {"AwsSolutions-IAM4", "AwsSolutions-IAM5"}
#: The default app, the offline variant, and one with a model per file task (the media bucket and its endpoint).
SYNTHESES = ["synth", "variant", "media"]


@pytest.fixture(params=SYNTHESES)
def synthesis(request: pytest.FixtureRequest) -> Synthesis:
    return request.getfixturevalue(request.param)


def nag_report(synthesis: Synthesis) -> list[dict[str, str]]:
    (report,) = Path(synthesis.assembly.directory).glob("AwsSolutions-*NagReport.csv")
    with report.open(encoding="utf-8", newline="") as stream:
        return list(csv.DictReader(stream))


def test_synthesis_ends_with_no_error_or_warning(synthesis: Synthesis) -> None:
    assert findings(synthesis.assembly) == []


def test_nag_checked_the_stack_and_everything_is_compliant_or_suppressed(synthesis: Synthesis) -> None:
    rows = nag_report(synthesis)
    assert {row["Compliance"] for row in rows} == {"Compliant", "Suppressed"}
    checked = {row["Rule ID"] for row in rows}
    assert {"AwsSolutions-L1", "AwsSolutions-EFS1", "AwsSolutions-VPC7", "AwsSolutions-APIG1"} <= checked


def test_every_suppression_is_on_a_resource_with_a_reason(synth: Synthesis) -> None:
    assert "cdk_nag" not in synth.raw.get("Metadata", {})
    suppressions = [
        (key, rule)
        for key, resource in synth.raw["Resources"].items()
        for rule in resource.get("Metadata", {}).get("cdk_nag", {}).get("rules_to_suppress", [])
    ]
    assert suppressions
    for key, rule in suppressions:
        assert len(rule["reason"]) >= 40, (key, rule["id"])
        if rule["id"] in WILDCARD_RULES:
            assert rule.get("applies_to"), (key, rule["id"])


def test_the_checks_report_a_violation_when_there_is_one(tmp_path: Path) -> None:
    app = App(outdir=str(tmp_path))
    sqs.Queue(Stack(app, "Careless"), "Plain", encryption=sqs.QueueEncryption.UNENCRYPTED)
    nag.check(app)
    problems = findings(app.synth())
    assert any("AwsSolutions-SQS2" in line for line in problems)
    assert any("AwsSolutions-SQS4" in line for line in problems)


def test_cfn_lint_finds_no_errors(synthesis: Synthesis) -> None:
    done = subprocess.run(
        [str(CFN_LINT), "--format", "json", str(synthesis.template_path)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode in (0, 4), done.stderr  # 4: warnings only
    problems = [
        f"{p['Rule']['Id']} {p['Message']}"
        for p in json.loads(done.stdout or "[]")
        if p["Level"] == "Error" or p["Rule"]["Id"] not in ACCEPTED_CFN_LINT_WARNINGS
    ]
    assert problems == []
