"""``python -m inference``: run a model, fill the model cache, check the registry against the Hub, list it.

A thin layer over the library. ``run`` goes through :func:`inference.service.handle`,
the function the Lambda calls, so what it prints is what the router receives (``--stream``
also writes a generating model's text to stderr as it grows, from the partials the router gets;
``--file`` gives a model that reads an image or audio its file, through a store in a temporary
folder, as the router would);
``warm`` is :func:`inference.warming.warm_entry` per entry (the deploy's warm step runs it too):
:func:`inference.loader.download`, then :func:`inference.convert.convert` for pickle-only snapshots and
:func:`inference.conversions.convert_entry` for entries on a converted backend
(ONNX Runtime, CTranslate2, ...); it names the entries that fell back on torch, and
``--to-s3`` copies what it filled to S3 (:mod:`inference.s3_cache`) for an offline deploy;
``check`` is :func:`inference.check.check`;
``add HUB_ID [--name NAME] [--task TASK] [--revision REV] [--backend B] [--dry-run]``
is :func:`inference.add.add`: it asks the Hub (``HF_ENDPOINT``) about the model,
pins its commit, sizes ``memory`` and ``timeout`` by docs/sizing.md's rule
(:mod:`inference.sizing`) and appends one entry after the registry's last,
leaving every other byte of the file as it was (``--dry-run`` prints it only).
``MODELS_FILE`` (env) points every command at another registry.

Exit codes: 0 success, 1 the model answered with an error or a download or conversion failed,
2 the registry or the command line is wrong, 130 Ctrl-C (one line, no traceback).
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import tempfile
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from types import FrameType
from typing import Any

from inference.errors import InferenceError, ModelLoadError, RegistryError, UnknownModel
from inference.media_store import FolderStore, store_upload
from inference.registry import ModelSpec, Registry, load_registry
from inference.tasks import media_kind

#: Exit statuses, which ``python -m bot`` shares: a failure, a wrong command line or registry, Ctrl-C (128 + SIGINT).
FAILURE, USAGE_ERROR, INTERRUPTED = 1, 2, 130


def program(module: str) -> str:
    """How the person started the CLI, for usage lines: ``python -m <module>`` or the console script's name."""
    started = Path(sys.argv[0]).name if sys.argv and sys.argv[0] else ""
    return f"python -m {module}" if started in ("", "__main__.py", "-c") else started


def interrupted(hint: str = "") -> int:
    """Ctrl-C: one line on stderr instead of a traceback, and the status shells give it."""
    print(f"interrupted{hint}", file=sys.stderr, flush=True)
    return INTERRUPTED


@contextmanager
def _ctrl_c_exits_now() -> Iterator[None]:
    """While a download runs, Ctrl-C ends the process there and then.

    Unwinding would wait: huggingface_hub's thread pool finishes every file in flight first.
    Nothing needs unwinding either, since the next ``warm`` resumes each ``.incomplete`` file.
    """

    def stop(signum: int, frame: FrameType | None) -> None:
        sys.stdout.flush()
        os._exit(interrupted(": `python -m inference warm` resumes the download where it stopped"))

    previous = signal.signal(signal.SIGINT, stop)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def _parameter(item: str) -> tuple[str, Any]:
    """``key=value``; the value is read as JSON when it is JSON (``3``, ``true``, ``["a","b"]``), else as text."""
    key, sep, value = item.partition("=")
    if not sep or not key.strip():
        raise argparse.ArgumentTypeError(f"expected key=value, got {item!r}")
    try:
        return key.strip(), json.loads(value)
    except json.JSONDecodeError:
        return key.strip(), value


def _run(registry: Registry, args: argparse.Namespace) -> int:
    from inference.runners import load_runner
    from inference.service import handle

    spec = registry.get(args.name)
    event: dict[str, Any] = {"text": args.text, "parameters": dict(args.param)}
    shown = _StreamedText() if args.stream else None
    with tempfile.TemporaryDirectory(prefix="inference-run-") as folder:
        store = FolderStore(Path(folder))
        if (problem := _attach(spec, args.file, event, store)) is not None:
            print(f"error: {problem}", file=sys.stderr)
            return USAGE_ERROR
        response = handle(
            event, spec=spec, get_runner=lambda: load_runner(spec), on_partial=shown, get_store=lambda: store
        )
    if shown is not None:
        shown.end()
    print(json.dumps(response, indent=2, ensure_ascii=False))
    return 1 if "error" in response else 0


def _attach(spec: ModelSpec, path: Path | None, event: dict[str, Any], store: FolderStore) -> str | None:
    """Put ``path`` in ``store`` and name it in ``event``, as the router does; what is wrong, if anything."""
    kind = media_kind(spec.task)
    if kind is None:
        return f"{spec.name} reads text, not files: give the text without --file" if path else None
    if path is None:
        return f"{spec.name} reads {kind} files: give one with --file PATH"
    try:
        data = path.read_bytes()
    except OSError as exc:
        return f"cannot read {path}: {exc.strerror or exc}"
    try:
        ref = store_upload(store, data, kind=kind, model=spec.name, name=path.name, request_id=uuid.uuid4().hex)
    except InferenceError as exc:
        return f"{path}: {exc}"
    event["file"] = ref.to_event()
    return None


class _StreamedText:
    """``run --stream``'s partial sink: the text so far, written to stderr as it grows (stdout keeps the JSON)."""

    def __init__(self) -> None:
        self.shown = ""

    def __call__(self, sequence: int, text: str) -> None:
        if text.startswith(self.shown):  # the usual case: more words after the ones shown
            sys.stderr.write(text[len(self.shown) :])
        else:  # the text so far changed behind the words shown (a decoder tidied it): start the line again
            sys.stderr.write("\n" + text)
        sys.stderr.flush()
        self.shown = text

    def end(self) -> None:
        if self.shown:
            sys.stderr.write("\n")
            sys.stderr.flush()


def _warm(registry: Registry, args: argparse.Namespace) -> int:
    from inference.warming import warm_entry

    specs = [registry.get(name) for name in args.names] if args.names else list(registry)
    destination: tuple[str, str] | None = args.to_s3
    failures = 0
    fell_back: list[str] = []
    warmed: list[ModelSpec] = []
    for spec in specs:
        try:
            result = warm_entry(spec, force=args.force, downloading=_ctrl_c_exits_now)
        except ModelLoadError as exc:
            print(f"error: {exc}", file=sys.stderr)
            failures += 1
            continue
        if result.refused is not None:
            fell_back.append(f"{spec.name} ({result.refused})")
        if not result.skipped:
            warmed.append(spec)
    if fell_back:
        print(
            f"{len(fell_back)} entr{'y' if len(fell_back) == 1 else 'ies'} fell back to torch: {'; '.join(fell_back)}. "
            "The serving image has no torch: in AWS, set `backend: torch` on "
            f"{'it' if len(fell_back) == 1 else 'them'} so that its function runs the conversion image."
        )
    if destination is not None:
        failures += _upload(warmed, destination)
    return 1 if failures else 0


def _s3_url(url: str) -> tuple[str, str]:
    """``s3://bucket/prefix`` as (bucket, prefix), for ``warm --to-s3``."""
    from inference.s3_cache import parse_s3_url

    try:
        return parse_s3_url(url)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _upload(specs: list[ModelSpec], destination: tuple[str, str]) -> int:
    """Copy each warmed entry's part of the cache to ``s3://bucket/prefix``; return how many failed."""
    from inference.s3_cache import upload

    bucket, prefix = destination
    failures = 0
    for spec in specs:
        try:
            sent = upload(spec, bucket=bucket, prefix=prefix)
        except ModelLoadError as exc:
            print(f"error: {exc}", file=sys.stderr)
            failures += 1
            continue
        print(f"{spec.name}: {sent.files} files ({sent.megabytes}) in s3://{bucket}/{prefix}", flush=True)
    return failures


def _check(registry: Registry, args: argparse.Namespace) -> int:
    from inference.check import check

    return check([registry.get(name) for name in args.names] if args.names else list(registry))


def _add(registry: Registry, args: argparse.Namespace) -> int:
    from inference.add import Refused, Request, add

    request = Request(args.hub_id, name=args.name, task=args.task, revision=args.revision, backend=args.backend)
    try:
        add(request, registry, dry_run=args.dry_run)
    except Refused as exc:
        print(f"error: {exc}", file=sys.stderr)
        return USAGE_ERROR if exc.usage else FAILURE
    except (RegistryError, UnknownModel, KeyboardInterrupt):
        raise
    except Exception as exc:  # a bug here must still be one line, not a traceback
        print(f"error: add failed: {type(exc).__name__}: {exc}", file=sys.stderr)
        return FAILURE
    return 0


def _model_label(spec: ModelSpec) -> str:
    return f"{spec.model}@{spec.revision[:7]}" if spec.revision else spec.model


def format_table(registry: Registry) -> str:
    """The registry as an aligned text table, one row per entry."""
    header = ("NAME", "COMMAND", "TASK", "MODEL", "MEMORY", "TIMEOUT", "BACKEND", "QUANTIZE")
    rows = [
        (s.name, s.command, s.task, _model_label(s), f"{s.memory} MB", f"{s.timeout} s", s.backend, s.quantize)
        for s in registry
    ]
    widths = [max(len(row[i]) for row in (header, *rows)) for i in range(len(header))]
    return "\n".join(
        "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip() for row in (header, *rows)
    )


def _list(registry: Registry, args: argparse.Namespace) -> int:
    print(format_table(registry))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=program("inference"),
        description="Run registry models locally, fill the model cache (HF_HOME), check or list the registry, add a Hub model. "
        "MODELS_FILE selects another registry file.",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    run = commands.add_parser("run", help="run a model on one line of text (or a file) and print the JSON response")
    run.add_argument("name", help="registry entry name")
    run.add_argument(
        "text",
        nargs="?",
        default="",
        help="the input line, in the task's format (e.g. 'question | context'); optional with --file",
    )
    run.add_argument(
        "--file",
        type=Path,
        metavar="PATH",
        help="an image or a recording, for a model that reads one (the type is read from its content)",
    )
    run.add_argument(
        "--param",
        action="append",
        default=[],
        type=_parameter,
        metavar="KEY=VALUE",
        help='a task parameter (repeatable); JSON values such as 5, true or ["a","b"] are decoded',
    )
    run.add_argument(
        "--stream",
        action="store_true",
        help="write the answer to stderr as the model writes it (models that stream: text generation)",
    )
    run.set_defaults(handler=_run)
    warm = commands.add_parser(
        "warm",
        help="download the pinned snapshots into HF_HOME and convert them for their backends (default: every entry)",
    )
    warm.add_argument("names", nargs="*", metavar="NAME", help="registry entry names")
    warm.add_argument(
        "--force", action="store_true", help="convert again (pickled weights, each backend's conversion) even when done"
    )
    warm.add_argument(
        "--to-s3",
        type=_s3_url,
        metavar="s3://BUCKET/PREFIX",
        help="then copy each entry's snapshot and conversions there, for the deploy's warm step "
        "(-c warm_source=s3://BUCKET/PREFIX) to fill the cache from without the Hub",
    )
    warm.set_defaults(handler=_warm)
    checking = commands.add_parser(
        "check", help="ask the Hub whether each pinned snapshot exists and will load as configured (default: all)"
    )
    checking.add_argument("names", nargs="*", metavar="NAME", help="registry entry names")
    checking.set_defaults(handler=_check)
    adding = commands.add_parser(
        "add",
        help="append a registry entry for a Hub model, pinned, sized and described from what the Hub says",
        description="Ask the Hub (HF_ENDPOINT) about HUB_ID and append one entry to the registry (MODELS_FILE or "
        "inference/models.yaml), pinned to the commit, sized by docs/sizing.md, keeping the file's comments.",
    )
    adding.add_argument("hub_id", metavar="HUB_ID", help="the model's Hub id, owner/name")
    adding.add_argument("--name", help="the entry's name and slash command (default: a slug of the repository name)")
    adding.add_argument("--task", help="the task (default: the Hub's pipeline tag)")
    adding.add_argument(
        "--revision", metavar="REV", help="a branch, tag or commit to pin (default: main's current commit)"
    )
    adding.add_argument("--backend", help="the runtime (default: the task's fast one; see inference/backends.py)")
    adding.add_argument("--dry-run", action="store_true", help="print the entry without writing it")
    adding.set_defaults(handler=_add)
    listing = commands.add_parser("list", help="show the registry as a table")
    listing.set_defaults(handler=_list)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Parse ``argv``, load the registry and run the command; return the exit code."""
    args = build_parser().parse_args(argv)
    handler: Callable[[Registry, argparse.Namespace], int] = args.handler
    try:
        return handler(load_registry(), args)
    except (RegistryError, UnknownModel) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return USAGE_ERROR
    except KeyboardInterrupt:
        return interrupted()
