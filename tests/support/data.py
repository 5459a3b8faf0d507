"""Files the tests read: the photograph in ``tests/data``, the sets of generated GGUFs, and a few
known inputs (image bytes, a prompt that makes a long reply)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

DATA = Path(__file__).resolve().parents[1] / "data"
PHOTO = DATA / "grace_hopper.jpg"
"""A real photograph (public domain; see tests/data/README.md)."""


@dataclass(frozen=True)
class Models:
    """Paths of the generated GGUF files (the ``models`` fixture)."""

    tiny: Path
    """Tiny Gemma 3 text model (n_embd 64) with Gemma 3's chat template in its metadata."""
    tiny_no_template: Path
    """The same without a chat template, so the built-in template is used."""
    mmproj: Path
    """A gemma3 projector that fits ``tiny`` (64-wide output, 16 tokens per image)."""
    mmproj_mismatch: Path
    """A gemma3 projector whose 48-wide output does not fit ``tiny``."""
    mmproj_270m: Path
    """A tiny gemma3 projector with 640-wide output, which fits the real 270M model."""
    not_gguf: Path
    truncated: Path
    tokens_per_image: int



@dataclass(frozen=True)
class FamilyModels:
    """Tiny generated models and projectors of the rest of the Gemma family."""

    gemma3n: Path
    gemma3n_mmproj: Path
    """A gemma3nv (MobileNetV5) projector that fits ``gemma3n``: 16 tokens per image."""
    gemma4: Path
    """An E-model layout: per-layer embeddings, shared KV caches."""
    gemma4_moe: Path
    """A 26B-A4B layout: four experts, two used per token."""
    gemma4_mmproj: Path
    """A gemma4v projector that fits both Gemma 4 models: 70 to 1120 tokens by image size."""
    gemma4_thinking: Path
    """A Gemma 4 whose reply is known (``GEMMA4_THINKING_CHAIN``): thought "the picture is",
    answer "Hello yes"."""

PNG = b"\x89PNG\r\n\x1a\n" + b"pixels" * 10
"""Bytes the store takes for a PNG (it keeps images as given, without decoding them)."""
JPEG = b"\xff\xd8\xff\xe0" + b"other pixels" * 10
"""Bytes the store takes for a JPEG."""

STORY = "Tell me a long story."
LONG_SEED = 33
"""With the prompt ``STORY`` and this seed, the tiny model writes ~2,500 tokens before it stops by
itself: a reply long enough to stop, kill or watch mid-stream."""
