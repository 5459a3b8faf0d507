"""One engine, several front ends at once: the window and the API server share the loaded model.

An engine answers one reply at a time (one process, one KV cache).  :class:`SharedEngine` queues
replies first come, first served, starts each as the one before it ends, and hands every event to
the reply it belongs to, so two callers never see each other's text.  A caller can stop its reply
whether it is still queued (it never reaches the engine) or running.

Each reply names its conversation (``thread``: the window's stored conversation, an API
conversation the server recognised), so the engine keeps every conversation's memory while it
answers another's and restores it when it comes back (issue 15).  A lane's work ahead of a reply
(an attached image read, the message being written read ahead) and its snapshot requests go to
the engine as they come: the engine does that work only while no reply runs and yields to one.

All calls into the wrapped engine happen on one pump thread: :class:`EngineClient` must not be
read while another thread (re)starts its process for a request (see ``EngineBridge``), and one
thread owning it makes that true by construction.  Callers only post commands, which never block.

Events reach each caller's sink on the pump thread; a sink must hand them on (to a queue, an
event loop) and return at once, or every other caller waits.
"""

from __future__ import annotations

import itertools
import logging
import queue
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

from desktop_app.engine.images import PreparedImage
from desktop_app.engine.interface import Engine, EventReader
from desktop_app.engine.protocol import (
    AnyLoadRequest,
    Capabilities,
    ChatMessage,
    Done,
    EngineError,
    Event,
    ImageStatus,
    LoadRequest,
    Metrics,
    ModelLoaded,
    Progress,
    ReadAheadDone,
    TokenCount,
)
from desktop_app.errors import Sentence
from desktop_app.settings import GenerationSettings

log = logging.getLogger(__name__)

EventSink = Callable[[Event], None]


WAITING = Sentence("waiting for another reply to finish")
"""The ``Progress`` phase a reply hears when it has to queue behind another (the window shows
it, so a reply the user asked for while a program's is running does not look stuck)."""


class ReplyTicket:
    """A reply asked of a :class:`SharedEngine`: its request id, and the way to stop it."""

    def __init__(
        self,
        owner: SharedEngine,
        request_id: int,
        messages: tuple[ChatMessage, ...],
        system_prompt: str,
        settings: GenerationSettings,
        sink: EventSink,
        thread: str = "",
    ) -> None:
        self._owner = owner
        self.request_id = request_id
        self.messages = messages
        self.system_prompt = system_prompt
        self.settings = settings
        self.sink = sink
        self.thread = thread
        """The conversation the reply belongs to, in a name its caller keeps stable ("" for
        none): the key an engine that keeps each conversation's memory restores it by."""

    def cancel(self, *, hard: bool = False) -> None:
        """Stop this reply: a queued one ends as cancelled without reaching the engine, a running
        one stops keeping what streamed (``hard``: kill an engine stuck in an image encode).  A
        reply that already ended is left alone; its ``Done`` (``cancelled``) follows otherwise."""
        self._owner._post(_Cancel(self, hard))


@dataclass(frozen=True)
class _Submit:
    ticket: ReplyTicket


@dataclass(frozen=True)
class _Cancel:
    ticket: ReplyTicket
    hard: bool


@dataclass(frozen=True)
class _Count:
    ticket: ReplyTicket


@dataclass(frozen=True)
class _Load:
    request: LoadRequest


class _CancelLoad:
    """Stops the load in progress, if one is."""


@dataclass(frozen=True)
class _Forward:
    """A request that is no reply (prepare an image, read ahead, keep or forget memory), made of
    the engine on the pump thread; it answers, if at all, with events that belong to no reply."""

    call: Callable[[Engine], None]


class _Stop:
    """Ends the pump."""


_Command = _Submit | _Count | _Cancel | _Load | _CancelLoad | _Forward | _Stop


@dataclass
class _Running:
    ticket: ReplyTicket
    engine_id: int


class SharedEngine:
    """Owns an :class:`~desktop_app.engine.interface.Engine` and lets several callers use it.

    ``submit`` queues a reply whose events go to the caller's sink; ``lane`` gives a front end
    written for a whole engine of its own (the window's bridge) an ``Engine`` that sees only its
    replies.  Events that belong to no reply (a model loaded, a load failed) go to every
    subscriber and every lane.
    """

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._ids = itertools.count(1)
        self._commands: queue.Queue[_Command] = queue.Queue()
        self._pending: deque[ReplyTicket] = deque()
        self._running: _Running | None = None
        self._counting: dict[int, ReplyTicket] = {}
        """Token counts asked of the engine, by its request id: they do not wait for a turn (the
        engine answers each after the reply in progress)."""
        self._loading = False
        self._model: ModelLoaded | None = engine.loaded  # an engine may come loaded already
        self._subscribers: list[EventSink] = []
        self._subscribers_lock = threading.Lock()
        self._closed = False
        self._pump = threading.Thread(target=self._pump_loop, name="shared-engine", daemon=True)
        self._pump.start()

    # ------------------------------------------------------------------------ callers
    @property
    def loaded(self) -> ModelLoaded | None:
        """The model replies are computed with: the last one loaded, kept across an engine crash
        (the engine reloads it with the next reply); None before a load and after a failed one."""
        return self._model

    @property
    def capabilities(self) -> Capabilities | None:
        return self._model.capabilities if self._model is not None else None

    def subscribe(self, sink: EventSink) -> Callable[[], None]:
        """Hear the events that belong to no reply; returns the call that stops it."""
        with self._subscribers_lock:
            self._subscribers.append(sink)

        def unsubscribe() -> None:
            with self._subscribers_lock:
                if sink in self._subscribers:
                    self._subscribers.remove(sink)

        return unsubscribe

    def load(self, request: LoadRequest) -> None:
        """Load a model once the reply running now (if any) has ended; subscribers hear the
        ``ModelLoaded`` or ``EngineError`` that follows."""
        self._post(_Load(request))

    def cancel_load(self) -> None:
        """Stop the load in progress (subscribers hear an ``EngineError`` of kind "cancelled"),
        or nothing when none is."""
        self._post(_CancelLoad())

    def submit(
        self,
        messages: Sequence[ChatMessage],
        system_prompt: str,
        settings: GenerationSettings,
        sink: EventSink,
        *,
        thread: str = "",
    ) -> ReplyTicket:
        """Queue a reply; ``sink`` gets its events, ending with its ``Done`` or ``EngineError``.
        ``thread`` names the conversation (see :attr:`ReplyTicket.thread`)."""
        ticket = ReplyTicket(self, next(self._ids), tuple(messages), system_prompt, settings, sink, thread)
        self._post(_Submit(ticket))
        return ticket

    def count(
        self,
        messages: Sequence[ChatMessage],
        system_prompt: str,
        settings: GenerationSettings,
        sink: EventSink,
    ) -> ReplyTicket:
        """Ask what this conversation's prompt costs; ``sink`` gets its ``TokenCount`` or
        ``EngineError``."""
        ticket = ReplyTicket(self, next(self._ids), tuple(messages), system_prompt, settings, sink)
        self._post(_Count(ticket))
        return ticket

    def forward(self, call: Callable[[Engine], None]) -> None:
        """Make a request that is no reply of the engine (on the pump thread, in order)."""
        self._post(_Forward(call))

    def lane(self) -> EngineLane:
        """An :class:`Engine` for one front end that reads its own events (one reply at a time)."""
        return EngineLane(self)

    def close(self) -> None:
        """End every reply (queued ones as cancelled), stop the pump and close the engine."""
        if self._closed:
            return
        self._closed = True
        self._post(_Stop())
        self._pump.join(timeout=10)
        self._engine.close()

    def __enter__(self) -> SharedEngine:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _post(self, command: _Command) -> None:
        self._commands.put(command)
        self._engine.wake()  # the pump may be waiting for the engine: have it look at commands

    # --------------------------------------------------------------------------- pump
    def _pump_loop(self) -> None:
        """Handle the callers' commands, start the next reply, then sleep until the engine says
        something or a command comes (``wake``).  Nothing here polls: while a reply runs, the
        engine's threads have the cores to themselves (a 20 ms poll here cost ~0.7% of a 45 s
        image encode on 2 cores, measured)."""
        while True:
            while True:
                try:
                    command = self._commands.get_nowait()
                except queue.Empty:
                    break
                if isinstance(command, _Stop):
                    self._shut_down()
                    return
                self._handle(command)
            self._start_next()
            try:
                event = self._engine.next_event(timeout=None)
            except Exception:
                log.exception("reading from the engine failed")
                time.sleep(0.05)  # never a hot loop on a broken engine
                event = None
            if event is not None:
                self._route(event)

    def _handle(self, command: _Command) -> None:
        if isinstance(command, _Submit):
            ticket = command.ticket
            if self._running is not None or self._pending:
                ticket.sink(Progress(ticket.request_id, str(WAITING), sentence=WAITING))
            self._pending.append(ticket)
        elif isinstance(command, _Count):
            ticket = command.ticket
            try:
                engine_id = self._engine.count_tokens(ticket.messages, ticket.system_prompt, ticket.settings)
            except Exception:
                log.exception("sending the count request failed")
                unasked = Sentence("The engine could not be asked to count tokens.")
                ticket.sink(EngineError.saying(ticket.request_id, unasked, "internal"))
                return
            self._counting[engine_id] = ticket
        elif isinstance(command, _Cancel):
            ticket = command.ticket
            if ticket in self._pending:
                self._pending.remove(ticket)
                ticket.sink(Done(ticket.request_id, "", "cancelled", Metrics()))
            elif self._running is not None and self._running.ticket is ticket:
                self._engine.cancel(hard=command.hard)
        elif isinstance(command, _CancelLoad):
            if self._loading:
                self._engine.cancel()
        elif isinstance(command, _Forward):
            try:
                command.call(self._engine)
            except Exception:
                log.exception("a request to the engine failed")
        elif isinstance(command, _Load):
            self._loading = True
            try:
                self._engine.load(command.request)
            except Exception:
                log.exception("sending the load request failed")
                self._loading = False
                unstarted = Sentence("The engine could not be started to load the model (see the log).")
                self._broadcast(EngineError.saying(None, unstarted, "internal"))

    def _start_next(self) -> None:
        if self._running is not None or self._loading or not self._pending:
            return
        ticket = self._pending.popleft()
        try:
            engine_id = self._engine.generate(
                ticket.messages, ticket.system_prompt, ticket.settings, thread=ticket.thread
            )
        except Exception:
            log.exception("sending the generate request failed")
            unsent = Sentence("The message could not be sent to the engine (see the log).")
            ticket.sink(EngineError.saying(ticket.request_id, unsent, "internal"))
            return
        self._running = _Running(ticket, engine_id)

    def _route(self, event: Event) -> None:
        request_id = getattr(event, "request_id", None)
        # An image or a message read ahead belongs to no reply: every lane hears of it (the
        # window knows its own images by their hashes).
        if isinstance(event, (ModelLoaded, ImageStatus, ReadAheadDone)) or request_id is None:
            if isinstance(event, EngineError) and event.kind == "crashed":
                self._fail_counts()
            if isinstance(event, (ModelLoaded, EngineError)):
                self._loading = False
                self._model = event if isinstance(event, ModelLoaded) else None
            self._broadcast(event)
            return
        if isinstance(event, EngineError) and event.kind == "crashed":
            self._fail_counts()  # the engine that was to answer them is gone
        counted = self._counting.pop(request_id, None)
        if counted is not None:
            counted.sink(replace(event, request_id=counted.request_id))
            return
        running = self._running
        if running is None or request_id != running.engine_id:
            return  # the tail of a reply that was abandoned
        if isinstance(event, (Done, EngineError)):
            self._running = None
        running.ticket.sink(replace(event, request_id=running.ticket.request_id))

    def _fail_counts(self) -> None:
        counting, self._counting = self._counting, {}
        for ticket in counting.values():
            stopped = Sentence("The engine stopped while counting tokens.")
            ticket.sink(EngineError.saying(ticket.request_id, stopped, "crashed"))

    def _broadcast(self, event: Event) -> None:
        with self._subscribers_lock:
            sinks = list(self._subscribers)
        for sink in sinks:
            sink(event)

    def _shut_down(self) -> None:
        closing = [*self._pending, *([self._running.ticket] if self._running else [])]
        self._pending.clear()
        if self._running is not None:
            self._engine.cancel()
            self._running = None
        for ticket in closing:
            ticket.sink(Done(ticket.request_id, "", "cancelled", Metrics()))
        self._fail_counts()


class EngineLane(EventReader):
    """An :class:`~desktop_app.engine.interface.Engine` over a :class:`SharedEngine` for a
    front end that holds a whole engine (the window): it sees its own replies' events and those
    that belong to no reply, queued for its one reader thread.  ``close`` only detaches the lane;
    whoever made the shared engine closes it.  Like the engine it shares, it runs model files on
    this computer: a conversation on a server has a ``RemoteEngine`` of its own and never queues
    behind (or holds up) the shared engine's replies."""

    def __init__(self, shared: SharedEngine) -> None:
        self._shared = shared
        self._events: queue.Queue[Event | None] = queue.Queue()
        self._tickets: dict[int, ReplyTicket] = {}
        self._tickets_lock = threading.Lock()
        self._unsubscribe = shared.subscribe(self._events.put)

    @property
    def loaded(self) -> ModelLoaded | None:
        return self._shared.loaded

    @property
    def capabilities(self) -> Capabilities | None:
        return self._shared.capabilities

    def load(self, request: AnyLoadRequest) -> None:
        if not isinstance(request, LoadRequest):
            raise TypeError("A shared engine runs model files on this computer; use RemoteEngine for a server")
        self._shared.load(request)

    def generate(
        self,
        messages: Sequence[ChatMessage],
        system_prompt: str = "",
        settings: GenerationSettings | None = None,
        *,
        thread: str = "",
    ) -> int:
        ticket = self._shared.submit(
            messages, system_prompt, settings or GenerationSettings(), self._deliver, thread=thread
        )
        with self._tickets_lock:
            self._tickets[ticket.request_id] = ticket
        return ticket.request_id

    def count_tokens(
        self,
        messages: Sequence[ChatMessage],
        system_prompt: str = "",
        settings: GenerationSettings | None = None,
    ) -> int:
        settings = settings or GenerationSettings()
        return self._shared.count(messages, system_prompt, settings, self._events.put).request_id

    def count(
        self,
        messages: Sequence[ChatMessage],
        system_prompt: str = "",
        settings: GenerationSettings | None = None,
    ) -> TokenCount | EngineError:
        # Its own queue: waiting for the count must not swallow the lane's other events.
        answer: queue.Queue[Event] = queue.Queue()
        self._shared.count(messages, system_prompt, settings or GenerationSettings(), answer.put)
        event = answer.get()
        assert isinstance(event, (TokenCount, EngineError))
        return event

    def prefetch_image(self, image: PreparedImage, pan_scan: str) -> None:
        self._shared.forward(lambda engine: engine.prefetch_image(image, pan_scan))

    def drop_prefetch(self, sha256: str) -> None:
        self._shared.forward(lambda engine: engine.drop_prefetch(sha256))

    def read_ahead(
        self,
        messages: Sequence[ChatMessage],
        system_prompt: str = "",
        settings: GenerationSettings | None = None,
        *,
        thread: str = "",
    ) -> None:
        messages = tuple(messages)
        self._shared.forward(lambda engine: engine.read_ahead(messages, system_prompt, settings, thread=thread))

    def save_snapshot(self) -> None:
        self._shared.forward(lambda engine: engine.save_snapshot())

    def clear_snapshots(self) -> None:
        self._shared.forward(lambda engine: engine.clear_snapshots())

    def _deliver(self, event: Event) -> None:
        if isinstance(event, (Done, EngineError)):
            with self._tickets_lock:
                self._tickets.pop(getattr(event, "request_id", None) or 0, None)
        self._events.put(event)

    def cancel(self, *, hard: bool = False) -> None:
        """Stop this lane's replies, and the load in progress (the window's Stop while a model
        loads); other users' replies go on."""
        with self._tickets_lock:
            tickets = list(self._tickets.values())
        for ticket in tickets:
            ticket.cancel(hard=hard)
        self._shared.cancel_load()

    def next_event(self, timeout: float | None = None) -> Event | None:
        try:
            return self._events.get(timeout=timeout)  # None when woken
        except queue.Empty:
            return None

    def wake(self) -> None:
        self._events.put(None)

    def close(self) -> None:
        self.cancel()
        self._unsubscribe()
