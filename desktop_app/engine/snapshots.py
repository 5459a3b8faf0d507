"""Conversation memory kept when the engine moves to another thread, and across restarts.

The engine's KV cache holds one conversation.  When a request for another thread comes, the
departing conversation's KV state (llama.cpp's ``llama_state_seq_get_data``: what the cache holds
for the sequence, a few MB per thousand tokens) is kept here as a :class:`Snapshot`, with the
exact keys it holds (token ids, and image hashes with an index for image positions).  When the
thread comes back, its snapshot is restored (``_set_data``) and only what is new is evaluated.
Measured before this existed: a 4,855-token thread's follow-up took 0.34 s, and 27.7 s after one
message in another thread (the whole thread was read again).

Snapshots live in a RAM pool sized from free memory, least recently used first out, and spill to
a capped folder in the cache dir, where the front ends also ask for the current conversation to
be written (on quit, when idle, at the end of ``chat --jsonl`` input), so a restart continues at
once.  Every snapshot is bound to the :class:`CacheShape` that made it: a context of another
model, projector, size, attention kernel, cache type or sliding-window mode never sees it.  A
file that is damaged, cut short or not ours is ignored (and deleted): the thread is then read
again, never answered from wrong memory.

The interface is small on purpose (``keep``/``take``/``save``, ``spill``/``flush``/``clear``): a
server in front of the same engine reuses it as it is.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import struct
import time
import zlib
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np
import psutil

from desktop_app import paths
from desktop_app.engine.disk_cache import CappedFolder
from desktop_app.engine.protocol import Restored

log = logging.getLogger(__name__)

Key = int | tuple[str, int]
"""What one KV position holds: a text token id, or (image hash, index within the image)."""

MAGIC = b"GDKVSNAP"
FORMAT_VERSION = 1
_PREAMBLE = struct.Struct("<8sIII")  # magic, format version, header length, crc32

RAM_SHARE = 0.25
"""Share of the memory free (beside what the pool holds) that the RAM pool may take."""
RAM_CAP = 8 << 30
"""The pool's ceiling whatever is free: llama-server's default ``--cache-ram``."""


def snapshot_folder() -> Path:
    """Where snapshots are kept on disk: ``snapshots/`` in the cache dir."""
    return paths.cache_dir() / "snapshots"


def snapshot_disk_usage() -> int:
    """Bytes the snapshot files take on disk now (a folder scan: off the UI thread)."""
    return SnapshotStore(snapshot_folder()).disk_bytes()


@dataclass(frozen=True)
class CacheShape:
    """Everything that decides what a context's KV cache holds for a given sequence of keys.

    A snapshot is restored only into a context of the same shape: the same model and projector
    files, context size, micro-batch (it sizes the sliding-window cache), attention kernel,
    cache types, sliding-window mode, compute backend and llama.cpp (which owns the format).
    """

    model: str
    """Identity of the model file (size and its first and last MiB)."""
    projector: str
    n_ctx: int
    n_ubatch: int
    flash_attn: bool
    type_k: int
    type_v: int
    swa_full: bool
    backend: str
    llama_cpp: str

    @property
    def digest(self) -> str:
        text = json.dumps(dataclasses.asdict(self), sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()[:16]


@dataclass(frozen=True, eq=False)
class Snapshot:
    """A conversation's KV state and the keys it holds, position by position."""

    keys: tuple[Key, ...]
    state: np.ndarray
    """``llama_state_seq_get_data``'s bytes (uint8)."""
    dropped: int = 0
    """Messages left out of the prompt when it was made (so the next turn leaves out the same
    ones and keeps this memory, instead of shifting what is left out every turn)."""

    @property
    def nbytes(self) -> int:
        return int(self.state.nbytes)


@dataclass
class _Held:
    """A snapshot in the RAM pool; one not on disk yet is written when it leaves the pool for
    anywhere but the engine's cache."""

    snapshot: Snapshot
    on_disk: bool
    used_at: float = field(default_factory=time.time)


class SnapshotStore:
    """Snapshots by (cache shape, thread): a RAM pool in front of a capped disk folder.

    Used from one thread (the engine's); disk writes run on a background thread of their own.
    """

    def __init__(
        self,
        folder: Path | None,
        *,
        disk_bytes: int = 4 << 30,
        ram_bytes: int | None = None,
    ) -> None:
        """``ram_bytes`` None sizes the pool from free memory at every ``keep``."""
        self._disk = CappedFolder(folder, disk_bytes, ".kv", thread_name="snapshots") if folder else None
        self._use_disk = self._disk is not None
        self._ram_bytes = ram_bytes
        self._pool: OrderedDict[tuple[str, str], _Held] = OrderedDict()
        self._held = 0

    def configure(self, *, disk: bool, disk_bytes: int) -> None:
        """Follow the runtime settings of the model just loaded."""
        self._use_disk = disk and self._disk is not None and disk_bytes > 0
        if self._disk is not None:
            self._disk.cap_bytes = disk_bytes

    @property
    def ram_bytes(self) -> int:
        """Bytes the RAM pool holds now."""
        return self._held

    # ------------------------------------------------------------------------ the pool
    def keep(self, shape: CacheShape, thread: str, snapshot: Snapshot, *, on_disk: bool = False) -> None:
        """Hold a departing conversation in RAM; what no longer fits the budget goes to disk.
        ``on_disk``: the same state was handed to :meth:`save` already (no second write)."""
        key = (shape.digest, thread)
        self._forget(key)
        self._pool[key] = _Held(snapshot, on_disk)
        self._held += snapshot.nbytes
        budget = self._budget()
        while self._held > budget and self._pool:
            (digest, oldest), held = self._pool.popitem(last=False)
            self._held -= held.snapshot.nbytes
            if not held.on_disk:
                self._write(digest, oldest, held.snapshot, held.used_at)

    def take(self, shape: CacheShape, thread: str) -> tuple[Snapshot, Restored] | None:
        """The thread's snapshot, from RAM (handed over: the engine's cache holds it next) or
        from disk (checked whole); None when there is none that can be trusted."""
        key = (shape.digest, thread)
        held = self._pool.pop(key, None)
        if held is not None:
            self._held -= held.snapshot.nbytes  # an older file of it stays a valid fallback
            return held.snapshot, "ram"
        if not self._use_disk or self._disk is None:
            return None
        path = self._disk.path(_file_name(shape.digest, thread))
        if not path.exists():
            return None
        try:
            snapshot = read_snapshot(path.read_bytes(), shape.digest, thread)
        except (OSError, ValueError) as exc:
            log.warning("ignoring the snapshot %s: %s", path.name, exc)
            self._disk.discard(path)
            return None
        self._disk.touch(path)
        return snapshot, "disk"

    def save(self, shape: CacheShape, thread: str, snapshot: Snapshot) -> None:
        """Write the current conversation to disk soon (the engine's cache keeps it live)."""
        self._forget((shape.digest, thread))
        self._write(shape.digest, thread, snapshot)

    def spill(self) -> None:
        """Move what RAM holds to disk: the model is about to be freed or the engine to stop,
        and the pool with it.  Newest first (a stopping engine may not finish), each dated by
        its last use, and only as many as the disk cap keeps."""
        room = self._disk.cap_bytes if self._disk is not None else 0
        while self._pool:
            (digest, thread), held = self._pool.popitem(last=True)
            self._held -= held.snapshot.nbytes
            room -= held.snapshot.nbytes
            if room >= 0 and not held.on_disk:
                self._write(digest, thread, held.snapshot, held.used_at)

    def flush(self, timeout: float | None = None) -> bool:
        """Wait for the queued disk writes; False when ``timeout`` passed first."""
        return self._disk.flush(timeout) if self._disk is not None else True

    def clear(self) -> None:
        """Forget every snapshot, in RAM and on disk."""
        self._pool.clear()
        self._held = 0
        if self._disk is not None:
            self._disk.clear()

    def disk_bytes(self) -> int:
        """What the snapshot files take on disk now."""
        return self._disk.total_bytes() if self._disk is not None and self._disk.folder.exists() else 0

    # ----------------------------------------------------------------------- internals
    def _forget(self, key: tuple[str, str]) -> None:
        held = self._pool.pop(key, None)
        if held is not None:
            self._held -= held.snapshot.nbytes

    def _budget(self) -> int:
        if self._ram_bytes is not None:
            return self._ram_bytes
        available = int(psutil.virtual_memory().available)
        return min(RAM_CAP, int((available + self._held) * RAM_SHARE))

    def _write(self, digest: str, thread: str, snapshot: Snapshot, used_at: float | None = None) -> None:
        if not self._use_disk or self._disk is None:
            return

        def write(file: BinaryIO) -> None:
            write_snapshot(file, digest, thread, snapshot)

        self._disk.submit(_file_name(digest, thread), write, used_at=used_at)


def _file_name(digest: str, thread: str) -> str:
    return f"{digest}-{hashlib.sha256(thread.encode()).hexdigest()[:24]}"


# --------------------------------------------------------------------------- file format
def write_snapshot(file: BinaryIO, digest: str, thread: str, snapshot: Snapshot) -> None:
    """``MAGIC``, version, header length and a crc32 over header and state; the JSON header
    (shape digest, thread, keys as runs, dropped, state length); the state bytes."""
    header = json.dumps(
        {
            "shape": digest,
            "thread": thread,
            "keys": _runs(snapshot.keys),
            "dropped": snapshot.dropped,
            "state_bytes": snapshot.nbytes,
        },
        separators=(",", ":"),
    ).encode()
    state = np.ascontiguousarray(snapshot.state).data.cast("B")
    crc = zlib.crc32(state, zlib.crc32(header))
    file.write(_PREAMBLE.pack(MAGIC, FORMAT_VERSION, len(header), crc))
    file.write(header)
    file.write(state)


def read_snapshot(data: bytes, digest: str, thread: str) -> Snapshot:
    """The snapshot in ``data``; ValueError for anything damaged, cut short or not this one's."""
    if len(data) < _PREAMBLE.size:
        raise ValueError("shorter than a snapshot's preamble")
    magic, version, header_len, crc = _PREAMBLE.unpack_from(data)
    if magic != MAGIC or version != FORMAT_VERSION:
        raise ValueError("not a snapshot of this version")
    start = _PREAMBLE.size + header_len
    if start > len(data):
        raise ValueError("cut short in its header")
    header = data[_PREAMBLE.size : start]
    state = memoryview(data)[start:]
    if zlib.crc32(state, zlib.crc32(header)) != crc:
        raise ValueError("checksum mismatch (damaged or cut short)")
    meta = json.loads(header)
    if meta.get("shape") != digest or meta.get("thread") != thread:
        raise ValueError("made for another context or thread")
    if meta.get("state_bytes") != len(state):
        raise ValueError("state length differs from its header")
    dropped = meta.get("dropped", 0)
    if not isinstance(dropped, int) or dropped < 0:
        raise ValueError("bad dropped count")
    keys = _keys_from_runs(meta.get("keys"))
    return Snapshot(keys, np.frombuffer(data, np.uint8, offset=start), dropped)


def _runs(keys: tuple[Key, ...]) -> list[Any]:
    """Keys as runs: a list of token ids for text, ``[hash, n]`` for an image's n positions."""
    runs: list[Any] = []
    for key in keys:
        if isinstance(key, int):
            if runs and isinstance(runs[-1], list):
                runs[-1].append(key)
            else:
                runs.append([key])
        else:
            sha, index = key
            last = runs[-1] if runs else None
            if isinstance(last, dict) and last["image"] == sha and last["n"] == index:
                last["n"] += 1
            elif index == 0:
                runs.append({"image": sha, "n": 1})
            else:
                raise ValueError(f"image positions of {sha} do not start at 0")
    return runs


def _keys_from_runs(runs: object) -> tuple[Key, ...]:
    if not isinstance(runs, list):
        raise ValueError("keys missing")
    keys: list[Key] = []
    for run in runs:
        if isinstance(run, list) and all(isinstance(t, int) and not isinstance(t, bool) for t in run):
            keys.extend(run)
        elif (
            isinstance(run, dict)
            and isinstance(run.get("image"), str)
            and isinstance(run.get("n"), int)
            and run["n"] > 0
        ):
            keys.extend((run["image"], i) for i in range(run["n"]))
        else:
            raise ValueError("malformed keys")
    return tuple(keys)
