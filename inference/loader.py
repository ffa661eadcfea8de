"""Where a registry entry's weights are: its local folder, or its pinned snapshot in the Hub cache.

On Lambda the Hub cache is the EFS mount (``HF_HOME``), filled ahead of time by
``python -m inference warm``, and ``HF_HUB_OFFLINE=1`` keeps the function from
reaching for the network. Only configs, safetensors weights and tokenizer files
are downloaded: pickled weights (``*.bin``, ``*.pt``) are never fetched or loaded.

huggingface_hub's download code (with its HTTP clients) is imported only when a
snapshot is looked up, so finding an ONNX export costs no import time.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from huggingface_hub import constants

from inference.errors import ModelLoadError
from inference.registry import ModelSpec

logger = logging.getLogger(__name__)

OFFLINE_ENV = "HF_HUB_OFFLINE"
#: Prefetch reads this much at a time (large reads keep the thread off the GIL).
PREFETCH_CHUNK = 8 << 20
#: Configs, safetensors weights, and tokenizer files (vocabularies, merges, sentencepiece models, chat templates).
ALLOW_PATTERNS = ["*.json", "*.safetensors", "*.txt", "*.model", "*.spm", "*.jinja"]
_TRUE = {"1", "on", "yes", "true"}


def is_offline() -> bool:
    """``HF_HUB_OFFLINE`` as huggingface_hub reads it, but read now (tests and the CLI may change it)."""
    return os.environ.get(OFFLINE_ENV, "").strip().lower() in _TRUE


def cache_dir() -> Path:
    """The Hub cache: ``HF_HUB_CACHE``, else ``$HF_HOME/hub``, else huggingface_hub's default."""
    if os.environ.get("HF_HUB_CACHE"):
        return Path(os.environ["HF_HUB_CACHE"])
    if os.environ.get("HF_HOME"):
        return Path(os.environ["HF_HOME"]) / "hub"
    return Path(constants.HF_HUB_CACHE)


def repo_folder(spec: ModelSpec) -> Path:
    """A Hub entry's folder in the cache (``models--owner--name``), as huggingface_hub lays it out."""
    return cache_dir() / f"models--{spec.model.replace('/', '--')}"


def snapshot_download(repo_id: str, *, revision: str | None, **options: Any) -> str:
    """huggingface_hub's ``snapshot_download`` at a pinned ``revision``, imported on first use."""
    from huggingface_hub import snapshot_download as fetch

    return fetch(repo_id, revision=revision, **options)


def _snapshot(spec: ModelSpec, *, local_only: bool) -> str:
    """The pinned snapshot of a Hub entry, only what loading needs, from the cache (or the Hub)."""
    return snapshot_download(
        spec.model,
        revision=spec.revision,
        cache_dir=cache_dir(),
        allow_patterns=ALLOW_PATTERNS,
        local_files_only=local_only,
    )


def describe(spec: ModelSpec) -> str:
    """``owner/name@1234567`` for a Hub entry, the folder for a local one."""
    if spec.local_path:
        return str(spec.local_path)
    return f"{spec.model}@{(spec.revision or 'main')[:7]}"


def _require_safetensors(spec: ModelSpec, folder: Path) -> Path:
    if not any(folder.glob("*.safetensors")):
        raise ModelLoadError(
            f"{spec.name}: {describe(spec)} has no safetensors weights. Only safetensors are loaded, because "
            "pickled weights can run code; pick a revision that has model.safetensors."
        )
    return folder


def _missing(spec: ModelSpec) -> ModelLoadError:
    return ModelLoadError(
        f"{spec.name}: {describe(spec)} is not in the model cache ({cache_dir()}) and HF_HUB_OFFLINE=1 forbids "
        f"downloading it. Run `python -m inference warm {spec.name}` where the Hub is reachable, with the same HF_HOME."
    )


def download(spec: ModelSpec) -> Path:
    """Fetch the pinned snapshot of a Hub entry into the cache (with progress bars) and return its folder.

    Files already cached are not fetched again. With ``HF_HUB_OFFLINE=1`` this
    only checks that the snapshot is cached.

    Raises:
        ModelLoadError: the entry is a local folder, the snapshot cannot be fetched,
            or it has no safetensors weights.
    """
    if spec.local_path:
        raise ModelLoadError(
            f"{spec.name}: the model is the local folder {spec.local_path}; there is nothing to download."
        )
    from huggingface_hub.errors import HfHubHTTPError, LocalEntryNotFoundError

    offline = is_offline()
    try:
        folder = _snapshot(spec, local_only=offline)
    except LocalEntryNotFoundError as exc:
        if offline:
            raise _missing(spec) from exc
        raise ModelLoadError(f"{spec.name}: cannot download {describe(spec)}: {exc}") from exc
    except (HfHubHTTPError, ValueError, OSError) as exc:
        raise ModelLoadError(f"{spec.name}: cannot download {describe(spec)}: {exc}") from exc
    return _require_safetensors(spec, Path(folder))


def weights_path(spec: ModelSpec) -> Path:
    """The folder to load ``spec`` from: its local folder, else its cached snapshot, else a fresh download.

    The cache is tried first, so a warm cache never touches the network.

    Raises:
        ModelLoadError: the folder or snapshot is missing (offline, with a hint to run
            ``python -m inference warm NAME``), or it has no safetensors weights.
    """
    if spec.local_path:
        if not spec.local_path.is_dir():
            raise ModelLoadError(f"{spec.name}: the model folder {spec.local_path} does not exist.")
        return _require_safetensors(spec, spec.local_path)
    from huggingface_hub.errors import LocalEntryNotFoundError

    try:
        folder = _snapshot(spec, local_only=True)
    except LocalEntryNotFoundError as exc:
        if is_offline():
            raise _missing(spec) from exc
        return download(spec)
    return _require_safetensors(spec, Path(folder))


def prefetch(files: Callable[[], Iterable[Path]]) -> threading.Thread:
    """Read the files that ``files()`` names into the OS page cache, in a background thread.

    A fresh Lambda reads its weights from EFS while it imports torch and
    transformers, which takes seconds of CPU but no I/O; reading them
    meanwhile means the loader later finds them in memory instead of waiting
    for the network. Best effort: a failure is logged and the load reads the
    files itself.
    """

    def read() -> None:
        buffer = bytearray(PREFETCH_CHUNK)
        try:
            for path in files():
                with path.open("rb", buffering=0) as file:
                    while file.readinto(buffer):
                        pass
        except Exception as exc:  # any failure only means the loader reads the files itself
            logger.info("prefetching the weights failed: %s", exc)

    thread = threading.Thread(target=read, name="prefetch-weights", daemon=True)
    thread.start()
    return thread
