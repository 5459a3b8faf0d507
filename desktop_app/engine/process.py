"""Entry point of the engine process: owns llama.cpp, answers requests from the pipe.

A native abort or an out-of-memory kill here ends this process only; the app sees the pipe close
and reports it as an error event. Every Python exception becomes an :class:`EngineError` event,
so the loop keeps serving.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from dataclasses import dataclass, field, replace
from multiprocessing.connection import Connection
from pathlib import Path
from typing import TYPE_CHECKING

from desktop_app.engine.cancel import CancelFlag
from desktop_app.engine.images import PreparedImage
from desktop_app.engine.protocol import (
    ClearSnapshots,
    CountRequest,
    Done,
    DropPrefetch,
    EngineError,
    GenerateRequest,
    ImageStatus,
    LoadRequest,
    ModelLoaded,
    PrefetchImage,
    Progress,
    ReadAhead,
    ReadAheadDone,
    Request,
    SaveSnapshot,
    ShutdownRequest,
    Token,
)
from desktop_app.engine.snapshots import SnapshotStore, snapshot_folder
from desktop_app.errors import Sentence, UserError
from desktop_app.logs import setup_logging

if TYPE_CHECKING:
    from desktop_app.engine.backend import LlamaBackend

log = logging.getLogger(__name__)

NO_MODEL = Sentence("No model is loaded yet; open a Gemma model first.")

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


SHUTDOWN_WRITES_S = 4.0
"""How long a stopping engine waits for its snapshots to reach disk (the app waits a little
longer for it to exit): a write cut short leaves only a temporary file, never a wrong one."""


@dataclass
class _Prefetch:
    """Views of attached images waiting for the encoder, in the order they were attached."""

    views: deque[tuple[str, PreparedImage]] = field(default_factory=deque)
    """(the attached image's sha256, one of its views)."""
    pending: dict[str, int] = field(default_factory=dict)
    """Views still waiting, by attached image."""

    def add(self, origin: str, views: list[PreparedImage]) -> None:
        self.views.extend((origin, view) for view in views)
        self.pending[origin] = self.pending.get(origin, 0) + len(views)

    def drop(self, origin: str) -> None:
        self.views = deque(item for item in self.views if item[0] != origin)
        self.pending.pop(origin, None)

    def clear(self) -> None:
        self.views.clear()
        self.pending.clear()


class _Inbox:
    """The requests that arrived, read from the pipe by a thread of their own.

    The app sends while the engine works: an attached image (megabytes of pixels) while a reply
    streams, a reply's request while an attached image is encoded for a minute.  Were the pipe
    read only between requests, such a send would block the app until then, and the engine's own
    sends (the reply's text) could fill the pipe the other way: each side waiting for the other.
    The reading thread waits in the pipe's read without the GIL, so the token loop never sees it.
    """

    def __init__(self, conn: Connection) -> None:
        self._conn = conn
        self._arrived: deque[Request] = deque()
        self._changed = threading.Condition()
        self.closed = False
        threading.Thread(target=self._read, name="engine-inbox", daemon=True).start()

    def _read(self) -> None:
        while True:
            try:
                request = self._conn.recv()
            except (EOFError, OSError):
                request = None
            with self._changed:
                if request is None:
                    self.closed = True
                else:
                    self._arrived.append(request)
                self._changed.notify_all()
            if request is None or isinstance(request, ShutdownRequest):
                return

    def waiting(self) -> bool:
        """Whether a request arrived that was not taken yet."""
        with self._changed:
            return bool(self._arrived)

    def take(self, *, wait: bool) -> list[Request]:
        """Everything that arrived (with ``wait``, at least one request unless the pipe closed)."""
        with self._changed:
            if wait:
                self._changed.wait_for(lambda: bool(self._arrived) or self.closed)
            taken = list(self._arrived)
            self._arrived.clear()
        return taken


class _Engine:
    """The engine process's state: the loaded backend, the snapshots, the encode queue."""

    def __init__(self, conn: Connection, cancel: CancelFlag) -> None:
        self.conn = conn
        self.cancel = cancel
        self.backend: LlamaBackend | None = None
        # One store for the process's life: snapshots outlive a model reload, and their disk
        # writes go on while the next model loads.
        self.snapshots = SnapshotStore(snapshot_folder())
        self.prefetch = _Prefetch()
        self.ahead: ReadAhead | None = None
        self.inbox: _Inbox | None = None
        self.unreported_load_s = 0.0

    def serve(self) -> None:
        """Answer requests until the pipe closes or a shutdown request arrives.

        Everything that arrived is taken before anything runs, so an image removed while a
        reply was being written leaves the encode queue before the queue is worked on.  Work
        for a message still being written (encoding its pictures, then reading them ahead)
        runs only while no request waits.
        """
        inbox = self.inbox = _Inbox(self.conn)
        waiting: deque[Request] = deque()
        while True:
            idle_work = bool(self.prefetch.views) or self.ahead is not None
            waiting.extend(inbox.take(wait=not waiting and not idle_work))
            if not waiting:
                if inbox.closed:
                    break
                if self.prefetch.views:
                    self._encode_next()
                else:
                    self._read_ahead()
                continue
            request = waiting.popleft()
            if isinstance(request, ShutdownRequest):
                break
            self._handle(request)
        self._close_backend()
        self.snapshots.flush(SHUTDOWN_WRITES_S)

    def _handle(self, request: Request) -> None:
        if isinstance(request, LoadRequest):
            self.ahead = None
            self._load(request)
        elif isinstance(request, CountRequest):
            self._count(request)
        elif isinstance(request, GenerateRequest):
            self.ahead = None  # what it would have read, the reply reads now
            self._generate(request)
        elif isinstance(request, ReadAhead):
            self.ahead = request
        elif isinstance(request, PrefetchImage):
            self._queue_prefetch(request)
        elif isinstance(request, DropPrefetch):
            self.prefetch.drop(request.sha256)
        elif isinstance(request, SaveSnapshot):
            if self.backend is not None:
                self.backend.save_snapshot()
        elif isinstance(request, ClearSnapshots):
            self.snapshots.clear()

    def _close_backend(self) -> None:
        if self.backend is not None:
            backend, self.backend = self.backend, None
            backend.close()

    def _load(self, request: LoadRequest) -> None:
        from desktop_app.engine.backend import LlamaBackend  # only this process loads llama.cpp

        self._close_backend()
        self.prefetch.clear()  # another projector: its encodes would be another's
        conn = self.conn

        def on_load_progress(fraction: float) -> None:
            conn.send(Progress(None, "loading", fraction))

        try:
            self.backend = LlamaBackend(
                Path(request.model_path),
                Path(request.mmproj_path) if request.mmproj_path else None,
                request.runtime,
                self.cancel,
                on_load_progress,
                snapshots=self.snapshots,
            )
        except UserError as exc:
            if self.cancel.is_set():  # the load was stopped, not refused
                name = Path(request.model_path).name
                cancelled = UserError("Loading {name} was cancelled.", name=name)
                conn.send(EngineError.saying(None, cancelled.sentence, "cancelled"))
            else:
                conn.send(EngineError.saying(None, exc.sentence, "user"))
            return
        except Exception:
            log.exception("loading %s failed", request.model_path)
            failed = Sentence("The model could not be loaded (see the log).")
            self.conn.send(EngineError.saying(None, failed, "internal"))
            return
        backend = self.backend
        self.unreported_load_s = backend.load_s
        self.conn.send(
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

    def _count(self, request: CountRequest) -> None:
        try:
            if self.backend is None:
                raise UserError.saying(NO_MODEL)
            self.conn.send(self.backend.count(request))
        except UserError as exc:
            self.conn.send(EngineError.saying(request.request_id, exc.sentence, "user"))
        except Exception:
            log.exception("counting tokens failed")
            failed = Sentence("Counting tokens failed inside the engine (see the log).")
            self.conn.send(EngineError.saying(request.request_id, failed, "internal"))

    def _generate(self, request: GenerateRequest) -> None:
        received_at = time.perf_counter()
        rid = request.request_id
        conn = self.conn
        if self.backend is None:
            conn.send(EngineError.saying(rid, NO_MODEL, "user"))
            return
        batcher = _TokenBatcher(conn, rid)

        def on_phase(phase: Sentence) -> None:
            conn.send(Progress(rid, str(phase), sentence=phase))

        try:
            text, finish, metrics = self.backend.generate(request, batcher.add, received_at, on_phase)
            batcher.flush()
        except UserError as exc:
            batcher.flush()
            conn.send(EngineError.saying(rid, exc.sentence, "user"))
            return
        except Exception:
            log.exception("generation failed")
            batcher.flush()
            failed = Sentence("The reply failed inside the engine (see the log).")
            conn.send(EngineError.saying(rid, failed, "internal"))
            return
        metrics = replace(metrics, load_s=round(self.unreported_load_s, 4))
        conn.send(Done(rid, text, finish, metrics, self.backend.take_notice()))
        self.unreported_load_s = 0.0
        try:
            self.backend.settle()  # after Done: the reply's end is never kept waiting
        except Exception:
            log.exception("settling the memory after a reply failed")

    def _queue_prefetch(self, request: PrefetchImage) -> None:
        if self.backend is None or not self.backend.has_vision:
            self.conn.send(ImageStatus(request.image.sha256, "failed"))
            return
        origin = request.image.sha256
        self.prefetch.drop(origin)  # asked again (another Pan & Scan choice): the new views count
        self.prefetch.add(origin, self.backend.image_views(request.image, request.pan_scan))
        self.conn.send(ImageStatus(origin, "reading"))  # queued counts: nothing else will wait

    def _read_ahead(self) -> None:
        """Read the message being written as far as its pictures (see ``LlamaBackend.read_ahead``);
        only time is at stake, so a failure is logged, never reported."""
        request, self.ahead = self.ahead, None
        if request is None or self.backend is None:
            return
        inbox = self.inbox
        try:
            positions = self.backend.read_ahead(request, inbox.waiting if inbox else lambda: False)
        except Exception:
            log.exception("reading a message ahead failed")
            positions = 0
        self.conn.send(ReadAheadDone(request.thread, positions))

    def _encode_next(self) -> None:
        """Encode one queued view ("reading" was said when it was queued); "ready" after an
        image's last."""
        origin, view = self.prefetch.views.popleft()
        assert self.backend is not None
        left = self.prefetch.pending.get(origin, 1)
        try:
            self.backend.encode_ahead(view)
        except Exception:
            log.exception("encoding an attached image ahead failed")
            self.prefetch.drop(origin)
            self.conn.send(ImageStatus(origin, "failed"))
            return
        if left <= 1:
            self.prefetch.pending.pop(origin, None)
            self.conn.send(ImageStatus(origin, "ready"))
        else:
            self.prefetch.pending[origin] = left - 1


def engine_main(conn: Connection, cancel: CancelFlag) -> None:
    """Serve requests until the pipe closes or a shutdown request arrives."""
    setup_logging()
    _Engine(conn, cancel).serve()
