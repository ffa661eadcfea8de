"""What every torch runner shares: safe loading, threads sized to the Lambda, inference mode.

Weights are loaded from safetensors only (a pickle can run code) and never with
the model repository's own Python code. transformers 5 memory-maps safetensors
and always loads with ``low_cpu_mem_usage``, so there is no extra copy to avoid.
Weights are used as float32, the type Lambda's CPUs run fastest (few have bf16 units).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from pathlib import Path
from typing import Any, ClassVar

import torch
from transformers import AutoTokenizer

from inference.errors import ModelLoadError
from inference.registry import ModelSpec
from inference.runners import vcpus
from inference.tasks import parse_input

#: transformers writes about 1e30 for "no limit"; anything above this is not a real model limit.
UNBOUNDED = 1_000_000
#: The input limit when neither the tokenizer nor the config states one.
DEFAULT_LIMIT = 512


def input_limit(tokenizer: Any, config: Any) -> int:
    """The most tokens the model reads at once: the tokenizer's limit or the position table, whichever is smaller."""
    stated = (tokenizer.model_max_length, getattr(config, "max_position_embeddings", None))
    limits = [n for n in stated if isinstance(n, int) and 0 < n < UNBOUNDED]
    return min(limits, default=DEFAULT_LIMIT)


def load_pretrained(loader: Any, path: Path, what: str, spec: ModelSpec, **options: Any) -> Any:
    """``loader.from_pretrained(path)`` from local files only, never with the repository's own code.

    Every torch runner loads through here (a tokenizer, a processor, the weights), so the rules hold for all.

    Raises:
        ModelLoadError: naming ``what`` of ``spec`` could not be loaded, and why.
    """
    try:
        return loader.from_pretrained(path, trust_remote_code=False, local_files_only=True, **options)
    except Exception as exc:  # missing files, corrupt safetensors, unknown architecture: all a failed load
        raise ModelLoadError(f"Cannot load the {what} of {spec.name} from {path}: {exc}") from exc


class TorchRunner(ABC):
    """Loads a tokenizer and a model once; ``run`` parses one line for the task and predicts.

    Subclasses name the transformers auto class to load and implement :meth:`predict`.
    """

    #: The transformers auto class that loads this task's model head.
    auto_class: ClassVar[Any]

    def __init__(self, spec: ModelSpec, path: Path) -> None:
        torch.set_num_threads(vcpus(spec.memory))
        self.spec = spec
        self.tokenizer = self._load(AutoTokenizer, path, "tokenizer")
        self.model = self._load(self.auto_class, path, "weights", use_safetensors=True, dtype=torch.float32).eval()
        self.limit = input_limit(self.tokenizer, self.model.config)
        self.tokenizer.model_max_length = self.limit

    def _load(self, loader: Any, path: Path, what: str, **options: Any) -> Any:
        return load_pretrained(loader, path, what, self.spec, **options)

    def run(self, text: str, parameters: dict[str, Any]) -> dict[str, Any]:
        """Parse ``text`` with the task's one-line format and run the model on it."""
        inputs = parse_input(self.spec.task, text, parameters)
        with torch.inference_mode():
            return self.predict(inputs, parameters)

    @abstractmethod
    def predict(self, inputs: dict[str, Any], parameters: dict[str, Any]) -> dict[str, Any]:
        """Run the model on parsed ``inputs``; return plain JSON-able values only."""

    def token_count(self, text: str, pair: str | None = None) -> int:
        """How many tokens the model would read for ``text`` (and ``pair``), special tokens included."""
        return len(self.tokenizer(text, pair, verbose=False)["input_ids"])
