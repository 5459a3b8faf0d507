"""Generation and runtime settings as plain dataclasses, shared by the CLI, the window and the store.

Defaults are Gemma 3's recommended sampling (temperature 1.0, top_k 64, top_p 0.95, min_p 0);
``validate`` turns out-of-range values into a :class:`UserError` sentence, so a bad ``--top-p``
on the command line and a bad value in a saved file fail the same way.
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass, field
from typing import Any

import psutil

from desktop_app.errors import UserError

MAX_OUTPUT_TOKENS = 8192
"""Gemma 3's output limit; also the default, so a long answer is never cut short by surprise."""

PAN_SCAN_MODES = ("default", "off", "auto", "on")
""""default" follows where the engine runs: "off" on a CPU, "auto" on a GPU (see
:func:`desktop_app.engine.images.pan_scan_for_backend`)."""

SWA_FULL_CACHE = False
"""Whether Gemma 3's sliding-window layers get a full-context KV cache.  Off: the engine keeps
only the window (exact for appending turns; a deep trim re-reads the prompt instead), which the
memory estimate must assume too.  On would cost e.g. ~67 GB instead of ~11 GB for 27B at 128K."""

DEFAULT_CONTEXT = 8192
"""The context when nothing chose one; the front ends choose by the machine instead
(:func:`desktop_app.models.fit.default_context`), and the user can set any size."""

AUTO_CONTEXT = 0
"""``RuntimeSettings.n_ctx`` meaning "sized to this machine": a front end resolves it to a
number, from the fit estimate of the model it loads, before the engine sees it."""

DEFAULT_SNAPSHOT_DISK_MIB = 4096
"""Disk kept for conversation snapshots (least recently used first out): a 4K-token thread of
the 270M takes ~20 MB, of 4B ~300 MB."""


def physical_cores() -> int:
    """Physical core count, the thread count llama.cpp decodes fastest with (hyperthreads hurt)."""
    return psutil.cpu_count(logical=False) or os.cpu_count() or 1


@dataclass(frozen=True)
class GenerationSettings:
    """How a reply is sampled; saved per conversation."""

    temperature: float = 1.0
    top_k: int = 64
    top_p: float = 0.95
    min_p: float = 0.0
    repeat_penalty: float = 1.0
    seed: int = -1
    """-1 picks a fresh random seed per reply; any other value makes replies repeatable."""
    max_tokens: int = MAX_OUTPUT_TOKENS
    pan_scan: str = "default"
    """Gemma 3 Pan & Scan: "off", "auto" (crop images whose aspect ratio is 1.2 or more),
    "on" (crop any image big enough) or "default" (off on a CPU, auto on a GPU); each crop costs
    as many tokens, and as long an encode, as the whole image.  Other models read images whole."""
    think: bool = False
    """Let a model that can think (Gemma 4) reason before it answers; ``max_tokens`` then bounds
    the answer, and the thought is bounded by the context only."""
    stop_when_full: bool = False
    """Stop with "the context is full" instead of leaving out the turns after the first
    exchange when the conversation outgrows the context."""

    def validate(self) -> GenerationSettings:
        """Return self, or raise UserError naming the first value out of range."""
        checks = [
            (0.0 <= self.temperature <= 5.0, UserError("The temperature must be between 0 and 5.")),
            (0 <= self.top_k <= 1000, UserError("The top-k must be between 0 (off) and 1000.")),
            (0.0 < self.top_p <= 1.0, UserError("The top-p must be above 0 and at most 1.")),
            (0.0 <= self.min_p < 1.0, UserError("The min-p must be at least 0 and below 1.")),
            (0.5 <= self.repeat_penalty <= 2.0, UserError("The repeat penalty must be between 0.5 and 2.")),
            (
                -1 <= self.seed <= 2**32 - 1,
                UserError("The seed must be -1 (random) or between 0 and 4294967295."),
            ),
            (
                1 <= self.max_tokens <= MAX_OUTPUT_TOKENS,
                UserError("The max tokens must be between 1 and {limit}.", limit=str(MAX_OUTPUT_TOKENS)),
            ),
            (self.pan_scan in PAN_SCAN_MODES, UserError("The pan & scan mode must be default, off, auto or on.")),
        ]
        for ok, problem in checks:
            if not ok:
                raise problem
        return self


@dataclass(frozen=True)
class RuntimeSettings:
    """How the model is loaded; changing any of these reloads the engine."""

    n_ctx: int = AUTO_CONTEXT
    """Tokens of context; :data:`AUTO_CONTEXT` until a front end sizes it to the machine."""
    n_threads: int = field(default_factory=physical_cores)
    n_gpu_layers: int = -1
    """-1 offloads every layer when a GPU backend is present; ignored on a CPU-only build."""
    flash_attn: bool = True
    disk_cache: bool = True
    """Keep encoded images and conversation snapshots in the user cache dir, so a restart
    neither re-runs the encoder nor re-reads a conversation."""
    snapshot_disk_mib: int = DEFAULT_SNAPSHOT_DISK_MIB
    """Most disk the conversation snapshots may take."""

    def validate(self) -> RuntimeSettings:
        """Return self, or raise UserError naming the first value out of range."""
        if self.n_ctx != AUTO_CONTEXT and not 256 <= self.n_ctx <= 131072:
            raise UserError("The context size must be between 256 and 131072 tokens.")
        if not 0 <= self.snapshot_disk_mib <= 1 << 20:
            raise UserError("The snapshot cache must be between 0 and 1048576 MiB.")
        if not 1 <= self.n_threads <= 512:
            raise UserError("The thread count must be between 1 and 512.")
        if self.n_gpu_layers < -1:
            raise UserError("GPU layers must be -1 (all), 0 (none) or a positive count.")
        return self


def to_dict(settings: GenerationSettings | RuntimeSettings) -> dict[str, Any]:
    """Plain dict for JSON (store, export, the engine pipe)."""
    return dataclasses.asdict(settings)


def generation_from_dict(data: dict[str, Any]) -> GenerationSettings:
    """Build from a saved dict, ignoring keys a newer or older version wrote."""
    names = {f.name for f in dataclasses.fields(GenerationSettings)}
    return GenerationSettings(**{k: v for k, v in data.items() if k in names})


def runtime_from_dict(data: dict[str, Any]) -> RuntimeSettings:
    """Build from a saved dict, ignoring keys a newer or older version wrote."""
    names = {f.name for f in dataclasses.fields(RuntimeSettings)}
    return RuntimeSettings(**{k: v for k, v in data.items() if k in names})
