"""Encoded images kept by content and projector, in memory and on disk.

On a laptop CPU the Gemma 3 vision encoder costs 40-80 s an image; its output (256 embeddings)
is a few megabytes.  Keeping it means a follow-up question, a reopened conversation or an engine
restart never pays the encode again.  The disk side is a capped folder in the user cache dir
(:mod:`desktop_app.engine.disk_cache`): losing it (or failing to write it on a full disk) only
costs time, never an answer.  The embedding is served from memory at once; the file lands while
the reply is being written.
"""

from __future__ import annotations

import hashlib
import logging
from collections import OrderedDict
from pathlib import Path
from typing import BinaryIO

import numpy as np

from desktop_app.engine.disk_cache import CappedFolder

log = logging.getLogger(__name__)

DEFAULT_DISK_BYTES = 1 << 30
"""1 GiB: about 400 images for Gemma 3 4B (256 x 2560 float32 each)."""
DEFAULT_MEMORY_ITEMS = 32


def file_identity(path: Path) -> str:
    """A short id that changes when a model or projector file does: size plus its first and last
    MiB.

    Hashing a whole 850 MB projector (or a 3 GB model) at every load would cost seconds; a GGUF's
    header and its last tensor bytes differ between any two real files.
    """
    digest = hashlib.sha256()
    size = path.stat().st_size
    digest.update(str(size).encode())
    with path.open("rb") as file:
        digest.update(file.read(1 << 20))
        file.seek(max(0, size - (1 << 20)))
        digest.update(file.read(1 << 20))
    return digest.hexdigest()[:24]


class EmbeddingCache:
    """Image embeddings keyed by image sha256, for one projector."""

    def __init__(
        self,
        folder: Path | None,
        *,
        memory_items: int = DEFAULT_MEMORY_ITEMS,
        disk_bytes: int = DEFAULT_DISK_BYTES,
    ) -> None:
        self._memory: OrderedDict[str, np.ndarray] = OrderedDict()
        self._memory_items = memory_items
        self._disk = (
            CappedFolder(folder, disk_bytes, ".npy", thread_name="embedding-cache")
            if folder is not None
            else None
        )

    def __contains__(self, image_sha256: str) -> bool:
        """Whether the embedding is kept (in memory or on disk), without loading it."""
        return image_sha256 in self._memory or (
            self._disk is not None and self._disk.path(image_sha256).exists()
        )

    def get(self, image_sha256: str, shape: tuple[int, int]) -> np.ndarray | None:
        """The embedding of that image, shaped (tokens, width), or None when not kept."""
        hit = self._memory.get(image_sha256)
        if hit is not None:
            self._memory.move_to_end(image_sha256)
            return hit
        if self._disk is None:
            return None
        path = self._disk.path(image_sha256)
        if not path.exists():
            return None
        try:
            array: np.ndarray = np.load(path, allow_pickle=False)
            if array.shape != shape or array.dtype != np.float32:
                raise ValueError(f"cached shape {array.shape} {array.dtype}, expected {shape}")
        except (OSError, ValueError) as exc:
            log.warning("dropping unreadable cached embedding %s: %s", path, exc)
            self._disk.discard(path)
            return None
        self._disk.touch(path)  # recently used: evicted last
        self._remember(image_sha256, array)
        return array

    def put(self, image_sha256: str, embedding: np.ndarray) -> None:
        """Keep an embedding in memory now and, best effort, on disk soon (see ``flush``)."""
        self._remember(image_sha256, embedding)
        if self._disk is not None:

            def write(file: BinaryIO) -> None:
                np.save(file, embedding, allow_pickle=False)

            self._disk.submit(image_sha256, write)

    def flush(self) -> None:
        """Wait until every embedding put so far is on disk (or was refused by the disk)."""
        if self._disk is not None:
            self._disk.flush()

    def _remember(self, key: str, embedding: np.ndarray) -> None:
        self._memory[key] = embedding
        self._memory.move_to_end(key)
        while len(self._memory) > self._memory_items:
            self._memory.popitem(last=False)
