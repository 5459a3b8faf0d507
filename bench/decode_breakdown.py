"""Where decode speed goes between llama-bench and the engine: one step added at a time.

    python bench/decode_breakdown.py [--rounds 8] [--threads 2]

A diagnostic beside bench/run.py.  Each round runs, in rotating order, 128-token decodes of the
Gemma 3 270M with flash attention on and the same thread count:

* ``llama-bench``       the tool's tg128 (its own process, a 128 + 128 token context);
* ``raw ctx=256``       llama_decode one token at a time from Python, greedy numpy argmax, a small
                        context like llama-bench's;
* ``raw ctx=8192``      the same with the engine's context (8192, reduced SWA cache, n_batch 512);
* ``+sampler``          the engine's Sampler at the app defaults instead of the argmax;
* ``+piece``            plus token_to_piece and the UTF-8 incremental decoder (all of ``_stream``'s
                        per-token work except sending);
* ``engine``            the real thing: EngineClient, engine process, a pipe message per token.

Rounds disturbed by other processes (bench/run.py's ``Meter``) are retried a couple of times.
Prints the median tok/s of each step and its ratio to llama-bench in the same rounds.
"""

from __future__ import annotations

import argparse
import codecs
import ctypes
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

N_GEN = 128


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=8)
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--pp", action="store_true", help="prompt (pp256) steps instead of decode")
    parser.add_argument("--mmproj", action="store_true", help="engine with the tiny projector loaded")
    opts = parser.parse_args()
    os.environ["GEMMA_DESKTOP_HOME"] = tempfile.mkdtemp(prefix="gemma-decode-")

    import build_llama_tools
    import llama_cpp
    import numpy as np
    import run as bench_run

    from desktop_app.engine.protocol import ChatMessage
    from desktop_app.engine.sampler import Sampler
    from desktop_app.settings import GenerationSettings, physical_cores

    threads = opts.threads or physical_cores()
    binaries = build_llama_tools.build()
    model_path = bench_run.ensure_models(real=False)["model"]

    @llama_cpp.llama_log_callback
    def quiet(_level, _text, _user):
        pass

    llama_cpp.llama_log_set(quiet, ctypes.c_void_p(0))
    llama_cpp.llama_backend_init()
    model = llama_cpp.llama_model_load_from_file(str(model_path).encode(),
                                                 llama_cpp.llama_model_default_params())
    vocab = llama_cpp.llama_model_get_vocab(model)
    n_vocab = llama_cpp.llama_vocab_n_tokens(vocab)

    def make_ctx(n_ctx: int, n_batch: int):
        p = llama_cpp.llama_context_default_params()
        p.n_ctx, p.n_batch, p.n_ubatch = n_ctx, n_batch, n_batch
        p.n_threads = p.n_threads_batch = threads
        p.flash_attn_type = llama_cpp.LLAMA_FLASH_ATTN_TYPE_ENABLED
        p.swa_full = False
        return llama_cpp.llama_init_from_model(model, p)

    contexts = {"small": make_ctx(256, 256), "app": make_ctx(8192, 512)}
    prompt = (llama_cpp.llama_token * 8)(*[2, 105, 2364, 107, 3689, 1003, 496, 3925])

    def raw(ctx_name: str, mode: str) -> float:
        ctx = contexts[ctx_name]
        llama_cpp.llama_memory_clear(llama_cpp.llama_get_memory(ctx), True)
        llama_cpp.llama_decode(ctx, llama_cpp.llama_batch_get_one(prompt, len(prompt)))
        sampler = Sampler(GenerationSettings(seed=1))
        decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        buf = ctypes.create_string_buffer(64)
        one = (llama_cpp.llama_token * 1)()
        started = time.perf_counter()
        for _ in range(N_GEN):
            logits = np.ctypeslib.as_array(llama_cpp.llama_get_logits_ith(ctx, -1), shape=(n_vocab,))
            token = int(np.argmax(logits)) if mode == "argmax" else sampler.sample(logits)
            if mode == "piece":
                n = llama_cpp.llama_token_to_piece(vocab, token, buf, len(buf), 0, False)
                decoder.decode(buf.raw[:max(n, 0)])
                llama_cpp.llama_vocab_is_eog(vocab, token)
            one[0] = token
            llama_cpp.llama_decode(ctx, llama_cpp.llama_batch_get_one(one, 1))
        return N_GEN / (time.perf_counter() - started)

    engine = bench_run.Engine(
        model_path, bench_run.ensure_models(real=False)["tiny"] if opts.mmproj else None, threads)
    engine.ask([ChatMessage.user(bench_run.STORY)], max_tokens=8, seed=1)

    def via_engine() -> float | None:
        for seed in range(1, 9):
            done, _ = engine.ask([ChatMessage.user(bench_run.STORY)], max_tokens=N_GEN, seed=seed)
            if done.metrics.decode_tokens == N_GEN:
                return done.metrics.decode_tok_s
        return None

    pp_text_tokens = [int(t) for t in range(1000, 1000 + 256)]
    pp_array = (llama_cpp.llama_token * 256)(*pp_text_tokens)

    def raw_pp(warm: bool = False) -> float:
        ctx = contexts["app"]
        for _ in range(2 if warm else 1):  # warm: like llama-bench, right after an identical run
            llama_cpp.llama_memory_clear(llama_cpp.llama_get_memory(ctx), True)
            started = time.perf_counter()
            llama_cpp.llama_decode(ctx, llama_cpp.llama_batch_get_one(pp_array, 256))
            elapsed = time.perf_counter() - started
        return 256 / elapsed

    n_words, depth = bench_run.calibrate_pp(engine, 256) if opts.pp else (0, 0)
    sample_s = bench_run.greedy_sample_cost()
    pp_tags = iter(range(10**6))

    def engine_pp() -> float:
        engine.ask([ChatMessage.user(bench_run.STORY)], max_tokens=1, temperature=0.0)
        done, _ = engine.ask(bench_run.pp_message(engine, n_words, next(pp_tags)),
                             temperature=0.0, max_tokens=1)
        m = done.metrics
        return (m.prompt_tokens - m.cached_tokens) / (m.ttft_s - sample_s)

    steps = {
        "llama-bench": lambda: bench_run.run_llama_bench(binaries["llama-bench"], model_path,
                                                         threads, 0, N_GEN)["tg_tok_s"],
        "raw ctx=256": lambda: raw("small", "argmax"),
        "raw ctx=8192": lambda: raw("app", "argmax"),
        "+sampler": lambda: raw("app", "sampler"),
        "+piece": lambda: raw("app", "piece"),
        "engine": via_engine,
    }
    if opts.pp:
        steps = {
            "llama-bench": lambda: bench_run.run_llama_bench(binaries["llama-bench"], model_path,
                                                             threads, 256, 0, depth=depth)["pp_tok_s"],
            "raw pp ctx=8192": raw_pp,
            "raw pp ctx=8192 after a warm-up run": lambda: raw_pp(warm=True),
            "engine pp": engine_pp,
        }
    for fn in steps.values():  # warm every path once
        fn()
    results: dict[str, list[float]] = {name: [] for name in steps}
    ratios: dict[str, list[float]] = {name: [] for name in steps}
    names = list(steps)
    for r in range(opts.rounds):
        order = names[r % len(names):] + names[:r % len(names)]
        for _attempt in range(3):
            bench_run.METER.wait_quiet(bench_run.QUIET_LIMIT, 20)
            values, (worst) = {}, 0.0
            for name in order:
                value, share = bench_run.METER.measure(steps[name])
                values[name] = value
                worst = max(worst, share or 0.0)
            if worst <= bench_run.QUIET_LIMIT:
                break
        for name, value in values.items():
            if value:
                results[name].append(value)
                ratios[name].append(value / values["llama-bench"])
        print(f"round {r + 1}: " + ", ".join(f"{n} {v:.1f}" for n, v in values.items() if v)
              + f" (others {worst:.2f})", flush=True)
    summary = {
        name: {"median_tok_s": round(statistics.median(v), 2),
               "median_ratio_to_llama_bench": round(statistics.median(ratios[name]), 4)}
        for name, v in results.items() if v
    }
    print(json.dumps(summary, indent=2))
    engine.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
