"""The model registry: ``inference/models.yaml``, the one list of models.

Every other part of the project (the model Lambda, the router's commands and
form, the CDK stack, the Slack manifest) is built from what this module loads.
It imports only PyYAML, so the router can use it and still cold-start fast.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

try:  # libyaml's loader when PyYAML has it: parsing is on every cold start's path
    from yaml import CSafeLoader as SafeLoader
except ImportError:  # pragma: no cover - PyYAML without libyaml
    from yaml import SafeLoader  # type: ignore[assignment]

from inference.backends import BACKENDS, TORCH, default_backend, serving
from inference.errors import RegistryError, UnknownModel
from inference.tasks import ALIASES, TASKS

MODELS_FILE_ENV = "MODELS_FILE"
DEFAULT_MODELS_FILE = Path(__file__).with_name("models.yaml")

#: Names the router uses itself (``/hf help``, ``/hf compare``), so no model may take them.
#: ``router`` and ``warm`` would clash with the stack's router and warm functions' names in AWS
#: (``<prefix>-router``, ``<prefix>-warm``: infra/stack.py); this is the one list of them.
RESERVED_NAMES = frozenset({"hf", "help", "compare", "list", "stats", "router", "warm"})
RESERVED_WHY = f"{', '.join(sorted(RESERVED_NAMES))}: the router's own words and the stack's router and warm functions"
#: What ``parameters.onnx_quantize`` (read until issue 14) became: the entry's own ``quantize`` field.
OLD_QUANTIZE = "onnx_quantize"
SLUG = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,30}[a-z0-9])?$")
#: Slack: a command starts with "/", is lower case, and is at most 32 characters long.
COMMAND = re.compile(r"^/[a-z0-9_-]{1,31}$")
COMMIT = re.compile(r"^[0-9a-f]{40}$")
MEMORY_RANGE = (128, 10240)
#: Lambda gives a function one vCPU per 1,769 MB of memory. One full vCPU is the default size: the
#: cheapest setting with the fastest cold start for a CPU-bound model (docs/sizing.md says why).
MB_PER_VCPU = 1769
TIMEOUT_RANGE = (1, 900)
DEFAULTS: dict[str, Any] = {
    "memory": MB_PER_VCPU,
    "timeout": 120,
    "max_chars": 20000,
    "store_text": True,
}
FIELDS = {
    "name",
    "task",
    "model",
    "revision",
    "title",
    "description",
    "example",
    "memory",
    "timeout",
    "parameters",
    "command",
    "backend",
    "quantize",
    "max_chars",
    "store_text",
}


@dataclass(frozen=True)
class ModelSpec:
    """One registry entry, validated."""

    name: str
    task: str
    model: str
    revision: str | None
    title: str
    description: str
    example: str
    memory: int
    timeout: int
    command: str
    #: A name in :data:`inference.backends.BACKENDS`; the registry defaults it by task.
    backend: str = TORCH
    #: ``none``, ``int8`` or ``int4``, as the backend offers; the registry defaults it by backend.
    quantize: str = "none"
    max_chars: int = 20000
    store_text: bool = True
    parameters: dict[str, Any] = field(default_factory=dict)
    #: Set when ``model`` is a folder on disk rather than a Hub id.
    local_path: Path | None = None

    @property
    def source(self) -> str:
        """Where the weights come from: the local folder, or the Hub id."""
        return str(self.local_path) if self.local_path else self.model


@dataclass(frozen=True)
class Registry:
    """The validated registry, in file order."""

    models: tuple[ModelSpec, ...]
    path: Path

    def __iter__(self) -> Iterator[ModelSpec]:
        return iter(self.models)

    def __len__(self) -> int:
        return len(self.models)

    @property
    def names(self) -> list[str]:
        return [m.name for m in self.models]

    def get(self, name: str) -> ModelSpec:
        """Return the entry called ``name``.

        Raises:
            UnknownModel: with the valid names in its message.
        """
        for spec in self.models:
            if spec.name == name:
                return spec
        raise UnknownModel(f"Unknown model {name!r}. Valid names: {', '.join(self.names)}.")

    def find(self, name: str) -> ModelSpec | None:
        """Return the entry called ``name``, or None."""
        return next((m for m in self.models if m.name == name), None)

    def by_command(self, command: str) -> ModelSpec | None:
        """Return the entry whose slash command is ``command`` (with its ``/``), or None."""
        return next((m for m in self.models if m.command == command), None)


def _is_local(model: str, base: Path) -> Path | None:
    if model.startswith(("/", "./", "../", "~")):
        return (base / Path(model).expanduser()).resolve()
    candidate = base / model
    return candidate.resolve() if candidate.is_dir() else None


def _entry(raw: Any, index: int, defaults: dict[str, Any], base: Path) -> ModelSpec:
    label = f"entry {index + 1}"
    if not isinstance(raw, dict):
        raise RegistryError(f"{label}: must be a mapping of fields, got {type(raw).__name__}")
    name = raw.get("name")
    if isinstance(name, str):
        label = f"{label} ({name!r})"

    def fail(message: str) -> RegistryError:
        return RegistryError(f"{label}: {message}")

    unknown = sorted(set(raw) - FIELDS)
    if "trust_remote_code" in raw:
        raise fail("trust_remote_code is refused: only models that run with transformers' own code are served")
    if unknown:
        raise fail(f"unknown field(s) {', '.join(unknown)}; allowed: {', '.join(sorted(FIELDS))}")
    merged = {**defaults, **raw}
    if not isinstance(name, str) or not SLUG.match(name):
        raise fail("`name` must be a slug: lower-case letters, digits and '-', 1 to 32 characters")
    if name in RESERVED_NAMES:
        raise fail(f"`name` {name!r} is reserved ({RESERVED_WHY})")
    task = merged.get("task")
    if not isinstance(task, str) or ALIASES.get(task, task) not in TASKS:
        raise fail(f"unknown task {task!r}; supported: {', '.join(TASKS)}")
    task = ALIASES.get(task, task)
    model = merged.get("model")
    if not isinstance(model, str) or not model.strip():
        raise fail("`model` is missing: give a Hub id (owner/name) or a local folder")
    local_path = _is_local(model, base)
    revision = merged.get("revision")
    if revision is not None:
        revision = str(revision)
    if local_path is None:
        if "/" not in model:
            raise fail(f"`model` {model!r} is neither a Hub id (owner/name) nor an existing folder")
        if not revision or not COMMIT.match(revision):
            raise fail(
                "`revision` must pin a Hub model to a full 40-character commit hash (a short hash is not a pin offline)"
            )
    command = merged.get("command", f"/{name}")
    if not isinstance(command, str) or not COMMAND.match(command):
        raise fail(f"command {command!r} must start with '/', be lower case and at most 32 characters")
    for key, (low, high) in (("memory", MEMORY_RANGE), ("timeout", TIMEOUT_RANGE)):
        value = merged.get(key)
        if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
            raise fail(f"`{key}` must be a whole number from {low} to {high}, got {value!r}")
    backend, quantize = _backend(merged, task, fail)
    max_chars = merged.get("max_chars")
    if not isinstance(max_chars, int) or isinstance(max_chars, bool) or max_chars < 1:
        raise fail("`max_chars` must be a positive whole number")
    parameters = merged.get("parameters") or {}
    if not isinstance(parameters, dict):
        raise fail("`parameters` must be a mapping")
    if OLD_QUANTIZE in parameters:
        raise fail(
            f"`parameters.{OLD_QUANTIZE}` is no longer read: quantization is the entry's own field now, "
            f"`quantize: int8` (or `quantize: none`), next to `backend`"
        )
    texts = {}
    for key in ("title", "description", "example"):
        value = merged.get(key, "")
        if not isinstance(value, str):
            raise fail(f"`{key}` must be text")
        texts[key] = value.strip()
    return ModelSpec(
        name=name,
        task=task,
        model=model,
        revision=revision,
        title=texts["title"] or name,
        description=texts["description"],
        example=texts["example"],
        memory=merged["memory"],
        timeout=merged["timeout"],
        command=command,
        backend=backend,
        quantize=quantize,
        max_chars=max_chars,
        store_text=bool(merged.get("store_text", True)),
        parameters=parameters,
        local_path=local_path,
    )


def _backend(merged: dict[str, Any], task: str, fail: Callable[[str], RegistryError]) -> tuple[str, str]:
    """The entry's backend (the task's default unless named) and quantization (the backend's default unless named)."""
    backend = merged.get("backend", default_backend(task))
    if backend not in BACKENDS:
        raise fail(f"unknown backend {backend!r}; available: {', '.join(BACKENDS)}")
    if task not in BACKENDS[backend].runners:
        raise fail(f"the {backend} backend does not serve {task}; backends that do: {', '.join(serving(task))}")
    offered = BACKENDS[backend].quantizations
    quantize = merged.get("quantize", offered[0])
    if quantize not in offered:
        raise fail(f"`quantize` must be one of {', '.join(offered)} with the {backend} backend, got {quantize!r}")
    return backend, quantize


#: Fields that only make sense per entry, never as a default for all of them.
PER_ENTRY = frozenset({"name", "model", "revision", "command", "title", "description", "example"})


def _defaults(raw: Any, path: Path) -> dict[str, Any]:
    """The ``defaults:`` section, checked like an entry's fields (it applies to all of them)."""
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise RegistryError(f"{path}: `defaults` must be a mapping of fields")
    if "trust_remote_code" in raw:
        raise RegistryError(
            f"{path}: `defaults`: trust_remote_code is refused: only models that run with transformers' own code are served"
        )
    unknown = sorted(set(raw) - (FIELDS - PER_ENTRY))
    if unknown:
        raise RegistryError(
            f"{path}: `defaults` cannot set {', '.join(unknown)}; it may set {', '.join(sorted(FIELDS - PER_ENTRY))}"
        )
    return raw


def parse_registry(data: Any, *, base: Path, path: Path) -> Registry:
    """Validate the loaded YAML document and build the registry.

    Raises:
        RegistryError: naming the entry and the field at fault.
    """
    if not isinstance(data, dict) or not isinstance(data.get("models"), list) or not data["models"]:
        raise RegistryError(f"{path}: expected a top-level `models:` list with at least one entry")
    defaults = {**DEFAULTS, **_defaults(data.get("defaults"), path)}
    specs: list[ModelSpec] = []
    for index, raw in enumerate(data["models"]):
        spec = _entry(raw, index, defaults, base)
        for other in specs:
            if other.name == spec.name:
                raise RegistryError(
                    f"entry {index + 1} ({spec.name!r}): duplicate name, already used by an earlier entry"
                )
            if other.command == spec.command:
                raise RegistryError(
                    f"entry {index + 1} ({spec.name!r}): command {spec.command} is already used by {other.name!r}"
                )
        specs.append(spec)
    return Registry(models=tuple(specs), path=path)


def registry_path(path: str | os.PathLike[str] | None = None) -> Path:
    """The registry file: the argument, else ``$MODELS_FILE``, else the bundled one."""
    return Path(path or os.environ.get(MODELS_FILE_ENV) or DEFAULT_MODELS_FILE)


def load_registry(path: str | os.PathLike[str] | None = None) -> Registry:
    """Load and validate a registry file (see ``registry_path`` for which one).

    Raises:
        RegistryError: the file is missing, is not YAML, or an entry is invalid.
    """
    file = registry_path(path)
    try:
        data = yaml.load(file.read_text(encoding="utf-8"), Loader=SafeLoader)
    except OSError as exc:
        raise RegistryError(f"cannot read registry {file}: {exc.strerror or exc}") from exc
    except yaml.YAMLError as exc:
        raise RegistryError(f"{file} is not valid YAML: {exc}") from exc
    return parse_registry(data, base=file.resolve().parent, path=file)
