"""The project installs as a package, and its extras are the per-piece requirements files.

The slow tests install a copy of the working tree with its ``router`` extra into a
fresh virtual environment, as ``pip install .[router]`` does, and run its commands
from a folder outside the checkout, so the registry and the form's assets they
read can only come from the installed package. (A copy, because pip builds in the
source tree and would leave ``build/`` and ``*.egg-info`` in the checkout.)
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tomllib
from dataclasses import dataclass
from pathlib import Path

import pytest
from packaging.requirements import Requirement

from bot.form.page import model_catalog, render_page
from bot.slack.manifest import render_manifest
from inference.registry import DEFAULT_MODELS_FILE, load_registry

ROOT = Path(__file__).resolve().parent.parent
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
INSTALL_SECONDS = 600
#: What the router's extra must never bring: the model side and the CDK app.
HEAVY = {"torch", "transformers", "tokenizers", "safetensors", "huggingface-hub", "onnxruntime", "aws-cdk-lib"}
LIGHT = {"slack-bolt", "slack-sdk", "boto3", "aws-lambda-powertools", "pyyaml"}
API_URL = "https://abc123.execute-api.eu-west-1.amazonaws.com/prod"
#: Renders the /go page with the installed package; prints where that package lives, then the page.
RENDER_PAGE = """
import bot
from bot.form.page import model_catalog, render_page
from inference.registry import load_registry
print(bot.__file__)
print(render_page(catalog=model_catalog(load_registry()), locked=False, nonce="n0nce"), end="")
"""
#: Every file of the installed distribution, as its RECORD lists them (scripts are ``../../../bin/...``).
LIST_FILES = """
import json
from importlib.metadata import files
print(json.dumps([f.as_posix() for f in files("hf-slack-lambda")]))
"""
LIST_DISTRIBUTIONS = """
import json
from importlib.metadata import distributions
print(json.dumps([d.metadata["Name"] for d in distributions()]))
"""


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def extra_files() -> set[str]:
    extras = PYPROJECT["tool"]["setuptools"]["dynamic"]["optional-dependencies"]
    return {file for extra in extras.values() for file in extra["file"]}


def test_requirements_txt_installs_every_extra_and_nothing_else() -> None:
    lines = [line for line in (ROOT / "requirements.txt").read_text(encoding="utf-8").splitlines() if line.strip()]
    included = {line.removeprefix("-r ") for line in lines if not line.startswith("#")}
    assert included == extra_files(), "requirements.txt must be `-r` lines to exactly the files the extras read"


def test_the_extras_files_hold_requirements_only() -> None:
    """setuptools reads them as it does here: each line not blank or a comment is one requirement."""
    for relative in extra_files():
        for line in (ROOT / relative).read_text(encoding="utf-8").splitlines():
            if line.strip() and not line.strip().startswith("#"):
                Requirement(line)  # a pip option (-r, --index-url) or a trailing comment raises


def working_tree_files() -> list[str]:
    """The checkout's files as a fresh clone of it would have them, with work in progress, without ignored ones."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        capture_output=True,
        check=True,
    ).stdout.decode()
    # A tracked file may have been deleted in the working tree.
    return [relative for relative in listed.split("\0") if relative and (ROOT / relative).is_file()]


@dataclass
class Install:
    venv: Path
    elsewhere: Path
    env: dict[str, str]

    def run(self, *command: str) -> str:
        done = subprocess.run(
            command, cwd=self.elsewhere, env=self.env, capture_output=True, text=True, timeout=120, check=False
        )
        assert done.returncode == 0, done.stderr
        return done.stdout

    def python(self, code: str) -> str:
        return self.run(str(self.venv / "bin" / "python"), "-c", code)

    def script(self, name: str, *args: str) -> str:
        return self.run(str(self.venv / "bin" / name), *args)


@pytest.fixture(scope="module")
def router_install(tmp_path_factory: pytest.TempPathFactory) -> Install:
    """``pip install <copy of the working tree>[router]`` into a new virtual environment."""
    work = tmp_path_factory.mktemp("packaging")
    source = work / "source"
    for relative in working_tree_files():
        (source / relative).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / relative, source / relative)
    venv = work / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    pip = [str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
    done = subprocess.run(
        [*pip, f"{source}[router]"], capture_output=True, text=True, timeout=INSTALL_SECONDS, check=False
    )
    assert done.returncode == 0, done.stderr
    shutil.rmtree(source)  # nothing may be read from the copy after the install
    elsewhere = work / "elsewhere"
    elsewhere.mkdir()
    env = {key: value for key, value in os.environ.items() if key not in {"MODELS_FILE", "PYTHONPATH"}}
    return Install(venv=venv, elsewhere=elsewhere, env=env)


@pytest.mark.slow
def test_the_router_extra_installs_the_light_dependencies_only(router_install: Install) -> None:
    installed = {canonical(name) for name in json.loads(router_install.python(LIST_DISTRIBUTIONS))}
    assert installed >= LIGHT | {"hf-slack-lambda"}
    assert not installed & HEAVY


@pytest.mark.slow
def test_the_wheel_holds_the_two_packages_their_data_and_the_commands(router_install: Install) -> None:
    files = json.loads(router_install.python(LIST_FILES))
    installed = {f for f in files if f.startswith(("bot/", "inference/")) and "__pycache__" not in f}
    sources = {f for f in working_tree_files() if f.startswith(("bot/", "inference/")) and f.endswith(".py")}
    web = ROOT / "bot" / "form" / "web"  # the page's assets and the parts of its script (web/form/)
    data = {f"bot/form/web/{path.relative_to(web).as_posix()}" for path in web.rglob("*") if path.is_file()} | {
        "inference/models.yaml"
    }
    assert installed == sources | data
    assert {f.split("/", 1)[0] for f in files if not f.startswith("../")} == {
        "bot",
        "inference",
        "hf_slack_lambda-0.1.0.dist-info",
    }
    scripts = {f.rsplit("/", 1)[1] for f in files if f.startswith("../")}
    assert scripts == set(PYPROJECT["project"]["scripts"])


@pytest.mark.slow
@pytest.mark.parametrize("command", [("hf-slack-bot",), ("python", "-m", "bot")], ids=["script", "module"])
def test_the_manifest_comes_from_the_installed_registry(router_install: Install, command: tuple[str, ...]) -> None:
    printed = router_install.script(*command, "manifest", "--url", API_URL)
    assert printed == render_manifest(load_registry(DEFAULT_MODELS_FILE), API_URL)


@pytest.mark.slow
@pytest.mark.parametrize("command", [("hf-slack-inference",), ("python", "-m", "inference")], ids=["script", "module"])
def test_inference_list_shows_the_installed_registry(router_install: Install, command: tuple[str, ...]) -> None:
    rows = router_install.script(*command, "list").splitlines()[1:]
    assert [row.split()[0] for row in rows] == load_registry(DEFAULT_MODELS_FILE).names


@pytest.mark.slow
def test_the_installed_form_page_inlines_the_installed_assets(router_install: Install) -> None:
    location, page = router_install.python(RENDER_PAGE).split("\n", 1)
    assert Path(location).is_relative_to(router_install.venv)
    assert page == render_page(catalog=model_catalog(load_registry(DEFAULT_MODELS_FILE)), locked=False, nonce="n0nce")


@pytest.mark.slow
@pytest.mark.parametrize(
    ("command", "usage"),
    [
        (("hf-slack-bot",), "usage: hf-slack-bot "),
        (("python", "-m", "bot"), "usage: python -m bot "),
        (("hf-slack-inference",), "usage: hf-slack-inference "),
        (("python", "-m", "inference"), "usage: python -m inference "),
    ],
    ids=["bot-script", "bot-module", "inference-script", "inference-module"],
)
def test_usage_names_the_command_the_person_typed(
    router_install: Install, command: tuple[str, ...], usage: str
) -> None:
    assert router_install.script(*command, "--help").startswith(usage)
