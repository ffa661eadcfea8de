"""Static security: bandit over the project's Python, and what the model side agrees to load.

bandit runs at medium severity and above (``-ll``); every finding must be one
listed in :data:`ACCEPTED` with its reason (docs/security.md repeats them), or carry an inline
``# nosec RULE  # reason``.
The model side loads safetensors only and never runs a repository's own code:
checked by loading every tiny model through the real runners while recording
what they pass to transformers and refusing any pickle read.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from inference.errors import RegistryError
from inference.registry import parse_registry

ROOT = Path(__file__).resolve().parents[2]
SCANNED = ("bot", "inference", "infra")
#: (file, bandit test id) → why the finding is not a vulnerability here. Empty: the two cases once
#: listed here now carry their reason beside an inline ``# nosec``.
ACCEPTED: dict[tuple[str, str], str] = {}


def bandit_findings() -> list[dict[str, Any]]:
    """Medium and high findings of ``bandit -r bot inference infra -ll`` as JSON records."""
    command = [sys.executable, "-m", "bandit", "-r", *SCANNED, "-ll", "-q", "-f", "json"]
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=120, check=False)
    report = json.loads(done.stdout)
    assert not report["errors"], report["errors"]
    return report["results"]


def test_bandit_finds_nothing_unexplained() -> None:
    found = {
        (r["filename"], r["test_id"]): f"{r['filename']}:{r['line_number']} {r['issue_text']}"
        for r in bandit_findings()
    }
    unexplained = [text for key, text in found.items() if key not in ACCEPTED]
    assert not unexplained, "explain or fix (see docs/security.md):\n" + "\n".join(unexplained)
    stale = [f"{file} {test}" for file, test in ACCEPTED if (file, test) not in found]
    assert not stale, "accepted findings bandit no longer reports; remove them from ACCEPTED: " + ", ".join(stale)


def test_every_nosec_names_the_rule_it_silences() -> None:
    """A bare ``# nosec`` would silence every rule on its line, including ones nobody reviewed."""
    bare = []
    for folder in SCANNED:
        for path in sorted((ROOT / folder).rglob("*.py")):
            for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
                for match in re.finditer(r"#\s*nosec\b(.*)", line):
                    if not re.match(r":?\s*B\d{3}", match.group(1)):
                        bare.append(f"{path.relative_to(ROOT)}:{number}")
    assert not bare, bare


def registry_entry(**fields: Any) -> dict[str, Any]:
    return {"name": "remote", "task": "text-classification", "model": "owner/model", "revision": "0" * 40, **fields}


@pytest.mark.parametrize("value", [True, False, "yes"])
def test_a_registry_entry_asking_for_remote_code_is_refused(value: object) -> None:
    with pytest.raises(RegistryError, match="trust_remote_code is refused"):
        parse_registry({"models": [registry_entry(trust_remote_code=value)]}, base=ROOT, path=Path("models.yaml"))


def test_registry_defaults_asking_for_remote_code_are_refused() -> None:
    data = {"defaults": {"trust_remote_code": True}, "models": [registry_entry()]}
    with pytest.raises(RegistryError, match="trust_remote_code"):
        parse_registry(data, base=ROOT, path=Path("models.yaml"))


class Recorder:
    """Stands in for a transformers auto class: records the keyword arguments, then loads for real."""

    def __init__(self, real: Any, calls: list[tuple[str, dict[str, Any]]]) -> None:
        self.real, self.calls = real, calls

    def from_pretrained(self, *args: Any, **kwargs: Any) -> Any:
        self.calls.append((self.real.__name__, kwargs))
        return self.real.from_pretrained(*args, **kwargs)


def refuse(what: str) -> Callable[..., Any]:
    def refused(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError(f"{what} was called: something tried to read pickled weights")

    return refused


@pytest.mark.slow
def test_every_runner_loads_safetensors_without_remote_code(
    tiny_registry: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import importlib

    import torch

    from inference.backends import BACKENDS, TORCH
    from inference.registry import load_registry
    from inference.runners import base, load_runner

    calls: list[tuple[str, dict[str, Any]]] = []
    monkeypatch.setattr(torch, "load", refuse("torch.load"))
    monkeypatch.setattr(base, "AutoTokenizer", Recorder(base.AutoTokenizer, calls))
    for target in set(BACKENDS[TORCH].runners.values()):
        module, _, name = target.partition(":")
        runner_class = getattr(importlib.import_module(module), name)
        monkeypatch.setattr(runner_class, "auto_class", Recorder(runner_class.auto_class, calls))

    registry = load_registry(tiny_registry)
    for spec in registry:
        load_runner(spec)

    models = [kwargs for name, kwargs in calls if name != "AutoTokenizer"]
    assert len(models) == len(registry), "every entry loads exactly one model through its auto class"
    assert all(kwargs["use_safetensors"] is True for kwargs in models)
    assert all(kwargs["trust_remote_code"] is False for _, kwargs in calls)
