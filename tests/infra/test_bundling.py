"""The router's bundle and the model image's build context, assembled without Docker.

pip is replaced by a fake that records its arguments and writes a small
package, so these tests run offline; the session synthesis uses the real pip
(see ``test_the_synthesized_router_bundle_is_built_for_lambda``).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from infra import bundling
from infra.bundling import BundlingError, model_image_context, router_bundle
from tests.infra.conftest import Synthesis

REGISTRY = "models:\n  - name: sentiment\n"


class FakePip:
    """Stands in for ``subprocess.run`` of pip: writes what pip would, counts the calls."""

    def __init__(self, returncode: int = 0) -> None:
        self.calls: list[list[str]] = []
        self.returncode = returncode

    def __call__(self, command: list[str], **_: object) -> subprocess.CompletedProcess[str]:
        self.calls.append(command)
        target = Path(command[command.index("--target") + 1])
        for relative in ("slack_bolt/__init__.py", "slack_bolt/__pycache__/app.cpython-314.pyc", "bin/slack"):
            (target / relative).parent.mkdir(parents=True, exist_ok=True)
            (target / relative).write_text("# installed\n")
        return subprocess.CompletedProcess(command, self.returncode, "", "ERROR: no matching distribution")


@pytest.fixture
def pip(monkeypatch: pytest.MonkeyPatch) -> FakePip:
    fake = FakePip()
    monkeypatch.setattr(bundling.subprocess, "run", fake)
    return fake


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A checkout with a bot package and the whole inference package."""
    root = tmp_path / "repo"
    files = {
        "bot/__init__.py": "",
        "bot/handler.py": "def handler(event, context): ...\n",
        "bot/form/web/form.html": "<form></form>\n",
        "bot/__pycache__/handler.cpython-311.pyc": "stale",
        "bot/requirements.txt": "slack-bolt>=1.21,<2\n",
        "inference/__init__.py": "",
        "inference/errors.py": "",
        "inference/tasks.py": "",
        "inference/registry.py": "",
        "inference/backends.py": "",
        "inference/media.py": "",
        "inference/media_store.py": "",
        "inference/redaction.py": "",
        "inference/handler.py": "import torch\n",
        "inference/service.py": "",
        "inference/Dockerfile": "FROM scratch\n",
        "inference/models.yaml": REGISTRY,
    }
    for relative, text in files.items():
        (root / relative).parent.mkdir(parents=True, exist_ok=True)
        (root / relative).write_text(text)
    return root


def listing(folder: Path) -> set[str]:
    return {path.relative_to(folder).as_posix() for path in folder.rglob("*") if path.is_file()}


def test_the_router_bundle_holds_the_router_the_light_inference_modules_and_dependencies(
    repo: Path, tmp_path: Path, pip: FakePip
) -> None:
    registry = tmp_path / "team-models.yaml"
    registry.write_text("models:\n  - name: team\n")
    bundle = router_bundle(registry, repo=repo, cache_dir=tmp_path / "cache")
    assert listing(bundle) == {
        "bot/__init__.py",
        "bot/handler.py",
        "bot/form/web/form.html",
        "bot/requirements.txt",
        "inference/__init__.py",
        "inference/errors.py",
        "inference/tasks.py",
        "inference/registry.py",
        "inference/backends.py",
        "inference/media.py",
        "inference/media_store.py",
        "inference/redaction.py",
        "inference/models.yaml",
        "slack_bolt/__init__.py",
    }
    assert (bundle / "inference" / "models.yaml").read_text() == registry.read_text()


def test_the_bundle_holds_every_inference_module_the_router_imports() -> None:
    """The Lambda entry, imported in a fresh process: each ``inference`` module it loads must be in the bundle."""
    probe = "import sys, bot.handler; print(' '.join(m for m in sys.modules if m.split('.')[0] == 'inference'))"
    done = subprocess.run(
        [sys.executable, "-c", probe], cwd=bundling.REPO, capture_output=True, text=True, timeout=120, check=True
    )
    imported = {name.removeprefix("inference").strip(".") for name in done.stdout.split()}
    files = {f"{name.replace('.', '/')}.py" if name else "__init__.py" for name in imported}
    assert files <= set(bundling.ROUTER_INFERENCE_MODULES)


def test_dependencies_are_installed_as_binary_wheels_for_the_routers_runtime(
    repo: Path, tmp_path: Path, pip: FakePip
) -> None:
    router_bundle(repo / "inference" / "models.yaml", repo=repo, cache_dir=tmp_path / "cache")
    (command,) = pip.calls
    assert command[command.index("--requirement") + 1] == str(repo / "bot" / "requirements.txt")
    assert command[command.index("--platform") + 1] == "manylinux2014_x86_64"
    assert command[command.index("--python-version") + 1] == bundling.ROUTER_RUNTIME.name.removeprefix("python")
    assert "--only-binary=:all:" in command


def test_pip_runs_again_only_when_the_requirements_change(repo: Path, tmp_path: Path, pip: FakePip) -> None:
    cache = tmp_path / "cache"
    registry = repo / "inference" / "models.yaml"
    first = router_bundle(registry, repo=repo, cache_dir=cache)
    assert router_bundle(registry, repo=repo, cache_dir=cache) == first
    (repo / "bot" / "handler.py").write_text("def handler(event, context): return {}\n")
    changed = router_bundle(registry, repo=repo, cache_dir=cache)
    assert changed != first
    assert (changed / "bot" / "handler.py").read_text() == "def handler(event, context): return {}\n"
    assert len(pip.calls) == 1
    (repo / "bot" / "requirements.txt").write_text("slack-bolt>=1.22,<2\n")
    router_bundle(registry, repo=repo, cache_dir=cache)
    assert len(pip.calls) == 2


def test_a_pip_failure_is_reported_with_its_output(repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(bundling.subprocess, "run", FakePip(returncode=1))
    with pytest.raises(BundlingError, match="no matching distribution"):
        router_bundle(repo / "inference" / "models.yaml", repo=repo, cache_dir=tmp_path / "cache")
    assert not list((tmp_path / "cache" / "dependencies").iterdir())


def test_the_default_registry_builds_the_image_from_the_inference_folder_itself(repo: Path, tmp_path: Path) -> None:
    assert model_image_context(repo / "inference" / "models.yaml", repo=repo, cache_dir=tmp_path) == repo / "inference"


def test_another_registry_builds_the_image_from_a_copy_holding_that_registry(repo: Path, tmp_path: Path) -> None:
    registry = tmp_path / "team-models.yaml"
    registry.write_text("models:\n  - name: team\n")
    context = model_image_context(registry, repo=repo, cache_dir=tmp_path / "cache")
    assert (context / "models.yaml").read_text() == registry.read_text()
    assert (context / "Dockerfile").read_text() == "FROM scratch\n"
    assert (context / "handler.py").is_file()
    assert (repo / "inference" / "models.yaml").read_text() == REGISTRY


def test_the_synthesized_router_bundle_is_built_for_lambda(synth: Synthesis) -> None:
    function = synth.raw["Resources"][synth.logical_id(synth.stack.router.function)]
    asset = Path(synth.assembly.directory) / f"asset.{function['Properties']['Code']['S3Key'].removesuffix('.zip')}"
    files = listing(asset)
    assert {"bot/handler.py", "inference/registry.py", "inference/models.yaml", "slack_bolt/__init__.py"} <= files
    assert (asset / "inference" / "models.yaml").read_bytes() == synth.registry.path.read_bytes()
    assert not [f for f in files if "__pycache__" in f or f.startswith(("bin/", "inference/handler.py"))]
    # PyYAML's C extension, compiled for the router's Python on Lambda's platform, not for this machine.
    version = bundling.PYTHON_VERSION.replace(".", "")
    assert f"yaml/_yaml.cpython-{version}-x86_64-linux-gnu.so" in files
