"""Encoded images kept by content and projector, in memory and on disk.

On a laptop CPU the Gemma 3 vision encoder costs 40-80 s an image; its output (256 embeddings)
is a few megabytes.  Keeping it means a follow-up question, a reopened conversation or an engine
restart never pays the encode again.  The disk side is a cache in the user cache dir with a size
cap: losing it (or failing to write it on a full disk) only costs time, never an answer.

Disk writes happen on a background thread, so a reply never waits for one: the embedding is
served from memory at once, and the file lands while the reply is being written.
"""

from __future__ import annotations

import hashlib
import logging
import os
import queue
import tempfile
import threading
import time
from collections import OrderedDict
from pathlib import Path

import numpy as np

log = logging.getLogger(__name__)

DEFAULT_DISK_BYTES = 1 << 30
"""1 GiB: about 400 images for Gemma 3 4B (256 x 2560 float32 each)."""
DEFAULT_MEMORY_ITEMS = 32
STALE_TEMPORARY_S = 3600


def projector_identity(path: Path) -> str:
    """A short id that changes when the projector file does: size plus its first and last MiB.

    Hashing a whole 850 MB projector at every load would cost seconds; a GGUF's header and its
    last tensor bytes differ between any two real projectors.
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
        self._folder = folder
        self._disk_bytes = disk_bytes
        self._disk_total: int | None = None  # bytes under the folder; scanned once, then kept
        self._writes: queue.Queue[tuple[str, np.ndarray]] = queue.Queue()
        self._writer: threading.Thread | None = None

    def get(self, image_sha256: str, shape: tuple[int, int]) -> np.ndarray | None:
        """The embedding of that image, shaped (tokens, width), or None when not kept."""
        hit = self._memory.get(image_sha256)
        if hit is not None:
            self._memory.move_to_end(image_sha256)
            return hit
        path = self._path(image_sha256)
        if path is None or not path.exists():
            return None
        try:
            array: np.ndarray = np.load(path, allow_pickle=False)
            if array.shape != shape or array.dtype != np.float32:
                raise ValueError(f"cached shape {array.shape} {array.dtype}, expected {shape}")
            os.utime(path)  # recently used: evicted last
        except (OSError, ValueError) as exc:
            log.warning("dropping unreadable cached embedding %s: %s", path, exc)
            path.unlink(missing_ok=True)
            return None
        self._remember(image_sha256, array)
        return array

    def put(self, image_sha256: str, embedding: np.ndarray) -> None:
        """Keep an embedding in memory now and, best effort, on disk soon (see ``flush``)."""
        self._remember(image_sha256, embedding)
        if self._folder is None:
            return
        if self._writer is None:
            self._writer = threading.Thread(target=self._write_loop, name="embedding-cache", daemon=True)
            self._writer.start()
        self._writes.put((image_sha256, embedding))

    def flush(self) -> None:
        """Wait until every embedding put so far is on disk (or was refused by the disk)."""
        self._writes.join()

    def _write_loop(self) -> None:
        while True:
            key, embedding = self._writes.get()
            try:
                self._write(key, embedding)
            finally:
                self._writes.task_done()

    def _write(self, image_sha256: str, embedding: np.ndarray) -> None:
        path = self._path(image_sha256)
        assert path is not None
        tmp_path: Path | None = None
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            if self._disk_total is None:
                self._remove_stale_temporaries()
                self._disk_total = sum(st.st_size for st, _ in self._folder_files())
            replaced = path.stat().st_size if path.exists() else 0
            fd, name = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
            tmp_path = Path(name)
            with os.fdopen(fd, "wb") as file:
                np.save(file, embedding, allow_pickle=False)
            size = tmp_path.stat().st_size
            os.replace(tmp_path, path)  # never a half-written file under the real name
            tmp_path = None
            self._disk_total += size - replaced
            if self._disk_total > self._disk_bytes:
                self._evict()
        except OSError as exc:  # a full or read-only disk only costs a future re-encode
            log.warning("could not cache an image embedding on disk: %s", exc)
        except Exception:  # never let the writer thread die: later puts would wait forever
            log.exception("could not cache an image embedding on disk")
        finally:
            if tmp_path is not None:
                tmp_path.unlink(missing_ok=True)

    def _remember(self, key: str, embedding: np.ndarray) -> None:
        self._memory[key] = embedding
        self._memory.move_to_end(key)
        while len(self._memory) > self._memory_items:
            self._memory.popitem(last=False)

    def _path(self, image_sha256: str) -> Path | None:
        if self._folder is None:
            return None
        return self._folder / f"{image_sha256}.npy"

    def _remove_stale_temporaries(self) -> None:
        """Drop half-written files that an engine killed mid-write left (older than an hour,
        so a second engine's write in progress is never touched)."""
        assert self._folder is not None
        for path in self._folder.glob("*.tmp"):
            try:
                if path.stat().st_mtime < time.time() - STALE_TEMPORARY_S:
                    path.unlink()
            except OSError:
                continue

    def _folder_files(self) -> list[tuple[os.stat_result, Path]]:
        """The cached files with their sizes and times (one that vanishes meanwhile is skipped)."""
        assert self._folder is not None
        files = []
        for path in self._folder.glob("*.npy"):
            try:
                files.append((path.stat(), path))
            except FileNotFoundError:
                continue
        return files

    def _evict(self) -> None:
        """Delete least recently used files until the folder is within its cap.

        Runs only when the running total says the cap is passed, so a write normally costs no
        scan of the folder; the scan also corrects the total for files removed by hand.
        """
        files = self._folder_files()
        total = sum(st.st_size for st, _ in files)
        for st, path in sorted(files, key=lambda item: item[0].st_mtime):
            if total <= self._disk_bytes:
                break
            path.unlink(missing_ok=True)
            total -= st.st_size
        self._disk_total = total
