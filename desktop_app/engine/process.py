"""Entry point of the engine process: owns llama.cpp, answers requests from the pipe.

A native abort or an out-of-memory kill here ends this process only; the app sees the pipe close
and reports it as an error event. Every Python exception becomes an :class:`EngineError` event,
so the loop keeps serving.
"""

from __future__ import annotations

import logging
import time
from dataclasses import replace
from multiprocessing.connection import Connection
from multiprocessing.synchronize import Event as CancelFlag
from pathlib import Path

from desktop_app.engine.protocol import (
    Done,
    EngineError,
    GenerateRequest,
    LoadRequest,
    ModelLoaded,
    Progress,
    ShutdownRequest,
    Token,
)
from desktop_app.errors import UserError
from desktop_app.logs import setup_logging

log = logging.getLogger(__name__)


def engine_main(conn: Connection, cancel: CancelFlag) -> None:
    """Serve requests until the pipe closes or a shutdown request arrives."""
    setup_logging()
    from desktop_app.engine.backend import LlamaBackend  # only this process loads llama.cpp

    backend: LlamaBackend | None = None
    unreported_load_s = 0.0
    while True:
        try:
            request = conn.recv()
        except (EOFError, OSError):
            break
        if isinstance(request, ShutdownRequest):
            break
        if isinstance(request, LoadRequest):
            if backend is not None:
                backend.close()
                backend = None
            try:
                backend = LlamaBackend(
                    Path(request.model_path),
                    Path(request.mmproj_path) if request.mmproj_path else None,
                    request.runtime,
                    cancel.is_set,
                )
            except UserError as exc:
                conn.send(EngineError(None, str(exc), "user"))
                continue
            except Exception:
                log.exception("loading %s failed", request.model_path)
                conn.send(EngineError(None, "The model could not be loaded (see the log).", "internal"))
                continue
            unreported_load_s = backend.load_s
            conn.send(
                ModelLoaded(
                    request.model_path,
                    request.mmproj_path,
                    round(backend.load_s, 4),
                    backend.backend,
                    backend.n_ctx,
                    backend.n_ctx_train,
                    backend.has_vision,
                )
            )
        elif isinstance(request, GenerateRequest):
            received_at = time.perf_counter()
            rid = request.request_id
            if backend is None:
                conn.send(EngineError(rid, "No model is loaded yet; open a Gemma 3 model first.", "user"))
                continue
            try:
                text, finish, metrics = backend.generate(
                    request,
                    lambda piece: conn.send(Token(rid, piece)),
                    received_at,
                    lambda phase: conn.send(Progress(rid, phase)),
                )
            except UserError as exc:
                conn.send(EngineError(rid, str(exc), "user"))
                continue
            except Exception:
                log.exception("generation failed")
                conn.send(EngineError(rid, "The reply failed inside the engine (see the log).", "internal"))
                continue
            conn.send(Done(rid, text, finish, replace(metrics, load_s=round(unreported_load_s, 4))))
            unreported_load_s = 0.0
    if backend is not None:
        backend.close()
