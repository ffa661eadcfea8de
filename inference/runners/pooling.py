"""How an embedding model turns its token vectors into one vector, read the way sentence-transformers reads it.

A sentence-transformers model folder says so in ``modules.json`` (a Transformer,
then a Pooling module whose folder holds a ``config.json``, then optionally a
Normalize module). Both backends read it through :func:`read_pooling`: the torch
runners from the model folder, the ONNX runners from the ``pooling.json`` that
the exporter writes beside the graph (:meth:`Pooling.save`), so the numpy
pooling after the session follows the same config as torch's.

This module imports nothing heavy: the ONNX runners read it without torch.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from inference.errors import ModelLoadError
from inference.runners import parameters as params

#: sentence-transformers' pooling modes (``Pooling.POOLING_MODES``), each a vector of the hidden size.
MODES = ("cls", "max", "mean", "mean_sqrt_len_tokens", "weightedmean", "lasttoken")
#: sentence-transformers' choice for an encoder without modules.json, and for a config that sets no mode.
DEFAULT_MODES = ("mean",)
#: The older config's one flag per mode, in the order sentence-transformers concatenates them.
LEGACY_FLAGS = {
    "pooling_mode_cls_token": "cls",
    "pooling_mode_max_tokens": "max",
    "pooling_mode_mean_tokens": "mean",
    "pooling_mode_mean_sqrt_len_tokens": "mean_sqrt_len_tokens",
    "pooling_mode_weightedmean_tokens": "weightedmean",
    "pooling_mode_lasttoken": "lasttoken",
}
#: The tasks whose answer is a pooled embedding.
POOLED_TASKS = frozenset({"feature-extraction", "sentence-similarity"})
#: The modules this project runs, in the only order it runs them (Normalize is optional).
CHAIN = ("Transformer", "Pooling", "Normalize")
MODULES_FILE = "modules.json"
#: What the ONNX exporter writes beside the graph for a pooled task.
POOLING_FILE = "pooling.json"


@dataclass(frozen=True)
class Pooling:
    """The pooling modes whose vectors are concatenated, in order, and whether the result is L2-normalised."""

    modes: tuple[str, ...] = DEFAULT_MODES
    normalize: bool = False

    def normalizes(self, parameters: dict[str, Any]) -> bool:
        """Whether a feature-extraction answer is L2-normalised: the model says so, or ``normalize: true`` asks."""
        return self.normalize or params.flag(parameters, "normalize", False)

    def save(self, folder: Path) -> None:
        """Write this pooling as ``folder/pooling.json`` (the ONNX export's copy of the model's config)."""
        data = {"modes": list(self.modes), "normalize": self.normalize}
        (folder / POOLING_FILE).write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")

    @classmethod
    def load(cls, folder: Path, model: str) -> Pooling:
        """Read what :meth:`save` wrote.

        Raises:
            ModelLoadError: the file is missing or unreadable.
        """
        path = folder / POOLING_FILE
        if not path.is_file():
            raise ModelLoadError(
                f"{model}: the ONNX export in {folder} has no {POOLING_FILE}. "
                f"Run `python -m inference warm --force {model}` with the same HF_HOME to export it again."
            )
        data = _json(path, model)
        if not isinstance(data, dict) or not isinstance(data.get("normalize"), bool):
            raise ModelLoadError(
                f"{model}: {path} is not what the exporter writes. Run `python -m inference warm {model}`."
            )
        return cls(_checked(data.get("modes"), model, path), data["normalize"])


def read_pooling(folder: Path, model: str) -> Pooling:
    """The pooling that sentence-transformers would apply to the model in ``folder``.

    Without a ``modules.json`` the model is a plain transformers encoder, and the
    mean of its tokens (not normalised) is the default: sentence-transformers
    builds the same for an encoder without ``modules.json`` (it picks the last
    token only for causal language models), and the mean reads every token,
    where a plain encoder's first token was never trained to stand for the sentence.

    Raises:
        ModelLoadError: ``modules.json`` or the Pooling config cannot be read, lists
            modules other than Transformer, Pooling and Normalize (in that order), or
            names a pooling mode sentence-transformers does not have.
    """
    modules_path = folder / MODULES_FILE
    if not modules_path.is_file():
        return Pooling()
    modules = _json(modules_path, model)
    if not isinstance(modules, list) or not all(
        isinstance(m, dict) and isinstance(m.get("type"), str) for m in modules
    ):
        raise ModelLoadError(f"{model}: {modules_path} is not a list of modules with a `type` each.")
    types = [module["type"] for module in modules]
    # A type outside sentence-transformers is the repository's own code, which is never run.
    ours = all(kind.startswith("sentence_transformers.") for kind in types)
    if not ours or [kind.rpartition(".")[2] for kind in types] not in (list(CHAIN[:2]), list(CHAIN)):
        raise ModelLoadError(
            f"{model}: its {MODULES_FILE} chains {' → '.join(types)}; this project runs only "
            f"sentence-transformers' {' → '.join(CHAIN)} (Normalize optional)."
        )
    config_path = folder / _inside(modules[1].get("path"), model) / "config.json"
    config = _json(config_path, model)
    if not isinstance(config, dict):
        raise ModelLoadError(f"{model}: {config_path} is not a pooling config.")
    return Pooling(_modes(config, model, config_path), normalize=len(types) == len(CHAIN))


def _modes(config: dict[str, Any], model: str, path: Path) -> tuple[str, ...]:
    """``pooling_mode`` (a name or a list), else the older config's flags; no flag set means mean."""
    if "pooling_mode" in config:
        chosen = config["pooling_mode"]
        return _checked([chosen] if isinstance(chosen, str) else chosen, model, path)
    unknown = sorted(key for key in config if key.startswith("pooling_mode") and key not in LEGACY_FLAGS)
    if unknown:
        raise ModelLoadError(f"{model}: {path} sets {', '.join(unknown)}, which sentence-transformers does not know.")
    return tuple(mode for key, mode in LEGACY_FLAGS.items() if config.get(key)) or DEFAULT_MODES


def _checked(modes: Any, model: str, path: Path) -> tuple[str, ...]:
    if not isinstance(modes, list | tuple) or not modes or not all(mode in MODES for mode in modes):
        raise ModelLoadError(
            f"{model}: {path} asks for pooling {modes!r}; the modes are {', '.join(MODES)} (one, or a list of them)."
        )
    return tuple(modes)


def _inside(relative: Any, model: str) -> str:
    """The Pooling module's folder, refused unless it is a folder inside the model's."""
    path = PurePosixPath(relative) if isinstance(relative, str) else None
    if path is None or path.is_absolute() or ".." in path.parts or not path.parts:
        raise ModelLoadError(
            f"{model}: its {MODULES_FILE} gives the Pooling module the path {relative!r}, not a folder inside the model's."
        )
    return relative


def _json(path: Path, model: str) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise ModelLoadError(f"{model}: {path} is missing.") from exc
    except (OSError, ValueError) as exc:
        raise ModelLoadError(f"{model}: {path} cannot be read: {exc}") from exc
