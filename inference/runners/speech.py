"""Speech recognition with transformers and torch: Whisper's processor and ``generate()``, one window at a time.

A speech model reads audio through a feature extractor, not text through a tokenizer, so this runner
stands beside :class:`~inference.runners.base.TorchRunner` with the same loading rules (safetensors only,
no remote code, local files only, float32, threads sized to the Lambda). :mod:`inference.runners.transcripts`
splits the recording into windows and turns the tokens into chunks; here each window is generated with
``force_unique_generate_call`` (one ``generate()`` per window, without transformers' own seeking inside
it), greedy, with timestamps, from the same prompt the CTranslate2 runner uses.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import torch
from transformers import AutoModelForSpeechSeq2Seq, AutoProcessor

from inference.audio import load_audio
from inference.errors import ModelLoadError
from inference.media import MediaFile
from inference.registry import ModelSpec
from inference.runners import vcpus
from inference.runners.base import load_pretrained
from inference.runners.transcripts import Request, WhisperTokens, read_request, transcribe
from inference.tasks import parse_input


class SpeechRecognitionRunner:
    """``{"text", "chunks": [{"start", "end", "text"}], "duration", "language"?}`` for a Whisper model."""

    #: The transformers auto class that loads the model.
    auto_class: ClassVar[Any] = AutoModelForSpeechSeq2Seq

    def __init__(self, spec: ModelSpec, path: Path) -> None:
        torch.set_num_threads(vcpus(spec.memory))
        self.spec = spec
        self.processor = load_pretrained(AutoProcessor, path, "processor", spec)
        self.model = load_pretrained(
            self.auto_class, path, "weights", spec, use_safetensors=True, dtype=torch.float32
        ).eval()
        try:
            self.tokens = WhisperTokens.from_generation_config(
                self.model.generation_config.to_dict(), max_target_positions=self.model.config.max_target_positions
            )
        except (AttributeError, ValueError) as exc:
            raise ModelLoadError(f"{spec.name} is not a Whisper model this runner reads: {exc}") from exc
        self.extractor = self.processor.feature_extractor

    def run(self, text: str, parameters: dict[str, Any], *, file: MediaFile) -> dict[str, Any]:
        """Check the request, decode ``file`` and transcribe it window by window."""
        parse_input(self.spec.task, text, parameters)
        request = read_request(parameters, self.tokens)
        audio = load_audio(file, sampling_rate=self.extractor.sampling_rate)
        with torch.inference_mode():
            return transcribe(
                _Windows(self, request),
                audio,
                tokens=self.tokens,
                request=request,
                sampling_rate=self.extractor.sampling_rate,
                window=self.extractor.n_samples,
            )


class _Windows:
    """The torch runner's :class:`~inference.runners.transcripts.WindowModel`."""

    def __init__(self, runner: SpeechRecognitionRunner, request: Request) -> None:
        self.runner, self.request = runner, request

    def encode(self, audio: np.ndarray) -> torch.Tensor:
        extractor = self.runner.extractor
        return extractor(audio, sampling_rate=extractor.sampling_rate, return_tensors="pt").input_features

    def detect_language(self, encoded: torch.Tensor) -> int:
        return int(self.runner.model.detect_language(encoded)[0])

    def generate(self, encoded: torch.Tensor, prompt: list[int], max_new_tokens: int) -> list[int]:
        tokens = self.runner.tokens
        options: dict[str, Any] = {}
        if tokens.multilingual:
            options = {"language": tokens.language_of(prompt[1]), "task": self.request.task}
        output = self.runner.model.generate(
            encoded,
            return_timestamps=True,
            force_unique_generate_call=True,
            max_new_tokens=max_new_tokens,
            num_beams=1,
            do_sample=False,
            **options,
        )
        ids = [int(i) for i in output[0]]
        return ids[len(prompt) :] if ids[: len(prompt)] == prompt else ids

    def decode(self, ids: list[int]) -> str:
        return str(self.runner.processor.tokenizer.decode(ids, skip_special_tokens=True))
