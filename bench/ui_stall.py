"""The window's event loop while a reply streams at full speed, and what one more token costs.

    QT_QPA_PLATFORM=offscreen python bench/ui_stall.py --model MODEL.gguf [--threads 2] [--json]

Two measurements, both on the real UI code (desktop_app/ui):

1. **Stalls while streaming.**  The real ``MainWindow`` (with its store, ``EngineBridge`` and
   engine process) loads the model and is sent a prompt through ``ChatSession.send``; replies are
   streamed at the engine's full speed (follow-ups "Continue." until ``--tokens`` tokens have
   streamed).  A 2 ms precise QTimer on the UI thread stamps every tick; a stall is the gap
   between two ticks minus the interval.  Reported: the longest stall, the 99th percentile gap, the
   number of gaps over 50 ms, each paint of the streaming reply (``MessageWidget.append_text``)
   with the reply length (in tokens) it happened at, and the shortest time between two paints of
   one reply (the session paints at most every ``PAINT_INTERVAL_MS``, ~30 times a second).
2. **Cost of appending a token at 100 vs 2000 tokens of reply.**  A ``ChatView`` the size of the
   window's chat pane shows an assistant message holding the first N tokens of a real reply (token
   pieces of the reply the window just streamed, split with the model's own tokenizer, repeated
   to reach the length; the engine sends text in ~33 ms batches, so its events are not tokens),
   appended ``PAINT_TOKENS`` at a time as the session shows them; then, 25 times, one more token
   is appended the way the session does it (``append_text``, which re-renders only what is not
   yet settled) and the event loop is run until layout and paint are done.  Reported: the median
   milliseconds at N = 100 and N = 2000, and their ratio (1.0 = independent of length).
   ``--append-only`` skips part 1 (no engine, no decoding) and measures part 2 on built-in texts,
   so a change to rendering can be measured in seconds and without loading the machine:
   ``SAMPLE_REPLY``, a Markdown reply with the headings, lists, code and table a chat model writes
   (padded with blank lines to a period dividing 1900 tokens, so that both lengths end at the same
   place of it); ``SAMPLE_CODE``, one fenced code block that is still open at 2000 tokens (the
   file a user asked for); and ``SAMPLE_LINES``, text in lines without a blank line between them
   (a base model's continuation), which Markdown makes one long paragraph.  The last two have no
   blank-line block boundary, so they measure what streaming costs inside one long block.

3. **Stalls while a large document is attached.**  The same window, the model loaded; a
   ``DOCUMENT_PAGES``-page text PDF (made by ``tests/support/document_files.py``) is attached through the
   composer as a drop would attach it: read off the UI thread, shown as a chip, counted by the
   engine.  The tick monitor runs from the attach until the chip shows its token count.
   Reported: the longest stall, the 99th percentile gap, gaps over 50 ms, and how long the
   reading and the count took.  ``--attach-only`` runs only this part.

The last line printed with ``--json`` is one JSON object: ``{"metrics": [...], "details": {...}}``
in the shape bench/run.py puts in results.json.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

TICK_MS = 2
DOCUMENT_PAGES = 300
STALL_LIMIT_MS = 50.0
PAINT_TOKENS = 4
"""Tokens the session shows in one paint while streaming (~33 ms of text at ~120 tokens/s)."""
PROMPT = (
    "Write a very long story, in Markdown, about a lighthouse keeper who finds a map in a bottle. "
    "Use headings, bullet lists and some **bold** words. Make it at least 2000 words long."
)
SAMPLE_REPLY = """## The keeper's morning

Elias climbed the **one hundred and twelve** steps before dawn, as he had every day for thirty \
years.  He checked the wick, wiped the salt from the glass and wrote the time in the log.

### What he found inside

1. A rolled sheet of *oilcloth*, tied with tarred string.
2. A map of the coast, drawn by hand, with an island he had never seen.
3. A note that said only: **"Follow the light that is not yours."**

- The island lay north-west, past the reef.
- A dotted line ran from the lighthouse to its southern cove.
- Someone had marked the tides in a small, careful hand.

| Day | High tide | Low tide | Wind |
|-----|-----------|----------|------|
| Monday | 06:12 | 12:30 | NW 3 |
| Tuesday | 06:58 | 13:15 | W 4 |
| Wednesday | 07:41 | 13:59 | SW 2 |

To be sure of the bearing he worked it out the way his father had taught him, in a notebook \
that his granddaughter later copied into a small program:

```python
import math

def bearing(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    \"\"\"Initial bearing from one point to another, in degrees.\"\"\"
    d_lon = math.radians(lon2 - lon1)

    x = math.sin(d_lon) * math.cos(math.radians(lat2))
    y = math.cos(math.radians(lat1)) * math.sin(math.radians(lat2))
    return (math.degrees(math.atan2(x, y)) + 360) % 360
```

The answer was **three hundred and seven degrees**.  He folded the map and went down to the boat.

> The sea keeps what it is given, his father used to say, until it decides to give it back.

"""
SAMPLE_CODE_OPENING = "Here is the whole module:\n\n```python\n"
SAMPLE_CODE = '''"""Tide tables for the lighthouse log: parse, query and print them."""

from __future__ import annotations

import csv
import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True)
class Tide:
    """One high or low water: when, how high (metres) and which."""

    at: dt.datetime
    height: float
    high: bool

    def label(self) -> str:
        kind = "High" if self.high else "Low"
        return f"{kind:<4} {self.at:%a %H:%M}  {self.height:5.2f} m"


@dataclass
class TideTable:
    station: str
    tides: list[Tide] = field(default_factory=list)

    @classmethod
    def load(cls, path: Path) -> "TideTable":
        table = cls(station=path.stem)
        with path.open(newline="", encoding="utf-8") as handle:
            for row in csv.DictReader(handle):
                at = dt.datetime.fromisoformat(row["time"])
                table.tides.append(Tide(at, float(row["height"]), row["kind"] == "high"))
        table.tides.sort(key=lambda tide: tide.at)
        return table

    def next_high(self, after: dt.datetime) -> Tide | None:
        for tide in self.tides:
            if tide.high and tide.at > after:
                return tide
        return None

    def range_on(self, day: dt.date) -> float:
        heights = [t.height for t in self.tides if t.at.date() == day]
        return max(heights) - min(heights) if heights else 0.0


def print_week(table: TideTable, start: dt.date) -> None:
    print(f"Tides at {table.station}, week of {start:%d %B}")
    for offset in range(7):
        day = start + dt.timedelta(days=offset)
        for tide in (t for t in table.tides if t.at.date() == day):
            print("  " + tide.label())
        print(f"  range {table.range_on(day):.2f} m")

'''
"""A long fenced code block, streamed after ``SAMPLE_CODE_OPENING``: repeated, its fence stays open."""
SAMPLE_LINES = """Elias climbed the stairs before dawn, as he had every day for thirty years,
and checked the wick, wiped the salt from the glass and wrote the time in the log.
The map had been in the bottle for longer than he had kept the light, he thought,
because the cork was black with tar and the string had rotted to a thread.
It showed the coast as his father had drawn it, with the reef and the two coves,
and an island north-west of the reef that no chart he owned had ever shown.
Someone had marked the tides beside it in a small and careful hand, **in ink**,
with the hours of high water for a week in a spring he could not name.
He worked out the bearing twice, the way his father had taught him, with `atan2`
and a pencil, and both times the answer was three hundred and seven degrees.
By noon the wind had turned to the west and the sea had gone flat and grey,
and he sat on the gallery with the map on his knees and watched the water.
"""
"""Lines without a blank line between them, as a base model continues a text: one paragraph."""


def log(message: str) -> None:
    print(f"[ui_stall {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def wait_until(app, predicate, timeout_s: float) -> bool:
    """Run the event loop until ``predicate()`` or the timeout."""
    deadline = time.monotonic() + timeout_s
    while not predicate():
        if time.monotonic() > deadline:
            return False
        app.processEvents()
        time.sleep(0.002)
    return True


class TickMonitor:
    """Stamps every tick of a precise timer on the UI thread."""

    def __init__(self) -> None:
        from PySide6.QtCore import Qt, QTimer

        self.stamps: list[float] = []
        self._timer = QTimer()
        self._timer.setTimerType(Qt.TimerType.PreciseTimer)
        self._timer.setInterval(TICK_MS)
        self._timer.timeout.connect(lambda: self.stamps.append(time.perf_counter()))

    def start(self) -> None:
        self.stamps.clear()
        self._timer.start()

    def stop(self) -> None:
        self._timer.stop()

    def gaps_ms(self, start: float, end: float) -> list[float]:
        inside = [t for t in self.stamps if start <= t <= end]
        return [(b - a) * 1000 for a, b in itertools.pairwise(inside)]


def stream_in_window(app, model: Path, threads: int, tokens_wanted: int, timeout_s: float) -> dict:
    """Part 1: the real window streams replies; returns stall statistics and the token pieces."""
    from desktop_app.settings import GenerationSettings, RuntimeSettings
    from desktop_app.store import ConversationStore
    from desktop_app.ui import chat_view
    from desktop_app.ui.engine_bridge import EngineBridge
    from desktop_app.ui.main_window import MainWindow
    from desktop_app.ui.model_controller import ModelChoice, ModelState
    from desktop_app.ui.preferences import Preferences

    pieces: list[str] = []
    paints: list[dict[str, float]] = []
    streaming = {"on": False, "chars": 0}

    bridge = EngineBridge()
    original_dispatch = bridge._dispatch

    def counting_dispatch(event: object) -> None:  # reader thread
        from desktop_app.engine.protocol import Token

        if isinstance(event, Token):
            pieces.append(event.text)
            streaming["chars"] += len(event.text)
        original_dispatch(event)

    bridge._dispatch = counting_dispatch  # type: ignore[method-assign]

    original_append = chat_view.MessageWidget.append_text

    def timed_append(self, chunk: str) -> None:  # UI thread: one paint of the streaming reply
        started = time.perf_counter()
        original_append(self, chunk)
        if streaming["on"] and self.role == "assistant":
            paints.append({
                "at": started,
                "ms": (time.perf_counter() - started) * 1000,
                "reply_chars": len(self.text),
                "chars": len(chunk),
            })

    chat_view.MessageWidget.append_text = timed_append  # type: ignore[method-assign]

    store = ConversationStore()
    window = MainWindow(store, bridge, Preferences(runtime=RuntimeSettings(n_threads=threads)))
    window.resize(1180, 780)
    window.show()
    monitor = TickMonitor()
    try:
        window.model_controller.open(ModelChoice(model))
        if not wait_until(app, lambda: window.model_controller.state is ModelState.READY, 300):
            raise RuntimeError(f"the model did not load (state {window.model_controller.state})")
        session = window.session
        settings = GenerationSettings(max_tokens=tokens_wanted, seed=7)
        session.update_settings(settings)

        replies: list[dict[str, Any]] = []
        windows: list[tuple[float, float]] = []
        meter = None
        try:  # bench/run.py's meter: how much of the machine other processes took meanwhile
            sys.path.insert(0, str(REPO / "bench"))
            from run import METER, QUIET_LIMIT

            meter = METER
            meter.wait_quiet(QUIET_LIMIT, 60)
        except Exception:
            meter = None
        snap = meter.snap() if meter else None
        monitor.start()
        started_all = time.monotonic()
        prompt = PROMPT
        streamed_tokens = 0  # from the replies' metrics: one Token event carries ~33 ms of text
        while streamed_tokens < tokens_wanted and time.monotonic() - started_all < timeout_s:
            ended: list[dict] = []
            session.replyEnded.connect(lambda metrics, out=ended: out.append(metrics))
            streaming["chars"] = 0
            streaming["on"] = True
            t0 = time.perf_counter()
            if not session.send(prompt, []):
                raise RuntimeError("ChatSession.send refused the message")
            session.update_settings(settings)
            if not wait_until(app, lambda ended=ended: bool(ended), timeout_s):
                raise RuntimeError("the reply did not finish in time")
            t1 = time.perf_counter()
            streaming["on"] = False
            metrics = ended[0]
            streamed_tokens += int(metrics.get("decode_tokens") or 0)
            windows.append((t0, t1))
            replies.append({
                "decode_tokens": metrics.get("decode_tokens"),
                "decode_tok_s": metrics.get("decode_tok_s"),
                "ttft_s": metrics.get("ttft_s"),
                "wall_s": round(t1 - t0, 2),
            })
            log(f"reply of {metrics.get('decode_tokens')} tokens at {metrics.get('decode_tok_s')} tok/s")
            prompt = "Continue the story, just as long."
        monitor.stop()
        others = meter.others(snap, meter.snap()) if meter else None
        gaps = [g for start, end in windows for g in monitor.gaps_ms(start, end)]
    finally:
        chat_view.MessageWidget.append_text = original_append  # type: ignore[method-assign]
        window.close()
        window.shutdown()
        app.processEvents()

    gaps_sorted = sorted(gaps)
    longest_gap = gaps_sorted[-1] if gaps_sorted else float("nan")
    p99 = gaps_sorted[int(0.99 * (len(gaps_sorted) - 1))] if gaps_sorted else float("nan")
    slowest_paints = sorted(paints, key=lambda p: p["ms"], reverse=True)[:5]
    # Consecutive paints of one reply (the next reply's first paint shows a shorter text).
    paint_gaps = [(b["at"] - a["at"]) * 1000 for a, b in itertools.pairwise(paints)
                  if b["reply_chars"] > a["reply_chars"]]
    total_chars = sum(len(p) for p in pieces)
    chars_per_token = total_chars / streamed_tokens if streamed_tokens else 4.0
    for paint in paints:
        paint["reply_tokens_est"] = round(paint["reply_chars"] / chars_per_token)
    return {
        "pieces": pieces,
        "replies": replies,
        "tokens_streamed": streamed_tokens,
        "others": None if others is None else round(others, 3),
        "ticks": len(gaps),
        "longest_gap_ms": round(longest_gap, 2),
        "longest_stall_ms": round(longest_gap - TICK_MS, 2),
        "p99_gap_ms": round(p99, 2),
        "gaps_over_50ms": sum(1 for g in gaps if g - TICK_MS > STALL_LIMIT_MS),
        "paints": len(paints),
        "paint_ms_median": round(statistics.median([p["ms"] for p in paints]), 3) if paints else None,
        "paint_ms_max": round(max(p["ms"] for p in paints), 3) if paints else None,
        "paint_gap_ms_min": round(min(paint_gaps), 2) if paint_gaps else None,
        "slowest_paints": [{k: (round(v, 3) if isinstance(v, float) else v) for k, v in p.items() if k != "at"}
                           for p in slowest_paints],
        "chars_per_token": round(chars_per_token, 3),
        "paint_ms_by_length": _by_length(paints, chars_per_token),
    }


def attach_in_window(app, model: Path, threads: int, timeout_s: float) -> dict:
    """Part 3: the real window attaches a large PDF while a tick monitor watches its event loop."""
    from desktop_app.settings import RuntimeSettings
    from desktop_app.store import ConversationStore
    from desktop_app.ui.attachments import DocumentAttachment, ImageSource
    from desktop_app.ui.engine_bridge import EngineBridge
    from desktop_app.ui.main_window import MainWindow
    from desktop_app.ui.model_controller import ModelChoice, ModelState
    from desktop_app.ui.preferences import Preferences
    from tests.support.document_files import long_text_pdf

    pdf = Path(tempfile.mkdtemp(prefix="gemma-ui-bench-doc-")) / f"book-{DOCUMENT_PAGES}.pdf"
    pdf.write_bytes(long_text_pdf(DOCUMENT_PAGES))
    window = MainWindow(ConversationStore(), EngineBridge(), Preferences(runtime=RuntimeSettings(n_threads=threads)))
    window.resize(1180, 780)
    window.show()
    monitor = TickMonitor()
    try:
        window.model_controller.open(ModelChoice(model))
        if not wait_until(app, lambda: window.model_controller.state is ModelState.READY, 300):
            raise RuntimeError(f"the model did not load (state {window.model_controller.state})")
        composer = window.composer

        def read() -> bool:
            return any(isinstance(chip.attachment, DocumentAttachment) for chip in composer._chips)

        def counted() -> bool:
            return any(chip.tokens is not None for chip in composer._chips)

        monitor.start()
        t0 = time.perf_counter()
        composer.add_sources([ImageSource(pdf, pdf.name)])
        if not wait_until(app, read, timeout_s):
            raise RuntimeError(f"the document was not read: {composer.notice_label.text()}")
        t_read = time.perf_counter()
        if not wait_until(app, counted, timeout_s):
            raise RuntimeError("the document was not counted")
        t1 = time.perf_counter()
        for _ in range(50):  # the chip's repaint after the count
            app.processEvents()
            time.sleep(0.002)
        monitor.stop()
        gaps = sorted(monitor.gaps_ms(t0, time.perf_counter()))
        tokens = next(chip.tokens for chip in composer._chips if chip.tokens is not None)
    finally:
        window.close()
        window.shutdown()
        app.processEvents()
    longest = gaps[-1] if gaps else float("nan")
    return {
        "pages": DOCUMENT_PAGES,
        "pdf_bytes": pdf.stat().st_size,
        "tokens": tokens,
        "read_s": round(t_read - t0, 3),
        "count_s": round(t1 - t_read, 3),
        "ticks": len(gaps),
        "longest_stall_ms": round(longest - TICK_MS, 2),
        "p99_gap_ms": round(gaps[int(0.99 * (len(gaps) - 1))], 2) if gaps else None,
        "gaps_over_50ms": sum(1 for g in gaps if g - TICK_MS > STALL_LIMIT_MS),
    }


def _by_length(paints: list[dict], chars_per_token: float) -> list[dict]:
    """Median paint time per band of reply length (tokens, estimated from characters)."""
    bands = [(0, 200), (200, 500), (500, 1000), (1000, 1500), (1500, 2500), (2500, 10**9)]
    out = []
    for lo, hi in bands:
        ms = [p["ms"] for p in paints if lo <= p["reply_chars"] / chars_per_token < hi]
        if ms:
            out.append({"tokens": f"{lo}-{hi if hi < 10**9 else ''}", "paints": len(ms),
                        "median_ms": round(statistics.median(ms), 3), "max_ms": round(max(ms), 3)})
    return out


def token_pieces(model: Path, text: str) -> list[str]:
    """``text`` split into the model's own tokens (vocabulary-only load, no weights)."""
    import ctypes

    import llama_cpp

    @llama_cpp.llama_log_callback
    def quiet(_level, _text, _user):
        pass

    llama_cpp.llama_log_set(quiet, ctypes.c_void_p(0))
    params = llama_cpp.llama_model_default_params()
    params.vocab_only = True
    vocab_model = llama_cpp.llama_model_load_from_file(str(model).encode(), params)
    try:
        vocab = llama_cpp.llama_model_get_vocab(vocab_model)
        data = text.encode("utf-8")
        ids = (llama_cpp.llama_token * (len(data) + 8))()
        n = llama_cpp.llama_tokenize(vocab, data, len(data), ids, len(ids), False, False)
        buf = ctypes.create_string_buffer(256)
        raw = []
        for i in range(max(n, 0)):
            k = llama_cpp.llama_token_to_piece(vocab, ids[i], buf, len(buf), 0, False)
            raw.append(buf.raw[:max(k, 0)])
    finally:
        llama_cpp.llama_model_free(vocab_model)
    # Whole characters only, as the engine streams them: glue byte pieces of one character.
    out, pending = [], b""
    for piece in raw:
        pending += piece
        try:
            out.append(pending.decode("utf-8"))
            pending = b""
        except UnicodeDecodeError:
            continue
    return out


def token_stream(opening: list[str], pieces: list[str], lengths: tuple[int, ...], repeats: int) -> list[str]:
    """``opening``, then ``pieces`` repeated: enough tokens to append ``repeats`` after the longest length."""
    need = max(lengths) + repeats + 1
    if not pieces:
        pieces = ["word "]
    body = need - len(opening)
    return opening + (pieces * (body // len(pieces) + 1))[:body]


def append_cost(app, stream: list[str], lengths: tuple[int, ...], repeats: int) -> dict[int, dict]:
    """Part 2: milliseconds to append one token to a reply of N tokens, layout and paint included."""
    from desktop_app.ui.chat_view import ChatView

    view = ChatView()
    view.resize(930, 640)
    view.show()
    view.add_message("user", PROMPT)
    out: dict[int, dict] = {}
    for n in lengths:
        widget = view.add_message("assistant", "")
        text = "".join(stream[:n])
        # The reply so far, arriving as the session shows it: a paint's worth of tokens at a time.
        for start in range(0, n, PAINT_TOKENS):
            widget.append_text("".join(stream[start : min(start + PAINT_TOKENS, n)]))
        # Growing the message resizes the chat's column, which scrolls, a pass of the event
        # loop each: let that finish, or the first appends timed would pay for it.
        height = -1
        while widget.height() != height:
            height = widget.height()
            app.processEvents()
        times = []
        for k in range(repeats):
            piece = stream[n + k]
            started = time.perf_counter()
            widget.append_text(piece)
            text += piece
            app.processEvents()  # layout, scroll-follow and paint of what changed
            times.append((time.perf_counter() - started) * 1000)
        out[n] = {"median_ms": round(statistics.median(times), 3), "max_ms": round(max(times), 3),
                  "chars": len(text)}
        view.remove_from(1)
        app.processEvents()
    view.close()
    return out


def metric(name: str, ours, tool, ratio, target: str, met, unit: str, note: str) -> dict:
    return {"metric": name, "ours": ours, "tool": tool, "ratio": ratio, "target": target,
            "met": met, "unit": unit, "note": note}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", type=Path, required=True)
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--tokens", type=int, default=2000, help="tokens to stream in part 1")
    parser.add_argument("--timeout", type=float, default=600.0, help="seconds for part 1")
    parser.add_argument("--repeats", type=int, default=25)
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--append-only", action="store_true",
                        help="skip part 1; measure part 2 on the built-in sample reply")
    parser.add_argument("--attach-only", action="store_true",
                        help=f"only part 3: the window while a {DOCUMENT_PAGES}-page PDF is attached")
    opts = parser.parse_args()

    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    # A private home: its own store and preferences, nothing of the user's touched.
    home = tempfile.mkdtemp(prefix="gemma-ui-bench-")
    os.environ["GEMMA_DESKTOP_HOME"] = home

    from PySide6.QtWidgets import QApplication

    from desktop_app.settings import physical_cores
    from desktop_app.ui.chat_session import PAINT_INTERVAL_MS

    threads = opts.threads or physical_cores()
    app = QApplication.instance() or QApplication(sys.argv[:1])

    lengths = (100, 2000)
    streamed: dict[str, Any] | None = None
    streams: dict[str, list[str]] = {}
    attached: dict[str, Any] | None = None
    if not opts.append_only:
        log(f"part 3: the window attaches a {DOCUMENT_PAGES}-page PDF")
        attached = attach_in_window(app, opts.model, threads, opts.timeout)
    if opts.attach_only:
        pass
    elif opts.append_only:
        pieces = token_pieces(opts.model, SAMPLE_REPLY)
        # Blank lines (which show as nothing) pad the sample to a period dividing 2000 - 100:
        # both replies then end at the same place of it and differ only in length.
        period = min(p for p in range(len(pieces), 1901) if 1900 % p == 0)
        pieces += ["\n"] * (period - len(pieces))
        streams["reply"] = token_stream([], pieces, lengths, opts.repeats)
        streams["code"] = token_stream(token_pieces(opts.model, SAMPLE_CODE_OPENING),
                                       token_pieces(opts.model, SAMPLE_CODE), lengths, opts.repeats)
        streams["lines"] = token_stream([], token_pieces(opts.model, SAMPLE_LINES), lengths, opts.repeats)
    else:
        log(f"part 1: the window streams {opts.tokens} tokens from {opts.model.name}")
        streamed = stream_in_window(app, opts.model, threads, opts.tokens, opts.timeout)
        text = "".join(streamed.pop("pieces"))
        streams["reply"] = token_stream([], token_pieces(opts.model, text) if text else [], lengths, opts.repeats)
    costs: dict[str, dict[int, dict]] = {}
    for name, stream in streams.items():
        log(f"part 2: append cost at {lengths[0]} and {lengths[1]} tokens of the {name} sample")
        costs[name] = append_cost(app, stream, lengths, opts.repeats)

    metrics = []
    if attached is not None:
        stall = attached["longest_stall_ms"]
        metrics.append(metric(
            "UI event loop: longest stall while a large document is attached", stall, None, None, "< 50 ms",
            stall < STALL_LIMIT_MS, "ms",
            f"a {attached['pages']}-page text PDF ({attached['tokens']:,} tokens) dropped on the composer: "
            f"read off the UI thread in {attached['read_s']} s, counted by the engine in "
            f"{attached['count_s']} s; 99th percentile tick gap {attached['p99_gap_ms']} ms; "
            f"{attached['gaps_over_50ms']} gaps over 50 ms"))
    if streamed is not None:
        stall = streamed["longest_stall_ms"]
        rate = statistics.median([r["decode_tok_s"] for r in streamed["replies"] if r["decode_tok_s"]] or [0])
        metrics.append(metric(
            "UI event loop: longest stall while streaming", stall, None, None, "< 50 ms",
            stall < STALL_LIMIT_MS, "ms",
            f"{streamed['tokens_streamed']} tokens streamed into the real window at {rate} tok/s "
            f"(median; other processes took {streamed['others']} of the machine meanwhile); "
            f"99th percentile tick gap {streamed['p99_gap_ms']} ms; "
            f"{streamed['gaps_over_50ms']} gaps over 50 ms; slowest paint "
            f"{streamed['paint_ms_max']} ms; shortest time between two paints "
            f"{streamed['paint_gap_ms_min']} ms (the session's floor: {PAINT_INTERVAL_MS} ms)"))
    samples = {
        "reply": "",
        "code": " (a fenced code block still open)",
        "lines": " (lines without blank lines: one paragraph)",
    }
    for name, cost in costs.items():
        c100, c2000 = cost[lengths[0]]["median_ms"], cost[lengths[1]]["median_ms"]
        ratio = c2000 / c100 if c100 > 0 else None
        metrics.append(metric(
            f"UI: cost of appending a token, 2000 vs 100 tokens of reply{samples[name]}",
            f"{c2000:.2f} ms @2000 / {c100:.2f} ms @100", None, ratio,
            "<= 1.5 (independent of length)", ratio is not None and ratio <= 1.5, "",
            "one more token appended (append_text, as the session streams) + layout + paint, median of "
            f"{opts.repeats}; at 2000 tokens the reply is {cost[lengths[1]]['chars']} characters"))
    result = {"metrics": metrics, "details": {"streaming": streamed, "append_cost": costs, "attach": attached}}
    if opts.json:
        print(json.dumps(result, default=str))
    else:
        print(json.dumps(result, indent=2, default=str))
    return 0


if __name__ == "__main__":
    code = main()
    sys.stdout.flush()
    sys.stderr.flush()
    # Skip interpreter teardown: with PySide6 6.12 it has aborted here ("Fatal Python error:
    # none_dealloc" while garbage-collecting at finalization) after all measurements were out.
    os._exit(code)
