"""Code directories for the stack's assets, assembled locally and without Docker.

The router's bundle is the ``bot`` package, the light half of ``inference``, the
registry in use and ``bot/requirements.txt`` installed for Lambda's platform by
pip. Both the installed dependencies and the assembled bundles are cached under
``build/infra`` by a hash of what went into them, so a repeated synth copies
nothing and calls pip only when ``bot/requirements.txt`` changes.
"""

from __future__ import annotations

import hashlib
import os
import shutil

# Only to run pip, with a fixed argument list and no shell.
import subprocess  # nosec B404
import sys
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path

from aws_cdk import aws_lambda as lambda_

REPO = Path(__file__).resolve().parent.parent
DEFAULT_CACHE_DIR = REPO / "build" / "infra"
ROUTER_RUNTIME = lambda_.Runtime.PYTHON_3_14
PYTHON_VERSION = ROUTER_RUNTIME.name.removeprefix("python")
PLATFORM = "manylinux2014_x86_64"
#: What the router imports from ``inference``: the registry (with the backend table it validates against),
#: task formats, the files' kinds and checks and their store (the router checks a file and puts it in the
#: media bucket), and the log redaction both sides use, never torch.
ROUTER_INFERENCE_MODULES = (
    "__init__.py",
    "errors.py",
    "tasks.py",
    "registry.py",
    "backends.py",
    "media.py",
    "media_store.py",
    "redaction.py",
)
REGISTRY_IN_BUNDLE = "inference/models.yaml"
SKIPPED_DIRS = frozenset({"__pycache__", ".pytest_cache", ".ruff_cache"})
SKIPPED_SUFFIXES = (".pyc", ".pyo")
#: Console scripts pip installs for the build machine; they are of no use in Lambda.
SKIPPED_DEPENDENCY_DIRS = ("bin",)
#: Cached entries not used for this long are removed when a new one is made.
MAX_AGE_SECONDS = 7 * 24 * 3600
HASH_LENGTH = 20


class BundlingError(RuntimeError):
    """The router's dependencies could not be installed."""


def _files(root: Path, prefix: str) -> dict[str, Path]:
    """Every file under ``root`` as ``{prefix/relative path: path}``, without caches."""
    found: dict[str, Path] = {}
    if not root.is_dir():
        return found
    for folder, dirs, names in os.walk(root):
        dirs[:] = sorted(d for d in dirs if d not in SKIPPED_DIRS)
        for name in names:
            if name.endswith(SKIPPED_SUFFIXES):
                continue
            path = Path(folder, name)
            relative = path.relative_to(root).as_posix()
            found[f"{prefix}/{relative}" if prefix else relative] = path
    return found


def _digest(files: Mapping[str, Path], salt: str = "") -> str:
    hasher = hashlib.sha256(salt.encode())
    for relative in sorted(files):
        hasher.update(relative.encode() + b"\0" + hashlib.sha256(files[relative].read_bytes()).digest())
    return hasher.hexdigest()[:HASH_LENGTH]


def _prune(folder: Path, keep: Path) -> None:
    """Remove cached entries (and abandoned temporary folders) nobody used for a week."""
    cutoff = time.time() - MAX_AGE_SECONDS
    for entry in folder.iterdir():
        if entry != keep and entry.is_dir() and entry.stat().st_mtime < cutoff:
            shutil.rmtree(entry, ignore_errors=True)


def _publish(temporary: Path, target: Path) -> Path:
    """Move a finished folder into place; another process may have won the race."""
    try:
        temporary.rename(target)
    except OSError:
        shutil.rmtree(temporary, ignore_errors=True)
        if not target.is_dir():
            raise
    _prune(target.parent, keep=target)
    return target


def _cached(target: Path) -> bool:
    if target.is_dir():
        os.utime(target)
        return True
    return False


def install_dependencies(requirements: Path, *, cache_dir: Path = DEFAULT_CACHE_DIR) -> Path:
    """Install ``requirements`` for the router's runtime and platform; return the folder.

    Only binary wheels are accepted, so nothing is compiled for the wrong platform.

    Raises:
        BundlingError: pip failed (its output is in the message).
    """
    key = _digest({"requirements.txt": requirements}, salt=f"{PYTHON_VERSION}/{PLATFORM}")
    folder = cache_dir / "dependencies"
    target = folder / key
    if _cached(target):
        return target
    folder.mkdir(parents=True, exist_ok=True)
    temporary = Path(tempfile.mkdtemp(dir=folder, prefix=".tmp-"))
    command = [
        sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "--no-compile",
        "--requirement", str(requirements), "--target", str(temporary),
        "--platform", PLATFORM, "--implementation", "cp", "--python-version", PYTHON_VERSION,
        "--only-binary=:all:",
    ]  # fmt: skip
    # A fixed argument list (no shell) running this interpreter's own pip.
    done = subprocess.run(command, capture_output=True, text=True, check=False)  # noqa: S603  # nosec B603
    if done.returncode != 0:
        shutil.rmtree(temporary, ignore_errors=True)
        raise BundlingError(f"pip could not install {requirements} for {ROUTER_RUNTIME.name}:\n{done.stderr[-4000:]}")
    for name in SKIPPED_DEPENDENCY_DIRS:
        shutil.rmtree(temporary / name, ignore_errors=True)
    for cache in temporary.rglob("__pycache__"):
        shutil.rmtree(cache, ignore_errors=True)
    return _publish(temporary, target)


def _assemble(files: Mapping[str, Path], *, base: Path | None, folder: Path) -> Path:
    """Copy ``base`` (if any) and then ``files`` into a folder named by their hash."""
    target = folder / _digest(files, salt=base.name if base else "")
    if _cached(target):
        return target
    folder.mkdir(parents=True, exist_ok=True)
    temporary = Path(tempfile.mkdtemp(dir=folder, prefix=".tmp-"))
    if base is not None:
        shutil.copytree(base, temporary, dirs_exist_ok=True)
    for relative, source in files.items():
        destination = temporary / relative
        destination.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, destination)
    return _publish(temporary, target)


def router_bundle(registry_file: Path, *, repo: Path = REPO, cache_dir: Path = DEFAULT_CACHE_DIR) -> Path:
    """The router's code folder: ``bot/``, the router's half of ``inference/``, the registry, dependencies.

    The registry in use is copied to ``inference/models.yaml`` whatever its name.

    Raises:
        BundlingError: the dependencies could not be installed.
    """
    dependencies = install_dependencies(repo / "bot" / "requirements.txt", cache_dir=cache_dir)
    files = _files(repo / "bot", "bot")
    for module in ROUTER_INFERENCE_MODULES:
        files[f"inference/{module}"] = repo / "inference" / module
    files[REGISTRY_IN_BUNDLE] = Path(registry_file)
    return _assemble(files, base=dependencies, folder=cache_dir / "router")


def model_image_context(registry_file: Path, *, repo: Path = REPO, cache_dir: Path = DEFAULT_CACHE_DIR) -> Path:
    """The Docker build context of the model image: ``inference/``, holding the registry in use.

    For the default registry that is ``inference/`` itself; for another one
    (``MODELS_FILE``) a copy of ``inference/`` with that file as ``models.yaml``,
    so the model functions find the entries the stack was built from.
    """
    source = repo / "inference"
    if Path(registry_file).resolve() == (source / "models.yaml").resolve():
        return source
    files = _files(source, "")
    files["models.yaml"] = Path(registry_file)
    return _assemble(files, base=None, folder=cache_dir / "model-image")
