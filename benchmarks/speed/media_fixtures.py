"""The file tasks' models and requests for the speed benchmark: five default entries' shapes, a photo, a recording.

Each model starts as the tests' record of its Hub repository (tests/hub_repos: the file set, the
``preprocessor_config.json`` as the repository has it, the tokenizer's kind), built by
:func:`tests.hub_repos.build_repo`; the full run then replaces the tiny network with one of **the real
model's shape** (seeded random weights: the Hub is out of reach, and shapes, not weights, decide speed) and
pads the tokenizer to the real vocabulary, so embeddings and output projections are the real sizes. The
smoke mode keeps the tiny networks. Where each shape comes from is beside it.

The requests are made here too: a 640 x 480 photo-like JPEG (seeded noise under shapes) and 30 seconds
of 16 kHz speech-like audio (voiced syllables: a pitch with its harmonics under moving formants, with
pauses and a little noise), stored in a :class:`~inference.media_store.FolderStore` that both handlers
read through ``MEDIA_DIR``, as the model function reads its files.
"""

from __future__ import annotations

import io
import json
import wave
from pathlib import Path
from typing import Any

import numpy as np

SEED = 17
#: The photo and the recording each request names: keys of the form the router makes (inference.media).
IMAGE_KEY = "uploads/0be7c4/0b3e7c4000000000000000000000000a.jpg"
AUDIO_KEY = "uploads/0be7c4/0b3e7c4000000000000000000000000b.wav"
PHOTO_SIZE = (640, 480)
SPEECH_SECONDS, SAMPLING_RATE = 30, 16000
#: What CLIP is asked: the typed labels of a zero-shot image request.
LABELS = "cat, dog, car"
#: Each generating request's length, bounded so runs compare (min = max: random weights may stop anywhere).
CAPTION_TOKENS = 20
TRANSCRIPT_TOKENS = 64

#: google/vit-base-patch16-224's config.json (86.6 M parameters: its 346,293,852-byte model.safetensors, in
#: tests/hub_repos/classify-image.yaml, is 4 bytes each): ViT-Base, 224 px in patches of 16, ImageNet's 1,000 labels.
VIT = {
    "hidden_size": 768,
    "num_hidden_layers": 12,
    "num_attention_heads": 12,
    "intermediate_size": 3072,
    "image_size": 224,
    "patch_size": 16,
}
VIT_LABELS = 1000
#: openai/clip-vit-base-patch32's config.json (151.3 M parameters: its 605,157,884-byte model.safetensors in
#: tests/hub_repos/label-image.yaml): a ViT-B/32 image tower at 224 px, a 12-layer 512-wide text tower over
#: 77 positions and 49,408 tokens, 512-dimensional projections.
CLIP = {
    "text_config": {
        "hidden_size": 512,
        "num_hidden_layers": 12,
        "num_attention_heads": 8,
        "intermediate_size": 2048,
        "max_position_embeddings": 77,
        "vocab_size": 49408,
    },
    "vision_config": {
        "hidden_size": 768,
        "num_hidden_layers": 12,
        "num_attention_heads": 12,
        "intermediate_size": 3072,
        "image_size": 224,
        "patch_size": 32,
    },
    "projection_dim": 512,
}
#: hustvl/yolos-tiny's config.json at the pin, as the public copy tests/hub_repos/detect.yaml cites gives it:
#: hidden 192, 12 layers, 3 heads, FFN 768, 100 detection tokens, [800, 1333], patches of 16, no mid-layer
#: position embeddings, 91 COCO ids. Its processor (the record's) resizes the short side to 512, the long to 1333 at most.
YOLOS_TINY = {
    "hidden_size": 192,
    "num_hidden_layers": 12,
    "num_attention_heads": 3,
    "intermediate_size": 768,
    "num_detection_tokens": 100,
    "image_size": [800, 1333],
    "patch_size": 16,
    "use_mid_position_embeddings": False,
}
YOLOS_LABELS = 91
#: Salesforce/blip-image-captioning-base: BLIP's ViT-B/16 at 384 px and a 12-layer BERT-base text decoder
#: with cross-attention (BERT's 30,522 tokens and BLIP's two added ones), 512-dimensional projections: 224 M
#: parameters as transformers builds it, the LM head tied to the word embeddings (its 989,820,849-byte
#: pytorch_model.bin in tests/hub_repos/caption.yaml holds 247 M: that head's 30,524 x 768 stored apart too).
BLIP = {
    "text_config": {
        "hidden_size": 768,
        "num_hidden_layers": 12,
        "num_attention_heads": 12,
        "intermediate_size": 3072,
        "encoder_hidden_size": 768,
        "max_position_embeddings": 512,
        "vocab_size": 30524,
        "bos_token_id": 30522,  # [DEC], BLIP's first caption token, follows BERT's vocabulary
    },
    "vision_config": {
        "hidden_size": 768,
        "num_hidden_layers": 12,
        "num_attention_heads": 12,
        "intermediate_size": 3072,
        "image_size": 384,
        "patch_size": 16,
    },
    "projection_dim": 512,
}
#: openai/whisper-tiny's config.json (37.8 M parameters: its 151,061,672-byte model.safetensors in
#: tests/hub_repos/transcribe.yaml): d_model 384, 4 + 4 layers, 6 heads, FFN 1,536, 80 mel bins, 1,500 encoder
#: and 448 decoder positions; the tests' tokenizer already has its 51,865 ids.
WHISPER_TINY = {
    "d_model": 384,
    "encoder_layers": 4,
    "decoder_layers": 4,
    "encoder_attention_heads": 6,
    "decoder_attention_heads": 6,
    "encoder_ffn_dim": 1536,
    "decoder_ffn_dim": 1536,
    "num_mel_bins": 80,
    "max_source_positions": 1500,
    "max_target_positions": 448,
}

#: Per model: the record it starts from (tests/hub_repos/<entry>.yaml), its folder in each mode, its shape.
MODELS: dict[str, tuple[str, str, dict[str, Any]]] = {
    "vit": ("classify-image", "vit-base-patch16-224-shaped", {**VIT, "id2label": VIT_LABELS}),
    "clip": ("label-image", "clip-vit-base-patch32-shaped", CLIP),
    "yolos": ("detect", "yolos-tiny-shaped", {**YOLOS_TINY, "id2label": YOLOS_LABELS}),
    "blip": ("caption", "blip-image-captioning-base-shaped", BLIP),
    "whisper": ("transcribe", "whisper-tiny-shaped", WHISPER_TINY),
}
#: Our handler's entries on them: each task's default backend, as the default registry's entries (no
#: backend, no quantization named).
ENTRIES: dict[str, dict[str, Any]] = {
    "classify-image": {"task": "image-classification", "model": "vit"},
    "label-image": {"task": "zero-shot-image-classification", "model": "clip"},
    "detect": {"task": "object-detection", "model": "yolos"},
    "caption": {"task": "image-to-text", "model": "blip"},
    "transcribe": {"task": "automatic-speech-recognition", "model": "whisper"},
}


def build(key: str, folder: Path, *, smoke: bool) -> None:
    """The model ``key`` of :data:`MODELS` in ``folder``: its repository's file set, then (unless smoke) its shape."""
    from tests.hub_repos import build_repo, record

    entry, _, shape = MODELS[key]
    build_repo(record(entry), folder)
    for path in folder.iterdir():  # files the repository has that no loader reads (other frameworks' weights)
        if path.is_file() and path.read_bytes()[:16] == b"placeholder for ":
            path.unlink()
    if smoke:
        return
    _reshape(folder, shape)
    if key == "clip":
        _pad_json_vocab(folder, CLIP["text_config"]["vocab_size"], bpe=True)
    elif key == "blip":
        _pad_json_vocab(folder, BLIP["text_config"]["bos_token_id"], bpe=False)


def _labels(count: int) -> dict[str, Any]:
    names = [f"class {index}" for index in range(count)]
    return {"id2label": dict(enumerate(names)), "label2id": {name: i for i, name in enumerate(names)}}


def _reshape(folder: Path, shape: dict[str, Any]) -> None:
    """Replace the tiny network in ``folder`` by one of ``shape``, keeping its config's ids (and Whisper's
    generation config)."""
    import torch
    import transformers

    config = transformers.AutoConfig.from_pretrained(folder)
    settings = config.to_dict()
    for name, value in shape.items():
        if name == "id2label":
            settings.update(_labels(value))
        elif isinstance(value, dict):
            settings[name] = {**settings.get(name, {}), **value}
        else:
            settings[name] = value
    config = type(config).from_dict(settings)
    torch.manual_seed(SEED)
    model = getattr(transformers, config.architectures[0])(config).eval()
    if config.model_type == "whisper":  # its tokens' ids (languages, tasks, timestamps) live there
        model.generation_config = transformers.GenerationConfig.from_pretrained(folder)
    model.save_pretrained(folder)


def _pad_json_vocab(folder: Path, size: int, *, bpe: bool) -> None:
    """Extend the tokenizer's vocabulary to ``size`` ids with unused entries: ``tokenizer.json`` and the
    slow files beside it (``vocab.json`` for a BPE, ``vocab.txt`` for a word-piece model)."""
    document = json.loads((folder / "tokenizer.json").read_text(encoding="utf-8"))
    vocab: dict[str, int] = document["model"]["vocab"]
    taken = {*vocab.values(), *(token["id"] for token in document.get("added_tokens", []))}
    free = (index for index in range(size) if index not in taken)
    for filler, index in enumerate(free):
        vocab[f"[unused{filler}]" if not bpe else f"unused{filler}</w>"] = index
    (folder / "tokenizer.json").write_text(json.dumps(document, ensure_ascii=False), encoding="utf-8")
    if bpe:
        (folder / "vocab.json").write_text(json.dumps(vocab, ensure_ascii=False), encoding="utf-8")
    else:
        ordered = sorted(vocab, key=vocab.__getitem__)
        (folder / "vocab.txt").write_text("\n".join(ordered) + "\n", encoding="utf-8")


def photo(size: tuple[int, int] = PHOTO_SIZE) -> bytes:
    """A photo-like JPEG: a graded sky and ground, seeded noise (a sensor's grain), and a few filled shapes."""
    from PIL import Image, ImageDraw

    width, height = size
    rng = np.random.default_rng(SEED)
    rows = np.linspace(0.0, 1.0, height)[:, None, None]
    sky, ground = np.array([120, 170, 230]), np.array([70, 110, 50])
    horizon = rows < 0.55
    base = np.where(horizon, sky * (1 - 0.4 * rows), ground * (0.6 + 0.6 * rows))
    pixels = np.broadcast_to(base, (height, width, 3)) + rng.normal(0, 12, (height, width, 3))
    image = Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8), "RGB")
    draw = ImageDraw.Draw(image)
    for _ in range(12):
        x, y = int(rng.integers(0, width - 60)), int(rng.integers(0, height - 60))
        w, h = int(rng.integers(30, width // 3)), int(rng.integers(30, height // 3))
        colour = tuple(int(c) for c in rng.integers(0, 256, 3))
        shape = draw.ellipse if rng.random() < 0.5 else draw.rectangle
        shape((x, y, min(width - 1, x + w), min(height - 1, y + h)), fill=colour, outline=(20, 20, 20), width=2)
    out = io.BytesIO()
    image.save(out, format="JPEG", quality=90)
    return out.getvalue()


def speech(seconds: float = SPEECH_SECONDS, rate: int = SAMPLING_RATE) -> bytes:
    """Speech-like 16-bit mono WAV: syllables of about 0.2 s (a gliding pitch and its harmonics under two
    moving formants), words of two to five syllables, pauses between them, a little noise throughout."""
    rng = np.random.default_rng(SEED)
    total = round(seconds * rate)
    signal = np.zeros(total)
    position = 0
    while position < total:
        for _ in range(int(rng.integers(2, 6))):
            length = int(rate * rng.uniform(0.12, 0.28))
            t = np.arange(length) / rate
            pitch = rng.uniform(100, 220) * (1 + 0.1 * np.sin(2 * np.pi * rng.uniform(1, 3) * t))
            phase = 2 * np.pi * np.cumsum(pitch) / rate
            formants = rng.uniform(300, 900), rng.uniform(900, 2500)
            voiced = sum(
                np.sin(k * phase) / k * sum(np.exp(-(((k * pitch) - f) ** 2) / (2 * 150.0**2)) for f in formants)
                for k in range(1, 16)
            )
            envelope = np.sin(np.pi * np.arange(length) / length) ** 2
            end = min(total, position + length)
            signal[position:end] += (voiced * envelope)[: end - position]
            position = end
        position += int(rate * rng.uniform(0.1, 0.5))
    signal = 0.6 * signal / max(1e-9, np.abs(signal).max()) + 0.005 * rng.standard_normal(total)
    pcm = (np.clip(signal, -1, 1) * 32767).astype("<i2")
    out = io.BytesIO()
    with wave.open(out, "wb") as writer:
        writer.setnchannels(1)
        writer.setsampwidth(2)
        writer.setframerate(rate)
        writer.writeframes(pcm.tobytes())
    return out.getvalue()


def store_requests(media_dir: Path) -> dict[str, dict[str, Any]]:
    """Put the photo and the recording in the folder store at ``media_dir``; each request's ``file``, by kind."""
    from inference.media import AUDIO, IMAGE, JPEG, WAV, FileRef
    from inference.media_store import FolderStore

    store = FolderStore(media_dir)
    files = {}
    for kind, key, media_type, data, name in (
        (IMAGE, IMAGE_KEY, JPEG, photo(), "photo.jpg"),
        (AUDIO, AUDIO_KEY, WAV, speech(), "meeting.wav"),
    ):
        store.put(key, data, mime=media_type.mime)
        files[kind] = FileRef(key, media_type, name, len(data)).to_event()
    return files
