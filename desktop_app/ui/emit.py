"""The one way this package emits a Python-defined Qt signal: :func:`emit`.

PySide6 6.12.0's ``SignalInstance.emit`` returns ``True`` without taking a reference to it, so
every call from Python takes one reference away from ``True``.  A window that streams for a
while runs that count down to zero, and the interpreter aborts ("bool_dealloc: deallocating True
or False").  :func:`emit` gives the reference back where, and only where, the installed PySide6
shows the bug (probed once at import), so a fixed PySide6 runs it as a plain ``emit``.
"""

from __future__ import annotations

import ctypes
import sys
from typing import Any

from PySide6.QtCore import QObject, Signal, SignalInstance


class _Probe(QObject):
    """A throwaway object whose signal measures what one emit does to ``True``.

    Signals:
        fired(): emitted once at import, connected to nothing.
    """

    fired = Signal()


def _emit_steals_true() -> bool:
    probe = _Probe()
    before = sys.getrefcount(True)
    probe.fired.emit()
    stolen = sys.getrefcount(True) < before
    if stolen:
        ctypes.pythonapi.Py_IncRef(ctypes.py_object(True))
    return stolen


_REPAIR = _emit_steals_true()


def emit(signal: SignalInstance, *args: Any) -> None:
    """``signal.emit(*args)``, keeping ``True``'s reference count intact on PySide6 6.12.0."""
    signal.emit(*args)
    if _REPAIR:
        ctypes.pythonapi.Py_IncRef(ctypes.py_object(True))
