"""``python -m inference add HUB_ID``: one registry entry for a Hub model, from what the Hub says about it.

One request to the Hub (``HfApi().model_info`` with file sizes, at ``--revision``
or the current ``main``) gives the commit to pin, the pipeline tag, the files,
the safetensors parameter count, the card's metadata (license, widget examples)
and the config; one more fetches the card's text (README.md) for a description.
From that, :func:`plan` decides the entry:

- ``task`` from ``--task`` or the pipeline tag (an unsupported one is refused
  with the list of supported tasks);
- ``revision``: the full commit sha the Hub resolved;
- ``backend``: the task's preferred one (:func:`inference.backends.default_backend`)
  unless ``--backend`` names another that serves the task (written only then);
- ``memory`` and ``timeout`` by docs/sizing.md's rule (:func:`inference.sizing.size`);
- ``title``, ``description`` and ``example`` from the card: the widget's example
  (in the task's one-line format) when there is one, the card's first sentence,
  else the model id and the task's own words; a task that reads a file (an image,
  audio) takes no text, so its example is empty, but for the labels a zero-shot
  image classifier scores;
- ``name`` from ``--name`` or a slug of the repository's name.

It refuses, with one ``error:`` line each (:class:`Refused`): no safetensors
weights, code of the model's own (``auto_map`` in its config: trust_remote_code),
no transformers config, no tokenizer or image processor where the task needs one
(:func:`inference.check.input_files`, as ``check`` judges them), a gated or private repository without a token
(``HF_TOKEN``), weights too large for Lambda, a name or slash command already
taken, an unsupported pipeline tag, an unknown repository or revision, and a
Hub that cannot be reached (one request with a short timeout, naming the Hub's
address).

:func:`append` writes the entry as text after the registry's last entry, in the
layout of the others, so every other byte of the file (comments included) stays
as it was; the new text must load through :func:`inference.registry.parse_registry`
with exactly one more entry, equal to the one planned, or nothing is written.
The file is replaced atomically.
"""

from __future__ import annotations

import os
import re
import stat
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from inference.backends import BACKENDS, default_backend, serving
from inference.check import input_files
from inference.errors import RegistryError
from inference.loader import HUB_TIMEOUT_SECONDS, OFFLINE_ENV, has_safetensors, is_offline, pickle_files
from inference.registry import COMMAND, COMMIT, RESERVED_NAMES, RESERVED_WHY, SLUG, Registry, parse_registry
from inference.sizing import TooLarge, size
from inference.tasks import ALIASES, TASKS, InvalidInput, media_kind, parse_input

#: The registry allows 32 characters in a name, and Slack 32 in a command with its "/": a derived name gets 31.
NAME_LENGTH = 31
#: A Hub id: ``owner/name``, or a bare legacy name (``gpt2``) that the Hub answers with its ``owner/name``.
HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*(/[\w.-]+)?$")
#: The longest description taken from a card (cut at a word, with an ellipsis).
DESCRIPTION_LENGTH = 200
#: Width of the rendered YAML; longer text continues on the next line.
YAML_WIDTH = 110
#: What people see when the card has no widget example: the default registry's examples, per task. A task that
#: reads a file takes its text as an option: none, but for the labels to score an image against.
DEFAULT_EXAMPLES = {
    "text-classification": "I love how quickly this team ships.",
    "token-classification": "Ada Lovelace worked with Charles Babbage in London.",
    "zero-shot-classification": "The new release cut our cloud bill in half. | finance, engineering, sports",
    "fill-mask": "Paris is the [MASK] of France.",
    "text-generation": "Explain in two sentences what a Lambda cold start is.",
    "feature-extraction": "A man is eating food.",
    "summarization": "The tower is 324 metres (1,063 ft) tall, about the same height as an 81-storey building, "
    "and the tallest structure in Paris. Its base is square, measuring 125 metres (410 ft) on each side.",
    "translation": "The meeting has been moved to Thursday afternoon.",
    "question-answering": "Where is the Eiffel Tower? | The Eiffel Tower is a wrought-iron lattice tower in Paris, France.",
    "sentence-similarity": "A man is eating food. | A man is eating a piece of bread.",
    "image-classification": "",
    "zero-shot-image-classification": "a photo, a screenshot, a diagram",
    "object-detection": "",
    "image-to-text": "",
    "automatic-speech-recognition": "",
}
#: What titles call each task.
TASK_TITLES = {
    "text-classification": "Text classification",
    "token-classification": "Named entities",
    "zero-shot-classification": "Zero-shot labels",
    "fill-mask": "Fill the blank",
    "text-generation": "Ask",
    "feature-extraction": "Embeddings",
    "summarization": "Summarize",
    "translation": "Translate",
    "question-answering": "Question answering",
    "sentence-similarity": "Sentence similarity",
    "image-classification": "What is in this picture?",
    "zero-shot-image-classification": "Label an image",
    "object-detection": "Find objects",
    "image-to-text": "Caption an image",
    "automatic-speech-recognition": "Transcribe",
}


class Refused(Exception):
    """``add`` will not write the entry: the message is one line for people; ``usage`` marks a wrong command line."""

    def __init__(self, message: str, *, usage: bool = False) -> None:
        super().__init__(" ".join(message.split()))  # one line, even for YAML's multi-line errors
        self.usage = usage


@dataclass(frozen=True)
class Request:
    """What the person asked for on the command line."""

    hub_id: str
    name: str | None = None
    task: str | None = None
    revision: str | None = None
    backend: str | None = None


@dataclass(frozen=True)
class HubModel:
    """What the Hub says about a model at one commit, in the terms :func:`plan` needs."""

    repo: str
    sha: str
    pipeline_tag: str | None
    files: dict[str, int]
    parameters: int | None
    dtypes: tuple[str, ...] = ()
    library: str | None = None
    license: str | None = None
    widget: list[Any] = field(default_factory=list)
    config: dict[str, Any] = field(default_factory=dict)
    tags: tuple[str, ...] = ()
    gated: bool = False
    private: bool = False
    #: The card's text (README.md), when it could be read.
    card: str | None = None


@dataclass(frozen=True)
class Plan:
    """The entry to append, as it will be written, and what people are told about it."""

    entry: dict[str, Any]
    comment: str
    notes: list[tuple[str, str]]

    @property
    def name(self) -> str:
        return str(self.entry["name"])


# -- the Hub ---------------------------------------------------------------------------------------


def _unreachable(exc: Exception) -> Refused:
    from huggingface_hub import constants

    return Refused(
        f"cannot reach the Hugging Face Hub at {constants.ENDPOINT} ({type(exc).__name__}: {exc}); "
        "check the network (or HF_ENDPOINT) and try again"
    )


def _hub_refusal(exc: Exception, repo: str, revision: str | None) -> Refused:
    """Word what the Hub answered (or that it did not), as the loader does (inference.loader)."""
    from huggingface_hub.errors import (
        GatedRepoError,
        HfHubHTTPError,
        HFValidationError,
        RepositoryNotFoundError,
        RevisionNotFoundError,
    )

    if isinstance(exc, HFValidationError):
        return Refused(f"{repo!r} is not a Hub id: {exc}", usage=True)
    if isinstance(exc, GatedRepoError):
        return Refused(f"{repo} is gated: accept its terms on the Hub and set HF_TOKEN to a token that may read it")
    if isinstance(exc, RevisionNotFoundError):
        return Refused(f"the Hub has no revision {revision} for {repo}: give a branch, a tag or a full commit hash")
    if isinstance(exc, RepositoryNotFoundError):
        return Refused(f"the Hub has no repository {repo} (or it is private: set HF_TOKEN)")
    if isinstance(exc, HfHubHTTPError):
        status = exc.response.status_code if exc.response is not None else "no"
        return Refused(f"the Hub answered HTTP {status} for {repo}; try again later")
    return _unreachable(exc)


def _license(card_data: Any) -> str | None:
    value = card_data.get("license") if card_data is not None else None
    if isinstance(value, list):
        value = ", ".join(str(v) for v in value)
    return str(value) if value else None


def _widget(info: Any) -> list[Any]:
    widget = info.widget_data
    if not widget and info.card_data is not None:
        widget = info.card_data.get("widget")
    if isinstance(widget, dict):
        widget = [widget]
    return list(widget) if isinstance(widget, list) else []


def _parameters(api: Any, info: Any, repo: str, sha: str) -> tuple[int | None, tuple[str, ...]]:
    """The safetensors parameter count (and dtypes): from model_info, else read from the files' headers."""
    counts = dict(info.safetensors.parameters) if info.safetensors is not None else {}
    if not counts:
        try:
            counts = dict(api.get_safetensors_metadata(repo, revision=sha, timeout=HUB_TIMEOUT_SECONDS).parameter_count)
        except Exception:  # no index or headers it can read: sized from the files' size instead
            counts = {}
    total = sum(int(n) for n in counts.values())
    return (total or None), tuple(sorted(counts))


def _card_text(repo: str, sha: str, files: dict[str, int]) -> str | None:
    """README.md at the commit, in one short request; None when there is none or it cannot be read."""
    if "README.md" not in files:
        return None
    from huggingface_hub import hf_hub_url
    from huggingface_hub.utils import build_hf_headers, get_session

    try:
        response = get_session().get(
            hf_hub_url(repo, "README.md", revision=sha), headers=build_hf_headers(), timeout=HUB_TIMEOUT_SECONDS
        )
        if response.status_code != 200:
            return None
        return response.content.decode("utf-8", "replace")
    except Exception:  # the card is a courtesy: without it the description is the model id
        return None


def read_hub(repo: str, revision: str | None = None) -> HubModel:
    """Ask the Hub about ``repo`` at ``revision`` (default: ``main``).

    Raises:
        Refused: the Hub cannot be reached, or has no such repository or revision.
    """
    from huggingface_hub import HfApi

    api = HfApi()
    try:
        info = api.model_info(repo, revision=revision, files_metadata=True, timeout=HUB_TIMEOUT_SECONDS)
    except Exception as exc:  # HTTP errors are typed; anything else means the Hub was not reached
        raise _hub_refusal(exc, repo, revision) from exc
    sha = info.sha or ""
    if "/" not in (info.id or repo):
        raise Refused(f"the Hub calls the model {info.id or repo!r}; the registry needs a Hub id with its owner/name")
    if not COMMIT.match(sha):
        raise Refused(f"the Hub gave no commit hash for {repo} at {revision or 'main'} (got {sha!r})")
    files = {sibling.rfilename: int(sibling.size or 0) for sibling in info.siblings or []}
    parameters, dtypes = _parameters(api, info, info.id or repo, sha)
    return HubModel(
        repo=info.id or repo,
        sha=sha,
        pipeline_tag=info.pipeline_tag,
        files=files,
        parameters=parameters,
        dtypes=dtypes,
        library=info.library_name,
        license=_license(info.card_data),
        widget=_widget(info),
        config=info.config if isinstance(info.config, dict) else {},
        tags=tuple(info.tags or ()),
        gated=bool(info.gated),
        private=bool(info.private),
        card=_card_text(info.id or repo, sha, files),
    )


# -- the card --------------------------------------------------------------------------------------

_FRONT_MATTER = re.compile(r"\A---\s*\n.*?\n---\s*(\n|\Z)", re.DOTALL)
_COMMENT = re.compile(r"<!--.*?-->", re.DOTALL)
_FENCE = re.compile(r"^(```|~~~).*?^\1", re.DOTALL | re.MULTILINE)
_IMAGE = re.compile(r"!\[[^\]]*\]\([^)]*\)")
_LINK = re.compile(r"\[([^\]]*)\]\([^)]*\)")
_TAG = re.compile(r"<[^>]+>")
_LABEL = re.compile(r"^\*\*[^*]{1,40}:\*\*\s*|^__[^_]{1,40}:__\s*")
_EMPHASIS = re.compile(r"(\*\*|__|\*|`)(.+?)\1")
#: A sentence ends at a stop followed by a capital (or the end), so "e.g. on" does not end one.
_SENTENCE = re.compile(r"^(.+?[.!?])(?=\s+[A-Z0-9\"'(“]|\s*$)")
#: The Hub's model card template says this where the author wrote nothing.
_PLACEHOLDERS = ("More Information Needed", "[optional]", "Model Card for")


def _prose(line: str) -> bool:
    """Whether a line of a card is prose (not a heading, list, table, quote, badge or HTML)."""
    return bool(line) and not re.match(r"^(#|\||>|[-*+] |\d+[.)] |!\[|\[!\[|<|=|-{3,}|\*{3,})", line)


def first_sentence(card: str) -> str | None:
    """The first sentence of a model card's prose, with its Markdown removed; None when it has none."""
    text = _FENCE.sub("", _COMMENT.sub("", _FRONT_MATTER.sub("", card)))
    paragraph: list[str] = []
    for raw in [*text.splitlines(), ""]:
        line = raw.strip()
        if _prose(line):
            paragraph.append(line)
            continue
        if paragraph:
            words = " ".join(paragraph)
            words = _EMPHASIS.sub(r"\2", _LINK.sub(r"\1", _IMAGE.sub("", _LABEL.sub("", words))))
            words = re.sub(r"\s+", " ", _TAG.sub("", words)).strip()
            if len(words.split()) >= 3 and not any(p in words for p in _PLACEHOLDERS):
                match = _SENTENCE.match(words)
                return _shorten(match.group(1) if match else words)
        paragraph = []
    return None


def _shorten(text: str) -> str:
    if len(text) <= DESCRIPTION_LENGTH:
        return text
    return text[: DESCRIPTION_LENGTH - 1].rsplit(" ", 1)[0].rstrip(",;:") + "…"


def _one_line(value: Any) -> str:
    if isinstance(value, list):
        value = ", ".join(str(v) for v in value)
    return re.sub(r"\s+", " ", str(value)).strip() if value is not None else ""


def _widget_text(task: str, item: Any) -> str:
    """One widget example in the task's one-line format (tasks.py), or "" when it has none for the task."""
    if not isinstance(item, dict):
        return ""
    if task == "zero-shot-image-classification":
        return _one_line(item.get("candidate_labels"))
    if media_kind(task) is not None:
        return ""  # the widget's example is a file (``src``), which an entry cannot carry
    text = _one_line(item.get("text"))
    if task == "zero-shot-classification":
        labels = _one_line(item.get("candidate_labels"))
        return f"{text} | {labels}" if text and labels else ""
    if task == "question-answering":
        context = _one_line(item.get("context"))
        return f"{text} | {context}" if text and context else ""
    if task == "sentence-similarity":
        source, sentences = _one_line(item.get("source_sentence")), item.get("sentences")
        others = [_one_line(s) for s in sentences] if isinstance(sentences, list) else []
        return " | ".join([source, *others]) if source and others and all(others) else ""
    if not text and task == "text-generation" and isinstance(item.get("messages"), list):
        said = [m.get("content") for m in item["messages"] if isinstance(m, dict) and m.get("role") == "user"]
        text = _one_line(said[-1]) if said else ""
    return text


def example(task: str, widget: list[Any]) -> tuple[str, bool]:
    """The entry's example: the first widget example that parses as the task's input, else the task's default.

    Returns the example and whether it came from the card.
    """
    for item in widget:
        text = _widget_text(task, item)
        try:
            if text:
                parse_input(task, text)
                return text, True
        except InvalidInput:
            continue
    return DEFAULT_EXAMPLES[task], False


# -- the entry -------------------------------------------------------------------------------------


def slug(repo: str) -> str:
    """A registry name from a Hub id: its name part in lower case, other characters as ``-``, at most 31 long."""
    name = re.sub(r"[^a-z0-9]+", "-", repo.rsplit("/", 1)[-1].lower()).strip("-")
    if len(name) <= NAME_LENGTH:
        return name
    cut = name[: NAME_LENGTH + 1].rsplit("-", 1)[0]  # whole words where it has them
    return (cut if "-" in name[: NAME_LENGTH + 1] else name[:NAME_LENGTH]).rstrip("-")


def _check_name(name: str, registry: Registry, *, derived: bool) -> None:
    hint = " (the name comes from the repository's; choose one with --name)" if derived else ""
    if not SLUG.match(name) or not COMMAND.match(f"/{name}"):
        raise Refused(
            f"the name {name!r} must be a slug: lower-case letters, digits and '-', 1 to {NAME_LENGTH} characters{hint}",
            usage=True,
        )
    if name in RESERVED_NAMES:
        raise Refused(f"the name {name!r} is reserved ({RESERVED_WHY}){hint}", usage=True)
    taken = registry.find(name)
    if taken is not None:
        raise Refused(f"the name {name!r} is already taken by the entry for {taken.model}{hint}", usage=True)
    owner = registry.by_command(f"/{name}")
    if owner is not None:
        raise Refused(f"the slash command /{name} is already taken by the entry {owner.name!r}{hint}", usage=True)


def _task(request: Request, model: HubModel) -> tuple[str, str]:
    """The entry's task, and where it came from."""
    supported = ", ".join(TASKS)
    if request.task is not None:
        task = ALIASES.get(request.task, request.task)
        if task not in TASKS:
            raise Refused(f"unknown task {request.task!r}; supported: {supported}", usage=True)
        return task, "--task"
    tag = model.pipeline_tag
    if not tag:
        raise Refused(f"{model.repo} names no pipeline tag on the Hub: give its task with --task ({supported})")
    task = ALIASES.get(tag, tag)
    if task not in TASKS:
        raise Refused(f"{model.repo}'s pipeline tag {tag!r} is not a task served here; supported: {supported}")
    return task, f"the Hub's pipeline tag {tag}"


def _backend(request: Request, task: str) -> str:
    if request.backend is None:
        return default_backend(task)
    if request.backend not in BACKENDS:
        raise Refused(f"unknown backend {request.backend!r}; available: {', '.join(BACKENDS)}", usage=True)
    if task not in BACKENDS[request.backend].runners:
        raise Refused(
            f"the {request.backend} backend does not serve {task}; backends that do: {', '.join(serving(task))}",
            usage=True,
        )
    return request.backend


def _refuse_unservable(model: HubModel, task: str) -> None:
    """The refusals that do not depend on the entry's name: access, code, weights, config, and the tokenizer
    and image processor or feature extractor that ``task`` needs."""
    from huggingface_hub import get_token

    where = f"{model.repo}@{model.sha[:7]}"
    if (model.gated or model.private) and not get_token():
        access = "accept its terms on the Hub and set" if model.gated else "set"
        raise Refused(
            f"{model.repo} is {'gated' if model.gated else 'private'}: {access} HF_TOKEN to a token that may read it "
            "(the deploy's warm step needs it too: `cdk deploy -c hf_token_secret=NAME`, docs/deploy.md)"
        )
    if "auto_map" in model.config or "custom_code" in model.tags:
        raise Refused(
            f"{where} needs trust_remote_code (code of its own: an auto_map in its config), which is refused: "
            "only models that run with transformers' own code are served"
        )
    if not has_safetensors(model.files):
        pickles = pickle_files(model.files)
        extra = (
            f" It has pickled weights ({', '.join(pickles)}), which `warm` converts: to serve it anyway, write its "
            "entry by hand if you trust the repository (docs/security.md)."
            if pickles
            else ""
        )
        raise Refused(
            f"{where} has no safetensors weights; only safetensors are served, as pickles can run code.{extra}"
        )
    if not model.config.get("model_type"):
        raise Refused(
            f"{where} has no transformers config (config.json with a model_type), so transformers cannot load it"
        )
    _, problem = input_files(task, list(model.files))
    if problem is not None:
        raise Refused(f"{where}: {problem}")


def _weights_bytes(model: HubModel) -> int:
    return sum(size for path, size in model.files.items() if "/" not in path and path.endswith(".safetensors"))


def _megabytes(size_bytes: int) -> str:
    return f"{size_bytes / 1e6:,.0f} MB" if size_bytes >= 10e6 else f"{size_bytes / 1e6:,.1f} MB"


def _count(parameters: int) -> str:
    return f"{parameters / 1e6:,.1f} M parameters" if parameters >= 1e6 else f"{parameters:,} parameters"


def plan(request: Request, model: HubModel, registry: Registry) -> Plan:
    """The entry ``request`` adds for ``model`` to ``registry``.

    Raises:
        Refused: the model cannot be served, or the name, task or backend is wrong.
    """
    name = request.name if request.name is not None else slug(model.repo)
    _check_name(name, registry, derived=request.name is None)
    task, task_source = _task(request, model)
    backend = _backend(request, task)
    _refuse_unservable(model, task)
    weights = _weights_bytes(model)
    # Without a count, the file size as 16-bit weights: an over-estimate for float32, never an under-estimate.
    parameters = model.parameters or weights // 2
    counted = _count(parameters) + (f" ({', '.join(model.dtypes)})" if model.dtypes else "")
    if not model.parameters:
        counted += ", counted from the files' size as 16-bit weights (the Hub gave no count)"
    try:
        sizing = size(parameters=parameters, task=task, backend=backend)
    except TooLarge as exc:
        raise Refused(f"{model.repo} is too large for Lambda: {counted}; {exc}") from exc
    sentence = first_sentence(model.card) if model.card else None
    text, from_card = example(task, model.widget)
    entry: dict[str, Any] = {
        "name": name,
        "task": task,
        "model": model.repo,
        "revision": model.sha,
        "title": f"{TASK_TITLES[task]} ({model.repo.rsplit('/', 1)[-1]})",
        "description": sentence or f"{model.repo}: {TASKS[task].summary}",
        "example": text,
        "memory": sizing.memory,
        "timeout": sizing.timeout,
    }
    if from_card and task in ("zero-shot-classification", "zero-shot-image-classification"):
        entry["parameters"] = {"candidate_labels": parse_input(task, text)["candidate_labels"]}
    if request.backend is not None and backend != default_backend(task):
        entry["backend"] = backend
    facts = [model.license and f"license {model.license}", counted, f"{_megabytes(weights)} of safetensors"]
    comment = f"{model.repo}: {'; '.join(f for f in facts if f)}"
    notes = [
        ("model", f"{model.repo} at {model.sha} ({'--revision ' + request.revision if request.revision else 'main'})"),
        ("task", f"{task} (from {task_source})"),
        ("backend", f"{backend} ({'--backend' if request.backend else 'the task default'})"),
        ("weights", f"{_megabytes(weights)} of safetensors, {counted}"),
        ("size", f"{sizing.explain()} (docs/sizing.md)"),
        ("license", model.license or "not stated on the card"),
        ("example", _example_note(task, from_card)),
    ]
    return Plan(entry=entry, comment=comment.replace("\n", " "), notes=notes)


def _example_note(task: str, from_card: bool) -> str:
    if from_card:
        return "from the card's widget"
    if media_kind(task) is not None and not DEFAULT_EXAMPLES[task]:
        return f"none: {task} reads a file and needs no text"
    return "the task's default (the card has no widget example)"


# -- the registry file -----------------------------------------------------------------------------


def _last_value(node: yaml.Node) -> yaml.Node:
    """The last value inside a block node (a block collection's own end mark is the next token's start)."""
    while isinstance(node, yaml.MappingNode | yaml.SequenceNode) and node.value and not node.flow_style:
        last = node.value[-1]
        node = last[1] if isinstance(node, yaml.MappingNode) else last
    return node


def _end_of_entry(text: str, value: yaml.Node, dash: int) -> int:
    """Where the last entry's text ends: after its last value's line and the comments indented under it."""
    end = value.end_mark.index
    if isinstance(value, yaml.ScalarNode) and value.style in ("|", ">"):
        header = text[value.start_mark.index : text.find("\n", value.start_mark.index)]
        if "+" not in header:  # a block scalar's end is past the blank lines after it, unless it keeps them
            while end > 1 and text[end - 1] == "\n" and not text[text.rfind("\n", 0, end - 1) + 1 : end].strip():
                end = text.rfind("\n", 0, end - 1) + 1
        position = end
    else:
        newline = text.find("\n", end)
        position = len(text) if newline == -1 else newline + 1
    for line in text[position:].splitlines(keepends=True):
        indent = len(line) - len(line.lstrip(" "))
        if not line.strip().startswith("#") or indent <= dash:
            break
        position += len(line)  # a comment under the entry (a field commented out) stays with it
    return position


def _layout(text: str) -> tuple[int, str]:
    """Where an entry goes (just after the last one's text) and the prefix of its first line (``"  - "``).

    Raises:
        Refused: the ``models:`` list is not a block list whose entries start on their dash's line.
    """
    root = yaml.compose(text, Loader=yaml.SafeLoader)
    models = None
    if isinstance(root, yaml.MappingNode):
        models = next((value for key, value in root.value if key.value == "models"), None)
    if not isinstance(models, yaml.SequenceNode) or models.flow_style or not models.value:
        raise Refused("the registry's `models:` is not a block list of entries; add this one by hand", usage=True)
    last = models.value[-1]
    start = last.start_mark.index
    prefix = text[text.rfind("\n", 0, start) + 1 : start]
    if not re.fullmatch(r" *- +", prefix):
        raise Refused("cannot tell how the registry's entries are laid out; add this one by hand", usage=True)
    return _end_of_entry(text, _last_value(last), prefix.index("-")), prefix


def render(plan: Plan, prefix: str = "  - ", newline: str = "\n") -> str:
    """The entry as registry text: a comment, then the YAML of ``plan.entry`` with the dash at ``prefix``."""
    dumped = yaml.safe_dump([plan.entry], sort_keys=False, allow_unicode=True, width=YAML_WIDTH)
    indent = " " * len(prefix)
    lines = [f"{' ' * prefix.index('-')}# {plan.comment}"]
    for number, line in enumerate(dumped.splitlines()):
        lines.append(prefix + line[2:] if number == 0 else (indent + line[2:] if line.strip() else ""))
    return newline.join(lines) + newline


def with_entry(text: str, plan: Plan) -> tuple[str, int, str]:
    """The registry ``text`` with the entry inserted after its last one: the new text, where, and what was inserted."""
    position, prefix = _layout(text)
    newline = "\r\n" if "\r\n" in text else "\n"
    before = text[:position]
    if before and not before.endswith("\n"):
        before += newline
    inserted = newline + render(plan, prefix, newline)
    return before + inserted + text[position:], len(before), inserted


def _verify(old: str, new: str, plan: Plan, path: Path) -> None:
    """The new text must load as a registry with exactly one more entry, the planned one, and nothing else changed."""
    base = path.resolve().parent
    try:
        before = yaml.safe_load(old)
        after = yaml.safe_load(new)
        registry = parse_registry(after, base=base, path=path)
    except (yaml.YAMLError, RegistryError) as exc:
        raise Refused(f"the new entry would not load, so nothing was written: {exc}") from exc
    previous = parse_registry(before, base=base, path=path)
    same = {k: v for k, v in after.items() if k != "models"} == {k: v for k, v in before.items() if k != "models"}
    if not (
        same
        and len(registry) == len(previous) + 1
        and after["models"][:-1] == before["models"]
        and after["models"][-1] == plan.entry
    ):
        raise Refused("the registry did not read back with exactly the new entry added, so nothing was written")


def _write_atomically(path: Path, text: str) -> None:
    mode = stat.S_IMODE(path.stat().st_mode)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "w", encoding="utf-8", newline="") as file:
            file.write(text)
            file.flush()
            os.fsync(file.fileno())
        os.chmod(temporary, mode)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def append(path: Path, plan: Plan, *, dry_run: bool = False) -> str:
    """Insert the planned entry into the registry file at ``path`` (unless ``dry_run``) and return its text.

    Raises:
        Refused: the file cannot be read or written, is laid out in a way the
            entry cannot follow, or would not load with the entry in it.
    """
    try:
        old = path.read_bytes().decode("utf-8")
    except OSError as exc:
        raise Refused(f"cannot read the registry {path}: {exc.strerror or exc}", usage=True) from exc
    new, _, inserted = with_entry(old, plan)
    _verify(old, new, plan, path)
    if dry_run:
        return inserted
    try:
        if path.read_bytes().decode("utf-8") != old:
            raise Refused(f"{path} changed while the entry was being made; run the command again")
        _write_atomically(path.resolve(), new)  # through a symlink, to the file it names
    except OSError as exc:
        raise Refused(f"cannot write the registry {path}: {exc.strerror or exc}") from exc
    return inserted


def add(request: Request, registry: Registry, *, dry_run: bool = False) -> Plan:
    """Ask the Hub about ``request.hub_id``, plan its entry and append it to ``registry``'s file; print what was done.

    Raises:
        Refused: with one line for people (see the module doc).
    """
    if not HUB_ID.match(request.hub_id):
        raise Refused(f"{request.hub_id!r} is not a Hub id: expected owner/name", usage=True)
    if is_offline():
        raise Refused(f"{OFFLINE_ENV}=1 forbids asking the Hub about {request.hub_id}: unset it for `add`", usage=True)
    if request.name is not None:
        _check_name(request.name, registry, derived=False)
    if request.task is not None and ALIASES.get(request.task, request.task) not in TASKS:
        raise Refused(f"unknown task {request.task!r}; supported: {', '.join(TASKS)}", usage=True)
    if request.backend is not None and request.backend not in BACKENDS:
        raise Refused(f"unknown backend {request.backend!r}; available: {', '.join(BACKENDS)}", usage=True)
    model = read_hub(request.hub_id, request.revision)
    planned = plan(request, model, registry)
    text = append(registry.path, planned, dry_run=dry_run)
    print(f"{planned.name}:")
    for label, value in planned.notes:
        print(f"  {label:<9} {value}")
    print(text.strip("\r\n"))
    if dry_run:
        print(f"dry run: nothing written to {registry.path}")
    else:
        print(f"added {planned.name} to {registry.path}. {_next_steps(planned)}")
    return planned


def _next_steps(planned: Plan) -> str:
    """What to do after adding: a text entry's slash command goes into Slack's manifest; a file entry has none."""
    warm = f"`cdk deploy`, whose warm step fills the cache; locally, `python -m inference warm {planned.name}`."
    kind = media_kind(str(planned.entry["task"]))
    if kind is None:
        return f"Next: `python -m bot manifest --url <ApiUrl> > manifest.yaml` (the new command /{planned.name}), then {warm}"
    return (
        f"It reads an {kind} file, which a slash command cannot carry, so it has none: people mention the app with "
        f"the file attached, or use the form. Next: {warm}"
    )
