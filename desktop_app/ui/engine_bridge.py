"""The window's side of the engine: requests go out on one thread, events come back on another.

:class:`EngineClient` blocks (a pipe send of megabytes of image pixels to an engine that is still
starting, a poll for the next event), so neither may happen on the UI thread.  The bridge owns
the client, a sender thread and a reader thread, and turns events into Qt signals, which reach
the UI thread queued.  Streamed text is buffered here and announced once per batch, so a fast
model cannot flood the UI thread's event queue with one event per token.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable, Sequence

from PySide6.QtCore import QObject, Signal

from desktop_app.engine.client import EngineClient
from desktop_app.engine.images import PreparedImage
from desktop_app.engine.interface import Engine
from desktop_app.engine.protocol import (
    AnyLoadRequest,
    ChatMessage,
    Done,
    EngineError,
    ImageStatus,
    ModelLoaded,
    Progress,
    Token,
    TokenCount,
)
from desktop_app.engine.shared import SharedEngine
from desktop_app.errors import Sentence
from desktop_app.settings import GenerationSettings
from desktop_app.ui import localized

log = logging.getLogger(__name__)

class EngineBridge(QObject):
    """Owns an :class:`~desktop_app.engine.interface.Engine` (by default the local
    :class:`EngineClient`, or a lane of a :class:`SharedEngine` the API server also uses) and
    makes it usable from the UI thread without blocking.

    One reply at a time: :meth:`generate` is only called when the previous reply has ended
    (its ``replyFinished`` or ``replyFailed`` arrived); events of an abandoned reply are dropped.

    Signals (all delivered queued on the thread that owns the bridge):
        modelLoaded(ModelLoaded): the engine holds a model now (also after a restart reload).
        loadFailed(str): loading failed or the engine died while loading; one sentence, in the
            window's language (as are the other sentences here).
        loadProgress(float): how far loading the model has got (0..1).
        loadCancelled(str): a load stopped by :meth:`cancel_load`; no model is loaded.
        progress(Progress): a long step of the current request is under way.
        textArrived(): new reply text waits in :meth:`take_text`; sent once per batch, not
            again until the text has been taken.
        replyFinished(Done): the current reply ended (stop, length, context or cancelled).
        replyFailed(EngineError): the current reply failed; ``kind == "crashed"`` when the
            engine died (it restarts, reloading the model, with the next request).
        tokensCounted(object, TokenCount): the count asked with :meth:`count` under this key.
        countFailed(object, str): that count failed; one sentence.
        imageStatus(str, str): an image given to :meth:`prefetch_image` (by sha256) is
            "reading", "ready" or "failed".
    """

    modelLoaded = Signal(object)
    loadFailed = Signal(str)
    loadProgress = Signal(float)
    loadCancelled = Signal(str)
    progress = Signal(object)
    textArrived = Signal()
    replyFinished = Signal(object)
    replyFailed = Signal(object)
    tokensCounted = Signal(object, object)
    countFailed = Signal(object, str)
    imageStatus = Signal(str, str)

    def __init__(
        self, client: Engine | None = None, parent: QObject | None = None, *, shared: SharedEngine | None = None
    ) -> None:
        super().__init__(parent)
        self.shared = shared
        """Set when the engine is shared with other users (the API server): the bridge then
        talks to its own lane of it, and closes it with the bridge."""
        self.client: Engine = shared.lane() if shared is not None else client or EngineClient()
        # Held by whichever thread is using the client: the sender while it sends, the reader
        # while it polls.  EngineClient treats "no process and a reply active" as a death, so
        # the reader must not look while the sender is (re)starting the process for a reply.
        self._io = threading.Lock()
        # A plain Lock is not fair: the reader, re-taking it straight after each poll, could keep
        # the sender out forever (seen as a reply that never started on a busy machine).  The
        # sender raises this flag while it waits, and the reader steps aside until it is done.
        self._sending = threading.Event()
        self._requests: queue.Queue[Callable[[], None] | None] = queue.Queue()
        self._current: int | None = None
        self._counts: dict[int, object] = {}
        """Keys of the counts asked, by request id (written by the sender, read by the reader,
        which cannot see the answer before the sender has let go of the client)."""
        self._stop_wanted = threading.Event()
        self._text_lock = threading.Lock()
        self._text: list[str] = []
        self._closing = threading.Event()
        self._sender = threading.Thread(target=self._send_loop, name="engine-sender", daemon=True)
        self._reader = threading.Thread(target=self._read_loop, name="engine-reader", daemon=True)
        self._sender.start()
        self._reader.start()

    # ------------------------------------------------------------------ UI-thread API
    def load(self, request: AnyLoadRequest | Callable[[], AnyLoadRequest]) -> None:
        """Load a model; ``modelLoaded`` or ``loadFailed`` follows.  A function that makes the
        request runs on the sender thread, before any reply asked for after this call: reading a
        server's key from the keyring (which may wait for the user to unlock it) happens there."""

        def job() -> None:
            try:
                self.client.load(request() if callable(request) else request)
            except Exception:
                log.exception("sending the load request failed")
                failed = Sentence("The engine could not be started to load the model (see the log).")
                self.loadFailed.emit(localized.sentence(failed))

        self._requests.put(job)

    def cancel_load(self) -> None:
        """Stop the load in progress: ``loadCancelled`` follows, or ``modelLoaded`` when it had
        finished already.  Queued behind the load, so it cannot overtake it."""
        self._requests.put(self.client.cancel)

    def generate(
        self,
        messages: Sequence[ChatMessage],
        system_prompt: str,
        settings: GenerationSettings,
        thread: str = "",
    ) -> None:
        """Start a reply; text (``textArrived``) and ``replyFinished`` or ``replyFailed`` follow."""
        self._stop_wanted.clear()
        with self._text_lock:
            self._text.clear()
        messages = tuple(messages)

        def job() -> None:
            try:
                self._current = self.client.generate(messages, system_prompt, settings, thread=thread)
            except Exception:
                log.exception("sending the generate request failed")
                self._current = None
                failed = Sentence("The message could not be sent to the engine (see the log).")
                self.replyFailed.emit(EngineError.saying(None, failed, "internal"))
                return
            if self._stop_wanted.is_set():  # Stop pressed before the request went out
                self.client.cancel()

        self._requests.put(job)

    def count(
        self, messages: Sequence[ChatMessage], system_prompt: str, settings: GenerationSettings, key: object
    ) -> None:
        """Count a conversation's prompt tokens; ``tokensCounted`` or ``countFailed`` follows
        with ``key`` (after the reply in progress, if one is: the engine does one thing at a time)."""
        messages = tuple(messages)

        def job() -> None:
            try:
                self._counts[self.client.count_tokens(messages, system_prompt, settings)] = key
            except Exception:
                log.exception("sending the count request failed")
                failed = Sentence("The engine could not be asked to count tokens (see the log).")
                self.countFailed.emit(key, localized.sentence(failed))

        self._requests.put(job)

    def prefetch_image(self, image: PreparedImage, pan_scan: str) -> None:
        """Have the engine encode an attached image while idle; ``imageStatus`` follows."""
        self._requests.put(lambda: self.client.prefetch_image(image, pan_scan))

    def drop_prefetch(self, sha256: str) -> None:
        """An attached image was removed: the engine drops it from its queue."""
        self._requests.put(lambda: self.client.drop_prefetch(sha256))

    def read_ahead(
        self, messages: Sequence[ChatMessage], system_prompt: str, settings: GenerationSettings, thread: str
    ) -> None:
        """The last message is being written: the engine reads what is certain of it while idle
        (the thread's conversation, then the message's pictures)."""
        messages = tuple(messages)
        self._requests.put(lambda: self.client.read_ahead(messages, system_prompt, settings, thread=thread))

    def save_snapshot(self) -> None:
        """Have the engine keep the current conversation's memory on disk (warm after a restart)."""
        self._requests.put(self.client.save_snapshot)

    def clear_snapshots(self) -> None:
        """Forget every kept conversation memory, in the engine and on disk."""
        self._requests.put(self.client.clear_snapshots)

    def cancel(self, *, hard: bool = False) -> None:
        """Stop the current reply, keeping what streamed; ``hard`` kills an engine stuck in
        work llama.cpp cannot interrupt (an image encode).  ``replyFinished`` still follows."""
        self._stop_wanted.set()
        self.client.cancel(hard=hard)

    def take_text(self) -> str:
        """The reply text that arrived since the last call (re-arms ``textArrived``)."""
        with self._text_lock:
            text = "".join(self._text)
            self._text.clear()
        return text

    def shutdown(self) -> None:
        """Stop both threads and the engine process; the bridge is unusable afterwards."""
        if self._closing.is_set():
            return
        self._closing.set()
        self._stop_wanted.set()
        self.client.cancel()
        self.client.wake()  # the reader may be waiting for an event that will not come
        self._requests.put(None)
        self._sender.join(timeout=10)
        self._reader.join(timeout=10)
        # The local engine keeps the conversation in its memory (and every one in its RAM pool)
        # on disk as it shuts down, so reopening one after a restart continues at once.
        self.client.close()
        if self.shared is not None:
            self.shared.close()

    # ------------------------------------------------------------------------ threads
    def _send_loop(self) -> None:
        while True:
            job = self._requests.get()
            if job is None or self._closing.is_set():
                return
            self._sending.set()
            self.client.wake()  # the reader waits in next_event holding the client: let go now
            try:
                with self._io:
                    job()
            finally:
                self._sending.clear()

    def _read_loop(self) -> None:
        while not self._closing.is_set():
            while self._sending.is_set() and not self._closing.is_set():
                time.sleep(0.002)
            with self._io:
                try:
                    # Until an event, or a wake from the sender (a request to send) or shutdown.
                    event = self.client.next_event()
                except Exception:
                    log.exception("reading from the engine failed")
                    self._closing.wait(0.05)  # never a hot loop on a broken client
                    event = None
            if event is not None:
                self._dispatch(event)

    def _dispatch(self, event: object) -> None:
        key = self._counts.pop(getattr(event, "request_id", None) or 0, None)
        if key is not None and isinstance(event, (TokenCount, EngineError)):
            if isinstance(event, TokenCount):
                self.tokensCounted.emit(key, event)
            else:
                self.countFailed.emit(key, localized.engine_error(event))
            return
        if isinstance(event, Token):
            if event.request_id != self._current:
                return
            with self._text_lock:
                first = not self._text
                self._text.append(event.text)
            if first:
                self.textArrived.emit()
        elif isinstance(event, (Done, EngineError)):
            if isinstance(event, EngineError) and event.request_id is None and event.kind == "cancelled":
                self.loadCancelled.emit(localized.engine_error(event))
            elif event.request_id is None:
                self.loadFailed.emit(localized.engine_error(event))
            elif event.request_id == self._current:
                self._current = None
                (self.replyFinished if isinstance(event, Done) else self.replyFailed).emit(event)
        elif isinstance(event, ModelLoaded):
            self.modelLoaded.emit(event)
        elif isinstance(event, ImageStatus):
            self.imageStatus.emit(event.sha256, event.state)
        elif isinstance(event, Progress):
            if event.request_id is None:
                self.loadProgress.emit(event.fraction if event.fraction is not None else 0.0)
            else:
                self.progress.emit(event)
