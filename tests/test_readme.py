"""The README's promises stay true: its example entry loads, its task table matches the code."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from inference.registry import parse_registry
from inference.tasks import TASKS

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")


def test_example_registry_entry_is_valid() -> None:
    section = README.split("## Adding a model", 1)[1]
    block = re.search(r"```yaml\n(.*?)```", section, re.S).group(1)
    entry = yaml.safe_load(block)[0]
    default = yaml.safe_load((ROOT / "inference" / "models.yaml").read_text())
    registry = parse_registry({"models": [*default["models"], entry]}, base=ROOT, path=ROOT / "x.yaml")
    assert registry.get(entry["name"]).command == f"/{entry['name']}"


def test_task_table_lists_every_task() -> None:
    table = README.split("### Tasks and how one line", 1)[1].split("\n\n", 2)[2].split("\n\n", 1)[0]
    listed = set(re.findall(r"^\| `([a-z-]+)` \|", table, re.M))
    assert listed == set(TASKS)


def test_the_two_commands_are_there() -> None:
    assert "python -m bot serve" in README
    assert "bash .ci/run" in README
