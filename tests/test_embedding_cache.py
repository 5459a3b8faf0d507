"""The image-embedding cache: memory LRU, disk with a size cap, and damage that only costs time."""

from __future__ import annotations

import errno
import os
import time
from pathlib import Path
from typing import IO

import numpy as np
import pytest

from desktop_app.engine.embedding_cache import EmbeddingCache, file_identity

SHAPE = (16, 64)


def _embedding(seed: int) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal(SHAPE).astype(np.float32)


def test_round_trip_through_disk_is_bit_identical(tmp_path: Path) -> None:
    cache = EmbeddingCache(tmp_path)
    cache.put("a" * 64, _embedding(1))
    cache.flush()
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
    cache.flush()
    old = tmp_path / "old.npy"
    os.utime(old, (time.time() - 100, time.time() - 100))
    cache.put("mid", _embedding(1))
    cache.put("new", _embedding(2))
    cache.flush()
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
    cache.flush()
    assert cache.get("x", SHAPE) is not None  # still served from memory
    assert not list(tmp_path.iterdir())  # no half-written or temporary file left


def test_writes_keep_a_running_total_instead_of_scanning_the_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "earlier.npy").write_bytes(b"x" * 1000)  # left by an earlier engine
    cache = EmbeddingCache(tmp_path, memory_items=0, disk_bytes=10 * _embedding(0).nbytes)
    assert cache._disk is not None
    scans = []
    disk = cache._disk
    original = disk._files

    def scanning() -> list[tuple[os.stat_result, Path]]:
        scans.append(1)
        return original()

    monkeypatch.setattr(disk, "_files", scanning)
    for i in range(5):
        cache.put(str(i), _embedding(i))
    cache.flush()
    assert len(scans) == 1  # once, to learn what the folder already held
    expected = sum(p.stat().st_size for p in tmp_path.glob("*.npy"))
    assert cache._disk._total == expected


def test_stale_half_written_files_are_removed_and_fresh_ones_kept(tmp_path: Path) -> None:
    stale, fresh = tmp_path / "a.tmp", tmp_path / "b.tmp"
    stale.write_bytes(b"half")
    fresh.write_bytes(b"half")  # another engine's write in progress
    os.utime(stale, (time.time() - 7200, time.time() - 7200))
    cache = EmbeddingCache(tmp_path)
    cache.put("x", _embedding(4))
    cache.flush()
    assert not stale.exists() and fresh.exists()


def test_an_unexpected_write_error_does_not_stop_later_writes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = []
    real_save = np.save

    def flaky(file: IO[bytes], arr: np.ndarray, allow_pickle: bool = True) -> None:
        calls.append(1)
        if len(calls) == 1:
            raise ValueError("unexpected")
        real_save(file, arr, allow_pickle=allow_pickle)

    monkeypatch.setattr(np, "save", flaky)
    cache = EmbeddingCache(tmp_path, memory_items=0)
    cache.put("first", _embedding(5))
    cache.put("second", _embedding(6))
    cache.flush()  # returns: the writer thread survived the first failure
    assert [p.stem for p in tmp_path.glob("*.npy")] == ["second"]
    assert not list(tmp_path.glob("*.tmp"))


def test_file_identity_changes_with_the_file(tmp_path: Path) -> None:
    path = tmp_path / "mmproj.gguf"
    path.write_bytes(b"x" * 3_000_000)
    first = file_identity(path)
    path.write_bytes(b"x" * 2_999_999 + b"y")
    assert file_identity(path) != first
