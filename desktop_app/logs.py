"""Logging to a rotating file in the user log dir: tracebacks of bugs go there, never to the user."""

from __future__ import annotations

import faulthandler
import logging
import logging.handlers
from pathlib import Path

from desktop_app import paths

_configured: Path | None = None
_fault_file = None


def setup_logging(level: int = logging.INFO) -> Path:
    """Send log records to the log file (once per process) and return its path.

    faulthandler writes native crashes (a segfault in Qt or llama.cpp) to a sibling file, so even
    a death Python never sees leaves a trace.
    """
    global _configured, _fault_file
    if _configured is not None:
        return _configured
    path = paths.log_file()
    handler = logging.handlers.RotatingFileHandler(
        path, maxBytes=2_000_000, backupCount=3, encoding="utf-8"
    )
    handler.setFormatter(
        logging.Formatter("%(asctime)s %(process)d %(levelname)s %(name)s: %(message)s")
    )
    root = logging.getLogger()
    root.addHandler(handler)
    root.setLevel(level)
    _fault_file = open(path.with_name("crash.log"), "a", encoding="utf-8")  # noqa: SIM115
    faulthandler.enable(_fault_file)
    _configured = path
    return path
