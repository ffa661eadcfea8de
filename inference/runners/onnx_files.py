"""Where an ONNX export lives, and the manifest that says what it holds.

``python -m inference warm`` writes the export beside the weights it came from:
in ``<folder>/onnx-export/<task>/`` for a local model folder, and in
``<hub cache>/models--owner--name/onnx-export/<revision>/<task>/`` for a Hub
snapshot, so on Lambda it sits on the same EFS cache (``HF_HOME``) that the
function only reads. The task is part of the path because two entries may serve
one model for different tasks (similarity reads fewer tokens than feature
extraction, for instance). The folder is complete or absent: the exporter builds it elsewhere and
moves it into place, and the manifest is written last.

This module imports nothing heavy: the ONNX runners read it without torch.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from inference.errors import ModelLoadError
from inference.loader import repo_folder
from inference.registry import ModelSpec

EXPORT_FOLDER = "onnx-export"
MANIFEST = "export.json"
MODEL_FILE = "model.onnx"
INT8_FILE = "model.int8.onnx"
TOKENIZER_FILE = "tokenizer.json"
#: Bumped when the manifest or the graphs change in a way older runners cannot read.
FORMAT = 1
#: The registry parameter that asks for the int8 graph (``parameters: {onnx_quantize: true}``).
QUANTIZE_PARAMETER = "onnx_quantize"


def export_dir(spec: ModelSpec) -> Path:
    """The folder of ``spec``'s export, beside its weights (keyed by revision for a Hub snapshot) and by task."""
    if spec.local_path:
        return spec.local_path / EXPORT_FOLDER / spec.task
    return repo_folder(spec) / EXPORT_FOLDER / (spec.revision or "main") / spec.task


def wants_int8(spec: ModelSpec) -> bool:
    """Whether the registry entry asks for the int8 graph.

    Raises:
        ModelLoadError: the parameter is not true or false.
    """
    value = spec.parameters.get(QUANTIZE_PARAMETER, False)
    if not isinstance(value, bool):
        raise ModelLoadError(f"{spec.name}: `{QUANTIZE_PARAMETER}` must be true or false, not {value!r}.")
    return value


def graph_file(spec: ModelSpec) -> str:
    """The graph the entry runs: the int8 one when it asks for it."""
    return INT8_FILE if wants_int8(spec) else MODEL_FILE


@dataclass(frozen=True)
class OnnxManifest:
    """What the exporter knew about the model that the runner needs without transformers."""

    task: str
    #: Where the weights came from (``owner/name@revision`` or the folder).
    source: str
    #: Graph inputs, in the order the tokenizer produces them.
    inputs: list[str]
    #: Graph outputs (``last_hidden_state``, ``logits``, or ``start_logits`` and ``end_logits``).
    outputs: list[str]
    #: The most tokens the model reads at once (what the torch runner computes).
    limit: int
    pad_token_id: int
    #: Whether ``model.int8.onnx`` (int8 weights in blocks, int8 arithmetic) was written beside ``model.onnx``.
    int8: bool
    #: Class index to label, for classification heads.
    labels: dict[str, str] = field(default_factory=dict)
    #: ``softmax``, ``sigmoid`` or ``none``: how text classification turns logits into scores.
    score_function: str = "softmax"
    #: Zero-shot: the NLI head's entailment and contradiction classes.
    entailment_id: int = -1
    contradiction_id: int = 0
    #: Token classification shows an unknown token as the text it covers.
    unk_token_id: int = -1
    #: Versions of the tools that made the export, for people reading the folder.
    exported_with: dict[str, str] = field(default_factory=dict)
    format: int = FORMAT

    def write(self, folder: Path) -> None:
        (folder / MANIFEST).write_text(json.dumps(asdict(self), indent=2) + "\n", encoding="utf-8")

    @classmethod
    def read(cls, folder: Path) -> OnnxManifest:
        """Read ``folder``'s manifest.

        Raises:
            FileNotFoundError: there is no complete export in ``folder``.
            ValueError: the manifest is unreadable or from another format.
        """
        data: Any = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
        if not isinstance(data, dict) or data.get("format") != FORMAT:
            raise ValueError(f"{folder / MANIFEST} is not a format-{FORMAT} export manifest")
        try:
            return cls(**data)
        except TypeError as exc:
            raise ValueError(f"{folder / MANIFEST} does not match this version: {exc}") from exc
