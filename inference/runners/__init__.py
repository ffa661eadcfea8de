"""Task runners: a registry entry becomes a loaded model that answers one line at a time.

Importing this package is cheap: the runner classes are named in
:data:`inference.backends.BACKENDS` and imported when a model loads. The
``torch`` backend imports torch and transformers in the runner module of the
entry's task, so a task that needs no pipeline never pays for importing the
pipelines. Every other backend serves what ``warm`` converted
(:mod:`inference.conversions`) and imports neither torch nor transformers.
"""

from __future__ import annotations

import importlib
import importlib.util
import math
import os
from pathlib import Path
from typing import TYPE_CHECKING

from inference.backends import BACKENDS, TORCH
from inference.errors import ModelLoadError
from inference.registry import MB_PER_VCPU, ModelSpec
from inference.service import Runner

if TYPE_CHECKING:
    from inference.loader import ProgressListener


def vcpus(memory_mb: int) -> int:
    """The vCPUs Lambda gives a function of ``memory_mb``, never more than this machine has."""
    return max(1, min(os.cpu_count() or 1, math.ceil(memory_mb / MB_PER_VCPU)))


def _runner_class(path: str) -> type:
    module_name, _, class_name = path.partition(":")
    return getattr(importlib.import_module(module_name), class_name)


def torch_runner(spec: ModelSpec, *, progress: ProgressListener | None = None) -> Runner:
    """Load ``spec`` with transformers and torch, whatever its ``backend`` says (the fallback, and converters' start).

    ``progress`` hears how a download of the weights is going, if they must be downloaded.

    Raises:
        ModelLoadError: the weights are missing or cannot be loaded.
    """
    from inference.loader import verify_in_background, weights_path

    path = weights_path(spec, progress=progress)
    verified = verify_in_background(spec, path)  # converted weights: their sha256, checked while torch imports
    runner_class = _runner_class(BACKENDS[TORCH].runners[spec.task])
    verified()
    return runner_class(spec, path)


def weight_files(spec: ModelSpec) -> list[Path]:
    """The large files loading ``spec`` will read, where they already are on disk (nothing is downloaded).

    The files of its conversion for a converted backend; for torch, the
    safetensors of the local folder or of the pinned snapshot in the Hub cache
    (or of the snapshot's conversion, for a pickle-only one). Empty when they are
    not there yet.
    """
    from inference.loader import conversion_dir, repo_folder

    if spec.backend != TORCH:
        from inference.conversions import files

        return files(spec)
    if spec.local_path:
        return sorted(spec.local_path.glob("*.safetensors"))
    snapshot = repo_folder(spec) / "snapshots" / (spec.revision or "main")
    return sorted(snapshot.glob("*.safetensors")) or sorted(conversion_dir(spec).glob("*.safetensors"))


def _torch_available() -> bool:
    return all(importlib.util.find_spec(name) is not None for name in ("torch", "transformers"))


def load_runner(spec: ModelSpec, *, progress: ProgressListener | None = None) -> Runner:
    """Load ``spec``'s model with its backend's runner for its task (``progress``: see :func:`torch_runner`).

    A converted backend serves only what ``warm`` made; nothing is converted here.
    An entry whose conversion ``warm`` refused is served with torch where torch is installed.

    Raises:
        ModelLoadError: the weights or the conversion are missing (naming
            ``python -m inference warm NAME``) or cannot be loaded.
    """
    if spec.backend == TORCH:
        return torch_runner(spec, progress=progress)
    from inference.conversions import find

    folder, record = find(spec)
    if record.refused is None:
        return _runner_class(BACKENDS[spec.backend].runners[spec.task])(spec, folder)
    if not _torch_available():
        raise ModelLoadError(
            f"{spec.name}: `warm` could not convert it for {spec.backend} ({record.refused}), and this environment "
            f"has no torch to serve it with instead: set `backend: torch` for {spec.name}, so that its function "
            "runs the conversion image."
        )
    return torch_runner(spec, progress=progress)
