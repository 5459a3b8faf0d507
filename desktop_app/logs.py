"""Logging to a rotating file in the user log dir: tracebacks of bugs go there, never to the user."""

from __future__ import annotations

import atexit
import faulthandler
import logging
import logging.handlers
from pathlib import Path
from typing import TextIO

from desktop_app import paths

_configured: Path | None = None
_handler: logging.Handler | None = None
_fault_file: TextIO | None = None


def setup_logging(level: int = logging.INFO) -> Path:
    """Send log records to the log file and return its path.

    Once per process and log folder: a second call with the same folder changes nothing, one
    after ``GEMMA_DESKTOP_HOME`` moved (tests, a portable install started from another place)
    moves the log with it.  faulthandler writes native crashes (a segfault in Qt or llama.cpp) to a
    sibling file, so even a death Python never sees leaves a trace.
    """
    global _configured, _handler, _fault_file
    path = paths.log_file()
    if _configured == path:
        return path
    root = logging.getLogger()
    if _handler is not None:
        root.removeHandler(_handler)
        _handler.close()
    _close_crash_log()
    handler = logging.handlers.RotatingFileHandler(
        path, maxBytes=2_000_000, backupCount=3, encoding="utf-8"
    )
    handler.setFormatter(
        logging.Formatter("%(asctime)s %(process)d %(levelname)s %(name)s: %(message)s")
    )
    root.addHandler(handler)
    root.setLevel(level)
    # Kept open for the life of the process: faulthandler writes to its descriptor from a
    # signal handler, so it cannot be opened at crash time.
    if _configured is None:  # the first call in this process
        atexit.register(_close_crash_log)
    _fault_file = open(path.with_name("crash.log"), "a", encoding="utf-8")  # noqa: SIM115
    faulthandler.enable(_fault_file)
    _handler, _configured = handler, path
    return path


def _close_crash_log() -> None:
    """Stop writing native crashes to the crash log and close it (a new log folder, or exit)."""
    global _fault_file
    if _fault_file is not None:
        faulthandler.disable()
        _fault_file.close()
        _fault_file = None
