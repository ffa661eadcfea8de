"""``python -m inference check [NAME ...]``: will each registry entry load as configured? Ask before a deploy.

For each entry the Hub (``HF_ENDPOINT``) is asked, in one request, whether the
pinned revision exists and what it holds; a local folder is read from disk.
Each entry gets a few lines: the revision, the weights' format, the tokenizer's
kind (and, for a task that reads a file, its image processor or feature
extractor), the model class its config names, how much ``warm`` downloads, and
a verdict. An entry that will not load also gets one ``error: NAME: why`` line on
stderr, and the exit status is 1. The rules are the loader's own
(:func:`inference.loader.download_patterns`): safetensors are served, a
pickle-only snapshot is served once ``warm`` converted it, anything else is
refused. A sentencepiece tokenizer needs the ``sentencepiece`` package, which is
imported here to be sure it loads (the image installs the same
``inference/requirements.txt``).

An unreachable Hub is one line, not one per entry; nothing ends in a traceback.
"""

from __future__ import annotations

import fnmatch
import importlib
import json
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from inference.backends import TORCH
from inference.errors import ModelLoadError
from inference.loader import (
    HubUnreachable,
    describe,
    download_patterns,
    has_safetensors,
    hub_snapshot,
    pickle_files,
)
from inference.media import AUDIO
from inference.registry import ModelSpec
from inference.tasks import media_kind

#: Marian's tokenizer: two sentencepiece models and the shared vocabulary (opus-mt).
MARIAN_FILES = ("source.spm", "target.spm", "vocab.json")
#: Where an image processor or an audio feature extractor is configured (its sizes, mean, sampling rate).
PREPROCESSOR_FILE = "preprocessor_config.json"
#: The tasks whose model neither reads nor writes text: an image in, labels or boxes (named by config.json) out.
#: Every other task needs a tokenizer: CLIP reads the labels, a captioner and Whisper write their words.
NO_TOKENIZER_TASKS = frozenset({"image-classification", "object-detection"})


@dataclass
class Report:
    """What was found for one entry, as (label, value) lines, and why it will not load (None: it will)."""

    spec: ModelSpec
    lines: list[tuple[str, str]] = field(default_factory=list)
    problem: str | None = None
    verdict: str = "will load"


def _size(size: int) -> str:
    return f"{size / 1e6:,.0f} MB" if size >= 10e6 else f"{size / 1e6:,.1f} MB"


def _sentencepiece_problem() -> str | None:
    """Why the ``sentencepiece`` package cannot be used here, or None: it is imported to be sure."""
    try:
        importlib.import_module("sentencepiece")
    except ImportError as exc:
        return (
            f"its tokenizer needs the sentencepiece package, which cannot be imported here ({exc}); "
            "it is in inference/requirements.txt: `pip install -r inference/requirements.txt`"
        )
    return None


def tokenizer_kind(paths: Sequence[str]) -> tuple[str, str | None]:
    """The tokenizer files of a snapshot with ``paths``, in words, and why they cannot load (None: they can)."""
    root = {path for path in paths if "/" not in path}
    if "tokenizer.json" in root:
        return "tokenizer.json (fast tokenizer)", None
    if root & set(MARIAN_FILES[:2]):
        missing = [name for name in MARIAN_FILES if name not in root]
        kind = "sentencepiece (Marian: source.spm, target.spm, vocab.json)"
        return kind, f"its Marian tokenizer lacks {', '.join(missing)}" if missing else _sentencepiece_problem()
    models = sorted(path for path in root if path.endswith((".model", ".spm")))
    if models:
        return f"sentencepiece ({', '.join(models)})", _sentencepiece_problem()
    if "vocab.txt" in root:
        return "WordPiece vocab.txt (the fast tokenizer is built from it)", None
    if {"vocab.json", "merges.txt"} <= root:
        return "BPE vocab.json + merges.txt (the fast tokenizer is built from them)", None
    return "none", "it has no tokenizer files (tokenizer.json, vocab.txt, vocab.json + merges.txt, sentencepiece)"


def _preprocessor_kind(task: str, root: set[str]) -> tuple[str, str | None]:
    """The image processor or feature extractor of a file task, in words, and why it is missing (None: it is not)."""
    role = "feature extractor" if media_kind(task) == AUDIO else "image processor"
    if PREPROCESSOR_FILE in root:
        return f"{PREPROCESSOR_FILE} ({role})", None
    return "none", f"it has no {PREPROCESSOR_FILE}, the {role} that {task} needs to read its {media_kind(task)}"


def input_files(task: str, paths: Sequence[str]) -> tuple[list[tuple[str, str]], str | None]:
    """What turns a request for ``task`` into the model's inputs, of a snapshot with ``paths``: a line each for
    the tokenizer and, for a task that reads a file, the ``processor``; and why they cannot load (None: they can).

    ``check`` reports the lines and ``add`` refuses on the problem, so both judge a model's files alike.
    """
    kind, problem = tokenizer_kind(paths)
    if task in NO_TOKENIZER_TASKS:
        kind, problem = (f"none ({task} reads and writes no text)" if kind == "none" else kind), None
    lines = [("tokenizer", kind)]
    if media_kind(task) is not None:
        processor, missing = _preprocessor_kind(task, {path for path in paths if "/" not in path})
        lines.append(("processor", processor))
        problem = problem or missing
    return lines, problem


def _weights(paths: Sequence[str]) -> str:
    if has_safetensors(paths):
        return "safetensors"
    pickles = pickle_files(paths)
    return f"pickle only ({', '.join(pickles)})" if pickles else "none that can be served"


def _hub_report(spec: ModelSpec) -> Report:
    snapshot = hub_snapshot(spec)
    report = Report(spec)
    paths = [file.path for file in snapshot.files]
    report.lines.append(("revision", f"{snapshot.revision} found"))
    report.lines.append(("weights", _weights(paths)))
    inputs, inputs_problem = input_files(spec.task, paths)
    report.lines += inputs
    report.lines.append(("model", ", ".join(snapshot.architectures) or "(config.json names no architecture)"))
    try:
        patterns = download_patterns(spec, paths, for_conversion=True)
    except ModelLoadError as exc:
        report.problem = str(exc).removeprefix(f"{spec.name}: ")
        return report
    wanted = [file for file in snapshot.files if any(fnmatch.fnmatch(file.path, p) for p in patterns)]
    report.lines.append(("download", f"{_size(sum(file.size for file in wanted))} in {len(wanted)} files"))
    if not has_safetensors(paths):
        if not snapshot.architectures:
            report.problem = "its pickled weights cannot be converted: its config.json names no architecture"
            return report
        report.verdict = f"will load: pickle only, converted to safetensors by `python -m inference warm {spec.name}`"
    report.problem = inputs_problem
    return report


def _local_report(spec: ModelSpec, folder: Path) -> Report:
    report = Report(spec)
    if not folder.is_dir():
        report.problem = f"the model folder {folder} does not exist"
        return report
    paths = [path.relative_to(folder).as_posix() for path in folder.rglob("*") if path.is_file()]
    report.lines.append(("revision", "a local folder (not pinned)"))
    report.lines.append(("weights", _weights(paths)))
    inputs, inputs_problem = input_files(spec.task, paths)
    report.lines += inputs
    report.lines.append(("model", ", ".join(_architectures(folder)) or "(config.json names no architecture)"))
    report.lines.append(("download", "nothing (a local folder)"))
    if not has_safetensors(paths):
        pickles = pickle_files(paths)
        report.problem = (
            f"it has only pickled weights ({', '.join(pickles)}), and `warm` converts pinned Hub snapshots only"
            if pickles
            else "it has no safetensors weights"
        )
        return report
    report.problem = inputs_problem
    return report


def _architectures(folder: Path) -> list[str]:
    try:
        names = json.loads((folder / "config.json").read_text(encoding="utf-8")).get("architectures")
    except (OSError, ValueError, AttributeError):
        return []
    return [str(name) for name in names] if isinstance(names, list) else []


def check_entry(spec: ModelSpec) -> Report:
    """Find out whether ``spec`` will load as configured.

    Raises:
        HubUnreachable: the Hub did not answer; every other failure is the report's ``problem``.
    """
    try:
        report = _local_report(spec, spec.local_path) if spec.local_path else _hub_report(spec)
    except HubUnreachable:
        raise
    except ModelLoadError as exc:  # no such repository or revision, gated, an HTTP error
        return Report(spec, problem=str(exc).removeprefix(f"{spec.name}: "))
    if spec.backend != TORCH and report.problem is None:
        report.verdict += f"; its {spec.backend} conversion ({spec.quantize}) is made by `warm`"
    return report


def check(specs: Sequence[ModelSpec]) -> int:
    """Check each entry and print what was found; return 1 when one will not load (or the Hub is unreachable)."""
    failed: list[str] = []
    for spec in specs:
        try:
            report = check_entry(spec)
        except HubUnreachable as exc:
            print(f"error: {exc.reason}; check the network (or HF_ENDPOINT) and try again.", file=sys.stderr)
            return 1
        except Exception as exc:  # a bug here must still be one line, naming the entry
            report = Report(spec, problem=f"the check itself failed: {type(exc).__name__}: {exc}")
        print(f"{spec.name}: {describe(spec)}")
        for label, value in report.lines:
            print(f"  {label:<10} {value}")
        if report.problem is None:
            print(f"  {'verdict':<10} {report.verdict}")
        else:
            print(f"  {'verdict':<10} will NOT load: {report.problem}")
            print(f"error: {spec.name}: {report.problem}", file=sys.stderr)
            failed.append(spec.name)
        sys.stdout.flush()
    if failed:
        print(f"{len(failed)} of {len(specs)} entries will not load: {', '.join(failed)}.")
        return 1
    print(f"All {len(specs)} entries will load as configured.")
    return 0
