"""Chat on onnxruntime-genai: the text-generation runner with neither torch nor transformers.

It serves what :mod:`inference.genai_convert` made at warm time: the decoder
graph onnxruntime-genai runs, the ``tokenizer.json`` transformers saved for the
model, and a manifest (:data:`MANIFEST`) with what transformers would otherwise
work out at run time: the chat template and the special tokens it sees, the
stop tokens, the input limit and the model's generation settings.

Each step repeats what the torch runner's pipeline does, so both backends answer
alike: the prompt is rendered with jinja2 as transformers' ``apply_chat_template``
renders it and tokenized with ``tokenizers`` (the library transformers itself
runs; onnxruntime-genai 0.18's tokenizer cannot read a tokenizer transformers 5
saved); onnxruntime-genai only runs the model, one token at a time, and the
logits processors of transformers' ``generate`` (repetition penalty, repeated
n-grams, minimum lengths, temperature, top-k, top-p) are repeated in numpy on
its logits. An fp32 conversion then gives exactly torch's greedy tokens.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import jinja2
import jinja2.ext
import numpy as np
import onnxruntime_genai as og
from jinja2.sandbox import ImmutableSandboxedEnvironment
from tokenizers import Tokenizer

from inference.errors import InvalidInput, ModelLoadError
from inference.records import JsonRecord
from inference.registry import ModelSpec
from inference.runners import parameters as params
from inference.runners import vcpus
from inference.tasks import MESSAGES, parse_input, trimmed_turns
from inference.tokenization import clean_up_tokenization

MANIFEST = "generation.json"
TOKENIZER_FILE = "tokenizer.json"
#: Bumped when the manifest changes in a way older runners cannot read.
FORMAT = 1


@dataclass(frozen=True)
class GenerationManifest(JsonRecord):
    """What transformers knew about the model that the runner needs without it (written by the converter)."""

    FILE = MANIFEST
    KIND = "generation manifest"

    #: The most tokens the model reads at once, prompt and answer together (what the torch runner computes).
    limit: int
    #: Generation stops after any of these (the model's generation config, else its config).
    eos_token_ids: list[int]
    #: The tokenizer's chat template, or None: the prompt is then tokenized as plain text.
    chat_template: str | None
    #: The tokenizer's special tokens by name, which transformers hands the template (``eos_token``, ...).
    special_tokens: dict[str, Any]
    #: Whether decoding removes the spaces before punctuation, as this model's tokenizer does in transformers.
    clean_up_tokenization_spaces: bool
    #: transformers' default for each generation setting, overridden by the model's generation config.
    settings: dict[str, Any]
    #: The pipeline's own defaults when sampling, for the sampling settings the model's config leaves unset.
    sampling_defaults: dict[str, Any] = field(default_factory=dict)
    format: int = FORMAT


class _Generation(jinja2.ext.Extension):
    """``{% generation %}...{% endgeneration %}``: transformers marks the assistant's tokens with it; here it only renders."""

    tags = {"generation"}

    def parse(self, parser: Any) -> jinja2.nodes.Node:
        lineno = next(parser.stream).lineno
        body = parser.parse_statements(("name:endgeneration",), drop_needle=True)
        return jinja2.nodes.CallBlock(self.call_method("_render"), [], [], body).set_lineno(lineno)

    def _render(self, caller: Any) -> str:
        return caller()


def _raise_exception(message: str) -> None:
    raise jinja2.exceptions.TemplateError(message)


def _tojson(
    value: Any, ensure_ascii: bool = False, indent: int | None = None, separators: Any = None, sort_keys: bool = False
) -> str:
    return json.dumps(value, ensure_ascii=ensure_ascii, indent=indent, separators=separators, sort_keys=sort_keys)


def chat_template(source: str) -> jinja2.Template:
    """``source`` compiled in the sandbox transformers renders chat templates in, with the same helpers.

    Raises:
        jinja2.TemplateError: the template does not parse.
    """
    environment = ImmutableSandboxedEnvironment(
        trim_blocks=True, lstrip_blocks=True, extensions=[_Generation, jinja2.ext.loopcontrols]
    )
    environment.filters["tojson"] = _tojson
    environment.globals["raise_exception"] = _raise_exception
    environment.globals["strftime_now"] = lambda fmt: datetime.now().strftime(fmt)
    return environment.from_string(source)


def resolve_settings(manifest: GenerationManifest, parameters: dict[str, Any]) -> dict[str, Any]:
    """The generation settings of one request, merged as the torch runner's pipeline merges them.

    Lowest first: transformers' defaults, the pipeline's sampling defaults (when
    sampling), the model's generation config, the runner's ``max_new_tokens``,
    then the registry's and the request's ``parameters``.

    Raises:
        InvalidInput: a setting has the wrong type, or asks for a beam search.
    """
    requested = params.generation(parameters)
    settings = {**manifest.settings, "max_new_tokens": params.DEFAULT_MAX_NEW_TOKENS, **requested}
    if settings.get("do_sample"):
        unset = {key: value for key, value in manifest.sampling_defaults.items() if key not in requested}
        settings = {**settings, **unset}
    if settings.get("num_beams", 1) > 1:
        raise InvalidInput(
            "This model answers with one sequence at a time: `num_beams` above 1 needs `backend: torch`."
        )
    return settings


def banned_ngram_tokens(sequence: list[int], size: int) -> list[int]:
    """The tokens that would repeat an n-gram of ``size`` already in ``sequence`` (transformers' ``no_repeat_ngram_size``)."""
    if size <= 0 or len(sequence) + 1 < size:
        return []
    prefix = tuple(sequence[len(sequence) - size + 1 :])
    return [
        sequence[start + size - 1]
        for start in range(len(sequence) - size + 1)
        if tuple(sequence[start : start + size - 1]) == prefix
    ]


def process(
    scores: np.ndarray, sequence: list[int], generated: int, settings: dict[str, Any], eos: list[int]
) -> np.ndarray:
    """The logits processors ``generate`` applies before choosing, in its order, on one row of float32 logits.

    ``sequence`` is the prompt and the tokens generated so far (``generated`` of them).
    """
    scores = scores.astype(np.float32, copy=True)
    penalty = settings.get("repetition_penalty", 1.0)
    if penalty != 1.0:
        seen = np.unique(np.asarray(sequence))
        chosen = scores[seen]
        scores[seen] = np.where(chosen < 0, chosen * np.float32(penalty), chosen / np.float32(penalty))
    banned = banned_ngram_tokens(sequence, settings.get("no_repeat_ngram_size", 0))
    if banned:
        scores[banned] = -np.inf
    if eos and (len(sequence) < settings.get("min_length", 0) or generated < (settings.get("min_new_tokens") or 0)):
        scores[eos] = -np.inf
    if not settings.get("do_sample"):
        return scores
    temperature = settings.get("temperature", 1.0)
    if temperature != 1.0:
        scores = scores / np.float32(temperature)
    top_k = min(settings.get("top_k", 0), scores.size)
    if top_k:
        scores[scores < np.partition(scores, -top_k)[-top_k]] = -np.inf
    top_p = settings.get("top_p", 1.0)
    if top_p < 1.0:
        # Only the tokens still possible: the others add nothing to the cumulative probability.
        kept = np.flatnonzero(scores > -np.inf)
        order = kept[np.argsort(scores[kept], kind="stable")]
        remove = np.cumsum(_softmax(scores[order])) <= np.float32(1 - top_p)
        remove[-1] = False  # always keep the likeliest
        scores[order[remove]] = -np.inf
    return scores


def _softmax(scores: np.ndarray) -> np.ndarray:
    shifted = np.exp(scores - scores.max())
    return shifted / shifted.sum()


def choose(scores: np.ndarray, *, sample: bool, rng: np.random.Generator) -> int:
    """The next token: the likeliest (greedy search), or drawn from the processed distribution."""
    if not sample:
        return int(np.argmax(scores))
    probabilities = _softmax(scores.astype(np.float64))
    return int(rng.choice(probabilities.size, p=probabilities))


class TextGenerationGenai:
    """Answers a prompt, through the model's chat template when it has one; returns only the new text."""

    def __init__(self, spec: ModelSpec, folder: Path) -> None:
        self.spec = spec
        try:
            self.manifest = GenerationManifest.read(folder)
            config = og.Config(str(folder))
            threads = {"intra_op_num_threads": vcpus(spec.memory), "inter_op_num_threads": 1}
            config.overlay(json.dumps({"model": {"decoder": {"session_options": threads}}}))
            self.model = og.Model(config)
            self.tokenizer = Tokenizer.from_file(str(folder / TOKENIZER_FILE))
            self.template = chat_template(self.manifest.chat_template) if self.manifest.chat_template else None
        except Exception as exc:  # a missing or corrupt file, a template that does not parse: all a failed load
            raise ModelLoadError(
                f"Cannot load the onnxruntime-genai conversion of {spec.name} from {folder}: {exc}"
            ) from exc
        self.tokenizer.no_padding()
        self.tokenizer.no_truncation()
        self.rng = np.random.default_rng()

    #: It generates a token at a time, so ``run`` can pass the text so far on (:class:`inference.service.Partials`).
    streams = True

    def run(
        self, text: str, parameters: dict[str, Any], *, on_text: Callable[[Callable[[], str]], None] | None = None
    ) -> dict[str, Any]:
        """Parse ``text`` with the task's one-line format and answer it; ``on_text`` sees the reply as it grows."""
        return self.predict(parse_input(self.spec.task, text, parameters), parameters, on_text=on_text)

    def predict(
        self,
        inputs: dict[str, Any],
        parameters: dict[str, Any],
        *,
        on_text: Callable[[Callable[[], str]], None] | None = None,
    ) -> dict[str, Any]:
        """The whole reply to ``inputs["text"]``, as the torch runner returns it.

        After each token, ``on_text`` (when given) is called with a function that decodes the reply so
        far; the final reply is the same with or without it.
        """
        settings = resolve_settings(self.manifest, parameters)
        history, dropped = params.fit_history(
            inputs.get(MESSAGES) or [],
            lambda turns: len(self.encode(inputs["text"], parameters, turns)),
            self.manifest.limit - settings["max_new_tokens"],
        )
        prompt = self.encode(inputs["text"], parameters, history)
        params.check_prompt_fits(len(prompt), settings["max_new_tokens"], self.manifest.limit)
        reply: list[int] = []
        for token in self.tokens(prompt, settings):
            reply.append(token)
            if on_text is not None:
                on_text(lambda: self.decode(reply).strip())
        return {"text": self.decode(reply).strip(), **trimmed_turns(dropped, inputs)}

    def encode(self, text: str, parameters: dict[str, Any], history: list[dict[str, str]] | None = None) -> list[int]:
        """The prompt's tokens: the chat template's rendering of the conversation (``history``, then
        ``text``), or the plain text."""
        if self.template is None:
            return self.tokenizer.encode(params.plain_prompt(text, parameters, history or [])).ids
        try:
            rendered = self.template.render(
                messages=params.chat_messages(text, parameters, history or []),
                tools=None,
                documents=None,
                add_generation_prompt=True,
                **self.manifest.special_tokens,
            )
        except jinja2.TemplateError as exc:  # the template's own raise_exception: it refuses this conversation
            raise InvalidInput(f"The model's chat template refuses this prompt: {exc}") from exc
        return self.tokenizer.encode(rendered, add_special_tokens=False).ids

    def decode(self, tokens: list[int]) -> str:
        """The text of ``tokens`` without special tokens, as the pipeline decodes a reply."""
        text = self.tokenizer.decode(tokens, skip_special_tokens=True)
        return clean_up_tokenization(text) if self.manifest.clean_up_tokenization_spaces else text

    def tokens(self, prompt: list[int], settings: dict[str, Any]) -> Iterator[int]:
        """The reply's tokens one at a time, its stop token included, as ``generate`` produces them."""
        limit = settings["max_new_tokens"]
        search = og.GeneratorParams(self.model)
        search.set_search_options(max_length=len(prompt) + limit)  # the KV cache is sized for this request only
        generator = og.Generator(self.model, search)
        generator.append_tokens(np.asarray(prompt, dtype=np.int32))
        sequence, eos = list(prompt), self.manifest.eos_token_ids
        for generated in range(limit):
            scores = process(generator.get_logits()[0, -1], sequence, generated, settings, eos)
            token = choose(scores, sample=bool(settings.get("do_sample")), rng=self.rng)
            yield token
            if token in eos or generated + 1 == limit:
                return
            sequence.append(token)
            generator.append_tokens(np.asarray([token], dtype=np.int32))
