"""Convert a pickle-only Hub snapshot to safetensors, once, for ``python -m inference warm``.

Some default models publish their weights only as PyTorch's pickled
``pytorch_model.bin`` (opus-mt-en-fr and distilbart-cnn-12-6 at their pins).
Serving loads safetensors only, because unpickling can run code; so ``warm``,
in the environment that fills the cache (it has torch), converts them:

1. the pickle is checked against the sha256 the Hub lists for it (the cache
   names the file's blob after it), and read with ``torch.load(...,
   weights_only=True)``, which builds tensors and plain containers and refuses
   anything else a pickle can ask for (torch 2.13's weights-only unpickler);
2. the tensors are loaded into the transformers class the config names, which
   reports any weight the checkpoint lacks (a conversion with a missing weight is
   refused, it would serve random values), and saved with ``save_pretrained``,
   which writes tied and shared tensors (BART's and Marian's shared embeddings)
   once, as transformers reads them back;
3. the saved weights are loaded again from safetensors and compared, tensor by
   tensor, with what the pickle held; the snapshot's configs and tokenizer files
   are copied beside them, and a manifest records the source's and the result's
   sha256 (:class:`inference.loader.ConversionManifest`), written last.

The folder is :func:`inference.loader.conversion_dir`, under ``HF_HOME`` with every
other conversion; it is built beside its place and moved there whole
(:func:`inference.conversions.staged`), so a reader never sees half of it.
"""

from __future__ import annotations

import pickle
import shutil
import zipfile
from importlib.metadata import version
from pathlib import Path
from typing import Any

import torch

from inference.conversions import staged
from inference.errors import ModelLoadError
from inference.loader import (
    ConversionManifest,
    conversion_dir,
    file_sha256,
    listed_sha256,
    pickle_files,
    serving_folder,
    verify_conversion,
)
from inference.registry import ModelSpec

#: What ``save_pretrained`` writes that is weights (the rest of the snapshot is copied as it is).
_SAVED_WEIGHTS = ("model.safetensors", "model-*-of-*.safetensors", "model.safetensors.index.json")


def is_current(spec: ModelSpec, snapshot: Path) -> bool:
    """Whether :func:`conversion_dir` holds a complete, unchanged conversion of ``snapshot``."""
    try:
        serving_folder(spec, snapshot)
        verify_conversion(spec, conversion_dir(spec))
    except ModelLoadError:
        return False
    return True


def convert(spec: ModelSpec, snapshot: Path, *, force: bool = False) -> Path:
    """Convert ``snapshot``'s pickled weights to safetensors in :func:`conversion_dir` and return that folder.

    A conversion that is complete and unchanged is kept unless ``force`` is set.

    Raises:
        ModelLoadError: the pickle is not what the Hub lists, holds more than
            tensors, does not fit the model class its config names, or does not
            survive the round trip.
    """
    folder = conversion_dir(spec)
    if not force and is_current(spec, snapshot):
        return folder
    pickles = pickle_files(path.name for path in snapshot.iterdir())
    hashes = {name: _checked_sha256(spec, snapshot / name) for name in pickles}
    state_dict: dict[str, torch.Tensor] = {}
    for name in pickles:
        state_dict.update(_read_pickle(spec, snapshot / name))
    model_class, config = _model_class(spec, snapshot)
    model = _load(spec, model_class, config, state_dict)
    with staged(folder) as staging:
        converted = _save(spec, model, staging)
        _copy_the_rest(snapshot, staging, skip={*pickles, "pytorch_model.bin.index.json"})
        _check_round_trip(spec, model_class, model, staging)
        ConversionManifest(
            source=f"{spec.model}@{spec.revision}",
            pickles=hashes,
            converted=converted,
            architecture=model_class.__name__,
            converted_with={package: version(package) for package in ("torch", "transformers", "safetensors")},
        ).write(staging)
    return folder


def _checked_sha256(spec: ModelSpec, path: Path) -> str:
    """The file's sha256, refused when it is not the one the Hub listed (the name of its blob in the cache)."""
    sha256 = file_sha256(path)
    listed = listed_sha256(path)
    if listed not in (None, sha256):
        raise ModelLoadError(
            f"{spec.name}: {path.name} in the cache does not have the sha256 the Hub lists for it ({listed}); "
            f"delete {path.parent} and run `python -m inference warm {spec.name}` again."
        )
    return sha256


def _read_pickle(spec: ModelSpec, path: Path) -> dict[str, torch.Tensor]:
    """The tensors of a pickled checkpoint, read with torch's weights-only unpickler (no code runs)."""
    try:
        # mmap needs the zip format (torch >= 1.6); older tar-format checkpoints are read whole.
        loaded = torch.load(path, weights_only=True, map_location="cpu", mmap=zipfile.is_zipfile(path))
    except pickle.UnpicklingError as exc:
        raise ModelLoadError(
            f"{spec.name}: {path.name} holds more than tensors, and torch's weights-only loader refused it, so "
            f"it is not converted: {str(exc).splitlines()[0]}"
        ) from exc
    except Exception as exc:  # a truncated or foreign file: torch raises many types
        raise ModelLoadError(f"{spec.name}: cannot read {path.name}: {type(exc).__name__}: {exc}") from exc
    if not isinstance(loaded, dict) or not all(
        isinstance(key, str) and isinstance(value, torch.Tensor) for key, value in loaded.items()
    ):
        raise ModelLoadError(
            f"{spec.name}: {path.name} is not a state dict (names to tensors), so it is not converted."
        )
    return loaded


def _model_class(spec: ModelSpec, snapshot: Path) -> tuple[Any, Any]:
    """The transformers class the config names (``architectures``), never the repository's own code."""
    import transformers
    from transformers import AutoConfig

    try:
        config = AutoConfig.from_pretrained(  # nosec B615  # the snapshot in the cache: nothing is downloaded
            snapshot, local_files_only=True, trust_remote_code=False
        )
    except Exception as exc:  # unknown model type, remote code, unreadable JSON
        raise ModelLoadError(f"{spec.name}: cannot read the config of {snapshot}: {exc}") from exc
    names = config.architectures or []
    model_class = getattr(transformers, names[0], None) if names else None
    if not isinstance(model_class, type) or not issubclass(model_class, transformers.PreTrainedModel):
        named = f"names {names[0]}, which transformers does not have" if names else "names no architecture"
        raise ModelLoadError(
            f"{spec.name}: its config.json {named}, so its pickled weights cannot be matched to a model and "
            "are not converted."
        )
    return model_class, config


def _load(spec: ModelSpec, model_class: Any, config: Any, state_dict: dict[str, torch.Tensor]) -> Any:
    """The model with the checkpoint's tensors; refused when a weight is missing or has another shape."""
    try:
        model, info = model_class.from_pretrained(
            None, config=config, state_dict=state_dict, output_loading_info=True, dtype="auto"
        )
    except Exception as exc:  # shapes or names transformers cannot place
        raise ModelLoadError(f"{spec.name}: the pickled weights do not fit {model_class.__name__}: {exc}") from exc
    wrong = sorted(info["missing_keys"]) + [str(item[0]) for item in info["mismatched_keys"]]
    if wrong:
        shown = ", ".join(wrong[:5]) + (f" and {len(wrong) - 5} more" if len(wrong) > 5 else "")
        raise ModelLoadError(
            f"{spec.name}: the pickled weights lack or misshape {shown} of {model_class.__name__}, so the model "
            "would answer with random values; not converted."
        )
    return model.eval()


def _save(spec: ModelSpec, model: Any, staging: Path) -> dict[str, str]:
    """Write the weights as safetensors into ``staging``; return each file's sha256."""
    saved = staging / ".saved"
    model.save_pretrained(saved)
    converted = {}
    for path in sorted(saved.iterdir()):
        if any(path.match(pattern) for pattern in _SAVED_WEIGHTS):
            path.rename(staging / path.name)
            if path.suffix == ".safetensors":
                converted[path.name] = file_sha256(staging / path.name)
    shutil.rmtree(saved)
    if not converted:
        raise ModelLoadError(f"{spec.name}: save_pretrained wrote no safetensors.")
    return converted


def _check_round_trip(spec: ModelSpec, model_class: Any, model: Any, staging: Path) -> None:
    """Load the safetensors again, as serving will, and compare every tensor with the pickle's."""
    reloaded = model_class.from_pretrained(
        staging, use_safetensors=True, local_files_only=True, trust_remote_code=False, dtype="auto"
    )
    before, after = model.state_dict(), reloaded.state_dict()
    differ = sorted(name for name in before if name not in after or not torch.equal(before[name], after[name]))
    if differ:
        raise ModelLoadError(f"{spec.name}: the safetensors conversion changed {', '.join(differ[:5])}; not converted.")


def _copy_the_rest(snapshot: Path, staging: Path, *, skip: set[str]) -> None:
    """Copy the snapshot's configs and tokenizer files (not its pickles) beside the converted weights."""
    for path in sorted(snapshot.rglob("*")):
        relative = path.relative_to(snapshot).as_posix()
        if path.is_file() and relative not in skip:
            target = staging / relative
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, target)  # follows the cache's symlink to the blob
