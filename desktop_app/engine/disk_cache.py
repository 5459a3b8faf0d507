"""A folder of rebuildable files under a byte cap, written atomically on a background thread.

The image-embedding cache and the conversation snapshots keep files that only save time: losing
one costs a re-encode or a re-read, never an answer.  So a write goes to a temporary name and is
renamed into place (an engine killed mid-write leaves a ``.tmp`` file, never a half-written one
under the real name), runs on a background thread (a reply never waits for the disk), and a full
or read-only disk only skips the copy.  The folder stays under its cap by deleting the least
recently used files first (by modification time, which a read refreshes).
"""

from __future__ import annotations

import contextlib
import logging
import os
import tempfile
import threading
import time
from collections import deque
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

log = logging.getLogger(__name__)

STALE_TEMPORARY_S = 3600
"""A ``.tmp`` file older than this was left by a killed engine; a younger one may be another
engine's write in progress and is left alone."""

Writer = Callable[[BinaryIO], None]
"""Writes one file's bytes to the open (temporary) file it is given."""


class CappedFolder:
    """Files named ``<name><suffix>`` in one folder, kept under ``cap_bytes`` in total."""

    def __init__(self, folder: Path, cap_bytes: int, suffix: str, *, thread_name: str) -> None:
        self.folder = folder
        self.cap_bytes = cap_bytes
        self._suffix = suffix
        self._thread_name = thread_name
        self._total: int | None = None  # bytes under the folder; scanned once, then kept
        self._queue: deque[tuple[str, Writer, float | None]] = deque()
        self._busy = False
        self._changed = threading.Condition()
        self._writer: threading.Thread | None = None

    def path(self, name: str) -> Path:
        return self.folder / f"{name}{self._suffix}"

    # ------------------------------------------------------------------------- writing
    def submit(self, name: str, write: Writer, *, used_at: float | None = None) -> None:
        """Write ``name`` soon, on the background thread (a later submit of it replaces it).

        ``used_at`` (a ``time.time()``) dates the file for eviction when it was last used before
        now: a batch written newest first still leaves the oldest to go first.
        """
        with self._changed:
            for queued in [item for item in self._queue if item[0] == name]:
                self._queue.remove(queued)
            self._queue.append((name, write, used_at))
            if self._writer is None:
                self._writer = threading.Thread(target=self._write_loop, name=self._thread_name, daemon=True)
                self._writer.start()
            self._changed.notify_all()

    def flush(self, timeout: float | None = None) -> bool:
        """Wait until every write submitted so far is done (or refused by the disk); False when
        ``timeout`` seconds passed first."""
        with self._changed:
            return self._changed.wait_for(lambda: not self._queue and not self._busy, timeout)

    def drop_pending(self) -> None:
        """Forget the writes that have not started (the one running finishes)."""
        with self._changed:
            self._queue.clear()
            self._changed.notify_all()

    def _write_loop(self) -> None:
        while True:
            with self._changed:
                self._changed.wait_for(lambda: bool(self._queue))
                name, write, used_at = self._queue.popleft()
                self._busy = True
            try:
                self.write_now(name, write, used_at)
            finally:
                with self._changed:
                    self._busy = False
                    self._changed.notify_all()

    def write_now(self, name: str, write: Writer, used_at: float | None = None) -> None:
        """Write one file atomically on the calling thread; a failure is logged, never raised."""
        path = self.path(name)
        tmp_path: Path | None = None
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            if self._total is None:
                self._remove_stale_temporaries()
                self._total = sum(st.st_size for st, _ in self._files())
            replaced = path.stat().st_size if path.exists() else 0
            fd, tmp_name = tempfile.mkstemp(dir=self.folder, suffix=".tmp")
            tmp_path = Path(tmp_name)
            with os.fdopen(fd, "wb") as file:
                write(file)
            size = tmp_path.stat().st_size
            if used_at is not None:
                os.utime(tmp_path, (used_at, used_at))
            os.replace(tmp_path, path)  # never a half-written file under the real name
            tmp_path = None
            self._total += size - replaced
            if self._total > self.cap_bytes:
                self._evict()
        except OSError as exc:  # a full or read-only disk only costs time later
            log.warning("could not write %s to the cache: %s", path.name, exc)
        except Exception:  # never let the writer thread die: later flushes would wait forever
            log.exception("could not write %s to the cache", path.name)
        finally:
            if tmp_path is not None:
                tmp_path.unlink(missing_ok=True)

    # ------------------------------------------------------------------------- reading
    def touch(self, path: Path) -> None:
        """Mark a file as just used, so it is evicted last."""
        with contextlib.suppress(OSError):  # gone meanwhile: nothing to keep
            os.utime(path)

    def discard(self, path: Path) -> None:
        """Delete a file found damaged (or no longer wanted)."""
        try:
            size = path.stat().st_size
            path.unlink()
        except OSError:
            return
        if self._total is not None:
            self._total -= size

    def clear(self) -> None:
        """Delete every file (and forget the writes not started yet)."""
        self.drop_pending()
        for _, path in self._files():
            path.unlink(missing_ok=True)
        self._total = None

    def total_bytes(self) -> int:
        """Bytes the folder's files take now (a scan)."""
        return sum(st.st_size for st, _ in self._files())

    # ----------------------------------------------------------------------- the folder
    def _files(self) -> list[tuple[os.stat_result, Path]]:
        """The kept files with their sizes and times (one that vanishes meanwhile is skipped)."""
        files = []
        for path in self.folder.glob(f"*{self._suffix}"):
            try:
                files.append((path.stat(), path))
            except FileNotFoundError:
                continue
        return files

    def _remove_stale_temporaries(self) -> None:
        for path in self.folder.glob("*.tmp"):
            try:
                if path.stat().st_mtime < time.time() - STALE_TEMPORARY_S:
                    path.unlink()
            except OSError:
                continue

    def _evict(self) -> None:
        """Delete least recently used files until the folder is within its cap.

        Runs only when the running total says the cap is passed, so a write normally costs no
        scan of the folder; the scan also corrects the total for files removed by hand.
        """
        files = self._files()
        total = sum(st.st_size for st, _ in files)
        for st, path in sorted(files, key=lambda item: item[0].st_mtime):
            if total <= self.cap_bytes:
                break
            path.unlink(missing_ok=True)
            total -= st.st_size
        self._total = total
