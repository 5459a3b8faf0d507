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
from pathlib import Path

from desktop_app.engine.cancel import CancelFlag
from desktop_app.engine.protocol import (
    CountRequest,
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

TOKEN_BATCH_S = 0.033
"""Streamed text is sent at most this often (the first piece at once): the window repaints at
~30 Hz anyway, and every wake-up of the app process takes CPU from llama.cpp's threads."""


class _TokenBatcher:
    """Sends reply text to the app in pieces no more often than :data:`TOKEN_BATCH_S`."""

    def __init__(self, conn: Connection, request_id: int) -> None:
        self._conn = conn
        self._request_id = request_id
        self._pending: list[str] = []
        self._sent_at = float("-inf")

    def add(self, piece: str) -> None:
        self._pending.append(piece)
        if time.perf_counter() - self._sent_at >= TOKEN_BATCH_S:
            self.flush()

    def flush(self) -> None:
        if self._pending:
            self._conn.send(Token(self._request_id, "".join(self._pending)))
            self._pending.clear()
            self._sent_at = time.perf_counter()


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

            def on_load_progress(fraction: float) -> None:
                conn.send(Progress(None, "loading", fraction))

            try:
                backend = LlamaBackend(
                    Path(request.model_path),
                    Path(request.mmproj_path) if request.mmproj_path else None,
                    request.runtime,
                    cancel,
                    on_load_progress,
                )
            except UserError as exc:
                if cancel.is_set():  # the load was stopped, not refused
                    name = Path(request.model_path).name
                    cancelled = UserError("Loading {name} was cancelled.", name=name)
                    conn.send(EngineError(None, str(cancelled), "cancelled"))
                else:
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
                    notice=backend.take_notice(),
                    thinks=backend.thinks,
                )
            )
        elif isinstance(request, CountRequest):
            try:
                if backend is None:
                    raise UserError("No model is loaded yet; open a Gemma 3 model first.")
                conn.send(backend.count(request))
            except UserError as exc:
                conn.send(EngineError(request.request_id, str(exc), "user"))
            except Exception:
                log.exception("counting tokens failed")
                failed = "Counting tokens failed inside the engine (see the log)."
                conn.send(EngineError(request.request_id, failed, "internal"))
        elif isinstance(request, GenerateRequest):
            received_at = time.perf_counter()
            rid = request.request_id
            if backend is None:
                conn.send(EngineError(rid, "No model is loaded yet; open a Gemma model first.", "user"))
                continue
            batcher = _TokenBatcher(conn, rid)

            def on_phase(phase: str, rid: int = rid) -> None:
                conn.send(Progress(rid, phase))

            try:
                text, finish, metrics = backend.generate(request, batcher.add, received_at, on_phase)
                batcher.flush()
            except UserError as exc:
                batcher.flush()
                conn.send(EngineError(rid, str(exc), "user"))
                continue
            except Exception:
                log.exception("generation failed")
                batcher.flush()
                conn.send(EngineError(rid, "The reply failed inside the engine (see the log).", "internal"))
                continue
            metrics = replace(metrics, load_s=round(unreported_load_s, 4))
            conn.send(Done(rid, text, finish, metrics, backend.take_notice()))
            unreported_load_s = 0.0
    if backend is not None:
        backend.close()
