"""What a conversation snapshot costs: bytes per token against llama.cpp's KV cache, and the time
to save and restore it, per 1,000 tokens of conversation.

    python bench/snapshot_cost.py --model MODEL.gguf [--threads 2] [--ctx 8192] [--json]

Runs the engine's own backend (``LlamaBackend``) in this process, on threads of growing length
(1K, 2K, 4K and 7K tokens of prompt).  For each: the KV state copy out of llama.cpp
(``llama_state_seq_get_data``, what leaving a thread costs) and back in (``_set_data``, what
returning from the RAM pool costs); writing the snapshot file (header, crc32 and state, as the
background writer does, without fsync) and reading it back with its checks (what a restart
costs before the copy in).  Medians of ``--repeats`` runs.  llama.cpp's own report of its KV
cache (the ``llama_kv_cache: size = ...`` lines it logs when the context is made: the global
layers' cache and the sliding-window layers' one) gives the bytes per token to compare with.

bench/run.py runs this in a child process (the benchmark's own process never loads llama.cpp);
the last line printed with ``--json`` is one JSON object.
"""

from __future__ import annotations

import argparse
import ctypes
import json
import multiprocessing
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

LENGTHS = (1000, 2000, 4000, 7000)
_KV_LINE = re.compile(r"llama_kv_cache: size = +([\d.]+) MiB \( *(\d+) cells, +(\d+) layers")


def _capture_kv_reports(lines: list[str]) -> None:
    """Keep llama.cpp's log lines about its KV caches (the backend silences the rest)."""
    import llama_cpp

    from desktop_app.engine import backend

    def on_log(level: int, text: bytes, _user: ctypes.c_void_p) -> None:
        lines.append(text.decode("utf-8", "replace"))

    callback = llama_cpp.llama_log_callback(on_log)
    backend._LOG_CALLBACK = callback  # kept alive
    backend._silence_native_logs = lambda: llama_cpp.llama_log_set(callback, ctypes.c_void_p(0))


def measure(model: Path, threads: int, n_ctx: int, repeats: int) -> dict[str, Any]:
    from desktop_app.engine.backend import LlamaBackend
    from desktop_app.engine.cancel import CancelFlag
    from desktop_app.engine.protocol import ChatMessage, GenerateRequest
    from desktop_app.engine.snapshots import read_snapshot, write_snapshot
    from desktop_app.settings import GenerationSettings, RuntimeSettings

    log_lines: list[str] = []
    _capture_kv_reports(log_lines)
    runtime = RuntimeSettings(n_ctx=n_ctx, n_threads=threads, disk_cache=False)
    engine = LlamaBackend(model, None, runtime, CancelFlag(multiprocessing.get_context("spawn")))
    caches = [
        {"mib": float(m.group(1)), "cells": int(m.group(2)), "layers": int(m.group(3))}
        for m in map(_KV_LINE.search, log_lines)
        if m
    ]
    words = ["river", "stone", "garden", "window", "yellow", "market", "silver", "morning"]
    rows = []
    folder = Path(tempfile.mkdtemp(prefix="snapshot-cost-"))
    try:
        for length in LENGTHS:
            text = " ".join(words[i % len(words)] for i in range(length))
            request = GenerateRequest(
                length, (ChatMessage.user(text),), "", GenerationSettings(max_tokens=1, temperature=0.0), "t"
            )
            engine.generate(request, lambda _piece: None, time.perf_counter())
            tokens = len(engine._cached)
            copy_out, copy_in, write, read = [], [], [], []
            snapshot = engine._capture()
            for _ in range(repeats):
                started = time.perf_counter()
                snapshot = engine._capture()
                copy_out.append(time.perf_counter() - started)
                started = time.perf_counter()
                assert engine._restore(snapshot)
                copy_in.append(time.perf_counter() - started)
                path = folder / "t.kv"
                started = time.perf_counter()
                with path.open("wb") as file:
                    write_snapshot(file, "shape", "t", snapshot)
                write.append(time.perf_counter() - started)
                started = time.perf_counter()
                read_snapshot(path.read_bytes(), "shape", "t")
                read.append(time.perf_counter() - started)
            file_bytes = path.stat().st_size
            per_k = 1000 / tokens
            rows.append({
                "tokens": tokens,
                "state_bytes": snapshot.nbytes,
                "file_bytes": file_bytes,
                "state_bytes_per_token": round(snapshot.nbytes / tokens),
                "copy_out_ms_per_1k": round(statistics.median(copy_out) * 1000 * per_k, 3),
                "copy_in_ms_per_1k": round(statistics.median(copy_in) * 1000 * per_k, 3),
                "write_ms_per_1k": round(statistics.median(write) * 1000 * per_k, 3),
                "read_check_ms_per_1k": round(statistics.median(read) * 1000 * per_k, 3),
            })
    finally:
        engine.close()
        for leftover in folder.iterdir():
            leftover.unlink()
        folder.rmdir()
    kv_total = sum(c["mib"] for c in caches) * 2**20
    global_cache = max(caches, key=lambda c: c["cells"]) if caches else None
    return {
        "n_ctx": n_ctx,
        "llama_kv_caches": caches,
        "llama_kv_bytes": int(kv_total),
        "llama_kv_bytes_per_cell_global": int(global_cache["mib"] * 2**20 / global_cache["cells"])
        if global_cache else None,
        "rows": rows,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", type=Path, required=True)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--ctx", type=int, default=8192)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--json", action="store_true")
    opts = parser.parse_args()
    result = measure(opts.model, opts.threads, opts.ctx, opts.repeats)
    if opts.json:
        print(json.dumps(result))
    else:
        print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
