"""The CDK app: one stack built from the registry, checked by cdk-nag as it synthesizes.

``cdk synth``/``cdk deploy`` run ``python -m infra`` (see ``cdk.json``); run
directly, it reads ``cdk.json``'s context itself, so both give the same template.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from aws_cdk import App, cx_api

from inference.registry import load_registry
from infra import nag
from infra.bundling import REPO
from infra.settings import Settings
from infra.stack import HfSlackBotStack

CDK_JSON = REPO / "cdk.json"
DEFAULT_OUTDIR = REPO / "cdk.out"
OUTDIR_ENV = "CDK_OUTDIR"
FINDING_LEVELS = frozenset({cx_api.SynthesisMessageLevel.ERROR, cx_api.SynthesisMessageLevel.WARNING})


def cdk_json_context(path: Path = CDK_JSON) -> dict[str, Any]:
    """The ``context`` of ``cdk.json`` (feature flags and settings), or nothing if the file is absent."""
    if not path.is_file():
        return {}
    return dict(json.loads(path.read_text(encoding="utf-8")).get("context", {}))


def build_app(
    *,
    context: Mapping[str, Any] | None = None,
    outdir: str | os.PathLike[str] | None = None,
) -> tuple[App, HfSlackBotStack]:
    """Create the app and its stack from the registry (``MODELS_FILE`` or the default one).

    ``context`` adds to (and overrides) ``cdk.json``'s; the CDK CLI's own context overrides both.

    Raises:
        RegistryError: the registry is invalid.
        SettingsError: a context value is invalid.
        BundlingError: the router's dependencies could not be installed.
    """
    app = App(
        context={**cdk_json_context(), **(context or {})},
        outdir=str(outdir or os.environ.get(OUTDIR_ENV) or DEFAULT_OUTDIR),
    )
    settings = Settings.from_context(app.node)
    stack = HfSlackBotStack(app, settings.stack_name, settings=settings, registry=load_registry())
    nag.check(app)
    return app, stack


def findings(assembly: cx_api.CloudAssembly) -> list[str]:
    """Every error and warning of the synthesis (cdk-nag's included), one line each."""
    return [
        f"{message.level.name}: {message.id}: {message.entry.data}"
        for stack in assembly.stacks
        for message in stack.messages
        if message.level in FINDING_LEVELS
    ]
