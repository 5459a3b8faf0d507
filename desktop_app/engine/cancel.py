"""The stop flag the app shares with the engine process, cheap enough to read on every graph node.

The engine reads it before every generated token, and llama.cpp, while it evaluates a prompt or
an image's embeddings, before every node of its compute graph (~400 nodes per 512-token batch
of the 270M), on the critical path between two thread barriers.  A Python abort callback there
costs a GIL round trip per node, measured at 0.5% of prompt speed on a 2-core laptop CPU.  So the
flag is one byte of shared memory followed by a NUL, and llama.cpp is given the C library's
``strlen`` on it as its abort callback: ``strlen`` returns the flag itself (0 or 1), with no
Python involved.  ``strlen`` returns a ``size_t`` where a ``bool`` is expected; on x86-64 (System V
and Windows) and arm64 both come back in the same register and a 0 or 1 reads the same.

This module is imported by the app side too, so it must not import llama.cpp.
"""

from __future__ import annotations

import ctypes
import sys
from multiprocessing.context import BaseContext


class CancelFlag:
    """Set while the reply in progress should stop; picklable into a spawned engine process."""

    def __init__(self, context: BaseContext) -> None:
        self._buffer = context.RawArray(ctypes.c_char, 2)  # [flag, NUL]: a C string of length 0/1

    def set(self) -> None:
        self._buffer[0] = b"\x01"

    def clear(self) -> None:
        self._buffer[0] = b"\x00"

    def is_set(self) -> bool:
        return self._buffer[0] != b"\x00"

    @property
    def address(self) -> ctypes.c_void_p:
        """Where the flag lives, for :func:`native_reader`."""
        return ctypes.c_void_p(ctypes.addressof(self._buffer))


def native_reader() -> ctypes._NamedFuncPointer:
    """The C library's ``strlen``: called on :attr:`CancelFlag.address`, it returns the flag."""
    libc = ctypes.CDLL("msvcrt") if sys.platform == "win32" else ctypes.CDLL(None)
    return libc.strlen
