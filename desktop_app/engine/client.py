"""The app's handle on the engine process: start it, send requests, read events, survive its death.

The engine is a ``spawn``ed child (the same on Windows, macOS and Linux, and frozen builds), so a
native crash in llama.cpp costs a restart, never the window or the conversation.  This module
never imports llama.cpp.

Threading: ``next_event`` is meant for one reader thread; ``cancel`` and ``wake`` may be called
from any thread (``cancel`` only sets a shared flag, or kills the child for a stop that cannot
wait).  Reading never polls: it sleeps in the OS until the child sends something, exits, or
``wake`` is called, so an engine at work shares its cores with nothing here.
"""

from __future__ import annotations

import itertools
import logging
import multiprocessing
import signal
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from multiprocessing.connection import Connection, wait

from desktop_app.engine.cancel import CancelFlag
from desktop_app.engine.images import PreparedImage
from desktop_app.engine.interface import EventReader
from desktop_app.engine.process import SHUTDOWN_WRITES_S, engine_main
from desktop_app.engine.protocol import (
    AnyLoadRequest,
    Capabilities,
    ChatMessage,
    ClearSnapshots,
    CountRequest,
    Done,
    DropPrefetch,
    EngineError,
    Event,
    GenerateRequest,
    LoadRequest,
    Metrics,
    ModelLoaded,
    PrefetchImage,
    ReadAhead,
    SaveSnapshot,
    ShutdownRequest,
    Token,
)
from desktop_app.engine.snapshots import SnapshotStore, snapshot_folder
from desktop_app.errors import Sentence
from desktop_app.settings import GenerationSettings

log = logging.getLogger(__name__)


def describe_exit(code: int | None) -> Sentence:
    """A person-readable cause for a child's exit status (a reason in parentheses)."""
    if code is None:
        return Sentence("it stopped responding")
    if code < 0:
        try:
            return Sentence("it was stopped by {signal}", signal=signal.Signals(-code).name)
        except ValueError:
            return Sentence("it was stopped by signal {number}", number=str(-code))
    return Sentence("it exited with code {code}", code=str(code))


@dataclass
class _Active:
    request_id: int
    parts: list[str]


class EngineClient(EventReader):
    """The local :class:`~desktop_app.engine.interface.Engine`: runs the engine process on demand
    and restarts it after a crash."""

    def __init__(self) -> None:
        self._mp = multiprocessing.get_context("spawn")
        self._cancel = CancelFlag(self._mp)
        self._lock = threading.RLock()
        self._proc: multiprocessing.process.BaseProcess | None = None
        self._conn: Connection | None = None
        self._load: LoadRequest | None = None
        self._ids = itertools.count(1)
        self._active: _Active | None = None
        self._killed_for_cancel = False
        self.loaded: ModelLoaded | None = None
        self._wake_reader, self._wake_writer = self._mp.Pipe(duplex=False)
        self._wake_lock = threading.Lock()
        self._woken = False

    # ------------------------------------------------------------------------- process
    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.is_alive()

    def _ensure_started(self) -> None:
        with self._lock:
            if self.running:
                return
            parent, child = self._mp.Pipe()
            proc = self._mp.Process(
                target=engine_main, args=(child, self._cancel), name="gemma-engine", daemon=True
            )
            proc.start()
            child.close()
            self._proc, self._conn = proc, parent
            self.loaded = None
            if self._load is not None:
                parent.send(self._load)

    def _send(self, request: object) -> None:
        self._ensure_started()
        with self._lock:
            assert self._conn is not None
            self._conn.send(request)

    def _reap(self) -> int | None:
        """Forget a dead child; returns its exit code."""
        with self._lock:
            proc, conn = self._proc, self._conn
            self._proc = self._conn = None
            self.loaded = None
        if conn is not None:
            conn.close()
        if proc is None:
            return None
        proc.join(timeout=5)
        return proc.exitcode

    # ------------------------------------------------------------------------ requests
    @property
    def capabilities(self) -> Capabilities | None:
        return self.loaded.capabilities if self.loaded is not None else None

    def load(self, request: AnyLoadRequest) -> None:
        """Ask the engine to load a model; a ``ModelLoaded`` or ``EngineError`` event follows.

        The request is remembered, so a restarted engine loads the same model by itself.
        :meth:`cancel` while it loads stops the load (an ``EngineError`` of kind "cancelled").
        """
        if not isinstance(request, LoadRequest):
            raise TypeError("EngineClient runs model files on this computer; use RemoteEngine for a server")
        self._cancel.clear()  # a Stop of the last reply must not stop this load
        self._load = request
        if self.running:
            self._send(self._load)
        else:
            self._ensure_started()

    def generate(
        self,
        messages: Sequence[ChatMessage],
        system_prompt: str = "",
        settings: GenerationSettings | None = None,
        *,
        thread: str = "",
    ) -> int:
        """Start a reply; its ``Token`` events and a final ``Done`` or ``EngineError`` follow."""
        request_id = next(self._ids)
        self._cancel.clear()
        self._killed_for_cancel = False
        self._active = _Active(request_id, [])
        self._send(
            GenerateRequest(
                request_id, tuple(messages), system_prompt, settings or GenerationSettings(), thread
            )
        )
        return request_id

    def count_tokens(
        self,
        messages: Sequence[ChatMessage],
        system_prompt: str = "",
        settings: GenerationSettings | None = None,
    ) -> int:
        """Ask what this conversation's prompt costs; a ``TokenCount`` or ``EngineError`` event
        with the returned request id follows (after the reply in progress, if any)."""
        request_id = next(self._ids)
        self._send(
            CountRequest(request_id, tuple(messages), system_prompt, settings or GenerationSettings())
        )
        return request_id

    @property
    def alive(self) -> bool:
        return self.running

    def prefetch_image(self, image: PreparedImage, pan_scan: str) -> None:
        """Have the engine encode an attached image while idle; ``ImageStatus`` events follow."""
        if self.running:
            self._send(PrefetchImage(image, pan_scan))

    def drop_prefetch(self, sha256: str) -> None:
        """The image was removed before Send: never encode it for that."""
        if self.running:
            self._send(DropPrefetch(sha256))

    def read_ahead(
        self,
        messages: Sequence[ChatMessage],
        system_prompt: str = "",
        settings: GenerationSettings | None = None,
        *,
        thread: str = "",
    ) -> None:
        """The last message is being written, its pictures attached: have the engine read the
        conversation through them while idle (it replaces an earlier read-ahead)."""
        if self.running:
            self._send(ReadAhead(thread, tuple(messages), system_prompt, settings or GenerationSettings()))

    def save_snapshot(self) -> None:
        """Have the engine write the current conversation's memory to disk."""
        if self.running:
            self._send(SaveSnapshot())

    def clear_snapshots(self) -> None:
        """Forget every conversation snapshot (the engine's, or the folder's when none runs)."""
        if self.running:
            self._send(ClearSnapshots())
        else:
            SnapshotStore(snapshot_folder()).clear()

    def cancel(self, *, hard: bool = False) -> None:
        """Stop the reply in progress, keeping what streamed.

        The soft stop is seen within a token (or ~1 ms into prompt evaluation). An image encode
        cannot be interrupted inside llama.cpp, so ``hard`` kills the engine instead; it restarts
        (and reloads the model) with the next request.
        """
        self._cancel.set()
        if hard and self.running and self._active is not None:
            self._killed_for_cancel = True
            assert self._proc is not None
            self._proc.kill()

    # -------------------------------------------------------------------------- events
    def next_event(self, timeout: float | None = None) -> Event | None:
        """The next event, or None after ``timeout`` seconds or after :meth:`wake`; a dead
        engine becomes an event."""
        with self._lock:
            conn, proc = self._conn, self._proc
        if conn is None or proc is None:
            if self._active is not None:
                return self._lost(None)
            waitables: list[Connection | int] = [self._wake_reader]  # only a wake can come
        else:
            waitables = [conn, proc.sentinel, self._wake_reader]
        ready = wait(waitables, timeout)
        if conn is not None and conn in ready:
            try:
                return self._track(conn.recv())
            except (EOFError, OSError):
                return self._lost(self._reap())
        if proc is not None and proc.sentinel in ready:
            # It exited: what it sent before dying was read above, one event a call; now the death.
            return self._lost(self._reap())
        if self._wake_reader in ready:
            with self._wake_lock:
                self._wake_reader.recv_bytes()
                self._woken = False
        return None

    def wake(self) -> None:
        """Make the ``next_event`` waiting now (or the next one) return None at once, however
        often this is called before it does: a reader that also waits for other work (the
        shared engine's pump, for its callers' commands) needs no polling."""
        with self._wake_lock:
            if not self._woken:
                self._woken = True
                self._wake_writer.send_bytes(b"w")

    def _track(self, event: Event) -> Event:
        active = self._active
        if isinstance(event, ModelLoaded):
            self.loaded = event
        elif isinstance(event, EngineError) and event.request_id is None and event.kind == "cancelled":
            self._load = None  # a restarted engine must not load what the user stopped
        elif active is not None and getattr(event, "request_id", None) == active.request_id:
            if isinstance(event, Token):
                active.parts.append(event.text)
            elif isinstance(event, (Done, EngineError)):
                self._active = None
        return event

    def _lost(self, exit_code: int | None) -> Event | None:
        """The child is gone: turn that into the event the waiting side needs."""
        active, self._active = self._active, None
        if active is None:
            if self._load is not None and not self._killed_for_cancel:
                stopped = Sentence(
                    "The engine stopped while loading the model ({reason}); the file may be damaged "
                    "or too large for this computer's memory.",
                    reason=describe_exit(exit_code),
                )
                return EngineError.saying(None, stopped, "crashed")
            return None
        partial = "".join(active.parts)
        if self._killed_for_cancel:
            self._killed_for_cancel = False
            return Done(active.request_id, partial, "cancelled", Metrics())
        log.error("engine process died: %s", describe_exit(exit_code))
        stopped = Sentence(
            "The engine stopped unexpectedly ({reason}); what was written so far is kept, and the "
            "engine restarts with your next message.",
            reason=describe_exit(exit_code),
        )
        return EngineError.saying(active.request_id, stopped, "crashed")

    def close(self) -> None:
        """Ask the engine to exit, then make sure it has."""
        with self._lock:
            proc, conn = self._proc, self._conn
        if proc is None:
            return
        try:
            if conn is not None and proc.is_alive():
                conn.send(ShutdownRequest())
        except (OSError, BrokenPipeError):
            pass
        proc.join(timeout=SHUTDOWN_WRITES_S + 6)  # its snapshot writes, then freeing the model
        if proc.is_alive():
            proc.kill()
        self._active = None
        self._reap()

    def __enter__(self) -> EngineClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
