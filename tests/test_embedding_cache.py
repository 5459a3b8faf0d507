"""The image-embedding cache: memory LRU, disk with a size cap, and damage that only costs time."""

from __future__ import annotations

import errno
import os
import time
from pathlib import Path

import numpy as np
import pytest

from desktop_app.engine.embedding_cache import EmbeddingCache, projector_identity

SHAPE = (16, 64)


def _embedding(seed: int) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal(SHAPE).astype(np.float32)


def test_round_trip_through_disk_is_bit_identical(tmp_path: Path) -> None:
    EmbeddingCache(tmp_path).put("a" * 64, _embedding(1))
    fresh = EmbeddingCache(tmp_path)  # as after an engine restart
    loaded = fresh.get("a" * 64, SHAPE)
    assert loaded is not None and np.array_equal(loaded, _embedding(1))
    assert fresh.get("b" * 64, SHAPE) is None


def test_memory_keeps_the_most_recent_items_only(tmp_path: Path) -> None:
    cache = EmbeddingCache(None, memory_items=2)
    for i in range(3):
        cache.put(str(i), _embedding(i))
    assert cache.get("0", SHAPE) is None
    assert cache.get("2", SHAPE) is not None


def test_disk_is_capped_and_least_recently_used_goes_first(tmp_path: Path) -> None:
    one = _embedding(0).nbytes + 200  # an .npy file's size, header included
    cache = EmbeddingCache(tmp_path, memory_items=0, disk_bytes=2 * one)
    cache.put("old", _embedding(0))
    old = tmp_path / "old.npy"
    os.utime(old, (time.time() - 100, time.time() - 100))
    cache.put("mid", _embedding(1))
    cache.put("new", _embedding(2))
    assert sorted(p.stem for p in tmp_path.glob("*.npy")) == ["mid", "new"]


def test_damaged_or_wrong_shaped_file_is_dropped_not_used(tmp_path: Path) -> None:
    (tmp_path / "bad.npy").write_bytes(b"not numpy")
    np.save(tmp_path / "odd.npy", np.zeros((3, 3), np.float32))
    cache = EmbeddingCache(tmp_path)
    assert cache.get("bad", SHAPE) is None and cache.get("odd", SHAPE) is None
    assert not list(tmp_path.glob("*.npy"))


def test_full_disk_only_skips_the_disk_copy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def full(*args: object, **kwargs: object) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(np, "save", full)
    cache = EmbeddingCache(tmp_path)
    cache.put("x", _embedding(3))  # no exception
    assert cache.get("x", SHAPE) is not None  # still served from memory
    assert not list(tmp_path.iterdir())  # no half-written or temporary file left


def test_projector_identity_changes_with_the_file(tmp_path: Path) -> None:
    path = tmp_path / "mmproj.gguf"
    path.write_bytes(b"x" * 3_000_000)
    first = projector_identity(path)
    path.write_bytes(b"x" * 2_999_999 + b"y")
    assert projector_identity(path) != first
