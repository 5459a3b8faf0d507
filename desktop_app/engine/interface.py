"""The engine interface: what the window and the command line hold to get replies.

Today's implementation is :class:`desktop_app.engine.client.EngineClient`, which runs llama.cpp in
a child process on this computer.  Another engine (a server speaking the OpenAI API, say) is a
second implementation of this protocol; the front ends never learn which one they hold.  Requests
and events are the frozen dataclasses of :mod:`desktop_app.engine.protocol` whatever the engine.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Protocol

from desktop_app.engine.images import PreparedImage
from desktop_app.engine.protocol import (
    Capabilities,
    ChatMessage,
    EngineError,
    Event,
    LoadRequest,
    ModelLoaded,
    TokenCount,
)
from desktop_app.settings import GenerationSettings


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

    def load(self, request: LoadRequest) -> None:
        """Ask for a model; a ``ModelLoaded`` or ``EngineError`` event follows."""
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
        """The next event, or None after ``timeout`` seconds."""
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
