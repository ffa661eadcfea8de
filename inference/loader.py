"""Where a registry entry's weights are: its local folder, or its pinned snapshot in the Hub cache.

On Lambda the Hub cache is the EFS mount (``HF_HOME``), filled ahead of time by
``python -m inference warm``, and ``HF_HUB_OFFLINE=1`` keeps the function from
reaching for the network. Only configs, safetensors weights and tokenizer files
are downloaded: pickled weights (``*.bin``, ``*.pt``) are never fetched or loaded.

huggingface_hub's download code (with its HTTP clients) is imported only when a
snapshot is looked up, so finding an ONNX export costs no import time.
"""

from __future__ import annotations

import fnmatch
import logging
import os
import threading
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass
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
#: How long asking the Hub what a snapshot holds may take. It is one request, not retried: when the Hub
#: cannot be reached a load fails in seconds with that reason, instead of after huggingface_hub's
#: 23 s of download retries (longer than the form waits).
HUB_TIMEOUT_SECONDS = 10.0
#: How often a download in progress is reported.
PROGRESS_INTERVAL_SECONDS = 1.0
_TRUE = {"1", "on", "yes", "true"}


@dataclass(frozen=True)
class HubFile:
    """One file of a snapshot, as the Hub lists it: its path, size and the name of its blob in the cache."""

    path: str
    size: int
    blob: str


@dataclass(frozen=True)
class DownloadProgress:
    """How far a snapshot's download has come, measured from the cache folder."""

    files_done: int
    files_total: int
    bytes_done: int
    bytes_total: int

    def describe(self) -> str:
        """``downloading 3 of 7 files, 120 MB of 480 MB``."""
        return (
            f"downloading {self.files_done} of {self.files_total} files, "
            f"{_megabytes(self.bytes_done)} of {_megabytes(self.bytes_total)}"
        )

    def to_dict(self) -> dict[str, int]:
        return asdict(self)


ProgressListener = Callable[[DownloadProgress], None]


def _megabytes(size: int) -> str:
    return f"{size / 1e6:,.0f} MB" if size >= 10e6 else f"{size / 1e6:,.1f} MB"


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


def _no_safetensors(spec: ModelSpec) -> ModelLoadError:
    return ModelLoadError(
        f"{spec.name}: {describe(spec)} has no safetensors weights. Only safetensors are loaded, because "
        "pickled weights can run code; pick a revision that has model.safetensors."
    )


def _require_safetensors(spec: ModelSpec, folder: Path) -> Path:
    if not any(folder.glob("*.safetensors")):
        raise _no_safetensors(spec)
    return folder


def _missing(spec: ModelSpec) -> ModelLoadError:
    return ModelLoadError(
        f"{spec.name}: {describe(spec)} is not in the model cache ({cache_dir()}) and HF_HUB_OFFLINE=1 forbids "
        f"downloading it. Run `python -m inference warm {spec.name}` where the Hub is reachable, with the same HF_HOME."
    )


def _hub_error(spec: ModelSpec, exc: Exception) -> ModelLoadError:
    """Word what the Hub answered (or that it did not) for a person who can fix it."""
    from huggingface_hub.errors import GatedRepoError, HfHubHTTPError, RepositoryNotFoundError, RevisionNotFoundError

    where = describe(spec)
    if isinstance(exc, GatedRepoError):
        reason = "the repository is gated: accept its terms on the Hub and set HF_TOKEN to a token that may read it"
    elif isinstance(exc, RevisionNotFoundError):
        reason = f"the Hub has no revision {spec.revision} for {spec.model}; pin a commit from its history"
    elif isinstance(exc, RepositoryNotFoundError):
        reason = f"the Hub has no repository {spec.model} (or it is private: set HF_TOKEN)"
    elif isinstance(exc, HfHubHTTPError):
        status = exc.response.status_code if exc.response is not None else "no"
        reason = f"the Hub answered HTTP {status}; try again later"
    else:
        reason = (
            f"cannot reach the Hugging Face Hub at {constants.ENDPOINT} ({type(exc).__name__}: {exc}). "
            f"Check the network (or HF_ENDPOINT), or fill the cache with `python -m inference warm {spec.name}` "
            "on a machine that reaches the Hub, with the same HF_HOME"
        )
    return ModelLoadError(f"{spec.name}: cannot download {where}: {reason}.")


def hub_files(spec: ModelSpec) -> list[HubFile]:
    """The files of ``spec``'s pinned snapshot that loading needs, asked of the Hub in one short request.

    Raises:
        ModelLoadError: the Hub cannot be reached, or has no such repository or revision.
    """
    from huggingface_hub import HfApi

    try:
        info = HfApi().model_info(spec.model, revision=spec.revision, files_metadata=True, timeout=HUB_TIMEOUT_SECONDS)
    except Exception as exc:  # HTTP errors are typed; anything else means the Hub was not reached
        raise _hub_error(spec, exc) from exc
    files = []
    for sibling in info.siblings or []:
        if any(fnmatch.fnmatch(sibling.rfilename, pattern) for pattern in ALLOW_PATTERNS):
            lfs = sibling.lfs
            blob = (lfs.sha256 if lfs is not None else sibling.blob_id) or ""
            files.append(HubFile(path=sibling.rfilename, size=int(sibling.size or 0), blob=blob))
    return files


def measure_progress(spec: ModelSpec, files: list[HubFile]) -> DownloadProgress:
    """What of ``files`` is in the cache: whole blobs, and the partial ones huggingface_hub is writing."""
    blobs = repo_folder(spec) / "blobs"
    done = size = 0
    for file in files:
        blob = blobs / file.blob
        if file.blob and blob.is_file():
            done, size = done + 1, size + file.size
        elif file.blob and (partial := blob.with_name(f"{blob.name}.incomplete")).is_file():
            size += min(file.size, partial.stat().st_size)
    return DownloadProgress(
        files_done=done, files_total=len(files), bytes_done=size, bytes_total=sum(f.size for f in files)
    )


def _report_while(
    spec: ModelSpec, files: list[HubFile], listener: ProgressListener, stop: threading.Event
) -> threading.Thread:
    """Report the download's progress every second until ``stop`` is set (in a background thread)."""

    def report() -> None:
        while not stop.wait(PROGRESS_INTERVAL_SECONDS):
            try:
                listener(measure_progress(spec, files))
            except Exception as exc:  # progress is a courtesy: never let it break the download
                logger.info("reporting download progress failed: %s", exc)
                return

    thread = threading.Thread(target=report, name="download-progress", daemon=True)
    thread.start()
    return thread


def download(spec: ModelSpec, *, progress: ProgressListener | None = None) -> Path:
    """Fetch the pinned snapshot of a Hub entry into the cache (with progress bars) and return its folder.

    The Hub is first asked, in one short request, what the snapshot holds: an
    unreachable Hub or a snapshot without safetensors is refused in seconds,
    before anything is downloaded. Files already cached are not fetched again.
    ``progress`` hears how far the download has come, every second. With
    ``HF_HUB_OFFLINE=1`` this only checks that the snapshot is cached.

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
    stop = threading.Event()
    try:
        if not offline:
            files = hub_files(spec)
            if not any(file.path.endswith(".safetensors") for file in files):
                raise _no_safetensors(spec)
            if progress is not None:
                _report_while(spec, files, progress, stop)
        folder = _snapshot(spec, local_only=offline)
    except LocalEntryNotFoundError as exc:
        if offline:
            raise _missing(spec) from exc
        raise ModelLoadError(f"{spec.name}: cannot download {describe(spec)}: {exc}") from exc
    except (HfHubHTTPError, ValueError, OSError) as exc:
        raise ModelLoadError(f"{spec.name}: cannot download {describe(spec)}: {exc}") from exc
    finally:
        stop.set()
    return _require_safetensors(spec, Path(folder))


def weights_path(spec: ModelSpec, *, progress: ProgressListener | None = None) -> Path:
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
        return download(spec, progress=progress)
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
