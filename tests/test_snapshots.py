"""The snapshot store on its own: RAM pool, disk format, damage and caps (no llama.cpp here;
tests/test_threads.py runs the same store inside the real engine)."""

from __future__ import annotations

import io
import os
import time
from pathlib import Path

import numpy as np
import pytest

from desktop_app.engine.snapshots import (
    CacheShape,
    Key,
    Snapshot,
    SnapshotStore,
    read_snapshot,
    write_snapshot,
)

SHAPE = CacheShape("model-id", "", 2048, 512, True, 1, 1, False, "CPU", "0.3.36")
OTHER_SIZE = CacheShape("model-id", "", 4096, 512, True, 1, 1, False, "CPU", "0.3.36")
KEYS: tuple[Key, ...] = (2, 105, 2364, 107, *(("ab" * 32, i) for i in range(16)), 9, 10)


def _snapshot(size: int = 1000, seed: int = 0, keys: tuple[Key, ...] = KEYS) -> Snapshot:
    state = np.random.default_rng(seed).integers(0, 256, size, dtype=np.uint8)
    return Snapshot(keys, state, dropped=2)


def _file(snapshot: Snapshot, thread: str = "t") -> bytes:
    out = io.BytesIO()
    write_snapshot(out, SHAPE.digest, thread, snapshot)
    return out.getvalue()


def test_a_file_round_trips_keys_state_and_dropped() -> None:
    snapshot = _snapshot()
    back = read_snapshot(_file(snapshot), SHAPE.digest, "t")
    assert back.keys == KEYS and back.dropped == 2
    assert np.array_equal(back.state, snapshot.state)


@pytest.mark.parametrize(
    "damage",
    [
        lambda data: data[: len(data) // 2],  # cut short
        lambda data: data[:-1],
        lambda data: data[:40] + bytes([data[40] ^ 1]) + data[41:],  # a flipped bit in the keys
        lambda data: data[:-10] + bytes([data[-10] ^ 0x80]) + data[-9:],  # ... in the state
        lambda data: b"GGUF" + data[4:],  # not ours
        lambda data: b"",
    ],
)
def test_damaged_cut_or_foreign_bytes_are_refused(damage) -> None:
    with pytest.raises(ValueError):
        read_snapshot(damage(_file(_snapshot())), SHAPE.digest, "t")


def test_a_file_of_another_thread_or_context_is_refused() -> None:
    data = _file(_snapshot(), thread="other")
    with pytest.raises(ValueError, match="another"):
        read_snapshot(data, SHAPE.digest, "t")
    with pytest.raises(ValueError, match="another"):
        read_snapshot(_file(_snapshot()), OTHER_SIZE.digest, "t")


def test_take_hands_over_from_ram_and_reads_back_from_disk(tmp_path: Path) -> None:
    store = SnapshotStore(tmp_path, ram_bytes=10_000)
    store.keep(SHAPE, "a", _snapshot(seed=1))
    taken = store.take(SHAPE, "a")
    assert taken is not None and taken[1] == "ram" and store.ram_bytes == 0
    assert store.take(SHAPE, "a") is None  # handed over: the engine holds it now
    store.save(SHAPE, "a", taken[0])
    store.flush()
    again = store.take(SHAPE, "a")
    assert again is not None and again[1] == "disk"
    assert np.array_equal(again[0].state, taken[0].state)
    assert store.take(OTHER_SIZE, "a") is None  # another context size never sees it


def test_the_ram_pool_spills_least_recently_used_to_disk_over_its_budget(tmp_path: Path) -> None:
    store = SnapshotStore(tmp_path, ram_bytes=2500)
    for seed, thread in enumerate("abc"):
        store.keep(SHAPE, thread, _snapshot(seed=seed))
    store.flush()
    assert store.ram_bytes == 2000
    on_disk = store.take(SHAPE, "a")
    in_ram = store.take(SHAPE, "c")
    assert on_disk is not None and on_disk[1] == "disk"
    assert in_ram is not None and in_ram[1] == "ram"


def test_a_damaged_file_is_ignored_and_deleted(tmp_path: Path) -> None:
    store = SnapshotStore(tmp_path)
    store.save(SHAPE, "a", _snapshot())
    store.flush()
    (path,) = tmp_path.glob("*.kv")
    data = bytearray(path.read_bytes())
    data[-5] ^= 0xFF
    path.write_bytes(bytes(data))
    assert store.take(SHAPE, "a") is None
    assert not path.exists()


def test_spilling_keeps_the_newest_within_the_disk_cap(tmp_path: Path) -> None:
    one = len(_file(_snapshot(seed=0), thread="t00"))
    store = SnapshotStore(tmp_path, disk_bytes=3 * one + one // 2, ram_bytes=1 << 30)
    threads = [f"t{i:02d}" for i in range(10)]
    for i, thread in enumerate(threads):
        store.keep(SHAPE, thread, _snapshot(seed=i))
        time.sleep(0.002)  # distinct last-use times
    store.spill()
    store.flush()
    assert sum(p.stat().st_size for p in tmp_path.glob("*.kv")) <= 3 * one + one // 2
    kept = [t for t in threads if store.take(SHAPE, t) is not None]
    assert kept == threads[-3:]


def test_stale_temporary_files_are_swept_and_clear_empties_everything(tmp_path: Path) -> None:
    stale = tmp_path / "killed-mid-write.tmp"
    stale.write_bytes(b"half a snapshot")
    os.utime(stale, (time.time() - 7200, time.time() - 7200))
    store = SnapshotStore(tmp_path)
    store.save(SHAPE, "a", _snapshot())
    store.keep(SHAPE, "b", _snapshot(seed=3))
    store.flush()
    assert not stale.exists() and store.disk_bytes() > 0
    store.clear()
    assert store.disk_bytes() == 0 and store.ram_bytes == 0
    assert store.take(SHAPE, "a") is None and store.take(SHAPE, "b") is None


def test_with_the_disk_off_nothing_is_written(tmp_path: Path) -> None:
    store = SnapshotStore(tmp_path, ram_bytes=500)
    store.configure(disk=False, disk_bytes=1 << 30)
    store.keep(SHAPE, "a", _snapshot())  # over the budget: dropped, not written
    store.save(SHAPE, "b", _snapshot())
    store.flush()
    assert not list(tmp_path.glob("*"))
