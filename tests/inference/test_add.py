"""``python -m inference add HUB_ID``: a pinned, sized registry entry from what a (fake) Hub says about a model.

The fake Hub (tests/fakes/hub.py) serves tiny models with the default
entries' real file sets (tests/hub_repos/), with the fields the real Hub adds
(pipeline tag, parameter counts, card data, widget examples) given per repo.
Each refusal is one ``error:`` line with the CLI's exit status (1: the model or
the Hub, 2: the command line or the registry) and never a traceback; the
registry file keeps every byte outside the appended entry, and the entry loads
through ``load_registry`` as written.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from inference import add as adding
from inference import cli, sizing
from inference.registry import DEFAULT_MODELS_FILE, load_registry
from tests.conftest import ROOT
from tests.fakes.hub import FakeHub
from tests.hub_repos import build_repo, record, records

SST2 = "distilbert/distilbert-base-uncased-finetuned-sst-2-english"
#: What the real Hub reports for each default entry's repository (pipeline tags; parameter counts from the cards).
PIPELINE_TAGS = {
    "sentiment": "text-classification",
    "summarize": "summarization",
    "translate-en-fr": "translation",
    "similarity": "sentence-similarity",
    "zero-shot": "zero-shot-classification",
    "ner": "token-classification",
    "qa": "question-answering",
    "ask": "text-generation",
    "fill-mask": "fill-mask",
    "classify-image": "image-classification",
    "label-image": "zero-shot-image-classification",
    "detect": "object-detection",
    "caption": "image-to-text",
    "transcribe": "automatic-speech-recognition",
}
#: The file models' counts are what their configs at the pins make (CLIP's and Whisper's as their records cite;
#: YOLOS tiny's from its config.json; BLIP's with its language model head stored apart from the word embeddings).
PARAMETERS = {
    "sentiment": ("F32", 66_955_010),
    "similarity": ("F32", 22_713_216),
    "zero-shot": ("F32", 407_344_133),
    "ner": ("F32", 107_726_601),
    "qa": ("F32", 65_192_450),
    "ask": ("BF16", 494_032_768),
    "fill-mask": ("F32", 82_170_969),
    "classify-image": ("F32", 86_567_656),
    "label-image": ("F32", 151_277_313),
    "detect": ("F32", 6_488_736),
    "caption": ("F32", 247_414_076),
    "transcribe": ("F32", 37_760_640),
}
#: CLIP's card widget: an image to score, and the labels to score it against.
CLIP_WIDGET = [
    {
        "src": "https://huggingface.co/datasets/mishig/sample_images/resolve/main/cat-dog-music.png",
        "candidate_labels": "playing music, playing sports",
        "example_title": "Cat & Dog",
    }
]
SST2_CARD = """---
language: en
license: apache-2.0
datasets:
- sst2
widget:
- text: I like you. I love you
---

# DistilBERT base uncased finetuned SST-2

## Table of Contents
- [Model Details](#model-details)

## Model Details
**Model Description:** This model is a fine-tune checkpoint of [DistilBERT-base-uncased](https://huggingface.co/distilbert-base-uncased), fine-tuned on SST-2. This model reaches an accuracy of 91.3 on the dev set.
"""


@dataclass
class Hub:
    hub: FakeHub
    root: Path
    #: The tiny sentiment model's folder (sst-2's file set), to publish under other names.
    sst2: Path
    #: Each default entry's folder, by entry name.
    defaults: dict[str, Path]

    def publish(self, repo: str, folder: Path | None = None, **options: Any) -> str:
        return self.hub.add_repo(repo, folder or self.sst2, **options)


def _info(entry: str) -> dict[str, Any]:
    info: dict[str, Any] = {"pipeline_tag": PIPELINE_TAGS[entry]}
    if entry in PARAMETERS:
        dtype, count = PARAMETERS[entry]
        info["safetensors"] = {"parameters": {dtype: count}, "total": count}
    return info


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Hub]:
    root = tmp_path_factory.mktemp("add-hub")
    with FakeHub() as hub:
        defaults = {}
        for repo in records():
            folder = build_repo(repo, root / repo.entry)
            if repo.entry == "sentiment":
                (folder / "README.md").write_text(SST2_CARD, encoding="utf-8")
            hub.add_repo(repo.repo, folder, revision=repo.revision, info=_info(repo.entry))
            defaults[repo.entry] = folder
        yield Hub(hub, root, defaults["sentiment"], defaults)


@pytest.fixture
def registry(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A copy of the default registry, which MODELS_FILE points at."""
    path = tmp_path / "models.yaml"
    shutil.copyfile(DEFAULT_MODELS_FILE, path)
    monkeypatch.setenv("MODELS_FILE", str(path))
    return path


@pytest.fixture
def hub(served: Hub, monkeypatch: pytest.MonkeyPatch) -> Hub:
    """The fake Hub, for this process's huggingface_hub, with no token."""
    served.hub.use(monkeypatch)
    served.hub.heal()
    monkeypatch.delenv("HF_TOKEN", raising=False)
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    return served


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    status = cli.main(["add", *argv])
    out, err = capsys.readouterr()
    return status, out, err


def refused(capsys: pytest.CaptureFixture[str], status: int, *argv: str) -> str:
    """Run ``add`` expecting a refusal: that exit status, one ``error:`` line on stderr, no traceback."""
    code, _, err = run(capsys, *argv)
    assert code == status, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    assert "Traceback" not in err
    return lines[0]


def appended(before: bytes, after: bytes) -> str:
    """The text inserted into ``before`` to make ``after``: everything else must be the same bytes."""
    start = next((i for i, (a, b) in enumerate(zip(before, after, strict=False)) if a != b), len(before))
    tail = len(before) - start
    assert after[len(after) - tail :] == before[start:], "bytes after the new entry changed"
    assert after[:start] == before[:start]
    return after[start : len(after) - tail].decode("utf-8")


# -- the entry ---------------------------------------------------------------------------------------


def test_adds_a_pinned_sized_entry_from_the_card_keeping_every_other_byte(
    hub: Hub, registry: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    before = registry.read_bytes()
    status, out, err = run(capsys, SST2, "--name", "sentiment-2")
    assert status == 0, err
    inserted = appended(before, registry.read_bytes())
    assert inserted.startswith("\n  # distilbert/distilbert-base-uncased-finetuned-sst-2-english: license apache-2.0")
    assert "\n  - name: sentiment-2\n    task: text-classification\n" in inserted
    loaded = load_registry(registry)
    assert loaded.names == [*load_registry(DEFAULT_MODELS_FILE).names, "sentiment-2"]
    spec = loaded.get("sentiment-2")
    expected = sizing.size(parameters=66_955_010, task="text-classification", backend="onnx")
    assert (spec.model, spec.revision, spec.task) == (SST2, record("sentiment").revision, "text-classification")
    assert (spec.memory, spec.timeout) == (expected.memory, expected.timeout) == (1769, 60)
    assert spec.backend == "onnx" and "backend:" not in inserted  # the task's default is not written
    assert spec.title == "Text classification (distilbert-base-uncased-finetuned-sst-2-english)"
    assert spec.description == "This model is a fine-tune checkpoint of DistilBERT-base-uncased, fine-tuned on SST-2."
    assert spec.example == "I like you. I love you"
    assert "python -m inference warm sentiment-2" in out and "license   apache-2.0" in out


def test_dry_run_prints_the_entry_and_writes_nothing(
    hub: Hub, registry: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    before = registry.read_bytes()
    status, out, _ = run(capsys, SST2, "--name", "sst2", "--dry-run")
    assert status == 0
    assert registry.read_bytes() == before
    assert "  - name: sst2\n" in out and f"revision: {record('sentiment').revision}" in out
    assert f"dry run: nothing written to {registry}" in out
    assert not list(registry.parent.glob(".models.yaml.*"))  # no temporary file left either


@pytest.mark.parametrize("entry", sorted(PIPELINE_TAGS))
def test_the_default_models_real_file_sets(
    entry: str, hub: Hub, registry: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Each default repository, added under a new name: its task and a size the registry accepts, or,
    for the two pinned at pickle-only commits, the refusal that says so."""
    repo = record(entry)
    default = load_registry(DEFAULT_MODELS_FILE).get(entry)
    if repo.weights == "pickle":
        line = refused(capsys, 1, repo.repo, "--name", f"{entry}-2")
        assert "has no safetensors weights" in line and "pytorch_model.bin" in line
        return
    status, _, err = run(capsys, repo.repo, "--name", f"{entry}-2")
    assert status == 0, err
    spec = load_registry(registry).get(f"{entry}-2")
    _, count = PARAMETERS[entry]
    expected = sizing.size(parameters=count, task=default.task, backend=default.backend)
    assert (spec.task, spec.backend, spec.revision) == (default.task, default.backend, repo.revision)
    assert (spec.memory, spec.timeout) == (expected.memory, expected.timeout)


def test_a_name_is_a_slug_of_the_repository_name(hub: Hub, registry: Path, capsys: pytest.CaptureFixture[str]) -> None:
    hub.publish("someone/My_Model.v2-Finetuned-On-A-Very-Long-Dataset-Name", info=_info("sentiment"))
    status, _, err = run(capsys, "someone/My_Model.v2-Finetuned-On-A-Very-Long-Dataset-Name")
    assert status == 0, err
    assert load_registry(registry).names[-1] == "my-model-v2-finetuned-on-a-very"
    assert adding.slug("a/Model") == "model" and len(adding.slug("a/" + "x" * 40)) == 31


def test_revision_resolves_a_branch_a_tag_and_a_full_commit(
    hub: Hub, registry: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    first = hub.publish("someone/versions", info=_info("sentiment"), refs=["v1"])
    second = hub.publish("someone/versions", hub.defaults["fill-mask"], info=_info("sentiment"))
    for revision, expected in (("v1", first), (first, first), ("main", second), (None, second)):
        options = ["--revision", revision] if revision else []
        status, out, err = run(capsys, "someone/versions", "--name", "versions", "--dry-run", *options)
        assert status == 0, err
        assert f"revision: {expected}\n" in out
    line = refused(capsys, 1, "someone/versions", "--revision", "no-such-branch")
    assert "has no revision no-such-branch for someone/versions" in line


def test_card_and_widget_examples_in_each_tasks_format() -> None:
    assert adding.example(
        "zero-shot-classification", [{"text": "I have a problem", "candidate_labels": "urgent, not urgent"}]
    ) == (
        "I have a problem | urgent, not urgent",
        True,
    )
    assert adding.example("question-answering", [{"text": "Where?", "context": "In Paris."}])[0] == "Where? | In Paris."
    widget = [{"source_sentence": "A cat", "sentences": ["A dog", "A kitten"]}]
    assert adding.example("sentence-similarity", widget)[0] == "A cat | A dog | A kitten"
    chat = [{"messages": [{"role": "user", "content": "Hi there,\nhow are you?"}]}]
    assert adding.example("text-generation", chat)[0] == "Hi there, how are you?"
    # a widget text that is not the task's input (no mask), or no widget: the task's default
    assert adding.example("fill-mask", [{"text": "no blank here"}]) == (adding.DEFAULT_EXAMPLES["fill-mask"], False)
    assert adding.example("summarization", []) == (adding.DEFAULT_EXAMPLES["summarization"], False)
    assert adding.first_sentence(SST2_CARD) == (
        "This model is a fine-tune checkpoint of DistilBERT-base-uncased, fine-tuned on SST-2."
    )
    template = (
        "---\nlicense: mit\n---\n# Model Card for Model ID\n\n<!-- Provide a quick summary. -->\n\n"
        "![badge](https://x/y.svg)\n\n## Model Details\n\n- **Developed by:** [More Information Needed]\n\n"
        "```python\nprint('code is not prose.')\n```\n\n"
        "A `tiny` model for **tests**, trained e.g. on a few words! More text follows.\n"
    )
    assert adding.first_sentence(template) == "A tiny model for tests, trained e.g. on a few words!"
    assert adding.first_sentence("---\na: 1\n---\n# Only a heading\n") is None
    long = "word " * 100 + "end."
    assert len(adding.first_sentence(long) or "") <= adding.DESCRIPTION_LENGTH


def test_a_zero_shot_widget_gives_the_labels_too(hub: Hub, registry: Path, capsys: pytest.CaptureFixture[str]) -> None:
    widget = [{"text": "The server is down again.", "candidate_labels": "outage, billing, praise"}]
    hub.publish(
        "someone/zero-shot-widget", hub.defaults["zero-shot"], info={**_info("zero-shot"), "widgetData": widget}
    )
    status, _, err = run(capsys, "someone/zero-shot-widget")
    assert status == 0, err
    spec = load_registry(registry).get("zero-shot-widget")
    assert spec.example == "The server is down again. | outage, billing, praise"
    assert spec.parameters == {"candidate_labels": ["outage", "billing", "praise"]}


def test_a_file_tasks_entry_has_no_text_but_labels_and_no_slash_command(
    hub: Hub, registry: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Every file task from its pipeline tag: the example is empty (a file cannot be an entry's example), but for a
    zero-shot image classifier's labels, from its card's widget; and no slash command is promised."""
    for entry in ("classify-image", "detect", "caption", "transcribe"):
        status, out, err = run(capsys, record(entry).repo, "--name", f"{entry}-2")
        assert status == 0, err
        spec = load_registry(registry).get(f"{entry}-2")
        assert (spec.task, spec.example, spec.parameters) == (PIPELINE_TAGS[entry], "", {}), entry
        assert f"none: {spec.task} reads a file and needs no text" in out
        assert "which a slash command cannot carry, so it has none" in out and "/" + spec.name not in out
    hub.publish(
        "someone/clip-widget", hub.defaults["label-image"], info={**_info("label-image"), "widgetData": CLIP_WIDGET}
    )
    status, out, err = run(capsys, "someone/clip-widget", "--name", "clip-2")
    assert status == 0, err
    spec = load_registry(registry).get("clip-2")
    assert spec.example == "playing music, playing sports"
    assert spec.parameters == {"candidate_labels": ["playing music", "playing sports"]}
    assert spec.title == "Label an image (clip-widget)"
    status, _, err = run(capsys, record("label-image").repo, "--name", "clip-3")
    assert status == 0, err
    assert load_registry(registry).get("clip-3").example == adding.DEFAULT_EXAMPLES["zero-shot-image-classification"]


def test_without_a_card_the_description_names_the_model(
    hub: Hub, registry: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = hub.root / "no-card"
    shutil.copytree(hub.defaults["ner"], folder, ignore=shutil.ignore_patterns("README.md"))
    hub.publish("someone/no-card", folder, info=_info("ner"))
    status, _, err = run(capsys, "someone/no-card", "--name", "ner-2")
    assert status == 0, err
    spec = load_registry(registry).get("ner-2")
    assert spec.description == "someone/no-card: Finds entities (people, places, organisations...) in a text."
    assert spec.example == adding.DEFAULT_EXAMPLES["token-classification"]


def test_backend_and_task_options(hub: Hub, registry: Path, capsys: pytest.CaptureFixture[str]) -> None:
    status, out, err = run(capsys, SST2, "--name", "sst2-torch", "--backend", "torch", "--dry-run")
    assert status == 0, err
    assert "    backend: torch\n" in out
    line = refused(capsys, 2, SST2, "--name", "x", "--backend", "ctranslate2")
    assert line == "error: the ctranslate2 backend does not serve text-classification; backends that do: torch, onnx"
    assert "unknown backend 'tpu'" in refused(capsys, 2, SST2, "--name", "x", "--backend", "tpu")
    assert "unknown task 'text-to-audio'; supported: text-classification" in refused(
        capsys, 2, SST2, "--name", "x", "--task", "text-to-audio"
    )
    hub.publish("someone/untagged", info={"pipeline_tag": None})
    line = refused(capsys, 1, "someone/untagged")
    assert "names no pipeline tag on the Hub: give its task with --task (text-classification," in line
    status, out, err = run(capsys, "someone/untagged", "--task", "sentiment-analysis", "--dry-run")
    assert status == 0, err
    assert "    task: text-classification\n" in out


# -- refusals --------------------------------------------------------------------------------------


def test_refuses_an_unsupported_pipeline_tag_with_the_supported_tasks(
    hub: Hub, registry: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    hub.publish("someone/vision", info={"pipeline_tag": "image-segmentation"})
    line = refused(capsys, 1, "someone/vision")
    assert "pipeline tag 'image-segmentation' is not a task served here; supported: text-classification," in line
    assert "image-classification" in line and "automatic-speech-recognition" in line
    assert registry.read_bytes() == DEFAULT_MODELS_FILE.read_bytes()


def test_refuses_code_of_the_models_own(hub: Hub, registry: Path, capsys: pytest.CaptureFixture[str]) -> None:
    folder = hub.root / "remote-code"
    shutil.copytree(hub.sst2, folder)
    config = folder / "config.json"
    config.write_text(config.read_text().replace("{", '{"auto_map": {"AutoModel": "modeling.MyModel"},', 1))
    hub.publish("someone/remote-code", folder, info=_info("sentiment"))
    assert "needs trust_remote_code (code of its own: an auto_map in its config)" in refused(
        capsys, 1, "someone/remote-code"
    )


def test_refuses_weights_that_are_not_safetensors(hub: Hub, registry: Path, capsys: pytest.CaptureFixture[str]) -> None:
    folder = hub.root / "no-weights"
    shutil.copytree(hub.sst2, folder, ignore=shutil.ignore_patterns("*.safetensors", "*.bin"))
    hub.publish("someone/no-weights", folder, info=_info("sentiment"))
    line = refused(capsys, 1, "someone/no-weights")
    assert line.endswith("has no safetensors weights; only safetensors are served, as pickles can run code.")


def test_refuses_a_model_without_a_config_or_a_tokenizer(
    hub: Hub, registry: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = hub.root / "no-config"
    shutil.copytree(hub.sst2, folder, ignore=shutil.ignore_patterns("config.json"))
    hub.publish("someone/no-config", folder, info=_info("sentiment"))
    assert "has no transformers config (config.json with a model_type)" in refused(capsys, 1, "someone/no-config")
    folder = hub.root / "no-tokenizer"
    shutil.copytree(hub.sst2, folder, ignore=shutil.ignore_patterns("vocab.txt", "tokenizer*"))
    hub.publish("someone/no-tokenizer", folder, info=_info("sentiment"))
    assert "it has no tokenizer files" in refused(capsys, 1, "someone/no-tokenizer")


def test_a_file_task_is_refused_without_what_it_reads_with_as_check_judges(
    hub: Hub, registry: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """An image classifier needs no tokenizer (the default ViT has none) but its image processor; a captioner both."""
    folder = hub.root / "vit-no-processor"
    shutil.copytree(hub.defaults["classify-image"], folder, ignore=shutil.ignore_patterns("preprocessor_config.json"))
    hub.publish("someone/vit-no-processor", folder, info=_info("classify-image"))
    line = refused(capsys, 1, "someone/vit-no-processor")
    assert line.endswith(
        ": it has no preprocessor_config.json, the image processor that image-classification needs to read its image"
    )
    folder = hub.root / "blip-no-tokenizer"
    shutil.copytree(hub.defaults["caption"], folder, ignore=shutil.ignore_patterns("vocab.txt", "tokenizer*"))
    hub.publish("someone/blip-no-tokenizer", folder, info=_info("caption"))
    assert "it has no tokenizer files" in refused(capsys, 1, "someone/blip-no-tokenizer")
    assert registry.read_bytes() == DEFAULT_MODELS_FILE.read_bytes()


def test_refuses_a_gated_or_private_repository_without_a_token(
    hub: Hub, registry: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    hub.publish("someone/gated", gated=True, info=_info("sentiment"))
    hub.publish("someone/private", private=True, info=_info("sentiment"))
    assert "someone/gated is gated: accept its terms on the Hub and set HF_TOKEN" in refused(capsys, 1, "someone/gated")
    line = refused(capsys, 1, "someone/private")
    assert "the Hub has no repository someone/private (or it is private: set HF_TOKEN)" in line
    monkeypatch.setenv("HF_TOKEN", hub.hub.token)
    for repo in ("someone/gated", "someone/private"):
        status, _, err = run(capsys, repo, "--dry-run")
        assert status == 0, err


def test_refuses_a_model_too_large_for_lambda(hub: Hub, registry: Path, capsys: pytest.CaptureFixture[str]) -> None:
    hub.publish(
        "someone/huge",
        info={**_info("ask"), "safetensors": {"parameters": {"BF16": 14_770_033_664}, "total": 14_770_033_664}},
    )
    line = refused(capsys, 1, "someone/huge")
    assert "someone/huge is too large for Lambda: 14,770.0 M parameters (BF16); it needs about" in line
    assert "more than Lambda's 10,240 MB" in line


def test_refuses_a_name_or_command_already_taken(hub: Hub, registry: Path, capsys: pytest.CaptureFixture[str]) -> None:
    line = refused(capsys, 2, SST2, "--name", "sentiment")
    assert line == f"error: the name 'sentiment' is already taken by the entry for {SST2}"
    text = registry.read_text().replace(
        "    title: Sentiment (DistilBERT SST-2)", "    command: /feelings\n    title: x"
    )
    registry.write_text(text)
    line = refused(capsys, 2, SST2, "--name", "feelings")
    assert line == "error: the slash command /feelings is already taken by the entry 'sentiment'"
    assert "is reserved (compare, help, hf" in refused(capsys, 2, SST2, "--name", "help")
    assert "the stack's router and warm functions" in refused(capsys, 2, SST2, "--name", "warm")
    assert "must be a slug" in refused(capsys, 2, SST2, "--name", "Not A Slug")
    # a derived name that is taken says how to choose another
    status, _, _ = run(capsys, SST2)
    assert status == 0
    line = refused(capsys, 2, SST2)
    assert "'distilbert-base-uncased' is already taken" in line and "choose one with --name" in line


def test_refuses_an_unknown_repository_a_bad_id_and_a_hub_error(
    hub: Hub, registry: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert "the Hub has no repository someone/missing" in refused(capsys, 1, "someone/missing")
    assert "'a/b/c' is not a Hub id: expected owner/name" in refused(capsys, 2, "a/b/c")
    hub.hub.fail_next(1, 429, path="/api/models/")
    assert "the Hub answered HTTP 429" in refused(capsys, 1, SST2, "--name", "x")


def test_refuses_fast_when_the_hub_cannot_be_reached(
    registry: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from huggingface_hub import constants

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        address = f"http://127.0.0.1:{probe.getsockname()[1]}"
    monkeypatch.setattr(constants, "ENDPOINT", address)
    started = time.monotonic()
    line = refused(capsys, 1, SST2, "--name", "x")
    assert time.monotonic() - started < 5
    assert line.startswith(f"error: cannot reach the Hugging Face Hub at {address} (")
    assert line.endswith("check the network (or HF_ENDPOINT) and try again")


# -- the registry file -----------------------------------------------------------------------------


def test_the_entry_goes_after_the_last_one_wherever_the_list_ends(
    hub: Hub, registry: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A list followed by a comment and a ``defaults:`` section, whose last entry ends in a folded block
    and a commented-out field: the entry goes after that comment, before the blank line."""
    original = (
        "# my registry\r\n".replace("\r\n", "\n")
        + "models:\n"
        + "- name: first   # a comment on the name\n"
        + "  task: summarization\n"
        + "  model: owner/summarizer\n"
        + f"  revision: {'a' * 40}\n"
        + "  example: >-\n"
        + "    A long text\n"
        + "    on two lines.\n"
        + "  # store_text: false   (a field commented out stays with its entry)\n"
        + "\n"
        + "# the end of the models\n"
        + "defaults:\n"
        + "  timeout: 90  # for everyone\n"
    )
    registry.write_text(original)
    status, _, err = run(capsys, SST2, "--name", "second")
    assert status == 0, err
    after = registry.read_text()
    head, tail = original.split("\n# the end")  # the entry goes between the commented field and the blank line
    tail = "\n# the end" + tail
    assert after.startswith(head) and after.endswith(tail)
    inserted = after[len(head) : len(after) - len(tail)]
    assert (
        inserted.startswith("\n# distilbert/")
        and inserted.endswith("  timeout: 60\n")
        and "\n- name: second\n  task: text-classification\n" in inserted
    )
    assert after.endswith("\n# the end of the models\ndefaults:\n  timeout: 90  # for everyone\n")
    loaded = load_registry(registry)
    assert loaded.names == ["first", "second"]
    assert loaded.get("first").example == "A long text on two lines."


def test_windows_line_endings_stay(hub: Hub, registry: Path, capsys: pytest.CaptureFixture[str]) -> None:
    original = DEFAULT_MODELS_FILE.read_bytes().replace(b"\n", b"\r\n")
    registry.write_bytes(original)
    status, _, err = run(capsys, SST2, "--name", "crlf")
    assert status == 0, err
    inserted = appended(original, registry.read_bytes())
    assert "\n" not in inserted.replace("\r\n", "")
    assert load_registry(registry).names[-1] == "crlf"


def test_strings_are_yaml_escaped(hub: Hub, registry: Path, capsys: pytest.CaptureFixture[str]) -> None:
    widget = [{"text": "yes: no # not a comment, 'quoted' \"twice\" & *star [MASK] → ünïcode"}]
    hub.publish("someone/tricky", info={**_info("sentiment"), "widgetData": widget})
    status, _, err = run(capsys, "someone/tricky", "--name", "tricky")
    assert status == 0, err
    assert load_registry(registry).get("tricky").example == widget[0]["text"]


def test_a_flow_style_registry_is_refused_and_left_untouched(
    hub: Hub, registry: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    original = f"models: [{{name: one, task: fill-mask, model: owner/one, revision: {'b' * 40}}}]\n"
    registry.write_text(original)
    assert "is not a block list of entries; add this one by hand" in refused(capsys, 2, SST2, "--name", "x")
    assert registry.read_text() == original


def test_an_entry_that_would_not_read_back_is_not_written(
    hub: Hub, registry: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    before = registry.read_bytes()
    monkeypatch.setattr(adding, "render", lambda plan, prefix="", newline="\n": "  - name: [unclosed\n")
    assert "the new entry would not load, so nothing was written" in refused(capsys, 1, SST2, "--name", "x")
    other = f"  - name: other\n    task: fill-mask\n    model: owner/other\n    revision: {'c' * 40}\n"
    monkeypatch.setattr(adding, "render", lambda plan, prefix="", newline="\n": other)
    line = refused(capsys, 1, SST2, "--name", "x")
    assert "the registry did not read back with exactly the new entry added, so nothing was written" in line
    assert registry.read_bytes() == before


def test_an_invalid_registry_is_a_usage_error(hub: Hub, registry: Path, capsys: pytest.CaptureFixture[str]) -> None:
    registry.write_text("models: []\n")
    assert "expected a top-level `models:` list" in refused(capsys, 2, SST2)


# -- as people run it ------------------------------------------------------------------------------


def _environment(hub: FakeHub, registry: Path, tmp_path: Path) -> dict[str, str]:
    environment = {
        **os.environ,
        "HF_ENDPOINT": hub.url,
        "HF_HOME": str(tmp_path / "hf-home"),
        "MODELS_FILE": str(registry),
        "PYTHONPATH": str(ROOT),
    }
    for name in ("HF_TOKEN", "HF_HUB_OFFLINE"):
        environment.pop(name, None)
    return environment


def test_python_m_inference_add_in_a_subprocess(served: Hub, registry: Path, tmp_path: Path) -> None:
    environment = _environment(served.hub, registry, tmp_path)
    command = [sys.executable, "-m", "inference", "add", SST2, "--name", "sst2"]
    done = subprocess.run(command, cwd=ROOT, env=environment, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert load_registry(registry).get("sst2").revision == record("sentiment").revision
    again = subprocess.run(command, cwd=ROOT, env=environment, capture_output=True, text=True, timeout=120)
    assert again.returncode == 2
    assert again.stderr.strip() == f"error: the name 'sst2' is already taken by the entry for {SST2}"


def test_the_console_script_runs_add(served: Hub, registry: Path, tmp_path: Path) -> None:
    """pyproject.toml's hf-slack-inference, as pip's launcher runs it (the checkout is not installed here)."""
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    module, function = scripts["hf-slack-inference"].split(":")
    launcher = tmp_path / "hf-slack-inference"
    launcher.write_text(f"import sys\nfrom {module} import {function}\nsys.exit({function}())\n")
    environment = _environment(served.hub, registry, tmp_path)
    done = subprocess.run(
        [sys.executable, str(launcher), "add", SST2, "--name", "sst2", "--dry-run"],
        cwd=tmp_path,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert "  - name: sst2\n" in done.stdout
    usage = subprocess.run(
        [sys.executable, str(launcher), "add"], cwd=tmp_path, env=environment, capture_output=True, text=True
    )
    assert usage.returncode == 2 and "usage: hf-slack-inference add" in usage.stderr


def test_the_rendered_entry_is_the_planned_one() -> None:
    plan = adding.Plan(
        entry={"name": "x", "task": "fill-mask", "example": "a: b", "parameters": {"candidate_labels": ["a", "b"]}},
        comment="a comment",
        notes=[],
    )
    text = adding.render(plan, "  - ")
    assert text.startswith("  # a comment\n  - name: x\n    task: fill-mask\n")
    assert yaml.safe_load("models:\n" + text)["models"] == [plan.entry]


def test_parameters_come_from_the_safetensors_headers_when_the_hub_gives_no_count(
    hub: Hub, registry: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    hub.publish("someone/counted", info={"pipeline_tag": "text-classification"})  # counted by the Hub
    hub.publish("someone/uncounted", info={"pipeline_tag": "text-classification", "safetensors": None})

    def weights(repo: str) -> str:
        status, out, err = run(capsys, repo, "--dry-run")
        assert status == 0, err
        return next(line for line in out.splitlines() if line.startswith("  weights"))

    counted = weights("someone/counted")
    assert counted == weights("someone/uncounted") and "parameters (F32)" in counted
    from huggingface_hub import HfApi

    def unreadable(*args: Any, **kwargs: Any) -> Any:
        raise OSError("no headers")

    monkeypatch.setattr(HfApi, "get_safetensors_metadata", unreadable)
    assert "counted from the files' size as 16-bit weights" in weights("someone/uncounted")


def test_a_legacy_id_becomes_the_owner_and_name_the_hub_answers_with(
    hub: Hub, registry: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    hub.publish("legacy-model", info={**_info("sentiment"), "id": "someone/legacy-model"})
    status, _, err = run(capsys, "legacy-model")
    assert status == 0, err
    assert load_registry(registry).get("legacy-model").model == "someone/legacy-model"
    hub.publish("bare-model", info=_info("sentiment"))
    assert "the registry needs a Hub id with its owner/name" in refused(capsys, 1, "bare-model")


def test_offline_is_refused_before_asking(
    hub: Hub, registry: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    hub.hub.clear()
    assert "HF_HUB_OFFLINE=1 forbids asking the Hub" in refused(capsys, 2, SST2)
    assert hub.hub.calls() == []


def test_an_added_entry_passes_check(hub: Hub, registry: Path, capsys: pytest.CaptureFixture[str]) -> None:
    status, _, err = run(capsys, record("similarity").repo, "--name", "similar")
    assert status == 0, err
    capsys.readouterr()
    assert cli.main(["check", "similar"]) == 0
    assert "verdict    will load" in capsys.readouterr().out


def test_a_symlinked_registry_is_written_through_the_link(
    hub: Hub, registry: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    link = registry.with_name("linked.yaml")
    link.symlink_to(registry)
    monkeypatch.setenv("MODELS_FILE", str(link))
    status, _, err = run(capsys, SST2, "--name", "linked")
    assert status == 0, err
    assert link.is_symlink() and load_registry(registry).names[-1] == "linked"
