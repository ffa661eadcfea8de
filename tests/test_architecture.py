"""The router's wings import one way, nothing in ``bot/`` or ``inference/`` imports in a circle, and the
router stays light.

Every module is read with :mod:`ast` (nothing is imported), and every import statement counts,
those inside functions included: an import put off until a function runs (for the cold start, or
to dodge a circle) is still a dependency. ``docs/architecture.md`` draws the same rules.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from collections.abc import Iterator
from functools import cache
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("bot", "inference")
#: Modules ``bot/`` may hold at its top level: the entry points, their composition and the CLI.
MAX_TOP_LEVEL_MODULES = 12

#: What each wing of the router may import, besides itself (and anything outside this project).
#: ``top`` is the modules directly in ``bot/``; ``local/`` is ``python -m bot serve``'s entry point,
#: as ``handler.py`` is the Lambda's, so both sit at the top.
MAY_IMPORT: dict[str, frozenset[str]] = {
    "inference": frozenset(),
    "stores": frozenset({"inference"}),
    "core": frozenset({"stores", "inference"}),
    "slack": frozenset({"core", "stores", "inference"}),
    "form": frozenset({"core", "stores", "inference"}),
    "local": frozenset({"top", "slack", "form", "core", "stores", "inference"}),
    "top": frozenset({"local", "slack", "form", "core", "stores", "inference"}),
}
WINGS = frozenset(MAY_IMPORT) - {"inference", "top"}


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


@cache
def modules() -> dict[str, Path]:
    """Every module of the two packages, by dotted name (a package by its ``__init__``)."""
    found = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            if "__pycache__" not in path.parts:
                found[module_name(path)] = path
    return found


def _known(name: str) -> str | None:
    """``name``, or the longest of its prefixes that is one of our modules (``a.b.C`` → ``a.b``)."""
    known = modules()
    while name:
        if name in known:
            return name
        name = name.rpartition(".")[0]
    return None


def imports_in(source: str, package: str) -> set[str]:
    """Every dotted name an import statement anywhere in ``source`` names, relative ones resolved from ``package``.

    ``from a.b import c`` names both ``a.b.c`` and ``a.b``: :func:`_known` keeps whichever is a module.
    """
    found: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            parts = package.split(".")
            base = ".".join(parts[: len(parts) - node.level + 1]) if node.level else ""
            base = ".".join(filter(None, (base, node.module)))
            found.update(f"{base}.{alias.name}" for alias in node.names)
    return found


def imported_by(name: str) -> set[str]:
    """Our modules that ``name`` imports, anywhere in its body."""
    path = modules()[name]
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = {_known(target) for target in imports_in(path.read_text(encoding="utf-8"), package)}
    return {target for target in found if target and target != name}


@cache
def graph() -> dict[str, frozenset[str]]:
    return {name: frozenset(imported_by(name)) for name in modules()}


def wing(name: str) -> str:
    """``inference``, a subpackage of ``bot`` (``core``, ``slack``...), or ``top`` for the modules directly in ``bot/``."""
    parts = name.split(".")
    if parts[0] == "inference":
        return "inference"
    if len(parts) >= 2 and (ROOT / "bot" / parts[1]).is_dir():
        return parts[1]
    return "top"


def cycles(edges: dict[str, frozenset[str]]) -> Iterator[tuple[list[str], list[str]]]:
    """Each group of modules that import each other in a circle (a strongly connected component of
    more than one module, by Tarjan's algorithm), with one circle through it."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()

    def visit(node: str) -> Iterator[tuple[list[str], list[str]]]:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in sorted(edges.get(node, ())):
            if target not in index:
                yield from visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                yield sorted(component), _cycle_through(sorted(component), edges)

    for node in sorted(edges):
        if node not in index:
            yield from visit(node)


def _cycle_through(component: list[str], edges: dict[str, frozenset[str]]) -> list[str]:
    """A shortest way from the component's first module back to itself, to show in the failure."""
    members, start = set(component), component[0]
    paths = {start: [start]}
    frontier = [start]
    while frontier:
        following = []
        for node in frontier:
            for target in sorted(edges[node] & members):
                if target == start:
                    return [*paths[node], start]
                if target not in paths:
                    paths[target] = [*paths[node], target]
                    following.append(target)
        frontier = following
    return component


def test_the_walk_sees_imports_everywhere() -> None:
    """The walk itself: absolute and relative imports, modules imported from their package, and imports inside
    functions are all found."""
    source = """
import bot.handler
from bot.core.config import Settings
from . import ui
from ..stores import state


def lazy():
    from bot.form.routes import handle_form
"""
    assert imports_in(source, "bot.slack") >= {
        "bot.handler",
        "bot.core.config.Settings",
        "bot.slack.ui",
        "bot.stores.state",
        "bot.form.routes.handle_form",
    }
    assert _known("bot.core.config.Settings") == "bot.core.config" and _known("bot.slack.ui") == "bot.slack.ui"
    edges = graph()
    assert "inference.registry" in edges["bot.handler"]
    assert "bot.form.routes" in edges["bot.router"]  # imported on the first /go request only
    assert "inference.handler" in edges["bot.local.workers"]  # imported in a worker process only


def test_each_module_has_its_wing() -> None:
    assert [wing(name) for name in ("bot.handler", "bot", "bot.core.config", "bot.core", "bot.local.server")] == [
        "top",
        "top",
        "core",
        "core",
        "local",
    ]
    assert wing("inference.registry") == "inference"
    assert "slack" not in MAY_IMPORT["core"] and "top" not in MAY_IMPORT["form"] and not MAY_IMPORT["inference"]


def test_no_import_circles() -> None:
    found = [f"{', '.join(group)}: {' → '.join(cycle)}" for group, cycle in cycles(graph())]
    assert not found, "import circles (break each by moving what both sides need below them):\n" + "\n".join(found)


def test_imports_point_one_way() -> None:
    upward = [
        f"{name} ({wing(name)}/) imports {target} ({wing(target)}/)"
        for name, targets in sorted(graph().items())
        for target in sorted(targets)
        if wing(target) != wing(name) and wing(target) not in MAY_IMPORT[wing(name)]
    ]
    assert not upward, "imports against the wings' order (docs/architecture.md):\n" + "\n".join(upward)


def test_bot_has_a_dozen_modules_at_most_at_its_top_level() -> None:
    top = sorted(path.name for path in (ROOT / "bot").glob("*.py"))
    assert len(top) <= MAX_TOP_LEVEL_MODULES, f"{len(top)} modules directly in bot/: {', '.join(top)}"


@pytest.mark.parametrize("folder", sorted(p.name for p in (ROOT / "bot").iterdir() if (p / "__init__.py").exists()))
def test_every_wing_is_known_and_says_what_it_may_import(folder: str) -> None:
    """A new subpackage gets its rules here, and its ``__init__`` says what lives there and what it may import."""
    assert folder in WINGS, f"bot/{folder}/ is not a wing this test knows: add it to MAY_IMPORT"
    doc = ast.get_docstring(ast.parse((ROOT / "bot" / folder / "__init__.py").read_text(encoding="utf-8")))
    assert doc and "import" in doc, f"bot/{folder}/__init__.py needs a docstring saying what it may import"


def test_router_imports_no_torch_or_transformers() -> None:
    result = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", "import bot.handler, bot.router, bot.form.routes"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    heavy = [line for line in result.stderr.splitlines() if any(m in line for m in ("torch", "transformers", "numpy"))]
    assert heavy == []
