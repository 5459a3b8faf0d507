"""Token sampling: llama.cpp's own sampler chain, run on a few candidates instead of 262,144.

llama.cpp's chain starts every token by building a candidate record for each of Gemma's 262,144
vocabulary entries (about 0.33 ms a token on a laptop core, 2-3% of a decode step).  Here one
pass over the logits in C (``_candidates.c``) writes out the few dozen records that surely hold
the top-k tokens, and the chain itself (top-k, top-p, min-p, temperature, then a seeded draw:
llama.cpp's default order) runs on those few.  The result is the token llama.cpp's chain would
pick on the whole vocabulary, with the same seed.

With top-k off, the first pass keeps the tokens within 30 logits (at the sampling temperature) of
the best one; what it drops has a probability below e^-30 of the best token's.

Everything between two decode steps runs with cold caches (a step streams the whole model
through them), where a numpy call costs 10-20 us beyond its work: the per-token path is two C
calls on buffers allocated once per reply (measured ~0.08 ms a token on a laptop core, against
~0.17 ms with the first pass in numpy).
"""

from __future__ import annotations

import ctypes
import os
import weakref
from collections import deque
from types import TracebackType

import llama_cpp
import numpy as np

from desktop_app.engine._candidates import candidates
from desktop_app.settings import GenerationSettings

_MARGIN = 30.0
"""Logit distance from the best token beyond which a token cannot matter (e^-30 ~ 1e-13)."""
PENALTY_WINDOW = 64
"""Recent tokens the repeat penalty looks at (llama.cpp's default ``penalty_last_n``)."""

TOKEN_DATA = np.dtype([("id", np.int32), ("logit", np.float32), ("p", np.float32)])
"""numpy's view of ``llama_token_data``, so candidates are written without a Python loop."""
assert TOKEN_DATA.itemsize == ctypes.sizeof(llama_cpp.llama_token_data)


class Sampler:
    """Picks the next token from a logits vector; one instance per reply.

    It owns llama.cpp's sampler chain: ``close()`` (or leaving a ``with`` block) frees it, and a
    sampler dropped without either frees it when collected, exactly once either way.
    """

    def __init__(self, settings: GenerationSettings) -> None:
        self.settings = settings
        self._recent: deque[int] = deque(maxlen=PENALTY_WINDOW)
        self._greedy = settings.temperature <= 0.0 or settings.top_k == 1
        self._chain: llama_cpp.llama_sampler_p | None = None
        self._free_chain: weakref.finalize[..., Sampler] | None = None
        if not self._greedy:
            seed = settings.seed if settings.seed >= 0 else int.from_bytes(os.urandom(4), "little")
            self._chain = _chain(settings, seed)
            self._free_chain = weakref.finalize(self, llama_cpp.llama_sampler_free, self._chain)
        self._candidates = np.empty(0, TOKEN_DATA)
        self._ids = self._candidates["id"]
        self._array = llama_cpp.llama_token_data_array()
        self._array_ref = ctypes.byref(self._array)

    def close(self) -> None:
        """Free the native chain now (a finalizer runs at most once, so later calls do nothing)."""
        if self._free_chain is not None:
            self._free_chain()
        self._chain = None

    def __enter__(self) -> Sampler:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def sample(self, logits: np.ndarray) -> int:
        """The next token.  ``logits`` may be llama.cpp's own buffer: it is modified in place."""
        s = self.settings
        if s.repeat_penalty != 1.0 and self._recent:
            seen = np.fromiter(set(self._recent), dtype=np.int64)
            values = logits[seen]
            logits[seen] = np.where(
                values > 0, values / s.repeat_penalty, values * s.repeat_penalty
            )
        if self._greedy:
            return self._accept(int(logits.argmax()))
        if len(self._candidates) < len(logits):  # room for every token: the pass never overflows
            self._candidates = np.empty(len(logits), TOKEN_DATA)
            # llama_cpp annotates this field as an array; ctypes stores the pointer it is given.
            self._array.data = self._candidates.ctypes.data_as(llama_cpp.llama_token_data_p)  # type: ignore[assignment]
            self._ids = self._candidates["id"]
        n = candidates(logits, self._candidates, s.top_k, _MARGIN * max(1.0, s.temperature))
        if n == 0:
            raise RuntimeError("llama.cpp returned logits that are all NaN")
        self._array.size = n
        self._array.selected = -1
        self._array.sorted = False
        llama_cpp.llama_sampler_apply(self._chain, self._array_ref)
        return self._accept(int(self._ids[self._array.selected]))

    def _accept(self, token: int) -> int:
        self._recent.append(token)
        return token


def _chain(settings: GenerationSettings, seed: int) -> llama_cpp.llama_sampler_p:
    """llama.cpp's default order: top-k, top-p and min-p untempered, then temperature, a draw."""
    chain: llama_cpp.llama_sampler_p = llama_cpp.llama_sampler_chain_init(
        llama_cpp.llama_sampler_chain_default_params()
    )
    # Each part goes into the chain as soon as it exists: the chain owns and frees its parts,
    # so nothing is ever held by no one.
    if settings.top_k > 0:
        llama_cpp.llama_sampler_chain_add(chain, llama_cpp.llama_sampler_init_top_k(settings.top_k))
    if settings.top_p < 1.0:
        llama_cpp.llama_sampler_chain_add(chain, llama_cpp.llama_sampler_init_top_p(settings.top_p, 1))
    if settings.min_p > 0.0:
        llama_cpp.llama_sampler_chain_add(chain, llama_cpp.llama_sampler_init_min_p(settings.min_p, 1))
    llama_cpp.llama_sampler_chain_add(chain, llama_cpp.llama_sampler_init_temp(settings.temperature))
    llama_cpp.llama_sampler_chain_add(chain, llama_cpp.llama_sampler_init_dist(seed))
    return chain

