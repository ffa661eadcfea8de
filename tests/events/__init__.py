"""Sample events as Slack and AWS send them, one JSON file each, loaded by :func:`load_event`.

The ids are fake but consistent: workspace ``T0001``, person ``U123`` in
channel ``C123``, the bot ``UBOT``/``BBOT`` (what the fake Slack API's
``auth.test`` answers), and ``1700000000.000100`` as the placeholder's ts
(the first ts a fresh fake hands out). Response URLs point at a closed
loopback port, so a test that forgets to swap in ``fake.new_response_url()``
fails at once instead of reaching the internet.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

EVENTS_DIR = Path(__file__).parent


def available() -> list[str]:
    """The names :func:`load_event` accepts."""
    return sorted(p.stem for p in EVENTS_DIR.glob("*.json"))


@cache
def _read(name: str) -> str:
    path = EVENTS_DIR / f"{name}.json"
    if not path.is_file():
        raise FileNotFoundError(f"No sample event {name!r}; there are: {', '.join(available())}")
    return path.read_text(encoding="utf-8")


def deep_merge(base: dict[str, Any], overrides: dict[str, Any]) -> dict[str, Any]:
    """``base`` with ``overrides`` applied: dicts merge key by key, anything else (lists too) replaces."""
    merged = dict(base)
    for key, value in overrides.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def load_event(name: str, /, **overrides: Any) -> dict[str, Any]:
    """A fresh copy of sample ``name`` with ``overrides`` deep-merged in.

    Example: ``load_event("app_mention", event={"text": "<@UBOT> help"})`` keeps
    every other field of the event.

    Raises:
        FileNotFoundError: no such sample (the message lists the ones there are).
    """
    return deep_merge(json.loads(_read(name)), overrides)
