"""How much the speed of identical llama.cpp processes differs, process to process.

    python bench/process_luck.py [--processes 6] [--rounds 24] [--threads 2]

A diagnostic beside bench/run.py, and the reason it starts a new engine each round.  It starts
several identical processes (the Gemma 3 270M, the engine's context settings, nothing else
loaded), then asks them in turn, the order rotating every round, for a 256-token prompt
evaluation (median of 3) and 32 single-token decodes.  Each process's median is compared with
the first process's, in the same rounds, so machine-wide drift cancels out and what remains is
the process itself: where its weights, KV cache and compute buffers landed in memory.
"""

from __future__ import annotations

import argparse
import ctypes
import json
import multiprocessing
import statistics
import sys
import time
from multiprocessing.connection import Connection
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))


def worker(conn: Connection, threads: int) -> None:
    """One process: load, warm up, then answer each request with (pp tok/s, tg tok/s)."""
    import llama_cpp
    import run as bench_run

    model_path = bench_run.ensure_models(real=False)["model"]

    @llama_cpp.llama_log_callback
    def quiet(_level: int, _text: bytes, _user: ctypes.c_void_p) -> None:
        pass

    llama_cpp.llama_log_set(quiet, ctypes.c_void_p(0))
    llama_cpp.llama_backend_init()
    model = llama_cpp.llama_model_load_from_file(str(model_path).encode(),
                                                 llama_cpp.llama_model_default_params())
    params = llama_cpp.llama_context_default_params()
    params.n_ctx, params.n_batch, params.n_ubatch = 8192, 512, 512
    params.n_threads = params.n_threads_batch = threads
    params.flash_attn_type = llama_cpp.LLAMA_FLASH_ATTN_TYPE_ENABLED
    params.swa_full = False
    ctx = llama_cpp.llama_init_from_model(model, params)
    memory = llama_cpp.llama_get_memory(ctx)
    prompt = (llama_cpp.llama_token * 256)(*range(1000, 1256))
    one = (llama_cpp.llama_token * 1)(5)
    step = llama_cpp.llama_batch_get_one(one, 1)

    def pp() -> float:
        llama_cpp.llama_memory_clear(memory, True)
        started = time.perf_counter()
        llama_cpp.llama_decode(ctx, llama_cpp.llama_batch_get_one(prompt, 256))
        return 256 / (time.perf_counter() - started)

    def tg() -> float:
        started = time.perf_counter()
        for _ in range(32):
            llama_cpp.llama_decode(ctx, step)
        return 32 / (time.perf_counter() - started)

    for _ in range(3):
        pp(), tg()
    conn.send("ready")
    while conn.recv():
        conn.send((statistics.median(pp() for _ in range(3)), tg()))


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--processes", type=int, default=6)
    parser.add_argument("--rounds", type=int, default=24)
    parser.add_argument("--threads", type=int, default=None)
    opts = parser.parse_args()

    from desktop_app.settings import physical_cores

    threads = opts.threads or physical_cores()
    mp = multiprocessing.get_context("spawn")
    conns, procs = [], []
    for _ in range(opts.processes):  # started one after another: loads do not overlap
        parent, child = mp.Pipe()
        proc = mp.Process(target=worker, args=(child, threads))
        proc.start()
        parent.recv()
        conns.append(parent)
        procs.append(proc)
    results: list[list[tuple[float, float]]] = [[] for _ in conns]
    n = len(conns)
    for r in range(opts.rounds):
        for i in [(r + k) % n for k in range(n)]:
            conns[i].send(True)
            results[i].append(conns[i].recv())
    for conn in conns:
        conn.send(False)
    for proc in procs:
        proc.join(timeout=10)

    first = results[0]
    summary = []
    for i, rows in enumerate(results):
        summary.append({
            "process": i,
            "pp_tok_s": round(statistics.median(pp for pp, _ in rows), 1),
            "pp_ratio_to_first": round(statistics.median(a[0] / b[0] for a, b in zip(rows, first, strict=True)), 4),
            "tg_tok_s": round(statistics.median(tg for _, tg in rows), 2),
            "tg_ratio_to_first": round(statistics.median(a[1] / b[1] for a, b in zip(rows, first, strict=True)), 4),
        })
    pp_ratios = [s["pp_ratio_to_first"] for s in summary]
    tg_ratios = [s["tg_ratio_to_first"] for s in summary]
    print(json.dumps({
        "threads": threads,
        "rounds": opts.rounds,
        "processes": summary,
        "pp_spread": round(max(pp_ratios) / min(pp_ratios) - 1, 4),
        "tg_spread": round(max(tg_ratios) / min(tg_ratios) - 1, 4),
    }, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
