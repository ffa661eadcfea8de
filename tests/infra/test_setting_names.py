"""The stack names the router's settings by ``bot.core.config``'s constants, never by spelling them again.

Read with :mod:`ast`, without synthesizing anything: a string in ``infra/`` that is one of the router's
variable names is a second place for that name, which could drift from the one the router reads.
"""

from __future__ import annotations

import ast
from pathlib import Path

from bot.core import config

ROOT = Path(__file__).resolve().parents[2]
#: Every variable name the router reads (each ``NAME = "VALUE"`` of config whose value is a variable's name),
#: but Powertools' own, which every function of the stack sets for itself (the models, the warm step).
NAMES = {
    value
    for name, value in vars(config).items()
    if name.isupper()
    and isinstance(value, str)
    and value.isupper()
    and value.replace("_", "").isalpha()
    and not value.startswith("POWERTOOLS_")
}


def test_the_names_are_the_routers() -> None:
    assert {"SLACK_SECRET_ID", "MODEL_FUNCTION_PREFIX", "MODELS_FILE", "STATE_TABLE", "FEEDBACK_TABLE"} <= NAMES
    assert {"SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET", "DEMO_PASSCODE", "LOG_LEVEL"} <= NAMES


def test_infra_spells_none_of_the_routers_variable_names() -> None:
    spelled = [
        f"{path.relative_to(ROOT)}:{node.lineno}: {node.value}"
        for path in sorted((ROOT / "infra").glob("*.py"))
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
        if isinstance(node, ast.Constant) and node.value in NAMES
    ]
    assert spelled == [], "use bot.core.config's constant instead: " + ", ".join(spelled)
