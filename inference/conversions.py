"""Warm-time conversions: where they live, how they are built, and what a backend's converter implements.

A fast backend serves what ``python -m inference warm`` made for it from the
model's weights; serving never converts. Every conversion lives under
``HF_HOME`` (on Lambda the EFS cache the function only reads), never in a
folder the user gave (a local model folder, an installed package), at::

    $HF_HOME/conversions/<model>/<source>/<runtime>-<version>/<quantize>[/<task>]

- ``<model>``: ``models--owner--name`` for a Hub id, ``local--<folder name>`` for a local folder;
- ``<source>``: the pinned revision, or for a local folder a hash of its path and of its files' names,
  sizes and modification times (an edited folder is converted again);
- ``<runtime>-<version>``: the distribution that reads the files, at the version installed here
  (``onnxruntime-1.32.0``); both images pin the same versions, so warm and serving agree;
- ``<quantize>``: ``none``, ``int8`` or ``int4``; ``<task>`` only for backends that convert per task.

Each folder is built in a temporary sibling and moved into place whole
(:func:`staged`), so a reader sees a complete conversion or none; its
:class:`Record` (``warm.json``) is written last and says what was made, or why
the converter refused.

The converter interface
-----------------------
A backend's entry in :data:`inference.backends.BACKENDS` names a converter
module, which defines::

    def convert(spec: ModelSpec, source: Path, target: Path, *, quantize: str) -> None

- ``source``: the model as transformers saves it, read only: ``config.json``,
  safetensors weights, tokenizer and generation-config files (a local folder,
  the pinned snapshot, or the snapshot's safetensors conversion).
- ``target``: an empty folder. Write into it everything the backend's runners
  read, and nothing anywhere else: weights or graphs, tokenizer files, any
  facts the runner needs without transformers. The frame then writes the
  record, makes the files readable by all and moves the folder into place.
- ``quantize``: one of the backend's ``quantizations``, already validated;
  ``none`` is full precision.
- Raise :class:`ConversionRefused` (reason) when the runtime cannot serve this
  architecture or setup: ``warm`` then serves the entry with torch and says so.
  Raise :class:`~inference.errors.ModelLoadError` for a real failure (an export
  that does not reproduce torch's outputs, unreadable weights).
- It runs only at warm time, in the conversion environment: it may import
  torch and transformers.

A runner is the class the backend names for the task, constructed as
``Runner(spec, folder)`` with the completed folder; it implements
``run(text, parameters) -> dict`` (:class:`inference.service.Runner`), raises
``ModelLoadError`` when the folder cannot be read, and imports neither torch
nor transformers: the serving image has neither.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

from inference.backends import BACKENDS
from inference.errors import ModelLoadError
from inference.records import JsonRecord
from inference.registry import ModelSpec

FOLDER = "conversions"
RECORD = "warm.json"
#: Bumped when the layout or the record changes in a way older readers cannot follow.
FORMAT = 1
#: The torch backend's own conversion: a pickle-only snapshot's weights as safetensors (:mod:`inference.convert`).
SAFETENSORS = "safetensors"
HASH_LENGTH = 16


class ConversionRefused(Exception):
    """The runtime cannot serve this model (its architecture, its setup); the entry falls back on torch."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        #: In words, for ``warm``'s report: ``MarianMTModel is not supported by the model builder``.
        self.reason = reason


#: Generation-config keys that never change which tokens are generated (bookkeeping and output format).
INERT_GENERATION_KEYS = frozenset(
    {
        "use_cache",
        "output_attentions",
        "output_hidden_states",
        "return_dict_in_generate",
        "transformers_version",
        "_from_model_config",
    }
)


def model_generation_settings(
    source: Path, config: Any, *, carried: Iterable[str], honoured: Iterable[str], runner: str
) -> tuple[Any, dict[str, Any]]:
    """The model's generation config (``generation_config.json``, else what transformers derives from its
    config) and the settings it sets, less the inert keys and those the converter or runner ``carried`` itself.

    Raises:
        ConversionRefused: it sets something the ``runner`` does not apply (not in ``honoured``).
    """
    from transformers import GenerationConfig

    try:
        generation = GenerationConfig.from_pretrained(source, local_files_only=True)  # nosec B615  # local files only
    except OSError:  # no generation_config.json: transformers derives one from the model's config
        generation = GenerationConfig.from_model_config(config)
    ignored = INERT_GENERATION_KEYS | set(carried)
    settings = {key: value for key, value in generation.to_diff_dict().items() if key not in ignored}
    unsupported = sorted(set(settings) - set(honoured))
    if unsupported:
        raise ConversionRefused(
            f"its generation config sets {', '.join(unsupported)}, which the {runner} does not apply"
        )
    return generation, settings


@dataclass(frozen=True)
class Record(JsonRecord):
    """What a conversion folder holds (written last): made from which source, by what, or why it was refused."""

    FILE = RECORD
    KIND = "conversion record"

    entry: str
    #: ``owner/name@revision``, or the local folder.
    source: str
    backend: str
    runtime: str
    version: str
    quantize: str
    task: str | None = None
    #: Why the converter refused; the folder then holds nothing else, and the entry is served with torch.
    refused: str | None = None
    #: Versions of the converting tools, for people reading the folder.
    made_with: dict[str, str] = field(default_factory=dict)
    format: int = FORMAT


def home() -> Path:
    """``HF_HOME``, as huggingface_hub resolves it (read now: tests and the CLI may change it)."""
    if os.environ.get("HF_HOME"):
        return Path(os.environ["HF_HOME"])
    from huggingface_hub import constants

    return Path(constants.HF_HOME)


def source_label(spec: ModelSpec) -> str:
    """``owner/name@revision``, or the local folder: what a conversion was made from."""
    return str(spec.local_path) if spec.local_path else f"{spec.model}@{spec.revision}"


def _source_folder(spec: ModelSpec) -> Path:
    if spec.local_path is None:
        return Path(f"models--{spec.model.replace('/', '--')}") / (spec.revision or "main")
    if not spec.local_path.is_dir():
        raise ModelLoadError(f"{spec.name}: the model folder {spec.local_path} does not exist.")
    digest = hashlib.sha256(str(spec.local_path).encode())
    for path in sorted(spec.local_path.rglob("*")):
        if path.is_file():
            stat = path.stat()
            digest.update(
                f"{path.relative_to(spec.local_path).as_posix()}\0{stat.st_size}\0{stat.st_mtime_ns}\n".encode()
            )
    return Path(f"local--{spec.local_path.name}") / digest.hexdigest()[:HASH_LENGTH]


def runtime_version(runtime: str) -> str:
    """The installed version of ``runtime`` (a distribution name).

    Raises:
        ModelLoadError: it is not installed here.
    """
    try:
        return version(runtime)
    except PackageNotFoundError:
        raise ModelLoadError(f"the {runtime} package is not installed in this environment") from None


def folder(spec: ModelSpec, *, runtime: str, quantize: str = "none", task: str | None = None) -> Path:
    """Where the conversion of ``spec`` for ``runtime`` (at its installed version) lives (see the module doc).

    Raises:
        ModelLoadError: the runtime is not installed, or a local model folder does not exist.
    """
    try:
        made_for = f"{runtime}-{runtime_version(runtime)}"
    except ModelLoadError as exc:
        raise ModelLoadError(f"{spec.name}: {exc}.") from None
    path = home() / FOLDER / _source_folder(spec) / made_for / quantize
    return path / task if task else path


def backend_folder(spec: ModelSpec) -> Path:
    """Where ``warm`` puts ``spec``'s conversion for its backend, and where its runner finds it."""
    backend = BACKENDS[spec.backend]
    if backend.runtime is None:
        raise ValueError(f"the {spec.backend} backend converts nothing")
    return folder(spec, runtime=backend.runtime, quantize=spec.quantize, task=spec.task if backend.per_task else None)


def how_to_warm(name: str) -> str:
    """What fills the cache for entry ``name``, in the words every missing-cache message ends with."""
    return (
        "In AWS, deploy again (`cdk deploy`): the stack's warm step fills the cache for each entry it has not warmed. "
        f"Elsewhere, run `python -m inference warm {name}` where the Hub is reachable, with the same HF_HOME."
    )


def find(spec: ModelSpec) -> tuple[Path, Record]:
    """The finished conversion for ``spec``'s backend and its record (serving's look-up: nothing is converted).

    Raises:
        ModelLoadError: there is none (naming ``python -m inference warm NAME``) or it cannot be read.
    """
    path = backend_folder(spec)
    warm = f"Conversions are made only by the warm step. {how_to_warm(spec.name)}"
    try:
        record = Record.read(path)
    except FileNotFoundError:
        raise ModelLoadError(
            f"{spec.name}: there is no {spec.backend} conversion of {source_label(spec)} ({spec.quantize}) in "
            f"{path}. {warm}"
        ) from None
    except (OSError, ValueError) as exc:
        raise ModelLoadError(f"{spec.name}: the conversion in {path} cannot be read ({exc}). {warm}") from exc
    return path, record


def files(spec: ModelSpec) -> list[Path]:
    """Every file of ``spec``'s finished conversion, largest first (what serving reads); empty when there is none."""
    try:
        path = backend_folder(spec)
    except ModelLoadError:
        return []
    found = [item for item in path.rglob("*") if item.is_file()] if (path / RECORD).is_file() else []
    return sorted(found, key=lambda item: item.stat().st_size, reverse=True)


@contextmanager
def staged(target: Path) -> Iterator[Path]:
    """An empty folder beside ``target``; when the block ends without an error it replaces ``target`` whole.

    Everything in it is made readable by every user first (the model function may
    read as another user than ``warm`` ran as). On an error it is removed and
    ``target`` is left as it was.
    """
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}-", dir=target.parent))
    try:
        yield staging
        for path in [staging, *staging.rglob("*")]:
            path.chmod(0o755 if path.is_dir() else 0o644)
        if target.exists():
            retired = target.with_name(f".{target.name}-old-{os.getpid()}")
            target.rename(retired)
            staging.rename(target)
            shutil.rmtree(retired, ignore_errors=True)
        else:
            staging.rename(target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _made_with(runtime: str) -> dict[str, str]:
    found = {}
    for package in (runtime, "torch", "transformers"):
        try:
            found[package] = version(package)
        except PackageNotFoundError:
            continue
    return found


def convert_entry(spec: ModelSpec, source: Path, *, force: bool = False) -> tuple[Path, Record]:
    """Make ``spec``'s conversion for its backend from ``source`` (``warm``), unless a finished one is there.

    A refusal is recorded like a conversion (``Record.refused``), so serving
    knows to fall back on torch and ``warm`` does not ask again until ``force``.

    Raises:
        ModelLoadError: the converter failed, or the backend's runtime is not installed here.
    """
    import importlib

    backend = BACKENDS[spec.backend]
    target = backend_folder(spec)  # raises for a backend that converts nothing
    assert backend.converter is not None and backend.runtime is not None
    if not force:
        try:
            return target, Record.read(target)
        except (OSError, ValueError):
            pass
    converter: Callable[..., None] = importlib.import_module(backend.converter).convert
    record = Record(
        entry=spec.name,
        source=source_label(spec),
        backend=spec.backend,
        runtime=backend.runtime,
        version=runtime_version(backend.runtime),
        quantize=spec.quantize,
        task=spec.task if backend.per_task else None,
        made_with=_made_with(backend.runtime),
    )
    with staged(target) as staging:
        try:
            converter(spec, source, staging, quantize=spec.quantize)
        except ConversionRefused as refusal:
            for item in list(staging.iterdir()):
                shutil.rmtree(item) if item.is_dir() else item.unlink()
            record = Record(**{**asdict(record), "refused": refusal.reason})
        record.write(staging)
    return target, record
