"""Registry entries built in code, for tests that need a :class:`~inference.registry.ModelSpec` but no file.

:func:`model_spec` gives an entry as ``load_registry`` would, with every field a test does not care
about filled in: a text classifier named ``sentiment`` pinned on the Hub at :data:`PIN`. A test names
only what it is about; ``folder`` makes it an entry served from a folder on disk instead. Unlike the
registry, the entry's backend is ``ModelSpec``'s own default (torch) unless the test names one.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from inference.registry import ModelSpec

#: The revision every Hub entry is pinned at: any full 40-character commit hash will do.
PIN = "0123456789abcdef0123456789abcdef01234567"


def model_spec(name: str = "sentiment", *, folder: Path | None = None, **fields: Any) -> ModelSpec:
    """An entry called ``name`` (its title, and ``/name`` its command), with ``fields`` over the defaults.

    With ``folder``, the entry serves that folder (``model`` is its path, no revision); otherwise
    it is ``owner/model`` pinned at :data:`PIN`.
    """
    values: dict[str, Any] = {
        "name": name,
        "task": "text-classification",
        "model": "owner/model",
        "revision": PIN,
        "title": name,
        "description": "",
        "example": "",
        "memory": 1024,
        "timeout": 60,
        "command": f"/{name}",
    }
    if folder is not None:
        values.update(model=str(folder), revision=None, local_path=folder)
    return ModelSpec(**{**values, **fields})
