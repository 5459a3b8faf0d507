"""What went wrong talking to a server, as one sentence for the person at the window.

Every failure the ``openai`` client (and the network under it) can raise becomes a
:class:`~desktop_app.errors.UserError`: a host that is not there, a name that does not resolve, a
certificate that does not verify, a refused key, an unknown model, a request too large for the
server or its context, a busy or failing server, a stream that drops, stalls or carries data that
is not JSON.  The sentences name the server as the user called it; they never contain the key.
"""

from __future__ import annotations

import errno
import socket
import ssl
from collections.abc import Iterator
from typing import Literal

import httpx2
import openai

from desktop_app.engine.protocol import ServerLoadRequest
from desktop_app.errors import UserError

Phase = Literal["connect", "reply"]
"""``connect``: checking the server and its model (nothing was asked yet); ``reply``: a reply
was being written, and what streamed so far is kept."""


class MalformedReply(Exception):
    """The stream carried something that is not a chat completion chunk."""


def _causes(exc: BaseException) -> Iterator[BaseException]:
    """The exception and everything it was raised from or during, outermost first."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__ or current.__context__


def _first(exc: BaseException, kind: type[BaseException]) -> BaseException | None:
    return next((cause for cause in _causes(exc) if isinstance(cause, kind)), None)


def server_detail(exc: openai.APIStatusError) -> str:
    """The server's own words about a refused request (its JSON ``message``), or the HTTP text."""
    body = exc.body
    if isinstance(body, dict):
        message = body.get("message")
        if isinstance(message, str) and message.strip():
            return message.strip()
    return exc.response.reason_phrase or f"HTTP {exc.status_code}"


def _is_context_error(exc: openai.APIStatusError) -> bool:
    """llama-server says ``exceed_context_size_error``; vLLM and others say it in words."""
    if isinstance(exc.body, dict) and exc.body.get("type") == "exceed_context_size_error":
        return True
    words = server_detail(exc).lower()
    return "context" in words and any(
        hint in words for hint in ("exceed", "maximum", "too long", "longer than", "reduce")
    )


def _retry_after(exc: openai.APIStatusError) -> int | None:
    value = exc.response.headers.get("retry-after", "")
    return int(value) if value.strip().isdigit() else None


def sentence(exc: BaseException, request: ServerLoadRequest, phase: Phase) -> UserError:
    """The one sentence for ``exc``, raised while talking to ``request``'s server."""
    server = request.label
    url = request.base_url
    host = httpx2.URL(url).host or url

    if isinstance(exc, MalformedReply):
        return UserError(
            "The server {server} sent data that is not a chat reply, so the reply was stopped; "
            "what it wrote so far is kept.",
            server=server,
        )
    if isinstance(exc, openai.APIStatusError):
        return _status_sentence(exc, request, phase)
    if isinstance(exc, openai.APIResponseValidationError):
        return UserError(
            "The server {server} answered with data this app cannot read; check that {url} is an "
            "OpenAI-compatible API.",
            server=server,
            url=url,
        )

    if _first(exc, httpx2.ReadTimeout) is not None:
        if phase == "reply":
            return UserError(
                "The server {server} sent nothing for {seconds} seconds, so the reply was "
                "stopped; what it wrote so far is kept.",
                server=server,
                seconds=round(request.read_timeout_s),
            )
        return UserError(
            "The server {server} accepted the connection but did not answer within {seconds} "
            "seconds.",
            server=server,
            seconds=round(request.read_timeout_s),
        )
    if _first(exc, httpx2.ConnectTimeout) is not None or _first(exc, httpx2.PoolTimeout):
        return UserError(
            "{host} did not answer the connection in time; check the address and that the server "
            "is running and reachable from this computer.",
            host=host,
        )
    if _first(exc, socket.gaierror) is not None:
        return UserError(
            "The server name '{host}' could not be found; check the address and this computer's "
            "network connection.",
            host=host,
        )
    verify = _first(exc, ssl.SSLCertVerificationError)
    if isinstance(verify, ssl.SSLCertVerificationError):
        return UserError(
            "The certificate of {host} could not be verified ({reason}); if the server uses its "
            "own certificate authority, give that authority's certificate file.",
            host=host,
            reason=verify.verify_message or "untrusted",
        )
    tls = _first(exc, ssl.SSLError)
    if isinstance(tls, ssl.SSLError):
        return UserError(
            "A secure (https) connection to {host} could not be made ({reason}); check that the "
            "server speaks https at {url}.",
            host=host,
            reason=tls.reason or type(tls).__name__,
            url=url,
        )
    if _first(exc, ConnectionRefusedError) is not None:
        return UserError(
            "Nothing answers at {url}; check that the server is running and that the address and "
            "port are right.",
            url=url,
        )
    unreachable = _first(exc, OSError)
    if isinstance(unreachable, OSError) and unreachable.errno in (
        errno.EHOSTUNREACH,
        errno.ENETUNREACH,
        errno.EHOSTDOWN,
    ):
        return UserError("{host} cannot be reached from this computer's network.", host=host)
    if phase == "reply" and (
        _first(exc, httpx2.RemoteProtocolError) is not None
        or _first(exc, httpx2.ReadError) is not None
    ):
        return UserError(
            "The connection to {server} was lost in the middle of the reply; what it wrote so far "
            "is kept.",
            server=server,
        )
    if isinstance(exc, openai.APIError) and phase == "reply" and not isinstance(
        exc, openai.APIConnectionError
    ):
        # An error event inside the stream: the server gave up mid-reply and said why.
        return UserError(
            "The server {server} stopped the reply with an error: {detail}; what it wrote so far "
            "is kept.",
            server=server,
            detail=exc.message,
        )
    if phase == "reply":
        return UserError(
            "The connection to {server} failed during the reply; what it wrote so far is kept.",
            server=server,
        )
    return UserError(
        "Could not connect to {url} ({failure}).", url=url, failure=type(exc).__name__
    )


def _status_sentence(
    exc: openai.APIStatusError, request: ServerLoadRequest, phase: Phase
) -> UserError:
    server = request.label
    status = exc.status_code
    if status == 401:
        if not request.api_key:
            return UserError(
                "The server {server} needs an API key; add one to the server's settings or "
                "give --api-key-env.",
                server=server,
            )
        return UserError(
            "The server {server} refused the API key (HTTP 401); check the key.", server=server
        )
    if status == 403:
        return UserError(
            "The server {server} does not allow this API key to use it (HTTP 403).", server=server
        )
    if status == 404:
        if phase == "connect":
            return UserError(
                "No OpenAI-compatible API answers at {url} (HTTP 404); the address usually ends "
                "in /v1.",
                url=request.base_url,
            )
        return UserError(
            "The server {server} has no model '{model}' (HTTP 404).",
            server=server,
            model=request.model,
        )
    if status == 413:
        return UserError(
            "The message is too large for the server {server} (HTTP 413); send fewer or smaller "
            "images.",
            server=server,
        )
    if status == 429:
        wait = _retry_after(exc)
        if wait is not None:
            return UserError(
                "The server {server} is busy with other requests (HTTP 429); try again in {seconds} "
                "seconds.",
                server=server,
                seconds=wait,
            )
        return UserError(
            "The server {server} is busy with other requests (HTTP 429); try again in a moment.",
            server=server,
        )
    if status in (400, 422) and _is_context_error(exc):
        return UserError(
            "The conversation is longer than the server {server} can read at once "
            "({detail}); start a new conversation or remove some images.",
            server=server,
            detail=server_detail(exc),
        )
    if status == 503:
        return UserError(
            "The server {server} is not ready (HTTP 503: still loading a model, or overloaded); "
            "try again in a moment.",
            server=server,
        )
    if status >= 500:
        return UserError(
            "The server {server} failed while answering (HTTP {status}: {detail}).",
            server=server,
            status=status,
            detail=server_detail(exc),
        )
    return UserError(
        "The server {server} refused the request (HTTP {status}: {detail}).",
        server=server,
        status=status,
        detail=server_detail(exc),
    )
