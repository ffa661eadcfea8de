"""Synthesized apps shared by the infrastructure tests: the default one and a variant.

Synthesis takes seconds, so each app is synthesized once per session and every
test reads the same template. ``variant`` changes several things at once (an
extra registry entry and the context in ``VARIANT_CONTEXT``); each of its tests
checks one of them.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# Before aws_cdk is imported: jsii would print a banner about this machine's Node.js release.
os.environ.setdefault("JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION", "1")
os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")

import pytest
import yaml
from aws_cdk import assertions, cx_api

from inference.registry import DEFAULT_MODELS_FILE, MODELS_FILE_ENV, Registry, load_registry
from inference.tasks import media_kind
from infra.app import build_app
from infra.settings import Settings
from infra.stack import HfSlackBotStack
from tests.fakes.specs import PIN

#: The entry the variant registry adds: a Hub id pinned to a full commit, as the registry requires.
EXTRA_MODEL = {
    "name": "emotion",
    "task": "text-classification",
    "model": "j-hartmann/emotion-english-distilroberta-base",
    "revision": "0e1cd914e3d46199ed785853e12b57304e04178b",
    "title": "Emotion (DistilRoBERTa)",
    "memory": 1536,
    "timeout": 45,
}

#: Where the variant's warm step copies the cache from (an offline stack's way to fill it).
WARM_SOURCE = ("example-warm-bucket", "hf-cache/v1")
VARIANT_CONTEXT = {
    "offline": "true",
    "removal": "destroy",
    "throttle_rate": "3",
    "throttle_burst": "6",
    "warm_source": f"s3://{WARM_SOURCE[0]}/{WARM_SOURCE[1]}/",
}

#: One entry per task that reads a file, pinned as the registry requires (any full commit: synthesis never asks
#: the Hub). Their names are the tests' own, so the default registry may have entries for the same tasks beside them.
FILE_MODELS = [
    {"name": name, "task": task, "model": model, "revision": PIN, "title": name}
    for name, task, model in [
        ("photo-labels", "image-classification", "google/vit-base-patch16-224"),
        ("photo-tags", "zero-shot-image-classification", "openai/clip-vit-base-patch32"),
        ("photo-objects", "object-detection", "hustvl/yolos-tiny"),
        ("photo-caption", "image-to-text", "Salesforce/blip-image-captioning-base"),
        ("meeting-notes", "automatic-speech-recognition", "openai/whisper-tiny"),
    ]
]
#: The media stack is offline with a warm source, so the VPC's S3 endpoint serves both of its uses.
MEDIA_CONTEXT = {"offline": "true", "warm_source": VARIANT_CONTEXT["warm_source"]}


@dataclass
class Synthesis:
    """One synthesized app and the views of it the tests use."""

    stack: HfSlackBotStack
    settings: Settings
    registry: Registry
    assembly: cx_api.CloudAssembly
    template: assertions.Template
    raw: dict[str, Any]

    @property
    def template_path(self) -> Path:
        return Path(self.assembly.directory) / self.assembly.get_stack_artifact(self.stack.artifact_id).template_file

    def docker_images(self) -> list[dict[str, Any]]:
        """The image assets in the asset manifest (what ``cdk deploy`` would build and push)."""
        manifest = Path(self.assembly.directory) / f"{self.stack.artifact_id}.assets.json"
        return list(json.loads(manifest.read_text(encoding="utf-8")).get("dockerImages", {}).values())

    def resources(self, kind: str) -> dict[str, dict[str, Any]]:
        """Logical id -> resource, for every resource of CloudFormation type ``kind``."""
        return {key: value for key, value in self.raw["Resources"].items() if value["Type"] == kind}

    def model_functions(self) -> dict[str, dict[str, Any]]:
        """Registry name -> its Lambda resource (container-image functions only)."""
        functions = self.resources("AWS::Lambda::Function").values()
        images = [f for f in functions if f["Properties"].get("PackageType") == "Image"]
        return {
            f["Properties"]["Environment"]["Variables"]["MODEL_NAME"]: f
            for f in images
            if "MODEL_NAME" in f["Properties"]["Environment"]["Variables"]
        }

    def role_statements(self, function: Any) -> list[dict[str, Any]]:
        """Every statement of the inline policies attached to ``function``'s role."""
        role = {"Ref": self.logical_id(function.role)}
        policies = self.resources("AWS::IAM::Policy").values()
        return [
            statement
            for policy in policies
            if role in policy["Properties"]["Roles"]
            for statement in policy["Properties"]["PolicyDocument"]["Statement"]
        ]

    def managed_policies(self, function: Any) -> list[str]:
        """The AWS managed policies of ``function``'s role, by name (``service-role/...``)."""
        role = self.raw["Resources"][self.logical_id(function.role)]["Properties"]
        return [managed_policy_name(arn) for arn in role.get("ManagedPolicyArns", [])]

    def invoke_targets(self) -> set[str]:
        """The function names the router may invoke, read from its policy's ARNs."""
        (statement,) = [
            s for s in self.role_statements(self.stack.router.function) if s.get("Sid") == "InvokeModelsAndItself"
        ]
        return {arn["Fn::Join"][1][-1].removeprefix(":function:") for arn in statement["Resource"]}

    def logical_id(self, construct: Any) -> str:
        return self.stack.resolve(construct.node.default_child.logical_id)


def managed_policy_name(arn: dict[str, Any]) -> str:
    """``service-role/X`` from an AWS managed policy's ARN, built with Fn::Join (CDK's roles) or Fn::Sub (its providers)."""
    text = arn.get("Fn::Sub") or "".join(part for part in arn["Fn::Join"][1] if isinstance(part, str))
    return text.partition(":iam::aws:policy/")[2]


def synthesize(outdir: Path, *, context: Mapping[str, Any] | None = None, models_file: Path | None = None) -> Synthesis:
    """Build and synthesize the app as ``python -m infra`` does, with ``MODELS_FILE`` set if given."""
    with pytest.MonkeyPatch.context() as patch:
        if models_file is not None:
            patch.setenv(MODELS_FILE_ENV, str(models_file))
        else:
            patch.delenv(MODELS_FILE_ENV, raising=False)
        app, stack = build_app(context=context, outdir=outdir)
        registry = load_registry()
    assembly = app.synth()
    template = assertions.Template.from_stack(stack)
    return Synthesis(
        stack=stack,
        settings=Settings.from_context(app.node),
        registry=registry,
        assembly=assembly,
        template=template,
        raw=template.to_json(),
    )


@pytest.fixture(scope="session")
def synth(tmp_path_factory: pytest.TempPathFactory) -> Synthesis:
    """The app as deployed by default: the bundled registry, online, default context."""
    return synthesize(tmp_path_factory.mktemp("cdk-default"))


@pytest.fixture(scope="session")
def variant(tmp_path_factory: pytest.TempPathFactory) -> Synthesis:
    """The app with one more registry entry (``EXTRA_MODEL``) and ``VARIANT_CONTEXT``."""
    folder = tmp_path_factory.mktemp("cdk-variant")
    document = yaml.safe_load(DEFAULT_MODELS_FILE.read_text(encoding="utf-8"))
    document["models"].append(EXTRA_MODEL)
    models_file = folder / "models.yaml"
    models_file.write_text(yaml.safe_dump(document, sort_keys=False), encoding="utf-8")
    return synthesize(folder / "cdk.out", context=VARIANT_CONTEXT, models_file=models_file)


@pytest.fixture(scope="session")
def media(tmp_path_factory: pytest.TempPathFactory) -> Synthesis:
    """The app with the default registry's text entries and one entry per file task (``FILE_MODELS``), offline."""
    folder = tmp_path_factory.mktemp("cdk-media")
    document = yaml.safe_load(DEFAULT_MODELS_FILE.read_text(encoding="utf-8"))
    document["models"] = [entry for entry in document["models"] if media_kind(entry["task"]) is None] + FILE_MODELS
    models_file = folder / "models.yaml"
    models_file.write_text(yaml.safe_dump(document, sort_keys=False), encoding="utf-8")
    return synthesize(folder / "cdk.out", context=MEDIA_CONTEXT, models_file=models_file)
