"""The small JSON files that conversions leave beside what they made, read back without the tools that made them.

Each is a dataclass with a ``format`` field: a reader refuses a file from another format, so an
older runner never misreads a newer conversion (warm then makes it again).
"""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from typing import Any, ClassVar, Self


class JsonRecord:
    """Mixin for a dataclass kept as ``FILE`` in a folder; ``KIND`` names it in errors."""

    FILE: ClassVar[str]
    KIND: ClassVar[str]

    def write(self, folder: Path) -> None:
        (folder / self.FILE).write_text(json.dumps(asdict(self), indent=2) + "\n", encoding="utf-8")

    @classmethod
    def read(cls, folder: Path) -> Self:
        """Read ``folder``'s file.

        Raises:
            FileNotFoundError: there is no such file (no complete conversion in ``folder``).
            ValueError: it is unreadable, or from another format.
        """
        path = folder / cls.FILE
        data: Any = json.loads(path.read_text(encoding="utf-8"))
        expected = cls.__dataclass_fields__["format"].default
        if not isinstance(data, dict) or data.get("format") != expected:
            raise ValueError(f"{path} is not a format-{expected} {cls.KIND}")
        try:
            return cls(**data)
        except TypeError as exc:
            raise ValueError(f"{path} does not match this version: {exc}") from exc
