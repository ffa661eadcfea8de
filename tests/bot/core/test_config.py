"""Settings: read once, in ``bot/core/config.py``, typed, with a named error for a value the router cannot use."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from bot.core import config
from bot.core.config import SettingError, form_passcode, load_settings

ROOT = Path(__file__).resolve().parents[3]
#: The one module of ``bot`` that reads the environment.
READER = ROOT / "bot" / "core" / "config.py"
#: What a module may do with ``os.environ`` without reading it: a local worker process sets its own.
WRITES = ("pop",)


def _environment_reads(source: str) -> list[int]:
    """Line numbers where ``source`` reads the environment: ``os.getenv``, ``os.environ`` other than
    assigning, deleting or popping a variable, or ``environ`` / ``getenv`` imported from ``os``."""
    tree = ast.parse(source)
    parents = {child: node for node in ast.walk(tree) for child in ast.iter_child_nodes(node)}
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module == "os":
            found += [node.lineno for alias in node.names if alias.name in ("environ", "getenv", "getenvb")]
        if not (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "os"):
            continue
        if node.attr in ("getenv", "getenvb", "environb"):
            found.append(node.lineno)
        elif node.attr == "environ":
            parent = parents[node]
            written = isinstance(parent, ast.Subscript) and isinstance(parent.ctx, ast.Store | ast.Del)
            popped = (
                isinstance(parent, ast.Attribute)
                and parent.attr in WRITES
                and isinstance(parents[parents[parent]], ast.Expr)  # the value popped is thrown away
            )
            if not (written or popped):
                found.append(node.lineno)
    return sorted(found)


def test_the_walk_finds_every_way_of_reading_the_environment() -> None:
    source = """
import os
from os import environ
a = os.environ.get("A")
b = os.getenv("B")
c = os.environ["C"]
os.environ.setdefault("D", "1")
e = os.environ.pop("E", None)
os.environ["F"] = "1"
del os.environ["G"]
os.environ.pop("H", None)
"""
    assert _environment_reads(source) == [3, 4, 5, 6, 7, 8]


def test_no_module_of_the_router_but_config_reads_the_environment() -> None:
    readers = [
        f"{path.relative_to(ROOT)}:{line}"
        for path in sorted((ROOT / "bot").rglob("*.py"))
        if path != READER and "__pycache__" not in path.parts
        for line in _environment_reads(path.read_text(encoding="utf-8"))
    ]
    assert readers == [], "read the setting in bot/core/config.py and pass it down: " + ", ".join(readers)


def test_the_defaults() -> None:
    settings = load_settings({})
    assert (settings.log_level, settings.service_name, settings.local) == ("INFO", "router", False)
    assert settings.secrets.values() == ()


def test_each_setting_is_read_from_its_variable() -> None:
    settings = load_settings(
        {
            config.LOG_LEVEL: "debug",
            config.SERVICE_NAME: "router-dev",
            config.SLACK_APP_TOKEN: "xapp-1",
            config.DEMO_PASSCODE: "open sesame",
            config.LOCAL_MODE: "1",
        }
    )
    assert (settings.log_level, settings.service_name, settings.local) == ("DEBUG", "router-dev", True)
    assert (settings.secrets.app_token, settings.secrets.passcode) == ("xapp-1", "open sesame")
    assert form_passcode({config.DEMO_PASSCODE: "open sesame"}) == "open sesame"


def test_local_mode_is_the_default_of_bot_serve_unless_the_variable_says_otherwise() -> None:
    assert load_settings({}, local_by_default=True).local
    assert not load_settings({config.LOCAL_MODE: "0"}, local_by_default=True).local


def test_an_unknown_log_level_is_refused_by_name() -> None:
    with pytest.raises(SettingError, match="LOG_LEVEL must be one of DEBUG, INFO, WARNING, ERROR, CRITICAL"):
        load_settings({config.LOG_LEVEL: "chatty"})


def test_every_secret_is_redacted_and_none_is_shown() -> None:
    secrets = load_settings(
        {
            config.SLACK_BOT_TOKEN: "xoxb-1",
            config.SLACK_SIGNING_SECRET: "s3cret",
            config.DEMO_PASSCODE: "pass",
            config.SLACK_APP_TOKEN: "xapp-1",
        }
    ).secrets
    assert secrets.values() == ("xoxb-1", "s3cret", "pass", "xapp-1")
    assert not any(value in repr(secrets) for value in secrets.values())
