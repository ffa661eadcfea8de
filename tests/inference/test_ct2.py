"""The CTranslate2 backend in-process: what its converter writes and refuses, and how its runner reads and decodes.

Its tokens against torch's are in tests/speed/test_ct2_parity.py; warm, run and
serve in fresh processes in tests/speed/test_ct2_processes.py.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from inference import ct2_convert
from inference.conversions import ConversionRefused
from inference.ct2_convert import convert
from inference.errors import InvalidInput, ModelLoadError
from inference.registry import ModelSpec, load_registry
from inference.runners.ct2 import (
    MANIFEST,
    FastTokenizer,
    SentencePieceTokenizer,
    Seq2SeqManifest,
    TranslationCt2,
    decoding_options,
)
from inference.runners.seq2seq import TranslationRunner
from tests.ct2_models import DISTILBART_SUMMARIZATION, build_ct2_models
from tests.probes import probe

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
Convert = Callable[..., Path]


@pytest.fixture(scope="session")
def ct2_registry(tmp_path_factory: pytest.TempPathFactory, tiny_registry: Path) -> Path:
    return build_ct2_models(tmp_path_factory.mktemp("ct2-models"), tiny_registry.parent)


@pytest.fixture(scope="session")
def spec(ct2_registry: Path) -> Callable[[str], ModelSpec]:
    return load_registry(ct2_registry).get


@pytest.fixture(scope="session")
def marian(tmp_path_factory: pytest.TempPathFactory, spec: Callable[[str], ModelSpec]) -> Path:
    """The fp32 conversion of the tiny Marian model."""
    target = tmp_path_factory.mktemp("ct2-marian")
    convert(spec("ct2-marian"), spec("ct2-marian").local_path, target, quantize="none")
    return target


@pytest.fixture
def converted(tmp_path: Path) -> Convert:
    """``converted(spec, source=None)``: ``spec``'s conversion (of ``source``, else its own folder), in a fresh folder."""

    def make(spec: ModelSpec, source: Path | None = None) -> Path:
        target = tmp_path / f"{spec.name}-{spec.quantize}"
        target.mkdir()
        convert(spec, source or spec.local_path, target, quantize=spec.quantize)
        return target

    return make


def _variant(folder: Path, tmp_path: Path, **files: Any) -> Path:
    """A copy of the model ``folder`` with some JSON files updated (``generation_config__json={...}``)."""
    copy = tmp_path / f"variant-{len(list(tmp_path.iterdir()))}"
    shutil.copytree(folder, copy)
    for name, changes in files.items():
        path = copy / name.replace("__", ".")
        current = json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}
        path.write_text(json.dumps({**current, **changes}), encoding="utf-8")
    return copy


def test_an_architecture_other_than_bart_and_marian_is_refused(
    spec: Callable[[str], ModelSpec], converted: Convert
) -> None:
    with pytest.raises(ConversionRefused) as refusal:
        converted(spec("ct2-bert"))
    assert refusal.value.reason == (
        "BertForSequenceClassification is not converted for CTranslate2 here "
        "(only BartForConditionalGeneration, MarianMTModel, WhisperForConditionalGeneration are)"
    )


def test_weights_that_are_not_safetensors_are_refused(spec: Callable[[str], ModelSpec], converted: Convert) -> None:
    with pytest.raises(ConversionRefused, match="no safetensors weights"):
        converted(spec("ct2-pickled"))


@pytest.mark.parametrize(
    ("entry", "changes", "reason"),
    [
        ("ct2-marian", {"generation_config__json": {"suppress_tokens": [5]}}, "generation config sets suppress_tokens"),
        (
            "ct2-bart",
            {"config__json": {"task_specific_params": {"summarization": {"num_beam_groups": 2}}}},
            "its task settings set num_beam_groups",
        ),
        ("ct2-marian", {"generation_config__json": {"decoder_start_token_id": 3}}, "starts the decoder on another"),
        ("ct2-marian", {"generation_config__json": {"do_sample": True}}, "samples with a beam search of 4"),
        (
            "ct2-marian",
            {"tokenizer_config__json": {"separate_vocabs": True}, "target_vocab__json": {"</s>": 0}},
            "separate source and target vocabularies",
        ),
    ],
)
def test_what_the_runner_cannot_do_as_torch_does_is_refused(
    spec: Callable[[str], ModelSpec],
    converted: Convert,
    tmp_path: Path,
    entry: str,
    changes: dict[str, Any],
    reason: str,
) -> None:
    model = spec(entry)
    assert model.local_path is not None
    with pytest.raises(ConversionRefused, match=reason):
        converted(model, _variant(model.local_path, tmp_path, **changes))


def test_a_marian_decoder_that_does_not_start_from_zeros_is_refused(
    spec: Callable[[str], ModelSpec], converted: Convert, tmp_path: Path
) -> None:
    import torch
    from transformers import MarianMTModel

    model = spec("ct2-marian")
    assert model.local_path is not None
    copy = _variant(model.local_path, tmp_path)
    weights = MarianMTModel.from_pretrained(copy)
    with torch.no_grad():
        weights.get_input_embeddings().weight[weights.config.pad_token_id] = 1.0
    weights.save_pretrained(copy)
    with pytest.raises(ConversionRefused, match="start token has a non-zero embedding"):
        converted(model, copy)


def test_a_tokenizer_the_runner_does_not_reproduce_is_refused(
    spec: Callable[[str], ModelSpec], converted: Convert, monkeypatch: pytest.MonkeyPatch
) -> None:
    class Lossy(ct2_convert.FastTokenizer):
        def decode(self, ids: list[int], skip_special_tokens: bool = True) -> str:
            return super().decode(ids, skip_special_tokens=skip_special_tokens).replace("e", "")

    monkeypatch.setattr(ct2_convert, "FastTokenizer", Lossy)
    with pytest.raises(ConversionRefused, match="is not reproduced without transformers"):
        converted(spec("ct2-bart"))


def test_a_tokenizer_that_tidies_spaces_in_transformers_does_so_in_the_runner(
    spec: Callable[[str], ModelSpec], converted: Convert, tmp_path: Path, tiny_registry: Path
) -> None:
    from transformers import AutoTokenizer

    # The tests' word-piece summarizer, with its decoder's own tidying off and transformers' on.
    folder = _variant(
        tiny_registry.parent / "summarizer", tmp_path, tokenizer_config__json={"clean_up_tokenization_spaces": True}
    )
    backend = json.loads((folder / "tokenizer.json").read_text(encoding="utf-8"))
    backend["decoder"]["cleanup"] = False
    (folder / "tokenizer.json").write_text(json.dumps(backend), encoding="utf-8")
    target = converted(spec("ct2-bart"), folder)
    manifest = Seq2SeqManifest.read(target)
    assert manifest.clean_up_tokenization_spaces
    theirs = AutoTokenizer.from_pretrained(folder)
    ids = theirs("hello , world . it is")["input_ids"]
    ours = FastTokenizer(target / "tokenizer.json", clean_up=manifest.clean_up_tokenization_spaces)
    assert ours.decode(ids) == theirs.decode(ids, skip_special_tokens=True) == "hello, world. it is"


def test_a_vocabulary_out_of_the_models_order_is_refused(marian: Path) -> None:
    class Shifted:
        def convert_tokens_to_ids(self, token: str) -> int:
            return 0 if token == "</s>" else 1

    with pytest.raises(ConversionRefused, match="ids are not the rows of its embeddings"):
        ct2_convert._check_vocabulary(Shifted(), marian)


def test_the_manifest_holds_what_transformers_knows(
    spec: Callable[[str], ModelSpec], marian: Path, converted: Convert
) -> None:
    translator = Seq2SeqManifest.read(marian)
    assert (translator.tokenizer, translator.limit, translator.unk_token) == ("sentencepiece", 512, "<unk>")
    # opus-mt's own settings over transformers' defaults; its ban on the padding token is moot, as CTranslate2
    # has no padding token to generate.
    assert {key: translator.settings[key] for key in ("num_beams", "max_length", "forced_eos_token_id")} == {
        "num_beams": 4,
        "max_length": 512,
        "forced_eos_token_id": 0,
    }
    assert (translator.settings["length_penalty"], translator.settings["early_stopping"]) == (1.0, False)
    assert translator.suppress == []
    assert {"</s>", "<unk>", "<pad>"} == set(translator.added_tokens)
    assert sorted(p.name for p in marian.iterdir()) == [
        "config.json",
        "model.bin",
        MANIFEST,
        "shared_vocabulary.json",
        "source.spm",
        "vocab.json",
    ]
    summarizer = converted(spec("ct2-bart"))
    manifest = Seq2SeqManifest.read(summarizer)
    assert (manifest.tokenizer, manifest.limit) == ("tokenizers", 1024)
    assert manifest.task_specific_params == {"summarization": DISTILBART_SUMMARIZATION}
    # distilbart names no max_length of its own: generate() makes 20 new tokens, a total of 21 with the start.
    assert manifest.settings["max_length"] == 21
    assert (summarizer / "tokenizer.json").is_file()


def test_banned_words_the_vocabulary_has_are_suppressed(
    spec: Callable[[str], ModelSpec], converted: Convert, tmp_path: Path
) -> None:
    model = spec("ct2-marian")
    assert model.local_path is not None
    banned = {"generation_config__json": {"bad_words_ids": [[5, 6], [121]]}}
    manifest = Seq2SeqManifest.read(converted(model, _variant(model.local_path, tmp_path, **banned)))
    vocab = json.loads((model.local_path / "vocab.json").read_text(encoding="utf-8"))
    names = {index: token for token, index in vocab.items()}
    assert manifest.suppress == [[names[5], names[6]]]  # 121 is the padding token, which CTranslate2 drops


class Names:
    """A tokenizer that names token ids ``t0``, ``t1``, ...: all :func:`decoding_options` asks of one."""

    def id_token(self, token_id: int) -> str:
        return f"t{token_id}"


#: transformers' defaults, as a manifest holds them, with a model's own ``max_length`` and end token.
DEFAULTS = {
    "num_beams": 1,
    "max_length": 21,
    "min_length": 0,
    "length_penalty": 1.0,
    "repetition_penalty": 1.0,
    "no_repeat_ngram_size": 0,
    "do_sample": False,
    "top_k": 50,
    "top_p": 1.0,
    "temperature": 1.0,
    "eos_token_id": 2,
}


@pytest.mark.parametrize(
    ("settings", "expected"),
    [
        ({}, {"max_decoding_length": 20, "min_decoding_length": 0, "end_token": ["t2"]}),
        ({"forced_eos_token_id": 2}, {"max_decoding_length": 19}),
        ({"max_new_tokens": 5, "forced_eos_token_id": 2}, {"max_decoding_length": 4}),
        ({"min_length": 8}, {"min_decoding_length": 7}),
        ({"min_length": 56, "min_new_tokens": 3}, {"min_decoding_length": 3}),
        ({"min_length": 56, "max_new_tokens": 10}, {"min_decoding_length": 10}),
        ({"forced_bos_token_id": 7}, {"target_prefix": [["t7"]]}),
        ({"eos_token_id": [2, 9]}, {"end_token": ["t2", "t9"]}),
        ({"num_beams": 4, "length_penalty": 2.0}, {"beam_size": 4, "length_penalty": 2.0}),
        ({"top_k": 5, "temperature": 0.5}, {"sampling_topk": 1, "sampling_temperature": 1.0}),
        (
            {"do_sample": True, "top_k": 5, "top_p": 0.9, "temperature": 0.5},
            {"sampling_topk": 5, "sampling_topp": 0.9, "sampling_temperature": 0.5},
        ),
    ],
)
def test_decoding_options_are_generates_settings_in_ctranslate2s_terms(
    settings: dict[str, Any], expected: dict[str, Any]
) -> None:
    options = decoding_options({**DEFAULTS, **settings}, Names())
    assert {key: options.get(key) for key in expected} == expected


def test_sampling_with_a_beam_search_is_refused_for_the_request() -> None:
    with pytest.raises(InvalidInput, match="`do_sample` with `num_beams` above 1 needs `backend: torch`"):
        decoding_options({**DEFAULTS, "do_sample": True, "num_beams": 4}, Names())


def test_one_new_token_with_a_forced_end_is_an_empty_answer_as_with_torch(
    spec: Callable[[str], ModelSpec], marian: Path
) -> None:
    model = spec("ct2-marian")
    assert model.local_path is not None
    line, parameters = "The meeting has been moved.", {"max_new_tokens": 1}
    expected = TranslationRunner(model, model.local_path).run(line, parameters)
    assert TranslationCt2(model, marian).run(line, parameters) == expected == {"translation": "", "chunks": 1}


#: Pieces of text MarianTokenizer treats specially: its added tokens, language codes, sentencepiece's own marks.
FRAGMENTS = ["</s>", "<unk>", "<pad>", ">>fr<<", ">>", "<<", "\u2581", " ", "  ", "\n", "\t"]
TEXT = st.lists(
    st.one_of(
        st.sampled_from(FRAGMENTS),
        st.text(alphabet="abcdefghijklmnopqrstuvwxyzTHEMé.,!?'-()0123456789東京😀", max_size=12),
    ),
    max_size=12,
).map("".join)


@pytest.fixture(scope="session")
def marian_pair(marian: Path, spec: Callable[[str], ModelSpec]) -> tuple[SentencePieceTokenizer, Any]:
    from transformers import AutoTokenizer

    model = spec("ct2-marian")
    return SentencePieceTokenizer(marian, Seq2SeqManifest.read(marian)), AutoTokenizer.from_pretrained(model.local_path)


@settings(max_examples=300, deadline=None, database=None, derandomize=True, suppress_health_check=list(HealthCheck))
@given(text=TEXT, limit=st.integers(min_value=2, max_value=24))
def test_marians_tokenizer_is_read_with_sentencepiece_alone_as_transformers_reads_it(
    marian_pair: tuple[SentencePieceTokenizer, Any], text: str, limit: int
) -> None:
    ours, theirs = marian_pair
    for special in (True, False):
        assert (
            ours(text, add_special_tokens=special)["input_ids"] == theirs(text, add_special_tokens=special)["input_ids"]
        )
    cut = theirs(text, truncation=True, max_length=limit)["input_ids"]
    assert [ours.token_id(token) for token in ours.source_tokens(text, limit)] == cut
    assert ours.decode(cut) == theirs.decode(cut, skip_special_tokens=True)


def test_a_conversion_missing_its_model_is_a_load_error(
    spec: Callable[[str], ModelSpec], marian: Path, tmp_path: Path
) -> None:
    broken = tmp_path / "broken"
    shutil.copytree(marian, broken)
    (broken / "model.bin").unlink()
    with pytest.raises(ModelLoadError, match="Cannot load the CTranslate2 conversion of ct2-marian"):
        TranslationCt2(spec("ct2-marian"), broken)


#: Loads the runner over a conversion and answers, then reports which heavy packages the process imported.
PROBE = """
import json, sys
from pathlib import Path
from inference.registry import load_registry
from inference.runners.ct2 import TranslationCt2
runner = TranslationCt2(load_registry(sys.argv[1]).get("ct2-marian"), Path(sys.argv[2]))
answer = runner.run("The meeting has been moved.", {"max_new_tokens": 4})
print(json.dumps({"answer": answer, "heavy": sorted({m.split(".")[0] for m in sys.modules} & {"torch", "transformers"})}))
"""


def test_the_runner_imports_neither_torch_nor_transformers(ct2_registry: Path, marian: Path) -> None:
    report = probe(PROBE, str(ct2_registry), str(marian))
    assert report["heavy"] == []
    assert set(report["answer"]) == {"translation", "chunks"}
