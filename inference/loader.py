"""Where a registry entry's weights are: its local folder, or its pinned snapshot in the Hub cache.

On Lambda the Hub cache is the EFS mount (``HF_HOME``), filled ahead of time by
``python -m inference warm``, and ``HF_HUB_OFFLINE=1`` keeps the function from
reaching for the network. Only configs, safetensors weights and tokenizer files
are downloaded to serve, and only safetensors are ever loaded to serve: a pickle can run code.

A snapshot that has no safetensors but PyTorch's pickled ``pytorch_model.bin``
(opus-mt, distilbart at their pins) is converted once by ``warm``
(:mod:`inference.convert`, with torch's weights-only loader): only then is the
pickle downloaded, and the safetensors go in a folder of their own beside the
snapshot (:func:`conversion_dir`), with a manifest of the source's and the
result's sha256 that serving checks before it loads them.

huggingface_hub's download code (with its HTTP clients) is imported only when a
snapshot is looked up, so finding an ONNX export costs no import time.
"""

from __future__ import annotations

import fnmatch
import hashlib
import logging
import os
import re
import threading
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from huggingface_hub import constants

from inference import conversions
from inference.errors import ModelLoadError
from inference.records import JsonRecord
from inference.registry import ModelSpec

logger = logging.getLogger(__name__)

OFFLINE_ENV = "HF_HUB_OFFLINE"
#: Prefetch reads this much at a time (large reads keep the thread off the GIL).
PREFETCH_CHUNK = 8 << 20
#: Configs, safetensors weights, and tokenizer files (vocabularies, merges, sentencepiece models, chat templates).
ALLOW_PATTERNS = ["*.json", "*.safetensors", "*.txt", "*.model", "*.spm", "*.jinja"]
#: PyTorch's pickled weights, one file or shards, that ``warm`` converts when a snapshot has no safetensors.
PICKLE_PATTERNS = ["pytorch_model.bin", "pytorch_model-*-of-*.bin"]
CONVERSION_MANIFEST = "conversion.json"
#: Bumped when the manifest changes in a way older readers cannot follow.
CONVERSION_FORMAT = 1
_SHA256 = re.compile(r"[0-9a-f]{64}")
#: How long asking the Hub what a snapshot holds may take. It is one request, not retried: when the Hub
#: cannot be reached a load fails in seconds with that reason, instead of after huggingface_hub's
#: 23 s of download retries (longer than the form waits).
HUB_TIMEOUT_SECONDS = 10.0
#: How often a download in progress is reported.
PROGRESS_INTERVAL_SECONDS = 1.0
_TRUE = {"1", "on", "yes", "true"}
#: Where the deploy's warm step gets a token from.
DEPLOY = "(for cdk deploy's warm step: a secret holding it, named with -c hf_token_secret=NAME; docs/deploy.md)"


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


@dataclass(frozen=True)
class HubSnapshot:
    """What the Hub says a pinned revision holds: every file, and the architecture its config.json names."""

    revision: str
    files: list[HubFile]
    architectures: list[str] = field(default_factory=list)
    model_type: str | None = None


class HubUnreachable(ModelLoadError):
    """The Hub did not answer at all (network, DNS, HF_ENDPOINT), as opposed to answering with an error."""

    def __init__(self, message: str, reason: str) -> None:
        super().__init__(message)
        #: ``cannot reach the Hugging Face Hub at URL (ConnectError: ...)``, naming no entry.
        self.reason = reason


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


def _snapshot(spec: ModelSpec, *, local_only: bool, patterns: list[str] = ALLOW_PATTERNS) -> str:
    """The pinned snapshot of a Hub entry, only the files ``patterns`` match, from the cache (or the Hub)."""
    return snapshot_download(
        spec.model,
        revision=spec.revision,
        cache_dir=cache_dir(),
        allow_patterns=patterns,
        local_files_only=local_only,
    )


def _root(paths: Iterable[str]) -> list[str]:
    return [path for path in paths if "/" not in path]


def has_safetensors(paths: Iterable[str]) -> bool:
    """Whether a snapshot with these files (paths relative to it) has safetensors weights at its root."""
    return any(path.endswith(".safetensors") for path in _root(paths))


def pickle_files(paths: Iterable[str]) -> list[str]:
    """The pickled PyTorch weights among ``paths`` that ``warm`` can convert (``pytorch_model.bin`` or its shards)."""
    return sorted(path for path in _root(paths) if any(fnmatch.fnmatch(path, p) for p in PICKLE_PATTERNS))


def _folder_paths(folder: Path) -> list[str]:
    return [path.relative_to(folder).as_posix() for path in folder.rglob("*") if path.is_file()]


def is_pickle_only(folder: Path) -> bool:
    """Whether a snapshot folder holds pickled PyTorch weights and no safetensors (``warm`` converts it)."""
    paths = _folder_paths(folder)
    return not has_safetensors(paths) and bool(pickle_files(paths))


def conversion_dir(spec: ModelSpec) -> Path:
    """Where ``warm`` writes the safetensors conversion of a pickle-only Hub snapshot, keyed by its revision.

    Not inside the snapshot, which is huggingface_hub's to manage: with every other
    conversion, under ``HF_HOME`` (:mod:`inference.conversions`), so on Lambda it is
    on the same EFS mount.
    """
    return conversions.folder(spec, runtime=conversions.SAFETENSORS)


def listed_sha256(path: Path) -> str | None:
    """The sha256 the Hub listed for a snapshot file, read from the name of its blob in the cache (no read).

    huggingface_hub names an LFS file's blob after its sha256 and links the
    snapshot's file to it; None for a file that is not such a link.
    """
    if not path.is_symlink():
        return None
    blob = Path(os.readlink(path)).name
    return blob if _SHA256.fullmatch(blob) else None


def file_sha256(path: Path) -> str:
    """The sha256 of a file's bytes, as the Hub lists it for LFS files (and as the cache names their blobs)."""
    with path.open("rb") as file:
        return hashlib.file_digest(file, "sha256").hexdigest()


@dataclass(frozen=True)
class ConversionManifest(JsonRecord):
    """What ``warm`` converted, from which bytes, into which bytes: serving refuses a folder that disagrees."""

    FILE = CONVERSION_MANIFEST
    KIND = "conversion manifest"

    #: ``owner/name@revision``.
    source: str
    #: Each pickled source file and its sha256 (which the Hub lists for it).
    pickles: dict[str, str]
    #: Each safetensors file written and its sha256.
    converted: dict[str, str]
    #: The config's architecture, the transformers class the weights were loaded into.
    architecture: str
    #: Versions of the tools that converted, for people reading the folder.
    converted_with: dict[str, str] = field(default_factory=dict)
    format: int = CONVERSION_FORMAT


def describe(spec: ModelSpec) -> str:
    """``owner/name@1234567`` for a Hub entry, the folder for a local one."""
    if spec.local_path:
        return str(spec.local_path)
    return f"{spec.model}@{(spec.revision or 'main')[:7]}"


def _no_safetensors(spec: ModelSpec) -> ModelLoadError:
    return ModelLoadError(
        f"{spec.name}: {describe(spec)} has no safetensors weights, and no PyTorch weights (pytorch_model.bin) "
        "to convert. Only safetensors are loaded, because pickled weights can run code; pick a revision that "
        "has model.safetensors."
    )


def pickle_only_error(spec: ModelSpec, pickles: list[str]) -> ModelLoadError:
    """The error for a pickle-only Hub snapshot that ``warm`` has not converted yet."""
    return ModelLoadError(
        f"{spec.name}: {describe(spec)} has only pickled weights ({', '.join(pickles)}), and only safetensors are "
        f"loaded, because a pickle can run code. Run `python -m inference warm {spec.name}` to convert them once "
        "to safetensors (with the same HF_HOME)."
    )


def _local_pickles(spec: ModelSpec, pickles: list[str]) -> ModelLoadError:
    return ModelLoadError(
        f"{spec.name}: the folder {spec.local_path} has only pickled weights ({', '.join(pickles)}), and only "
        "safetensors are loaded, because a pickle can run code. `warm` converts pinned Hub snapshots only (the Hub "
        "states the sha256 of what it converts); save this model with safetensors (transformers' save_pretrained "
        "writes model.safetensors), or serve its Hub id at a pinned revision."
    )


def _bad_conversion(spec: ModelSpec, folder: Path, reason: str) -> ModelLoadError:
    return ModelLoadError(
        f"{spec.name}: the converted weights in {folder} do not match their manifest ({reason}). Run "
        f"`python -m inference warm --force {spec.name}` to convert them again."
    )


def download_patterns(spec: ModelSpec, paths: Iterable[str], *, for_conversion: bool) -> list[str]:
    """What to download of a Hub snapshot that holds ``paths``: the one place that decides what is fetched.

    Safetensors, configs and tokenizer files; the pickled weights too, but only
    for ``warm`` to convert them (``for_conversion``) and only when there are no safetensors.

    Raises:
        ModelLoadError: the snapshot has no weights that can be served: no
            safetensors, and no pickle (or not converting one).
    """
    paths = list(paths)
    if has_safetensors(paths):
        return ALLOW_PATTERNS
    pickles = pickle_files(paths)
    if not pickles:
        raise _no_safetensors(spec)
    if not for_conversion:
        raise pickle_only_error(spec, pickles)
    return [*ALLOW_PATTERNS, *pickles]


def serving_folder(spec: ModelSpec, snapshot: Path) -> Path:
    """The folder to serve a Hub snapshot from: itself when it has safetensors, else its checked conversion."""
    paths = _folder_paths(snapshot)
    if has_safetensors(paths):
        return snapshot
    pickles = pickle_files(paths)
    folder = conversion_dir(spec)
    if not pickles and not folder.is_dir():
        raise _no_safetensors(spec)
    try:
        manifest = ConversionManifest.read(folder)
    except FileNotFoundError:
        raise pickle_only_error(spec, pickles or ["pytorch_model.bin"]) from None
    except ValueError as exc:
        raise _bad_conversion(spec, folder, str(exc)) from exc
    if manifest.source != f"{spec.model}@{spec.revision}":
        raise _bad_conversion(spec, folder, f"it was converted from {manifest.source}")
    for name, sha256 in manifest.pickles.items():
        if listed_sha256(snapshot / name) not in (None, sha256):
            raise _bad_conversion(spec, folder, f"the snapshot's {name} is not the file it was converted from")
    absent = [name for name in manifest.converted if not (folder / name).is_file()]
    if absent:
        raise _bad_conversion(spec, folder, f"{', '.join(absent)} missing")
    return folder


def verify_conversion(spec: ModelSpec, folder: Path) -> None:
    """Check that a converted folder's safetensors have the sha256 its manifest recorded (reads every byte).

    Raises:
        ModelLoadError: a file differs, is missing, or the manifest is unreadable.
    """
    try:
        manifest = ConversionManifest.read(folder)
        for name, sha256 in manifest.converted.items():
            if file_sha256(folder / name) != sha256:
                raise _bad_conversion(spec, folder, f"{name} has changed since it was converted")
    except (OSError, ValueError) as exc:
        raise _bad_conversion(spec, folder, str(exc)) from exc


def verify_in_background(spec: ModelSpec, folder: Path) -> Callable[[], None]:
    """Start :func:`verify_conversion` on a converted folder; the returned call waits for it and raises its error.

    The caller imports torch and transformers meanwhile (seconds of CPU), so a
    fresh Lambda reads and hashes the weights from EFS in that time instead of
    after it. A folder that is not a conversion needs no check.
    """
    if not (folder / CONVERSION_MANIFEST).is_file():
        return lambda: None
    executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="verify-conversion")
    future = executor.submit(verify_conversion, spec, folder)
    executor.shutdown(wait=False)
    return future.result


def _require_local_safetensors(spec: ModelSpec, folder: Path) -> Path:
    paths = _folder_paths(folder)
    if has_safetensors(paths):
        return folder
    pickles = pickle_files(paths)
    raise _local_pickles(spec, pickles) if pickles else _no_safetensors(spec)


def _missing(spec: ModelSpec) -> ModelLoadError:
    return ModelLoadError(
        f"{spec.name}: {describe(spec)} is not in the model cache ({cache_dir()}) and HF_HUB_OFFLINE=1 forbids "
        f"downloading it. {conversions.how_to_warm(spec.name)}"
    )


def _hub_error(spec: ModelSpec, exc: Exception) -> ModelLoadError:
    """Word what the Hub answered (or that it did not) for a person who can fix it."""
    from huggingface_hub.errors import GatedRepoError, HfHubHTTPError, RepositoryNotFoundError, RevisionNotFoundError

    where = describe(spec)
    if isinstance(exc, GatedRepoError):
        reason = f"the repository is gated: accept its terms on the Hub and set HF_TOKEN to a token that may read it {DEPLOY}"
    elif isinstance(exc, RevisionNotFoundError):
        reason = f"the Hub has no revision {spec.revision} for {spec.model}; pin a commit from its history"
    elif isinstance(exc, RepositoryNotFoundError):
        reason = f"the Hub has no repository {spec.model} (or it is private: set HF_TOKEN {DEPLOY})"
    elif isinstance(exc, HfHubHTTPError):
        status = exc.response.status_code if exc.response is not None else "no"
        reason = f"the Hub answered HTTP {status}; try again later"
    else:
        unreachable = f"cannot reach the Hugging Face Hub at {constants.ENDPOINT} ({type(exc).__name__}: {exc})"
        return HubUnreachable(
            f"{spec.name}: cannot download {where}: {unreachable}. Check the network (or HF_ENDPOINT), or fill the "
            f"cache with `python -m inference warm {spec.name}` on a machine that reaches the Hub, with the same "
            "HF_HOME.",
            reason=unreachable,
        )
    return ModelLoadError(f"{spec.name}: cannot download {where}: {reason}.")


def hub_snapshot(spec: ModelSpec) -> HubSnapshot:
    """Every file of ``spec``'s pinned snapshot, and its config's architecture, asked of the Hub in one short request.

    Raises:
        ModelLoadError: the Hub cannot be reached (:class:`HubUnreachable`), or
            has no such repository or revision.
    """
    from huggingface_hub import HfApi

    try:
        info = HfApi().model_info(spec.model, revision=spec.revision, files_metadata=True, timeout=HUB_TIMEOUT_SECONDS)
    except Exception as exc:  # HTTP errors are typed; anything else means the Hub was not reached
        raise _hub_error(spec, exc) from exc
    files = []
    for sibling in info.siblings or []:
        lfs = sibling.lfs
        blob = (lfs.sha256 if lfs is not None else sibling.blob_id) or ""
        files.append(HubFile(path=sibling.rfilename, size=int(sibling.size or 0), blob=blob))
    config = info.config if isinstance(info.config, dict) else {}
    architectures = config.get("architectures")
    return HubSnapshot(
        revision=info.sha or spec.revision or "",
        files=files,
        architectures=[str(a) for a in architectures] if isinstance(architectures, list) else [],
        model_type=str(config["model_type"]) if config.get("model_type") else None,
    )


def hub_files(spec: ModelSpec) -> list[HubFile]:
    """Every file of ``spec``'s pinned snapshot, as the Hub lists it (see :func:`hub_snapshot`)."""
    return hub_snapshot(spec).files


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


def _cached_snapshot(spec: ModelSpec, *, for_conversion: bool) -> str:
    """Offline: the cached snapshot with what :func:`download_patterns` would have fetched for it.

    Looked up with the serving patterns first, and with the pickles too only for a
    conversion of a snapshot that has no safetensors: asking for the pickles of one
    that has them would make huggingface_hub call it incomplete, because its list of
    the revision's files (``trees/<revision>.json``, left by an online download) names
    a ``pytorch_model.bin`` that ``warm`` never fetched beside the safetensors.

    Raises:
        LocalEntryNotFoundError: the snapshot, or a pickle-only one's pickle, is not cached.
    """
    folder = _snapshot(spec, local_only=True)
    if for_conversion and not has_safetensors(_folder_paths(Path(folder))):
        folder = _snapshot(spec, local_only=True, patterns=[*ALLOW_PATTERNS, *PICKLE_PATTERNS])
    return folder


def download(spec: ModelSpec, *, progress: ProgressListener | None = None, for_conversion: bool = False) -> Path:
    """Fetch the pinned snapshot of a Hub entry into the cache (with progress bars) and return the folder to serve.

    The Hub is first asked, in one short request, what the snapshot holds: an
    unreachable Hub or a snapshot without safetensors is refused in seconds,
    before anything is downloaded. Files already cached are not fetched again.
    ``progress`` hears how far the download has come, every second. With
    ``HF_HUB_OFFLINE=1`` this only checks that the snapshot is cached.

    ``for_conversion`` (``warm``) also fetches the pickled weights of a snapshot
    without safetensors, and returns the snapshot itself for
    :func:`inference.convert.convert`; otherwise a pickle-only snapshot is served
    from its conversion, or refused with what to run.

    Raises:
        ModelLoadError: the entry is a local folder, the snapshot cannot be fetched,
            or it has no safetensors weights (nor, for conversion, a pickle).
    """
    if spec.local_path:
        raise ModelLoadError(
            f"{spec.name}: the model is the local folder {spec.local_path}; there is nothing to download."
        )
    from huggingface_hub.errors import GatedRepoError, HfHubHTTPError, LocalEntryNotFoundError, RepositoryNotFoundError

    offline = is_offline()
    stop = threading.Event()
    try:
        if offline:
            folder = _cached_snapshot(spec, for_conversion=for_conversion)
        else:
            files = hub_files(spec)
            patterns = download_patterns(spec, [file.path for file in files], for_conversion=for_conversion)
            if progress is not None:
                wanted = [file for file in files if any(fnmatch.fnmatch(file.path, p) for p in patterns)]
                _report_while(spec, wanted, progress, stop)
            folder = _snapshot(spec, local_only=False, patterns=patterns)
    except LocalEntryNotFoundError as exc:
        if offline:
            raise _missing(spec) from exc
        raise ModelLoadError(f"{spec.name}: cannot download {describe(spec)}: {exc}") from exc
    except (GatedRepoError, RepositoryNotFoundError) as exc:  # a gated file, after a public model_info
        raise _hub_error(spec, exc) from exc
    except (HfHubHTTPError, ValueError, OSError) as exc:
        raise ModelLoadError(f"{spec.name}: cannot download {describe(spec)}: {exc}") from exc
    finally:
        stop.set()
    return Path(folder) if for_conversion else serving_folder(spec, Path(folder))


def weights_path(spec: ModelSpec, *, progress: ProgressListener | None = None) -> Path:
    """The folder to load ``spec`` from: its local folder, else its cached snapshot (or the snapshot's
    conversion to safetensors), else a fresh download.

    The cache is tried first, so a warm cache never touches the network.

    Raises:
        ModelLoadError: the folder or snapshot is missing (offline, with a hint to run
            ``python -m inference warm NAME``), it has no safetensors weights, or a
            conversion is missing or disagrees with its manifest.
    """
    if spec.local_path:
        if not spec.local_path.is_dir():
            raise ModelLoadError(f"{spec.name}: the model folder {spec.local_path} does not exist.")
        return _require_local_safetensors(spec, spec.local_path)
    from huggingface_hub.errors import LocalEntryNotFoundError

    try:
        folder = _snapshot(spec, local_only=True)
    except LocalEntryNotFoundError as exc:
        if is_offline():
            raise _missing(spec) from exc
        return download(spec, progress=progress)
    return serving_folder(spec, Path(folder))


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
