"""Filling the model cache for one registry entry: what ``python -m inference warm`` and the deploy's warm step run.

:func:`warm_entry` downloads the entry's pinned snapshot into the Hub cache
(:func:`inference.loader.download`), converts a pickle-only snapshot to
safetensors (:func:`inference.convert.convert`) and converts the entry for its
backend (:func:`inference.conversions.convert_entry`); :func:`ready` then looks
the entry up exactly as serving will, offline, so a warm that says "ready" means
the function's first request reads only the cache. The CLI words each step with
``print``; the warm Lambda (:mod:`inference.warm_handler`) logs them as
structured lines.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from pathlib import Path

from inference.backends import TORCH
from inference.errors import ModelLoadError
from inference.registry import ModelSpec

Say = Callable[[str], None]
#: Wraps the download (the CLI: Ctrl-C ends the process at once instead of waiting for the files in flight).
Guard = Callable[[], AbstractContextManager[object]]


def _print(line: str) -> None:
    print(line, flush=True)


@dataclass(frozen=True)
class Warmed:
    """What warming one entry did.

    Attributes:
        name: the registry entry.
        folder: what its function serves from (the conversion for a converted backend), or None when skipped.
        refused: why its backend's converter refused it (it is then served with torch), else None.
        skipped: a ``backend: torch`` entry whose model is a local folder: there is nothing to fetch.
    """

    name: str
    folder: Path | None
    refused: str | None = None
    skipped: bool = False


def source_folder(
    spec: ModelSpec,
    *,
    force: bool,
    say: Say = _print,
    progress: Callable | None = None,
    downloading: Guard = nullcontext,
) -> Path | None:
    """The entry's weights as safetensors for ``warm``: fetched (and a pickle converted); None for a torch local folder.

    Raises:
        ModelLoadError: the snapshot cannot be fetched or converted.
    """
    from inference.loader import describe, download, is_pickle_only, weights_path

    if spec.local_path:
        return weights_path(spec) if spec.backend != TORCH else None
    say(f"{spec.name}: fetching {describe(spec)}")
    with downloading():
        # Offline, this looks the snapshot up in the cache as serving does (the pickles only for a pickle-only one).
        folder = download(spec, for_conversion=True, progress=progress)
    if is_pickle_only(folder):
        from inference.convert import convert

        say(f"{spec.name}: converting its pickled weights to safetensors")
        folder = convert(spec, folder, force=force)
    say(f"{spec.name}: ready in {folder}")
    return folder


def warm_entry(
    spec: ModelSpec,
    *,
    force: bool = False,
    say: Say = _print,
    progress: Callable | None = None,
    downloading: Guard = nullcontext,
) -> Warmed:
    """Fetch ``spec``'s snapshot into the cache and convert it for its backend (see the module doc).

    A converter that refuses the architecture is not an error here: the result's
    ``refused`` says why, and the entry is served with torch where torch is installed.

    Raises:
        ModelLoadError: a download or a conversion failed, naming the entry.
    """
    from inference.conversions import convert_entry

    source = source_folder(spec, force=force, say=say, progress=progress, downloading=downloading)
    if source is None:
        say(f"{spec.name}: skipped, the model is the local folder {spec.local_path}")
        return Warmed(spec.name, None, skipped=True)
    if spec.backend == TORCH:
        return Warmed(spec.name, source)
    say(f"{spec.name}: converting for {spec.backend} (quantize: {spec.quantize})")
    folder, record = convert_entry(spec, source, force=force)
    if record.refused is None:
        say(f"{spec.name}: {spec.backend} conversion ready in {folder}")
    else:
        say(f"{spec.name}: {spec.backend} cannot serve it, so it is served with torch: {record.refused}")
    return Warmed(spec.name, folder, refused=record.refused)


def ready(spec: ModelSpec) -> Path:
    """Look ``spec`` up in the cache as its function will (after :func:`warm_entry`: the cache only); return its folder.

    Raises:
        ModelLoadError: something serving needs is not in the cache (the loader's words), or the backend's
            converter refused the entry, whose serving image then has no torch to fall back on.
    """
    if spec.backend == TORCH:
        from inference.loader import weights_path

        return weights_path(spec)
    from inference.conversions import find

    folder, record = find(spec)
    if record.refused is not None:
        raise ModelLoadError(
            f"{spec.name}: {spec.backend} cannot serve it ({record.refused}), so it would be served with torch, "
            f"which the serving image has not: set `backend: torch` on {spec.name} and deploy again."
        )
    return folder
