"""What an ONNX export holds, and the manifest that says what the runner needs to know.

``python -m inference warm`` writes the export into its conversion folder
(:func:`inference.conversions.backend_folder`: under ``HF_HOME``, keyed by the
model's revision, onnxruntime's version, the quantization and the task, since
two entries may serve one model for different tasks): the graph, its weights
beside it as external data, a ``tokenizer.json`` (an image model's: a
``preprocessor_config.json``, and CLIP's both) and this manifest.

This module imports nothing heavy: the ONNX runners read it without torch.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from inference.records import JsonRecord

MANIFEST = "export.json"
MODEL_FILE = "model.onnx"
TOKENIZER_FILE = "tokenizer.json"
#: An image model's image processor settings, as transformers writes them (the runner prepares images from them).
PREPROCESSOR_FILE = "preprocessor_config.json"
#: Bumped when the manifest or the graphs change in a way older runners cannot read.
FORMAT = 2


@dataclass(frozen=True)
class OnnxManifest(JsonRecord):
    """What the exporter knew about the model that the runner needs without transformers.

    What it was made from, for which task and quantization, and with which tools,
    is the conversion's record (:class:`inference.conversions.Record`).
    """

    FILE = MANIFEST
    KIND = "export manifest"

    #: Graph inputs, in the order the tokenizer produces them.
    inputs: list[str]
    #: Graph outputs (``last_hidden_state``, ``logits``, or ``start_logits`` and ``end_logits``).
    outputs: list[str]
    #: The most tokens the model reads at once (what the torch runner computes).
    limit: int
    pad_token_id: int
    #: Class index to label, for classification heads.
    labels: dict[str, str] = field(default_factory=dict)
    #: ``softmax``, ``sigmoid`` or ``none``: how text classification turns logits into scores.
    score_function: str = "softmax"
    #: Zero-shot: the NLI head's entailment and contradiction classes.
    entailment_id: int = -1
    contradiction_id: int = 0
    #: Token classification shows an unknown token as the text it covers.
    unk_token_id: int = -1
    #: Fill-mask: the tokenizer's mask token, and whether its decoding tidies spaces before punctuation
    #: (transformers' ``clean_up_tokenization_spaces``, which it skips for BPE vocabularies).
    mask_token: str = ""
    mask_token_id: int = -1
    clean_up_spaces: bool = False
    format: int = FORMAT
