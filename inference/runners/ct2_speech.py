"""Speech recognition on CTranslate2 (``ctranslate2.models.Whisper``), with neither torch nor transformers.

It serves what :mod:`inference.ct2_convert` made at warm time: CTranslate2's model (``model.bin``,
``config.json``, ``vocabulary.json``), the model's ``tokenizer.json`` (read with the ``tokenizers``
library), its ``preprocessor_config.json`` (the features' settings, :class:`inference.audio.FeatureSettings`)
and :class:`~inference.runners.transcripts.WhisperTokens` (``whisper.json``). Each window's log-mel features
come from :func:`inference.audio.log_mel_spectrogram` and are encoded once, for language detection and
decoding alike; decoding is greedy from the same prompt as the torch runner's
(:mod:`inference.runners.transcripts`), so a float32 conversion gives the same tokens.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import ctranslate2
import numpy as np

from inference.audio import FeatureSettings, load_audio, log_mel_spectrogram
from inference.errors import ModelLoadError
from inference.media import MediaFile
from inference.registry import ModelSpec
from inference.runners import vcpus
from inference.runners.ct2 import TOKENIZER_FILE, FastTokenizer
from inference.runners.transcripts import WhisperTokens, read_request, transcribe
from inference.tasks import parse_input


def max_length(max_new_tokens: int, prompt_length: int) -> int:
    """CTranslate2's ``max_length`` that lets Whisper decode ``max_new_tokens``: it decodes at most half of
    ``max_length``, and at most ``max_length`` less the prompt before its last token."""
    return max(2 * max_new_tokens, max_new_tokens + prompt_length - 1)


class SpeechRecognitionCt2:
    """``{"text", "chunks": [{"start", "end", "text"}], "duration", "language"?}`` for a converted Whisper model."""

    def __init__(self, spec: ModelSpec, folder: Path) -> None:
        self.spec = spec
        try:
            self.tokens = WhisperTokens.read(folder)
            self.features = FeatureSettings.read(folder)
            self.tokenizer = FastTokenizer(folder / TOKENIZER_FILE, clean_up=self.tokens.clean_up_tokenization_spaces)
            self.model = ctranslate2.models.Whisper(
                str(folder), device="cpu", inter_threads=1, intra_threads=vcpus(spec.memory)
            )
        except Exception as exc:  # a missing or corrupt file: all a failed load
            raise ModelLoadError(f"Cannot load the CTranslate2 conversion of {spec.name} from {folder}: {exc}") from exc

    def run(self, text: str, parameters: dict[str, Any], *, file: MediaFile) -> dict[str, Any]:
        """Check the request, decode ``file`` and transcribe it window by window."""
        parse_input(self.spec.task, text, parameters)
        request = read_request(parameters, self.tokens)
        audio = load_audio(file, sampling_rate=self.features.sampling_rate)
        return transcribe(
            self,
            audio,
            tokens=self.tokens,
            request=request,
            sampling_rate=self.features.sampling_rate,
            window=self.features.chunk_samples,
        )

    # The window model of inference.runners.transcripts.

    def encode(self, audio: np.ndarray) -> ctranslate2.StorageView:
        features = log_mel_spectrogram(audio, **self.features.as_options())
        return self.model.encode(ctranslate2.StorageView.from_array(features[None]), to_cpu=True)

    def detect_language(self, encoded: ctranslate2.StorageView) -> int:
        token, _ = self.model.detect_language(encoded)[0][0]  # the likeliest first
        return int(self.tokens.languages[token.strip("<|>")])

    def generate(self, encoded: ctranslate2.StorageView, prompt: list[int], max_new_tokens: int) -> list[int]:
        result = self.model.generate(
            encoded,
            [prompt],
            beam_size=1,
            max_length=max_length(max_new_tokens, len(prompt)),
            max_initial_timestamp_index=self.tokens.max_initial_timestamp_index,
        )[0]
        return [int(i) for i in result.sequences_ids[0]]

    def decode(self, ids: list[int]) -> str:
        return self.tokenizer.decode(ids, skip_special_tokens=True)
