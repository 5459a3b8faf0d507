"""A reply as the server's event loop sees it: text pieces, then how it ended, from the shared engine.

The engine's events arrive on the shared engine's pump thread and are handed to the event loop;
the reply is an async generator of text pieces ending with a :class:`ReplyEnd`.  Leaving it early
(the client went away) stops the reply in the engine, queued or running.  OpenAI's ``stop``
strings are applied here, holding back text that could be the start of one, because the engine
knows only the end of a turn.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, Sequence
from contextlib import suppress
from dataclasses import dataclass
from typing import Literal

from desktop_app.engine.protocol import Done, EngineError, Event, Metrics, Token
from desktop_app.engine.shared import SharedEngine
from desktop_app.server.messages import EngineConversation
from desktop_app.server.refusal import Refused
from desktop_app.settings import GenerationSettings

OpenAIFinish = Literal["stop", "length"]


@dataclass(frozen=True)
class ReplyEnd:
    """How the reply ended: all its text (cut at a stop string), OpenAI's finish reason, metrics."""

    text: str
    finish_reason: OpenAIFinish
    metrics: Metrics


class StopScanner:
    """Cuts streamed text at the first of the ``stop`` strings, holding back a possible start."""

    def __init__(self, stops: Sequence[str]) -> None:
        self._stops = [stop for stop in stops if stop]
        self._held = ""
        self._emitted: list[str] = []
        self.stopped = False

    @property
    def text(self) -> str:
        """Everything let through so far."""
        return "".join(self._emitted)

    def feed(self, piece: str) -> str:
        """The part of ``piece`` (with what was held back) that can be shown now."""
        if self.stopped:
            return ""
        buffer = self._held + piece
        found = [i for i in (buffer.find(stop) for stop in self._stops) if i >= 0]
        if found:
            self.stopped = True
            self._held = ""
            return self._let_through(buffer[: min(found)])
        hold = max(
            (k for stop in self._stops for k in range(min(len(stop) - 1, len(buffer)), 0, -1)
             if buffer.endswith(stop[:k])),
            default=0,
        )
        self._held = buffer[len(buffer) - hold :] if hold else ""
        return self._let_through(buffer[: len(buffer) - hold])

    def finish(self) -> str:
        """What was held back, once the reply has ended without a stop string."""
        held, self._held = self._held, ""
        return self._let_through(held)

    def _let_through(self, text: str) -> str:
        if text:
            self._emitted.append(text)
        return text


def openai_finish(reason: str) -> OpenAIFinish:
    """The engine's finish reason in OpenAI's words (out of context is out of length)."""
    return "length" if reason in ("length", "context") else "stop"


def engine_refusal(error: EngineError) -> Refused:
    """An engine error as the client hears it."""
    if error.kind == "user":
        return Refused(error.message, status=400)
    return Refused(error.message, status=500 if error.kind == "internal" else 503, kind="server_error")


async def reply_pieces(
    engine: SharedEngine,
    conversation: EngineConversation,
    settings: GenerationSettings,
    stops: Sequence[str] = (),
    thread: str = "",
) -> AsyncGenerator[str | ReplyEnd, None]:
    """Queue the reply and yield its text pieces, then its :class:`ReplyEnd`.

    ``thread`` is the API conversation it belongs to (from :mod:`desktop_app.server.conversations`),
    the name the engine keeps that conversation's memory under.

    Raises :class:`Refused` for an engine error.  Closing the generator before the end (or
    cancelling the task reading it) stops the reply in the engine.
    """
    loop = asyncio.get_running_loop()
    events: asyncio.Queue[Event] = asyncio.Queue()

    def sink(event: Event) -> None:
        # RuntimeError: the event loop closed (the server stopped), so nobody is listening.
        with suppress(RuntimeError):
            loop.call_soon_threadsafe(events.put_nowait, event)

    ticket = engine.submit(conversation.messages, conversation.system_prompt, settings, sink, thread=thread)
    scanner = StopScanner(stops)
    ended = False
    try:
        while True:
            event = await events.get()
            if isinstance(event, Token):
                piece = scanner.feed(event.text)
                if scanner.stopped:
                    ticket.cancel()  # the rest is not wanted; its Done follows
                if piece:
                    yield piece
            elif isinstance(event, Done):
                ended = True
                tail = scanner.finish()
                if tail:
                    yield tail
                reason: OpenAIFinish = "stop" if scanner.stopped else openai_finish(event.finish_reason)
                yield ReplyEnd(scanner.text, reason, event.metrics)
                return
            elif isinstance(event, EngineError):
                ended = True
                raise engine_refusal(event)
    finally:
        if not ended:
            ticket.cancel()
