"""Regenerate one section of a hand-edited Markdown file, leaving the rest as written.

A generated section sits between ``<!-- BEGIN <name> -->`` and
``<!-- END <name> -->`` comments, so several commands can each own a section
of the same document (the load figures, the fuzz figures) beside prose that
people maintain.
"""

from __future__ import annotations

from pathlib import Path


def markers(name: str) -> tuple[str, str]:
    """The opening and closing comments of the section ``name``."""
    return f"<!-- BEGIN {name} (generated: do not edit by hand) -->", f"<!-- END {name} -->"


def replace_section(document: str, name: str, body: str) -> str:
    """``document`` with the section ``name`` holding ``body``; appended at the end if absent.

    Raises:
        ValueError: the section's markers are out of order or appear more than once.
    """
    begin, end = markers(name)
    block = f"{begin}\n{body.strip()}\n{end}"
    starts, ends = document.count(begin), document.count(end)
    if starts == 0 and ends == 0:
        return f"{document.rstrip()}\n\n{block}\n" if document.strip() else f"{block}\n"
    if starts != 1 or ends != 1 or document.index(begin) > document.index(end):
        raise ValueError(f"the markers of section {name!r} must appear once each, BEGIN before END")
    head, rest = document.split(begin, 1)
    _, tail = rest.split(end, 1)
    return f"{head}{block}{tail}"


def write_section(path: Path, name: str, body: str) -> None:
    """Replace (or add) the section ``name`` of the file at ``path``, creating the file if needed."""
    current = path.read_text(encoding="utf-8") if path.exists() else ""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(replace_section(current, name, body), encoding="utf-8")
