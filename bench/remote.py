"""The remote engine's speed against the server it talks to: llama-server (built from the vendored
llama.cpp by build_llama_tools.build_server) on 127.0.0.1, the real Gemma 3 270M.

    python bench/run.py --only remote    # this phase alone (~1-2 min on 2 cores), added to the
                                         # recorded results/RESULTS.md
    python bench/run.py                  # the whole benchmark runs it too (--no-remote skips it)

Per round, one request, two views of it:

* decode tok/s: the app's ``metrics.decode_tok_s`` (tokens after the first / time from the first
  token's arrival to the finishing chunk's, as the app sees them) vs the server's own
  ``timings.predicted_per_second`` of the same request (its decode steps / time from its first
  sampled token to its last: the same definition, measured at the source).  Target >= 0.97: the
  client keeps up with the stream and adds no stalls.
* time to first token the app adds: ``metrics.ttft_s`` (from ``generate`` to the first token,
  through the openai client, HTTP on loopback, the server's template and tokenizer, its queue)
  minus the server's ``timings.prompt_ms`` (its prompt evaluation and first sample).  Target
  <= 20 ms.

A 128-token reply at the app's default sampling to a story prompt that starts with a new number
each round (so the server evaluates a fresh prompt); a reply that stops early is retried with
another seed.  Each round is metered like bench/run.py's: one disturbed by other processes is
redone after a quiet moment.
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
for path in (REPO, BENCH):
    if str(path) not in sys.path:
        sys.path.insert(0, str(path))

import build_llama_tools  # noqa: E402
from llama_server import start_server  # noqa: E402

N_GEN = 128


def _one_round(engine: Any, prompt: str, tag: int, seed: int) -> dict[str, Any] | None:
    from desktop_app.engine.protocol import ChatMessage, Done
    from desktop_app.settings import GenerationSettings

    settings = GenerationSettings(max_tokens=N_GEN, seed=seed)
    events = list(engine.stream([ChatMessage.user(f"{tag}. {prompt}")], "", settings))
    done = events[-1]
    if not isinstance(done, Done) or done.metrics.decode_tokens < N_GEN:
        return None
    timings = engine.last_server_timings
    server_tok_s = timings.get("predicted_per_second", 0.0)
    prompt_s = timings.get("prompt_ms", 0.0) / 1000
    return {
        "app_tok_s": done.metrics.decode_tok_s,
        "server_tok_s": server_tok_s,
        "decode_ratio": done.metrics.decode_tok_s / server_tok_s if server_tok_s else None,
        "app_ttft_s": done.metrics.ttft_s,
        "server_prompt_s": prompt_s,
        "added_ttft_ms": (done.metrics.ttft_s - prompt_s) * 1000,
        "prompt_tokens": done.metrics.prompt_tokens,
        "decode_tokens": done.metrics.decode_tokens,
    }


def phase_remote(
    model: Path,
    threads: int,
    rounds: int,
    prompt: str,
    measure: Callable[[Callable[[], Any]], tuple[Any, float | None]],
    quiet_limit: float,
    attempts: int = 3,
    minutes: float = 4.0,
) -> dict[str, Any]:
    """Rounds against a fresh llama-server; ``measure`` runs a function and says how much of the
    machine others took meanwhile (bench/run.py's Meter.measure).  No round starts after
    ``minutes`` (a 128-token round takes ~3 s on a quiet 2-core machine, ~30 s on a busy one)."""
    from desktop_app.engine.protocol import EngineError, ServerLoadRequest
    from desktop_app.engine.remote import RemoteEngine
    from desktop_app.engine.remote_probe import list_models

    binary = build_llama_tools.build_server()
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="gemma-remote-bench-") as logs, start_server(
        binary, model, threads=threads, ctx=4096, log_dir=Path(logs), extra=["-fa", "on"]
    ) as server, RemoteEngine() as engine:
        model_id = list_models(ServerLoadRequest(server.base_url, ""))[0]
        engine.load(ServerLoadRequest(server.base_url, model_id))
        loaded = engine.wait_loaded(timeout=60)
        if isinstance(loaded, EngineError):
            raise RuntimeError(loaded.message)
        _one_round(engine, prompt, 0, 1)  # warm-up, as llama-bench warms up
        seed = 100
        deadline = time.monotonic() + minutes * 60
        for r in range(1, rounds + 1):
            if time.monotonic() > deadline:
                break
            row: dict[str, Any] | None = None
            for _attempt in range(attempts):
                result, others = None, None
                for _ in range(4):  # a reply that stops early is retried with another seed
                    seed += 1
                    result, others = measure(lambda r=r, seed=seed: _one_round(engine, prompt, r, seed))
                    if result is not None:
                        break
                if result is None:
                    continue
                row = {**result, "round": r, "others": others,
                       "clean": others is None or others <= quiet_limit}
                if row["clean"]:
                    break
            if row is not None:
                rows.append(row)
    return {"rounds": rows, "threads": threads, "n_gen": N_GEN, "rounds_asked": rounds}


def summarise_remote(results: dict[str, Any]) -> list[dict[str, Any]]:
    """Rows for RESULTS.md, in bench/run.py's metric shape."""
    rows = results.get("rounds") or []
    clean = [r for r in rows if r.get("clean")]
    used = clean if len(clean) >= min(8, len(rows)) else rows
    basis = f"{len(clean)} undisturbed of {len(rows)} rounds" + ("" if used is clean else "; all used")

    def med(key: str) -> float | None:
        values = [r[key] for r in used if r.get(key) is not None]
        return statistics.median(values) if values else None

    ratio, added = med("decode_ratio"), med("added_ttft_ms")
    return [
        {"metric": "remote decode tok/s (app / llama-server's own, same request)",
         "ours": med("app_tok_s"), "tool": med("server_tok_s"), "ratio": ratio, "target": ">= 0.97",
         "met": ratio is not None and ratio >= 0.97, "unit": "tok/s",
         "note": f"median of per-round ratios, {basis}; RemoteEngine vs timings.predicted_per_second",
         "tool_cmd": "llama-server -fa on (loopback)"},
        {"metric": "remote TTFT added by the app on loopback", "ours": added,
         "tool": (med("server_prompt_s") or 0) * 1000, "ratio": None, "target": "<= 20 ms",
         "met": added is not None and added <= 20, "unit": "ms",
         "note": f"median of metrics.ttft_s - timings.prompt_ms per round ('tool' = the server's "
                 f"prompt_ms), {basis}"},
    ]
