"""The README's promises stay true: its example entry loads, its task table matches the code, its installs take CPU torch."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from inference.registry import parse_registry
from inference.tasks import TASKS

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")
TORCH_PIN = re.search(
    r"^torch==\S+$", (ROOT / "inference" / "requirements-convert.txt").read_text(encoding="utf-8"), re.M
)
#: PyPI's Linux torch is the CUDA build: the CPU one, alone, from PyTorch's index, before anything needs torch.
CPU_TORCH_FIRST = f"--no-deps {TORCH_PIN.group(0)} --index-url https://download.pytorch.org/whl/cpu"
#: An install that brings torch: the conversion requirements (alone or through requirements.txt), or the `convert`
#: extra. The serving requirements (inference/requirements.txt) and the `model` extra hold no torch.
TORCH_INSTALL = re.compile(
    r"pip install [^\n&]*?(-r (?!infra/|inference/requirements\.txt)\S*requirements(-convert)?\.txt|\.\[[\w,]*convert)"
)


def bash_block(heading: str) -> str:
    return re.search(r"```bash\n(.*?)```", README.split(heading, 1)[1], re.S).group(1)


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


@pytest.mark.parametrize(
    "text",
    [
        bash_block("## Two commands"),
        bash_block("## Installing it as a package"),
        (ROOT / ".ci" / "run").read_text(encoding="utf-8"),
        (ROOT / "inference" / "Dockerfile.convert").read_text(encoding="utf-8"),
        (ROOT / "docs" / "deploy.md").read_text(encoding="utf-8"),
    ],
    ids=["README run locally", "README convert extra", ".ci/run", "Dockerfile.convert", "deploy guide"],
)
def test_every_install_of_torch_takes_the_cpu_torch_first(text: str) -> None:
    installs = list(TORCH_INSTALL.finditer(text))
    assert installs
    for install in installs:
        assert CPU_TORCH_FIRST in text[: install.start()], f"{install.group(0)!r} must follow `{CPU_TORCH_FIRST}`"


def test_the_backends_table_is_the_codes() -> None:
    """Each task's default backend as inference/backends.py prefers it, and the quantizations of those in the table."""
    from inference.backends import BACKENDS, TORCH, default_backend

    table = README.split("<!-- backends table:", 1)[1].split("\n\n", 1)[0]
    rows = [line.split(" | ") for line in table.splitlines() if line.startswith("| `") or line.startswith("| any")]
    listed: list[str] = []
    for tasks, backend, quantize, _ in rows:
        named = re.findall(r"`([a-z0-9-]+)`", backend)[0]
        if tasks == "| any":
            assert (named, re.findall(r"`([a-z0-9]+)`", quantize)) == (TORCH, list(BACKENDS[TORCH].quantizations))
            continue
        for task in re.findall(r"`([a-z-]+)`", tasks):
            listed.append(task)
            assert default_backend(task) == named, task
        if named in BACKENDS:
            assert re.findall(r"`([a-z0-9]+)`", quantize) == list(BACKENDS[named].quantizations), named
    assert sorted(listed) == sorted(TASKS)
