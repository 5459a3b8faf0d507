"""Where the time to first token goes, turn by turn, in a conversation that starts with an image.

    python bench/ttft_breakdown.py [--real] [--threads 2]

A diagnostic beside bench/run.py: it drives the engine's ``LlamaBackend`` in this process (no
child, no pipe) with timers around its steps, for turn 1 (image + question), turn 2 (a follow-up)
and turn 3 on a *new* backend (what an engine restart sees: empty KV cache, the embedding cache
only on disk).  Steps timed: prompt rendering, ``_spans`` (tokenising, and mtmd's image
preprocessing, which runs for every image of the conversation on every turn), text decode, image
embedding (encode or cache), image decode, and the first sample.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--real", action="store_true", help="the real-shaped projector (~1 min)")
    parser.add_argument("--threads", type=int, default=None)
    opts = parser.parse_args()
    os.environ["GEMMA_DESKTOP_HOME"] = tempfile.mkdtemp(prefix="gemma-ttft-")

    import run as bench_run

    from desktop_app.engine import backend as backend_mod
    from desktop_app.engine import prompt as prompt_mod
    from desktop_app.engine.cancel import CancelFlag
    from desktop_app.engine.images import prepare_image
    from desktop_app.engine.protocol import ChatMessage, GenerateRequest
    from desktop_app.settings import GenerationSettings, RuntimeSettings, physical_cores

    paths = bench_run.ensure_models(real=opts.real)
    mmproj = paths["real" if opts.real else "tiny"]
    threads = opts.threads or physical_cores()
    runtime = RuntimeSettings(n_threads=threads, flash_attn=True)

    timings: dict[str, float] = defaultdict(float)
    counts: dict[str, int] = defaultdict(int)

    def timed(owner, name: str, label: str) -> None:
        original = getattr(owner, name)

        def wrapper(*args, **kwargs):
            started = time.perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                timings[label] += time.perf_counter() - started
                counts[label] += 1

        setattr(owner, name, wrapper)

    timed(backend_mod.prompt, "render", "render")
    timed(backend_mod.LlamaBackend, "_piece_spans", "spans (tokenise + image preprocess)")
    timed(backend_mod.LlamaBackend, "_decode_tokens", "decode text")
    timed(backend_mod.LlamaBackend, "_image_embedding", "image embedding (encode or cache)")
    timed(backend_mod.LlamaBackend, "_decode_image", "decode image embeddings")
    assert prompt_mod.render is backend_mod.prompt.render

    image = prepare_image(bench_run.IMAGE)
    settings = GenerationSettings(temperature=0.0, max_tokens=8)

    def turn(backend, messages, label: str) -> tuple[str, dict]:
        timings.clear()
        counts.clear()
        received = time.perf_counter()
        text, _finish, metrics = backend.generate(
            GenerateRequest(1, tuple(messages), "", settings), lambda _p: None, received
        )
        row = {k: round(v * 1000, 2) for k, v in timings.items()}
        row["ttft_ms"] = round(metrics.ttft_s * 1000, 2)
        row["accounted_ms"] = round(sum(timings.values()) * 1000, 2)
        row["prompt_tokens"] = metrics.prompt_tokens
        row["cached_tokens"] = metrics.cached_tokens
        row["images_from_cache"] = metrics.images_from_cache
        row["image_encode_ms"] = round(metrics.image_encode_s * 1000, 2)
        print(f"{label}: " + json.dumps(row), flush=True)
        return text, row

    def load():
        started = time.perf_counter()
        b = backend_mod.LlamaBackend(paths["model"], mmproj, runtime, CancelFlag(multiprocessing.get_context("spawn")))
        print(f"load: {time.perf_counter() - started:.3f} s", flush=True)
        return b

    backend = load()
    turn1 = [ChatMessage.user(image, bench_run.QUESTION_1)]
    reply1, _ = turn(backend, turn1, "turn 1")
    turn2 = [*turn1, ChatMessage.assistant(reply1), ChatMessage.user(bench_run.QUESTION_2)]
    reply2, _ = turn(backend, turn2, "turn 2")
    turn2_text = [ChatMessage.user(bench_run.QUESTION_1), ChatMessage.assistant(reply1),
                  ChatMessage.user(bench_run.QUESTION_2)]
    backend.close()
    backend = load()
    turn3 = [*turn2, ChatMessage.assistant(reply2), ChatMessage.user(bench_run.QUESTION_3)]
    turn(backend, turn3, "turn 3 after restart")
    turn(backend, turn2_text, "(text-only conversation, for scale)")
    backend.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
