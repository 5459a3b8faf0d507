"""The remote engine: a model on a server that speaks the OpenAI chat completions API (llama-server,
vLLM, Ollama, LM Studio), behind the same :class:`~desktop_app.engine.interface.Engine` interface
as the local engine process.

Built on the official ``openai`` client.  ``load`` checks the server and its model on a worker
thread (:mod:`desktop_app.engine.remote_probe`); ``generate`` streams on another worker thread.
Every call returns at once, so the window's bridge threads and the command line read events
exactly as from the local engine.  Network behaviour, on purpose:

* A chat request is never sent twice (only connection attempts are retried, see
  :func:`~desktop_app.engine.remote_probe.client_for`): a second copy of a long prompt with
  images would queue behind the first.
* Stop shuts the connection down at once (the server sees it and stops generating); the reply
  ends ``cancelled`` with what streamed, even when the server has sent nothing for minutes.
* Every failure is one sentence (:mod:`desktop_app.engine.remote_errors`); the reply keeps what
  streamed before it.
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import queue
import socket
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, cast

import httpx2
import openai
from openai.types.chat import ChatCompletionChunk, ChatCompletionMessageParam

from desktop_app.engine.images import PreparedImage
from desktop_app.engine.interface import EventReader
from desktop_app.engine.protocol import (
    AnyLoadRequest,
    Capabilities,
    ChatMessage,
    Done,
    EngineError,
    Event,
    FinishReason,
    Metrics,
    ModelLoaded,
    Progress,
    ServerLoadRequest,
    Token,
    TokenCount,
)
from desktop_app.engine.remote_errors import MalformedReply, sentence
from desktop_app.engine.remote_messages import (
    GEMMA3_IMAGE_SIDE,
    chat_messages,
    has_images,
    sampling_fields,
)
from desktop_app.engine.remote_probe import (
    CONNECT_TIMEOUT_S,
    ServerModel,
    client_for,
    count_prompt,
    positive_int,
    probe,
)
from desktop_app.errors import Sentence, UserError
from desktop_app.settings import GenerationSettings

log = logging.getLogger(__name__)


@dataclass
class _Connection:
    """One ``load``: the server and model asked for, and, once ``checked`` is set, what the probe
    found (``model`` and ``client``) or why it failed (``error``)."""

    request: ServerLoadRequest
    checked: threading.Event = field(default_factory=threading.Event)
    model: ServerModel | None = None
    client: openai.OpenAI | None = None
    error: Sentence | None = None
    abandoned: bool = False
    """Replaced by a newer load or the engine closed: its result is not announced."""


@dataclass
class _Reply:
    """One reply in flight: what was asked, where, and how it goes.  ``finished`` once its last
    event is queued (by the worker or by ``cancel``), after which nothing more of it is queued."""

    request_id: int
    started: float
    connection: _Connection
    messages: tuple[ChatMessage, ...]
    system_prompt: str
    settings: GenerationSettings
    parts: list[str] = field(default_factory=list)
    finished: bool = False
    stream: openai.Stream[ChatCompletionChunk] | None = None
    first_token_at: float | None = None
    ended_at: float | None = None
    finish: FinishReason | None = None
    usage: dict[str, int] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)


class RemoteEngine(EventReader):
    """The :class:`~desktop_app.engine.interface.Engine` for a model on a server.

    Threading: ``load`` and ``generate`` start worker threads and return at once (a reply asked
    for while the server is being checked waits for the check, as the local engine's requests
    queue behind its load); events are read with ``next_event`` by one reader thread; ``cancel``
    may be called from any thread.
    """

    def __init__(self) -> None:
        self._events: queue.Queue[Event | None] = queue.Queue()
        self._ids = itertools.count(1)
        self._lock = threading.Lock()
        self._connection: _Connection | None = None
        self._reply: _Reply | None = None
        self.loaded: ModelLoaded | None = None
        self.last_server_timings: Mapping[str, float] = {}
        """llama-server's own ``timings`` for the last reply (``predicted_per_second``,
        ``prompt_ms``, ...), empty from servers that send none: the benchmark compares the
        speed the app sees with these."""

    # ---------------------------------------------------------------------------- state
    @property
    def capabilities(self) -> Capabilities | None:
        return self.loaded.capabilities if self.loaded is not None else None

    # ------------------------------------------------------------------------- requests
    def load(self, request: AnyLoadRequest) -> None:
        """Check the server and its model on a worker thread; ``ModelLoaded`` or a one-sentence
        ``EngineError`` follows."""
        if not isinstance(request, ServerLoadRequest):
            raise TypeError("RemoteEngine uses a model on a server; use EngineClient for model files")
        connection = _Connection(request)
        with self._lock:
            old, self._connection = self._connection, connection
            self.loaded = None
        if old is not None:
            self._abandon(old)
        threading.Thread(
            target=self._check, args=(connection,), name="remote-load", daemon=True
        ).start()

    def _check(self, connection: _Connection) -> None:
        request = connection.request
        started = time.monotonic()
        try:
            model = probe(request)
            client = client_for(request)
        except UserError as exc:
            connection.error = exc.sentence
            event: Event = EngineError.saying(None, exc.sentence, "user")
        except Exception:
            log.exception("checking the server failed")
            connection.error = Sentence("Checking the server failed (see the log).")
            event = EngineError.saying(None, connection.error, "internal")
        else:
            connection.model, connection.client = model, client
            event = ModelLoaded(
                request.model,
                None,
                time.monotonic() - started,
                model.kind,
                model.n_ctx,
                model.n_ctx_train,
                model.vision,
                server=request.label,
            )
        with self._lock:
            if not connection.abandoned:
                self._events.put(event)
            elif connection.client is not None:
                connection.client.close()
        connection.checked.set()

    def _abandon(self, connection: _Connection) -> None:
        with self._lock:
            connection.abandoned = True
            client = connection.client
        if client is not None:
            client.close()

    def generate(
        self,
        messages: Sequence[ChatMessage],
        system_prompt: str = "",
        settings: GenerationSettings | None = None,
        *,
        thread: str = "",
    ) -> int:
        """Start a reply; ``Token`` events and a final ``Done`` or ``EngineError`` follow.
        ``thread`` is not sent: a server keeps conversations warm by itself, as far as it does
        (llama-server's prompt cache finds a conversation by the prompt's own beginning)."""
        request_id = next(self._ids)
        with self._lock:
            connection = self._connection
        if connection is None:
            nowhere = Sentence("No server was chosen for this reply.")
            self._events.put(EngineError.saying(request_id, nowhere, "internal"))
            return request_id
        reply = _Reply(request_id, time.monotonic(), connection, tuple(messages), system_prompt,
                       settings or GenerationSettings())
        with self._lock:
            self._reply = reply
        threading.Thread(target=self._stream_reply, args=(reply,), name="remote-reply",
                         daemon=True).start()
        return request_id

    def count_tokens(
        self,
        messages: Sequence[ChatMessage],
        system_prompt: str = "",
        settings: GenerationSettings | None = None,
    ) -> int:
        """Ask the server what this conversation's prompt costs; a ``TokenCount`` (``n_ctx`` 0 from
        a server that cannot count: it checks the length itself when it reads) or ``EngineError``
        event with the returned request id follows."""
        request_id = next(self._ids)
        with self._lock:
            connection = self._connection
        threading.Thread(
            target=self._count,
            args=(request_id, connection, tuple(messages), system_prompt, settings or GenerationSettings()),
            name="remote-count",
            daemon=True,
        ).start()
        return request_id

    def _count(
        self,
        request_id: int,
        connection: _Connection | None,
        messages: tuple[ChatMessage, ...],
        system_prompt: str,
        settings: GenerationSettings,
    ) -> None:
        try:
            if connection is None:
                raise UserError("No server was chosen for this conversation.")
            request, model, client = _checked(connection)
            payload = _payload(model, messages, system_prompt, settings)
            tokens = count_prompt(client, request, model, payload)
        except UserError as exc:
            event: Event = EngineError.saying(request_id, exc.sentence, "user")
        except Exception:
            log.exception("counting tokens on the server failed")
            failed = Sentence("Counting tokens on the server failed (see the log).")
            event = EngineError.saying(request_id, failed, "internal")
        else:
            # Without both numbers there is nothing to judge here: 0 and 0 let the message go,
            # and the server refuses it in one sentence if it is too long.
            known = tokens > 0 and model.n_ctx > 0
            event = TokenCount(request_id, tokens if known else 0, 0, 0, model.n_ctx if known else 0)
        self._events.put(event)

    # What the local engine does ahead of a reply or keeps after it happens on the server here,
    # if anywhere: an image is sent with its message, and the server's own prompt cache (if it
    # has one) is what keeps a conversation warm.  So these ask nothing and send no event (an
    # attached image's chip shows no reading state: nothing reads it before Send).
    def prefetch_image(self, image: PreparedImage, pan_scan: str) -> None:
        """Nothing to prepare: the image goes to the server with its message."""

    def drop_prefetch(self, sha256: str) -> None:
        """Nothing was prepared."""

    def read_ahead(
        self,
        messages: Sequence[ChatMessage],
        system_prompt: str = "",
        settings: GenerationSettings | None = None,
        *,
        thread: str = "",
    ) -> None:
        """Nothing is read before Send: a server reads the prompt when it is asked."""

    def save_snapshot(self) -> None:
        """The server keeps (or loses) its own cache."""

    def clear_snapshots(self) -> None:
        """Nothing of the server's memory is kept here."""

    def cancel(self, *, hard: bool = False) -> None:
        """End the reply now as ``cancelled``, keeping what streamed, and shut its connection
        (the server notices and stops).  ``hard`` changes nothing here: nothing local can hang."""
        with self._lock:
            reply = self._reply
        if reply is None:
            return
        text = self._end(reply, None)
        if text is None:
            return
        self._events.put(Done(reply.request_id, text, "cancelled", self._metrics(reply)))
        _shut(reply.stream)

    # ---------------------------------------------------------------------------- events
    def next_event(self, timeout: float | None = None) -> Event | None:
        """The next event, or None after ``timeout`` seconds."""
        try:
            event = self._events.get(timeout=timeout) if timeout != 0 else self._events.get_nowait()
        except queue.Empty:
            return None
        if isinstance(event, ModelLoaded):
            self.loaded = event
        return event

    def wake(self) -> None:
        """Have the waiting ``next_event`` return None at once."""
        self._events.put(None)

    def close(self) -> None:
        """Stop the reply in progress and drop the connection."""
        self.cancel()
        with self._lock:
            connection, self._connection = self._connection, None
        if connection is not None:
            self._abandon(connection)

    def __enter__(self) -> RemoteEngine:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------------ the reply
    def _end(self, reply: _Reply, event: Event | None) -> str | None:
        """Mark the reply finished and queue ``event``; None if it had already finished, else
        the text that streamed."""
        with self._lock:
            if reply.finished:
                return None
            reply.finished = True
            if event is not None:
                self._events.put(event)
            if self._reply is reply:
                self._reply = None
            return "".join(reply.parts)

    def _emit(self, reply: _Reply, event: Event) -> bool:
        """Queue a mid-reply event unless the reply has ended; False once it has."""
        with self._lock:
            if reply.finished:
                return False
            if isinstance(event, Token):
                reply.parts.append(event.text)
            self._events.put(event)
            return True

    def _stream_reply(self, reply: _Reply) -> None:
        try:
            self._run(reply)
        except Exception:
            log.exception("the remote reply failed")
            failed = Sentence("The reply failed inside the app (see the log).")
            self._end(reply, EngineError.saying(reply.request_id, failed, "internal"))

    def _run(self, reply: _Reply) -> None:
        connection = reply.connection
        try:
            request, model, client = _checked(connection)
        except UserError as exc:
            self._end(reply, EngineError.saying(reply.request_id, exc.sentence, "user"))
            return
        settings = reply.settings
        payload = _payload(model, reply.messages, reply.system_prompt, settings)
        if not model.vision and has_images(payload):
            blind = Sentence(
                "The model {model} on {server} cannot see images; remove the images or choose "
                "a model that can.", model=request.model, server=request.label)
            self._end(reply, EngineError.saying(reply.request_id, blind, "user"))
            return
        standard, extra = sampling_fields(settings)
        if model.progress:
            extra["return_progress"] = True
        try:
            stream = client.chat.completions.create(
                model=request.model,
                messages=cast("list[ChatCompletionMessageParam]", payload),
                stream=True,
                stream_options={"include_usage": True},
                extra_body=extra,
                timeout=httpx2.Timeout(request.read_timeout_s, connect=CONNECT_TIMEOUT_S),
                **standard,
            )
        except openai.OpenAIError as exc:
            self._fail(reply, request, exc)
            return
        with self._lock:
            stopped = reply.finished
            reply.stream = stream
        if stopped:
            _shut(stream)
            stream.close()
            return
        try:
            for chunk in stream:
                if not self._take(reply, chunk):
                    break
        except (openai.OpenAIError, MalformedReply, ValueError, httpx2.HTTPError) as exc:
            # ValueError: a data line that is not JSON; HTTPError: what the transport says
            # after Stop shut the connection under it.
            self._fail(reply, request, exc if not isinstance(exc, ValueError) else MalformedReply())
            return
        finally:
            stream.close()
        self.last_server_timings = dict(reply.timings)
        if reply.finish is None:
            unfinished = Sentence(
                "The server {server} ended the reply without finishing it; what it wrote so far "
                "is kept.", server=request.label)
            self._end(reply, EngineError.saying(reply.request_id, unfinished, "user"))
            return
        text = "".join(reply.parts)
        self._end(reply, Done(reply.request_id, text, reply.finish, self._metrics(reply)))

    def _fail(self, reply: _Reply, request: ServerLoadRequest, exc: BaseException) -> None:
        if reply.finished:  # stopped: whatever the transport raised is Stop's doing
            return
        error = sentence(exc, request, "reply")
        log.info("reply from %s failed: %s (%s)", request.label, error, type(exc).__name__)
        self._end(reply, EngineError.saying(reply.request_id, error.sentence, "user"))

    def _take(self, reply: _Reply, chunk: ChatCompletionChunk) -> bool:
        """Turn one chunk into events; False once the reply has been stopped."""
        now = time.monotonic()
        extra = chunk.model_extra or {}
        timings = extra.get("timings")
        if isinstance(timings, dict):
            reply.timings = {k: float(v) for k, v in timings.items() if isinstance(v, (int, float))}
        progress = extra.get("prompt_progress")
        if isinstance(progress, dict) and reply.first_token_at is None:
            total, done = positive_int(progress.get("total")), progress.get("processed")
            fraction = min(1.0, done / total) if total and isinstance(done, (int, float)) else None
            reading = Sentence("reading the prompt")
            if not self._emit(reply, Progress(reply.request_id, str(reading), fraction, reading)):
                return False
        usage = getattr(chunk, "usage", None)
        if usage is not None:
            details = usage.prompt_tokens_details
            reply.usage = {
                "prompt": positive_int(usage.prompt_tokens),
                "completion": positive_int(usage.completion_tokens),
                "cached": positive_int(details.cached_tokens) if details is not None else 0,
            }
        choices = getattr(chunk, "choices", None)
        if not isinstance(choices, list):
            raise MalformedReply("choices is not a list")
        for choice in choices:
            delta = getattr(choice, "delta", None)
            content = getattr(delta, "content", None)
            if content is not None and not isinstance(content, str):
                raise MalformedReply("content is not text")
            if content:
                if reply.first_token_at is None:
                    reply.first_token_at = now
                if not self._emit(reply, Token(reply.request_id, content)):
                    return False
            finish = getattr(choice, "finish_reason", None)
            if finish:
                reply.finish = "length" if finish == "length" else "stop"
                reply.ended_at = now
        return True

    def _metrics(self, reply: _Reply) -> Metrics:
        """The reply's numbers as the app saw them, with the server's token counts."""
        first, end = reply.first_token_at, reply.ended_at or time.monotonic()
        timings = reply.timings
        decoded = reply.usage.get("completion") or positive_int(timings.get("predicted_n")) or len(reply.parts)
        cached = reply.usage.get("cached") or positive_int(timings.get("cache_n"))
        prompt = reply.usage.get("prompt") or positive_int(timings.get("prompt_n")) + cached
        # The same definition as the local engine and llama-server's predicted_per_second:
        # the tokens after the first over the time from the first to the last.
        speed = (decoded - 1) / (end - first) if first is not None and decoded > 1 and end > first else 0.0
        return Metrics(
            prompt_tokens=prompt,
            ttft_s=first - reply.started if first is not None else 0.0,
            decode_tokens=decoded,
            decode_tok_s=speed,
            cached_tokens=cached,
        )


def _checked(connection: _Connection) -> tuple[ServerLoadRequest, ServerModel, openai.OpenAI]:
    """Wait for the connection's check; what it found, or its sentence as a UserError."""
    connection.checked.wait()
    request, model, client = connection.request, connection.model, connection.client
    if model is None or client is None:
        raise UserError.saying(
            connection.error or Sentence("The server {server} could not be used.", server=request.label)
        )
    return request, model, client


def _payload(
    model: ServerModel,
    messages: Sequence[ChatMessage],
    system_prompt: str,
    settings: GenerationSettings,
) -> list[dict[str, Any]]:
    """The ``messages`` array for this server's model (Pan & Scan and 896 px views for a Gemma 3)."""
    return chat_messages(
        messages,
        system_prompt,
        pan_scan=settings.pan_scan if model.gemma3 else None,
        image_side=GEMMA3_IMAGE_SIDE if model.gemma3 else None,
    )


def _shut(stream: openai.Stream[ChatCompletionChunk] | None) -> None:
    """Shut the stream's connection from any thread: a reader blocked on it wakes at once, and
    the server sees the client leave (closing the socket alone would do neither)."""
    if stream is None:
        return
    network = stream.response.extensions.get("network_stream")
    sock = network.get_extra_info("socket") if network is not None else None
    if isinstance(sock, socket.socket):
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)
    else:
        stream.close()

