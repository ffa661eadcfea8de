"""A tiny random-weight Whisper and the audio files tests send it, built offline in a few seconds.

The model is shaped like openai/whisper-tiny where decoding reads it: its 51,865 token ids, laid out the
same way (50,257 byte-level BPE tokens, then ``<|endoftext|>``, ``<|startoftranscript|>``, the 99 language
tokens in transformers' order, the task tokens, ``<|notimestamps|>``, then the 1,501 timestamp tokens
``<|0.00|>``…``<|30.00|>``), a generation config with the fields Whisper's generation reads, and an
80-bin, 16 kHz feature extractor over 30-second windows (3,000 frames, 1,500 encoder positions). Only the
network is small: d_model 32, one layer each side.
"""

from __future__ import annotations

import io
import itertools
import string
import wave
from pathlib import Path
from typing import Any

import numpy as np

from tests.tiny_models import SEED, WORDS

#: Whisper's text (byte-level BPE) tokens, before the special ones: the same ids as openai/whisper-tiny's,
#: whose 51,865 tokens CTranslate2 needs to see a multilingual model.
TEXT_TOKENS = 50257
#: The tokens before the language tokens, and those after them, in Whisper's order.
HEAD_SPECIALS = ("<|endoftext|>", "<|startoftranscript|>")
TAIL_SPECIALS = (
    "<|translate|>",
    "<|transcribe|>",
    "<|startoflm|>",
    "<|startofprev|>",
    "<|nocaptions|>",
    "<|notimestamps|>",
)
#: Whisper's timestamp tokens: every 0.02 s of a 30-second window, both ends included.
TIMESTAMPS = tuple(f"<|{i * 0.02:.2f}|>" for i in range(1501))
SAMPLING_RATE = 16000


def _bytes_to_unicode() -> dict[int, str]:
    """GPT-2's byte-to-character table, which byte-level BPE (Whisper's) spells tokens in."""
    printable = [*range(ord("!"), ord("~") + 1), *range(ord("¡"), ord("¬") + 1), *range(ord("®"), ord("ÿ") + 1)]
    chars = list(printable)
    extra = 0
    for byte in range(256):
        if byte not in printable:
            printable.append(byte)
            chars.append(256 + extra)
            extra += 1
    return dict(zip(printable, (chr(c) for c in chars), strict=True))


def _vocab_and_merges() -> tuple[dict[str, int], list[tuple[str, str]]]:
    """Whisper's 50,257 text tokens: the 256 bytes, each of :data:`WORDS` (with and without its leading space)
    merged letter by letter, then runs of two to four letters (which no merge makes: they only fill the ids),
    and the empty token last."""
    tokens = dict.fromkeys(_bytes_to_unicode().values())
    merges: dict[tuple[str, str], None] = {}
    for word in WORDS:
        for spelled in (word, "Ġ" + word):
            piece = spelled[0]
            for char in spelled[1:]:
                merges[(piece, char)] = None
                piece += char
                tokens[piece] = None
    letters = string.ascii_lowercase
    fillers = ("".join(p) for n in (2, 3, 4) for p in itertools.product(letters, repeat=n))
    for filler in itertools.chain.from_iterable((f"Ġ{f}", f) for f in fillers):
        if len(tokens) == TEXT_TOKENS - 1:
            break
        tokens.setdefault(filler, None)
    tokens[""] = None  # id 50256, empty in multilingual Whisper's vocabulary: CTranslate2 tells one by it
    return {token: index for index, token in enumerate(tokens)}, list(merges)


def language_codes() -> list[str]:
    """whisper-tiny's 99 languages: transformers' list in its order, less Cantonese (``yue``), which only large-v3 has."""
    from transformers.models.whisper.tokenization_whisper import LANGUAGES

    return [code for code in LANGUAGES if code != "yue"]


def _tokenizer() -> Any:
    from tokenizers import AddedToken
    from transformers import WhisperTokenizer

    vocab, merges = _vocab_and_merges()
    specials = [*HEAD_SPECIALS, *(f"<|{code}|>" for code in language_codes()), *TAIL_SPECIALS]
    tokenizer = WhisperTokenizer(vocab=vocab, merges=merges, model_max_length=448)
    tokenizer.add_special_tokens(
        {"additional_special_tokens": [AddedToken(t, normalized=False, special=True) for t in specials]}
    )
    tokenizer.add_tokens([AddedToken(t, normalized=False, special=False) for t in TIMESTAMPS])
    return tokenizer


def _generation_config(tokenizer: Any, config: Any) -> Any:
    from transformers import GenerationConfig

    ids = tokenizer.convert_tokens_to_ids
    eos = ids("<|endoftext|>")
    return GenerationConfig(
        bos_token_id=eos,
        eos_token_id=eos,
        pad_token_id=eos,
        decoder_start_token_id=ids("<|startoftranscript|>"),
        forced_decoder_ids=None,
        begin_suppress_tokens=[ids("Ġ"), eos],
        suppress_tokens=[],
        is_multilingual=True,
        lang_to_id={f"<|{code}|>": ids(f"<|{code}|>") for code in language_codes()},
        task_to_id={"transcribe": ids("<|transcribe|>"), "translate": ids("<|translate|>")},
        no_timestamps_token_id=ids("<|notimestamps|>"),
        prev_sot_token_id=ids("<|startofprev|>"),
        max_initial_timestamp_index=50,
        alignment_heads=[[0, 0], [0, 1]],
        max_length=config.max_target_positions,
        num_beams=1,
        do_sample=False,
    )


def build_whisper(folder: Path) -> None:
    """Save the tiny Whisper (model, tokenizer, feature extractor, generation config) in ``folder``."""
    import torch
    from transformers import WhisperConfig, WhisperFeatureExtractor, WhisperForConditionalGeneration

    tokenizer = _tokenizer()
    eos = tokenizer.convert_tokens_to_ids("<|endoftext|>")
    torch.manual_seed(SEED)
    config = WhisperConfig(
        vocab_size=len(tokenizer),
        num_mel_bins=80,
        d_model=32,
        encoder_layers=1,
        decoder_layers=1,
        encoder_attention_heads=2,
        decoder_attention_heads=2,
        encoder_ffn_dim=64,
        decoder_ffn_dim=64,
        max_source_positions=1500,
        max_target_positions=448,
        pad_token_id=eos,
        bos_token_id=eos,
        eos_token_id=eos,
        decoder_start_token_id=tokenizer.convert_tokens_to_ids("<|startoftranscript|>"),
        begin_suppress_tokens=None,
        suppress_tokens=None,
    )
    model = WhisperForConditionalGeneration(config).eval()
    model.generation_config = _generation_config(tokenizer, config)
    extractor = WhisperFeatureExtractor(feature_size=80, sampling_rate=SAMPLING_RATE, hop_length=160, chunk_length=30)
    # The files a Hub repository of Whisper has: preprocessor_config.json and the tokenizer's, no processor_config.json.
    for part in (model, tokenizer, extractor):
        part.save_pretrained(folder)


def build_speech_models(root: Path) -> None:
    """Build the speech models the tiny registry lists, under ``root`` (``root/"whisper"``)."""
    build_whisper(root / "whisper")


def tone(seconds: float, rate: int = SAMPLING_RATE, *, channels: int = 1, tone_hz: float = 440.0) -> np.ndarray:
    """A sine tone at half scale with a little seeded noise, shaped (frames, channels), float32."""
    t = np.arange(round(seconds * rate)) / rate
    signal = 0.5 * np.sin(2 * np.pi * tone_hz * t) + 0.01 * np.random.default_rng(SEED).standard_normal(t.size)
    return np.repeat(signal[:, None], channels, axis=1).astype(np.float32)


def make_wav(seconds: float, rate: int = SAMPLING_RATE, *, channels: int = 1, tone_hz: float = 440.0) -> bytes:
    """A 16-bit PCM WAV of :func:`tone`, written with the standard library."""
    pcm = (tone(seconds, rate, channels=channels, tone_hz=tone_hz) * 32767).astype("<i2")
    out = io.BytesIO()
    with wave.open(out, "wb") as writer:
        writer.setnchannels(channels)
        writer.setsampwidth(2)
        writer.setframerate(rate)
        writer.writeframes(pcm.tobytes())
    return out.getvalue()


def _soundfile(fmt: str, seconds: float, rate: int, channels: int, tone_hz: float) -> bytes:
    import soundfile

    out = io.BytesIO()
    soundfile.write(out, tone(seconds, rate, channels=channels, tone_hz=tone_hz), rate, format=fmt)
    return out.getvalue()


def make_flac(seconds: float, rate: int = SAMPLING_RATE, *, channels: int = 1, tone_hz: float = 440.0) -> bytes:
    """A FLAC of :func:`tone`."""
    return _soundfile("FLAC", seconds, rate, channels, tone_hz)


def make_ogg(seconds: float, rate: int = SAMPLING_RATE, *, channels: int = 1, tone_hz: float = 440.0) -> bytes:
    """An Ogg Vorbis of :func:`tone`."""
    return _soundfile("OGG", seconds, rate, channels, tone_hz)


def make_mp3(seconds: float, rate: int = SAMPLING_RATE, *, channels: int = 1, tone_hz: float = 440.0) -> bytes:
    """An MP3 of :func:`tone` (libsndfile 1.1 and later write MPEG layer III)."""
    return _soundfile("MP3", seconds, rate, channels, tone_hz)
