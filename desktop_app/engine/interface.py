"""The engine interface: what the window and the command line hold to get replies.

Two implementations: :class:`desktop_app.engine.client.EngineClient` runs llama.cpp in a child
process on this computer (it takes a ``LoadRequest``), and
:class:`desktop_app.engine.remote.RemoteEngine` streams from a server speaking the OpenAI chat
completions API (it takes a ``ServerLoadRequest``).  Past ``load`` the front ends never learn which
one they hold: requests and events are the frozen dataclasses of :mod:`desktop_app.engine.protocol`
whatever the engine.
"""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from collections.abc import Iterator, Sequence
from typing import Protocol

from desktop_app.engine.images import PreparedImage
from desktop_app.engine.protocol import (
    AnyLoadRequest,
    Capabilities,
    ChatMessage,
    Done,
    EngineError,
    Event,
    ModelLoaded,
    TokenCount,
)
from desktop_app.errors import Sentence
from desktop_app.settings import GenerationSettings

_POLL_S = 0.05
"""How often a blocking wait looks again whether the engine is still there."""


class Engine(Protocol):
    """Loads a model, streams replies as events, stops them, and survives its own failures.

    Threading: ``next_event`` (and ``stream``/``wait_loaded``, which read events) belong to one
    reader thread; ``cancel`` may be called from any thread.
    """

    @property
    def loaded(self) -> ModelLoaded | None:
        """The model held now, or None (not loaded yet, loading, or lost with a crash)."""
        ...

    @property
    def capabilities(self) -> Capabilities | None:
        """What the loaded model can do (None until one is loaded)."""
        ...

    def load(self, request: AnyLoadRequest) -> None:
        """Ask for a model; a ``ModelLoaded`` or ``EngineError`` event follows.  Each engine takes
        its own kind of request (local files, or a model on a server) and raises ``TypeError``
        for the other: which engine to build for which request is the front end's choice."""
        ...

    def generate(
        self,
        messages: Sequence[ChatMessage],
        system_prompt: str = "",
        settings: GenerationSettings | None = None,
        *,
        thread: str = "",
    ) -> int:
        """Start a reply and return its request id; ``Token`` events and a final ``Done`` or
        ``EngineError`` follow.  ``thread`` names the conversation (stable across restarts), so
        an engine can keep its memory while others are answered; "" is a scratch one."""
        ...

    def prefetch_image(self, image: PreparedImage, pan_scan: str) -> None:
        """Prepare an attached image for the next reply while idle (``ImageStatus`` events
        follow); an engine with nothing to prepare answers "ready" or nothing."""
        ...

    def drop_prefetch(self, sha256: str) -> None:
        """The attached image was removed: do not prepare it."""
        ...

    def read_ahead(
        self,
        messages: Sequence[ChatMessage],
        system_prompt: str = "",
        settings: GenerationSettings | None = None,
        *,
        thread: str = "",
    ) -> None:
        """The last message is being written with its pictures attached: prepare what is
        certain of it while idle (an engine that cannot does nothing)."""
        ...

    def save_snapshot(self) -> None:
        """Keep the current conversation's memory across a restart (on quit, when idle)."""
        ...

    def clear_snapshots(self) -> None:
        """Forget every kept conversation memory."""
        ...

    def count_tokens(
        self,
        messages: Sequence[ChatMessage],
        system_prompt: str = "",
        settings: GenerationSettings | None = None,
    ) -> int:
        """Ask what this conversation's prompt costs (documents, images, the whole) by the
        loaded model's tokenizer; a ``TokenCount`` or ``EngineError`` event with the returned
        request id follows."""
        ...

    def count(
        self,
        messages: Sequence[ChatMessage],
        system_prompt: str = "",
        settings: GenerationSettings | None = None,
    ) -> TokenCount | EngineError:
        """:meth:`count_tokens` and wait for the answer (for the command line and tests)."""
        ...

    def cancel(self, *, hard: bool = False) -> None:
        """Stop the reply in progress, keeping what streamed; ``hard`` when it cannot wait."""
        ...

    def next_event(self, timeout: float | None = None) -> Event | None:
        """The next event, or None after ``timeout`` seconds or after :meth:`wake`."""
        ...

    def wake(self) -> None:
        """Have the ``next_event`` waiting in another thread (or the next call) return None at
        once: a reader that waits for other work too (the shared engine's pump, for commands)
        then sleeps instead of polling.  Callable from any thread."""
        ...

    def wait_loaded(self, timeout: float | None = None) -> ModelLoaded | EngineError:
        """Block until the pending load finishes (for the command line and tests)."""
        ...

    def stream(
        self,
        messages: Sequence[ChatMessage],
        system_prompt: str = "",
        settings: GenerationSettings | None = None,
        *,
        thread: str = "",
    ) -> Iterator[Event]:
        """Generate and yield this reply's events, ending with its ``Done`` or ``EngineError``."""
        ...

    def close(self) -> None:
        """Stop the engine and free what it holds."""
        ...


class EventReader(ABC):
    """``wait_loaded``, ``stream`` and ``count``, written once in terms of ``next_event``,
    ``generate`` and ``count_tokens`` for every engine."""

    @abstractmethod
    def next_event(self, timeout: float | None = None) -> Event | None: ...

    @abstractmethod
    def count_tokens(
        self,
        messages: Sequence[ChatMessage],
        system_prompt: str = "",
        settings: GenerationSettings | None = None,
    ) -> int: ...

    @property
    def alive(self) -> bool:
        """False once nothing more can answer (the engine process is gone)."""
        return True

    def count(
        self,
        messages: Sequence[ChatMessage],
        system_prompt: str = "",
        settings: GenerationSettings | None = None,
    ) -> TokenCount | EngineError:
        """:meth:`count_tokens` and wait for its answer (for the command line and tests)."""
        request_id = self.count_tokens(messages, system_prompt, settings)
        while True:
            event = self.next_event(_POLL_S)
            if isinstance(event, (TokenCount, EngineError)) and event.request_id in (request_id, None):
                return event
            if event is None and not self.alive:
                return EngineError.saying(request_id, Sentence("The engine stopped while counting tokens."), "crashed")

    @abstractmethod
    def generate(
        self,
        messages: Sequence[ChatMessage],
        system_prompt: str = "",
        settings: GenerationSettings | None = None,
        *,
        thread: str = "",
    ) -> int: ...

    def wait_loaded(self, timeout: float | None = None) -> ModelLoaded | EngineError:
        """Block until the pending load finishes (for the CLI and tests)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            remaining = None if deadline is None else deadline - time.monotonic()
            if remaining is not None and remaining <= 0:
                return EngineError.saying(None, Sentence("The model took too long to load."), "internal")
            event = self.next_event(remaining)
            if isinstance(event, (ModelLoaded, EngineError)):
                return event

    def stream(
        self,
        messages: Sequence[ChatMessage],
        system_prompt: str = "",
        settings: GenerationSettings | None = None,
        *,
        thread: str = "",
    ) -> Iterator[Event]:
        """Generate and yield this reply's events, ending with its ``Done`` or ``EngineError``."""
        request_id = self.generate(messages, system_prompt, settings, thread=thread)
        while True:
            event = self.next_event()
            if event is None:
                continue
            stale = getattr(event, "request_id", request_id) not in (request_id, None)
            if stale:  # the tail of an earlier request that was abandoned
                continue
            yield event
            if isinstance(event, (Done, EngineError)) and event.request_id in (request_id, None):
                return
