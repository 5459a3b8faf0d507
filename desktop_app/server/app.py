"""The ASGI application: ``/v1/models``, ``/v1/chat/completions`` (streamed or not) and ``/health``.

Stack: Starlette, pydantic and uvicorn.  Starlette is the small, well-kept ASGI toolkit FastAPI is
built on; with five routes and OpenAI-shaped errors, FastAPI's own layer (automatic 422 bodies,
OpenAPI pages) would be something to switch off rather than use.  pydantic validates every body
(:mod:`desktop_app.server.requests`), uvicorn (pure-Python h11, no compiled extras) speaks HTTP.
No HTTP is parsed here.

Guards, before any handler runs: the Host header must name this computer while the server
listens on loopback (a web page that rebinds its DNS name to 127.0.0.1 cannot read replies), a
browser page from another site is refused by its Origin header (it could otherwise post a
request in the background), and every ``/v1`` route needs the bearer token when one is set.
Bodies are read up to the limit and no further.  A request never names a file or makes the
server fetch anything (unless remote images were allowed).

Several clients: replies queue in the shared engine and each client hears only its own; a client
that goes away stops its reply, whether it was waiting, reading the prompt or writing.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
import time
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable
from contextlib import suppress
from pathlib import Path
from typing import Any, Protocol, TypeVar
from urllib.parse import urlsplit

import anyio
from pydantic import ValidationError
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from desktop_app.engine.protocol import ChatMessage, ModelLoaded
from desktop_app.engine.shared import SharedEngine
from desktop_app.errors import UserError
from desktop_app.models.sizes import format_size
from desktop_app.server.config import ServerConfig, is_loopback
from desktop_app.server.conversations import ConversationRouter
from desktop_app.server.conversations import Route as ConversationRoute
from desktop_app.server.messages import EngineConversation, ImageReader, engine_conversation
from desktop_app.server.refusal import Refused
from desktop_app.server.replies import ReplyEnd, reply_pieces
from desktop_app.server.requests import ChatCompletionRequest, describe_validation_error, unsupported_field
from desktop_app.server.responses import (
    CompletionIds,
    chunk,
    completion,
    model_entry,
    sse,
    timings,
    usage_chunk,
)
from desktop_app.settings import MAX_OUTPUT_TOKENS, GenerationSettings

log = logging.getLogger(__name__)

T = TypeVar("T")


class ConversationKeeper(Protocol):
    """Stores API conversations in the user's list (only when the user asked for that)."""

    def keep(
        self,
        route: ConversationRoute,
        conversation: EngineConversation,
        reply: ReplyEnd,
        settings: GenerationSettings,
        model: ModelLoaded,
    ) -> None: ...


class _Gone:
    """The client disconnected while the server waited for the engine."""


_GONE = _Gone()


class ApiService:
    """What the routes share: the engine, the settings, the image reader and the conversations."""

    def __init__(
        self, engine: SharedEngine, config: ServerConfig, keeper: ConversationKeeper | None = None
    ) -> None:
        self.engine = engine
        self.config = config
        self.keeper = keeper
        self.reader = ImageReader(config.limits, config.allow_remote_images)
        self.router = ConversationRouter()
        self.created = int(time.time())

    # ------------------------------------------------------------------------ the model
    def model_id(self, loaded: ModelLoaded) -> str:
        return self.config.model_alias or Path(loaded.model_path).stem

    def model_names(self, loaded: ModelLoaded) -> set[str]:
        path = Path(loaded.model_path)
        return {self.model_id(loaded), path.stem, path.name}

    def require_model(self, requested: str | None) -> ModelLoaded:
        loaded = self.engine.loaded
        if loaded is None:
            raise Refused(
                "No model is loaded yet; open one in Gemma Desktop (or wait for it to load).",
                status=503,
                kind="server_error",
                code="model_not_loaded",
            )
        if requested is not None and requested not in self.model_names(loaded):
            raise Refused(
                f"The model '{requested}' is not served here; this server serves "
                f"'{self.model_id(loaded)}' (see /v1/models).",
                status=404,
                param="model",
                code="model_not_found",
            )
        return loaded

    # ------------------------------------------------------------------------ a request
    def settings(self, request: ChatCompletionRequest) -> GenerationSettings:
        defaults = GenerationSettings(pan_scan=self.config.pan_scan)
        limit = request.max_completion_tokens or request.max_tokens
        if limit is not None and limit < 1:
            raise Refused("max_tokens must be at least 1.", param="max_tokens")
        settings = GenerationSettings(
            temperature=_given(request.temperature, defaults.temperature),
            top_k=_given(request.top_k, defaults.top_k),
            top_p=_given(request.top_p, defaults.top_p),
            min_p=_given(request.min_p, defaults.min_p),
            repeat_penalty=_given(request.repeat_penalty, defaults.repeat_penalty),
            seed=_given(request.seed, defaults.seed),
            # A ceiling above what Gemma 3 can write in one turn is no ceiling: not an error.
            max_tokens=min(limit, MAX_OUTPUT_TOKENS) if limit is not None else defaults.max_tokens,
            pan_scan=request.pan_scan or defaults.pan_scan,
        )
        try:
            return settings.validate()
        except UserError as exc:
            raise Refused(str(exc)) from None


def _given(value: T | None, default: T) -> T:
    return default if value is None else value


# ---------------------------------------------------------------------------- the routes
def _service(request: Request) -> ApiService:
    service: ApiService = request.app.state.service
    return service


async def health(request: Request) -> Response:
    """llama-server's health route: 200 once a model is loaded, 503 before."""
    service = _service(request)
    loaded = service.engine.loaded
    if loaded is None:
        return JSONResponse({"status": "no model loaded"}, status_code=503)
    return JSONResponse({"status": "ok", "model": service.model_id(loaded)})


async def list_models(request: Request) -> Response:
    service = _service(request)
    loaded = service.engine.loaded
    data = [model_entry(service.model_id(loaded), service.created)] if loaded is not None else []
    return JSONResponse({"object": "list", "data": data})


async def get_model(request: Request) -> Response:
    service = _service(request)
    loaded = service.require_model(request.path_params["model"])
    return JSONResponse(model_entry(service.model_id(loaded), service.created))


async def chat_completions(request: Request) -> Response:
    service = _service(request)
    body = await _read_body(request, service.config.limits.max_body_bytes)
    try:
        payload = ChatCompletionRequest.model_validate_json(body)
    except ValidationError as exc:
        if any(problem["type"] == "json_invalid" for problem in exc.errors()):
            raise Refused("The request body is not valid JSON.", code="invalid_json") from None
        param, message = describe_validation_error(exc)
        raise Refused(message, param=param) from None
    unsupported = unsupported_field(payload)
    if unsupported is not None:
        raise Refused(unsupported[1], param=unsupported[0], code="unsupported_parameter")
    loaded = service.require_model(payload.model)
    settings = service.settings(payload)
    conversation = await anyio.to_thread.run_sync(
        engine_conversation, payload.messages, service.reader, service.config.limits.max_images
    )
    if conversation.image_count and not loaded.has_vision:
        raise Refused(
            f"The served model '{service.model_id(loaded)}' was loaded without a vision projector, "
            "so it cannot read images.",
            code="vision_not_supported",
        )
    stops = [payload.stop] if isinstance(payload.stop, str) else list(payload.stop or [])
    route = service.router.route(conversation.system_prompt, conversation.messages, payload.prompt_cache_key)
    ids = CompletionIds(service.model_id(loaded))
    pieces = reply_pieces(service.engine, conversation, settings, stops, thread=route.conversation)

    # The first piece decides the status: an engine refusal (a conversation longer than the
    # context, say) is still a proper 4xx, not an error buried in a 200 stream.
    first = await _unless_disconnected(request, anext(pieces))
    if isinstance(first, _Gone):
        await pieces.aclose()
        return Response(status_code=499)

    def finished(end: ReplyEnd) -> None:
        history = (*conversation.messages, ChatMessage.assistant(end.text))
        service.router.remember(route.conversation, conversation.system_prompt, history)
        if service.keeper is not None:
            try:
                service.keeper.keep(route, conversation, end, settings, loaded)
            except Exception:
                log.exception("keeping an API conversation failed")

    if payload.stream:
        include_usage = bool(payload.stream_options and payload.stream_options.include_usage)
        return _DisconnectingStream(
            _stream(ids, first, pieces, include_usage, finished),
            media_type="text/event-stream",
            headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
        )
    outcome = await _unless_disconnected(request, _collect(first, pieces))
    if isinstance(outcome, _Gone):
        return Response(status_code=499)
    finished(outcome)
    return JSONResponse(completion(ids, outcome))


async def _collect(first: str | ReplyEnd, pieces: AsyncIterator[str | ReplyEnd]) -> ReplyEnd:
    if isinstance(first, ReplyEnd):
        return first
    async for piece in pieces:
        if isinstance(piece, ReplyEnd):
            return piece
    raise RuntimeError("the reply ended without its end")


async def _stream(
    ids: CompletionIds,
    first: str | ReplyEnd,
    pieces: AsyncGenerator[str | ReplyEnd, None],
    include_usage: bool,
    finished: Callable[[ReplyEnd], None],
) -> AsyncIterator[bytes]:
    extra: dict[str, Any] = {"usage": None} if include_usage else {}
    try:
        role_sent = False
        piece: str | ReplyEnd = first
        while True:
            if isinstance(piece, ReplyEnd):
                if not role_sent:
                    yield sse(chunk(ids, {"role": "assistant", "content": ""}, **extra))
                last: dict[str, Any] = chunk(ids, {}, piece.finish_reason, **extra)
                if not include_usage:
                    last["timings"] = timings(piece.metrics)
                yield sse(last)
                if include_usage:
                    yield sse(usage_chunk(ids, piece.metrics))
                yield sse("[DONE]")
                finished(piece)
                return
            delta = {"role": "assistant", "content": piece} if not role_sent else {"content": piece}
            role_sent = True
            yield sse(chunk(ids, delta, **extra))
            try:
                piece = await anext(pieces)
            except Refused as exc:
                yield sse(exc.body())
                yield sse("[DONE]")
                return
    finally:
        await pieces.aclose()  # stops the reply in the engine when the client left early


async def _unless_disconnected(request: Request, work: Awaitable[T]) -> T | _Gone:
    """``work``'s result, or ``_GONE`` (with ``work`` cancelled) if the client disconnects first."""
    task = asyncio.ensure_future(work)
    watcher = asyncio.ensure_future(_disconnected(request.receive))
    done, _ = await asyncio.wait({task, watcher}, return_when=asyncio.FIRST_COMPLETED)
    if task in done:
        watcher.cancel()
        with suppress(asyncio.CancelledError):
            await watcher
        return task.result()
    task.cancel()
    with suppress(asyncio.CancelledError, Refused):
        await task
    return _GONE


async def _disconnected(receive: Receive) -> None:
    while (await receive())["type"] != "http.disconnect":
        pass


class _DisconnectingStream(StreamingResponse):
    """A stream that always watches for the client leaving.  Starlette watches only under ASGI
    spec < 2.4, trusting a failed send otherwise; but nothing is sent while an image is encoded
    (a minute on a laptop), and the reply should stop as soon as nobody waits for it."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async with anyio.create_task_group() as group:

            async def stream() -> None:
                with suppress(OSError):
                    await self.stream_response(send)
                group.cancel_scope.cancel()

            group.start_soon(stream)
            await self.listen_for_disconnect(receive)
            group.cancel_scope.cancel()


async def _read_body(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    too_large = Refused(
        f"The request body is larger than the server's limit of {format_size(limit)}.",
        status=413,
        code="body_too_large",
    )
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise too_large
    body = bytearray()
    async for part in request.stream():
        body += part
        if len(body) > limit:
            raise too_large
    return bytes(body)


# ---------------------------------------------------------------------------- the guard
class _Guard:
    """Host, Origin and bearer-token checks in front of every route (see the module docstring)."""

    def __init__(self, app: ASGIApp, config: ServerConfig) -> None:
        self.app = app
        self.token = config.api_key.encode() if config.api_key else None
        self.local_only = is_loopback(config.host)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {key.decode("latin-1").lower(): value.decode("latin-1") for key, value in scope["headers"]}
        refusal = self._check(scope["path"], headers)
        if refusal is not None:
            await _error_response(refusal)(scope, receive, send)
            return
        await self.app(scope, receive, send)

    def _check(self, path: str, headers: dict[str, str]) -> Refused | None:
        if self.local_only and not _local_host(headers.get("host", "")):
            return Refused("This server answers requests to this computer's own address only.",
                           status=421, code="host_not_allowed")
        origin = headers.get("origin")
        if origin is not None and not _local_host(urlsplit(origin).netloc):
            return Refused("Requests from web pages of other sites are refused.", status=403,
                           code="origin_not_allowed")
        if self.token is not None and path.startswith("/v1"):
            scheme, _, given = headers.get("authorization", "").partition(" ")
            if scheme.lower() != "bearer" or not hmac.compare_digest(given.strip().encode(), self.token):
                return Refused("A valid bearer token is required (Authorization: Bearer ...).",
                               status=401, code="invalid_api_key", kind="authentication_error")
        return None


def _local_host(netloc: str) -> bool:
    """Whether a Host header (or an origin's netloc) names this computer, with any port."""
    host = netloc.rsplit("@", 1)[-1]
    bracketed = host.startswith("[") and "]" in host  # an IPv6 address: [::1]:8765
    host = host[1 : host.index("]")] if bracketed else host.split(":", 1)[0]
    return bool(host) and is_loopback(host)


def _error_response(refusal: Refused) -> JSONResponse:
    headers = {"WWW-Authenticate": "Bearer"} if refusal.status == 401 else None
    return JSONResponse(refusal.body(), status_code=refusal.status, headers=headers)


async def _refused(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, Refused)
    return _error_response(exc)


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    kind = "not_found_error" if exc.status_code == 404 else "invalid_request_error"
    message = "There is no such route here." if exc.status_code == 404 else str(exc.detail)
    return _error_response(Refused(message, status=exc.status_code, kind=kind))


async def _internal(request: Request, exc: Exception) -> Response:
    log.error("API request failed", exc_info=exc)
    return _error_response(
        Refused("The server failed to answer (see the app's log).", status=500, kind="server_error")
    )


def build_app(engine: SharedEngine, config: ServerConfig, keeper: ConversationKeeper | None = None) -> ASGIApp:
    """The ASGI application serving ``engine``'s model, guarded as ``config`` says."""
    routes = [
        Route("/health", health, methods=["GET"]),
        Route("/v1/health", health, methods=["GET"]),
        Route("/v1/models", list_models, methods=["GET"]),
        Route("/v1/models/{model:path}", get_model, methods=["GET"]),
        Route("/v1/chat/completions", chat_completions, methods=["POST"]),
    ]
    app = Starlette(
        routes=routes,
        exception_handlers={Refused: _refused, HTTPException: _http_error, Exception: _internal},
    )
    app.state.service = ApiService(engine, config, keeper)
    return _Guard(app, config)

