"""What crosses the pipe between the app and the engine process: requests one way, events back.

Plain frozen dataclasses of built-in types, so they pickle across ``spawn`` on every platform and
nothing here drags llama.cpp (or Qt) into the importing process.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from desktop_app.engine.documents import PreparedDocument
from desktop_app.engine.images import PreparedImage
from desktop_app.errors import Sentence
from desktop_app.settings import GenerationSettings, RuntimeSettings

Role = Literal["user", "assistant"]
Part = str | PreparedImage | PreparedDocument
FinishReason = Literal["stop", "length", "cancelled", "context", "error", "crashed"]
ErrorKind = Literal["user", "internal", "crashed", "cancelled"]


@dataclass(frozen=True)
class ChatMessage:
    """One turn: text, images and documents interleaved in the order the user gave them."""

    role: Role
    parts: tuple[Part, ...]

    @staticmethod
    def user(*parts: Part) -> ChatMessage:
        return ChatMessage("user", tuple(parts))

    @staticmethod
    def assistant(text: str) -> ChatMessage:
        return ChatMessage("assistant", (text,))

    @property
    def images(self) -> list[PreparedImage]:
        return [p for p in self.parts if isinstance(p, PreparedImage)]

    @property
    def documents(self) -> list[PreparedDocument]:
        return [p for p in self.parts if isinstance(p, PreparedDocument)]

    @property
    def text(self) -> str:
        return "".join(p for p in self.parts if isinstance(p, str))


def conversation_thread(conversation_id: int) -> str:
    """The engine thread of a stored conversation: the same in the window and ``chat --jsonl``,
    so either continues the memory the other left."""
    return f"conversation-{conversation_id}"


def alternating_turns(turns: Iterable[ChatMessage]) -> list[ChatMessage]:
    """Stored turns as the engine takes them, strictly alternating user/assistant: a user turn
    left without a reply (the app died before it began) is merged with the next one; a reply
    without a prompt is dropped.  The window and ``chat --continue`` both send this, so a
    conversation reads the same (and keeps its memory) from either."""
    out: list[ChatMessage] = []
    for turn in turns:
        if turn.role == "user" and out and out[-1].role == "user":
            out[-1] = ChatMessage("user", (*out[-1].parts, "\n", *turn.parts))
        elif turn.role == "user" or (out and out[-1].role == "user"):
            out.append(turn)
    return out


@dataclass(frozen=True)
class LoadRequest:
    """Load (or reload) a model and optional projector with these runtime settings."""

    model_path: str
    mmproj_path: str | None
    runtime: RuntimeSettings

    @staticmethod
    def of(model_path: Path, mmproj_path: Path | None, runtime: RuntimeSettings) -> LoadRequest:
        """The request for these files (paths travel as strings: they pickle the same everywhere)."""
        return LoadRequest(str(model_path), str(mmproj_path) if mmproj_path else None, runtime)


@dataclass(frozen=True)
class ServerLoadRequest:
    """Use a model on a server that speaks the OpenAI chat completions API (llama-server, vLLM,
    Ollama, LM Studio): nothing is loaded here, the engine checks the model is there and what it
    can do."""

    base_url: str
    """The API root the server documents, ending in ``/v1`` (``http://host:8080/v1``)."""
    model: str
    """The model's id as the server's ``/v1/models`` lists it."""
    api_key: str = field(default="", repr=False)
    """Sent as a bearer token; never printed (``repr=False``), logged or saved by the engine."""
    ca_file: str | None = None
    """A PEM file of the certificate authority that signed the server's certificate, for a
    server with its own; certificate checks are never switched off."""
    name: str = ""
    """What the user calls the server ("GPU box"), for status lines; the URL when empty."""
    read_timeout_s: float = 300.0
    """How long a reply may go without a byte from the server before it counts as stalled: a
    long prompt with images on a busy server can take minutes before its first token."""

    @property
    def label(self) -> str:
        return self.name or self.base_url


AnyLoadRequest = LoadRequest | ServerLoadRequest
"""What an :class:`~desktop_app.engine.interface.Engine` is asked to load: local files for the
engine process, or a model on a server for the remote engine."""


@dataclass(frozen=True)
class GenerateRequest:
    """Reply to the conversation so far; the last message is the user's."""

    request_id: int
    messages: tuple[ChatMessage, ...]
    system_prompt: str = ""
    settings: GenerationSettings = field(default_factory=GenerationSettings)
    thread: str = ""
    """Which conversation this is, in a name the front end keeps stable (``conversation-12``):
    when a request for another thread comes, the engine keeps this one's memory as a snapshot
    and restores it when the thread comes back, after a restart too.  "" is a scratch
    conversation that is never kept (``ask``)."""


@dataclass(frozen=True)
class PrefetchImage:
    """Encode an attached image (with its Pan & Scan views) into the embedding cache while the
    engine is idle, so Send finds it ready; queued behind a reply in progress."""

    image: PreparedImage
    pan_scan: str
    """The conversation's Pan & Scan mode (the image's own choice, if it has one, wins)."""


@dataclass(frozen=True)
class DropPrefetch:
    """The image was removed before Send: take it out of the encode queue if it is still there."""

    sha256: str


@dataclass(frozen=True)
class ReadAhead:
    """The user is writing the last message of ``messages``: its pictures are attached, its
    words still coming.  While idle, the engine reads the conversation through those pictures
    into the thread's memory (once they are encoded), so Send leaves only the words to read.
    A later one replaces it; a reply or a model load drops it."""

    thread: str
    messages: tuple[ChatMessage, ...]
    system_prompt: str = ""
    settings: GenerationSettings = field(default_factory=GenerationSettings)


@dataclass(frozen=True)
class SaveSnapshot:
    """Write the current conversation's memory to disk now (on quit, when idle, at the end of
    ``chat --jsonl`` input), so reopening it after a restart continues at once."""


@dataclass(frozen=True)
class ClearSnapshots:
    """Forget every conversation snapshot, in memory and on disk."""


@dataclass(frozen=True)
class CountRequest:
    """Count the tokens this conversation's prompt takes with the loaded model, generating
    nothing: the window prices a document's chip with it, and the front ends check a message
    against the context before sending it."""

    request_id: int
    messages: tuple[ChatMessage, ...]
    system_prompt: str = ""
    settings: GenerationSettings = field(default_factory=GenerationSettings)


@dataclass(frozen=True)
class ShutdownRequest:
    """Free llama.cpp's resources and exit the engine process."""


Request = (
    LoadRequest
    | GenerateRequest
    | CountRequest
    | PrefetchImage
    | DropPrefetch
    | ReadAhead
    | SaveSnapshot
    | ClearSnapshots
    | ShutdownRequest
)
"""What crosses the pipe to the engine process."""

Restored = Literal["ram", "disk"]
ImageState = Literal["reading", "ready", "failed"]


@dataclass(frozen=True)
class Metrics:
    """Measured for every reply; the CLI prints these as ``metrics`` in ``--json``."""

    load_s: float = 0.0
    """Model load time paid by this reply (0 when the model was already loaded)."""
    prompt_tokens: int = 0
    """Tokens of the whole prompt, images included."""
    image_tokens: int = 0
    document_tokens: int = 0
    """Tokens of the attached documents' text (their scanned pages count as images)."""
    image_encode_s: float = 0.0
    """Time in the vision encoder (``mtmd_encode_chunk``) for images not in the cache; copying
    its output out for the cache and decoding it into the context count in ``ttft_s``."""
    ttft_s: float = 0.0
    """From the request reaching the engine to the first streamed token; for a reply that ended
    before its first token, to the end of reading the prompt."""
    decode_tokens: int = 0
    decode_tok_s: float = 0.0
    cached_tokens: int = 0
    """Prompt tokens reused from the KV cache instead of evaluated again."""
    images_from_cache: int = 0
    """Images whose embeddings came from the embedding cache instead of the encoder."""
    restored: Restored | None = None
    """Where the conversation's memory came from when the engine returned to this thread
    (reported by the thread's first reply since, even if a read-ahead restored it before Send):
    "ram" or "disk" (a snapshot), None (it was in the engine already, or read afresh)."""
    dropped_turns: int = 0
    """Messages left out because the conversation no longer fits the context: those right after
    the first exchange (the system prompt, the first exchange and the newest turns are kept)."""
    thought_tokens: int = 0
    """Of ``decode_tokens``, those the model spent thinking before its answer."""


@dataclass(frozen=True)
class Capabilities:
    """What the loaded model can do where it runs: the window enables and words its controls
    from this, never from assumptions about the engine behind it."""

    vision: bool
    n_ctx: int
    """The context the engine holds, in tokens."""
    n_ctx_train: int
    """The model's own limit, the most a larger context setting can reach."""
    backend: str
    """Where replies are computed: "CPU", "CUDA", "Metal", ... as llama.cpp's devices report; for a
    server, what the server says it is ("llama.cpp server", "vLLM", ...)."""
    thinking: bool = False
    """The model can think before answering (``GenerationSettings.think`` is honoured)."""
    server: str | None = None
    """The server the replies come from (its name, or its URL), None on this computer."""


@dataclass(frozen=True)
class ModelLoaded:
    """The engine holds this model now."""

    model_path: str
    mmproj_path: str | None
    load_s: float
    backend: str
    """"CPU", "CUDA", "Metal", ... as llama.cpp's devices report."""
    n_ctx: int
    """The context the engine holds, in tokens (0 when a server does not say)."""
    n_ctx_train: int
    """The model's own limit (0 when a server does not say)."""
    has_vision: bool
    thinks: bool = False
    notice: Sentence | None = None
    """A sentence for the user that is no error: the model's own chat template failed, so the
    built-in Gemma 3 template is used (``str()`` is its English)."""
    server: str | None = None
    """The server it runs on (its name, or its URL); ``model_path`` is then the server's model
    id.  None on this computer."""

    @property
    def capabilities(self) -> Capabilities:
        return Capabilities(
            self.has_vision, self.n_ctx, self.n_ctx_train, self.backend, self.thinks, self.server
        )


@dataclass(frozen=True)
class Progress:
    """A step of a reply is starting: "reading the prompt", "encoding image 1 of 2", "writing";
    or, with ``request_id`` None, how far loading the model has got ("loading", 0..1).
    ``sentence`` is the step in words the window translates (``phase`` is its English)."""

    request_id: int | None
    phase: str
    fraction: float | None = None
    sentence: Sentence | None = None


@dataclass(frozen=True)
class Token:
    """A piece of the reply: whole UTF-8 characters, never half of one."""

    request_id: int
    text: str


@dataclass(frozen=True)
class Done:
    """The reply ended; ``text`` is all of it, ``finish_reason`` says why it ended."""

    request_id: int
    text: str
    finish_reason: FinishReason
    metrics: Metrics
    notice: Sentence | None = None
    """As :attr:`ModelLoaded.notice`, when the template failed on this conversation only."""


@dataclass(frozen=True)
class TokenCount:
    """The answer to a :class:`CountRequest`, by the loaded model's own tokenizer."""

    request_id: int
    prompt_tokens: int
    """The whole prompt, as a reply would evaluate it (images and documents included)."""
    document_tokens: int
    image_tokens: int
    n_ctx: int
    """The context the engine holds now."""


@dataclass(frozen=True)
class ImageStatus:
    """An image asked for with :class:`PrefetchImage` is being encoded, is ready, or failed."""

    sha256: str
    state: ImageState


@dataclass(frozen=True)
class ReadAheadDone:
    """A :class:`ReadAhead` was read: the thread's memory holds ``positions`` positions, through
    the last picture of the message being written (0: there was nothing to read ahead)."""

    thread: str
    positions: int


@dataclass(frozen=True)
class EngineError:
    """A request failed. ``kind`` "user" is a sentence for the user; "crashed" means the engine
    process died and will be restarted by the next request; "cancelled" (request_id None): a load
    was stopped on request, and no model is loaded."""

    request_id: int | None
    message: str
    kind: ErrorKind = "internal"
    sentence: Sentence | None = None
    """The message as a template and values, so the window can say it in its language (None:
    ``message`` is all there is)."""

    @staticmethod
    def saying(request_id: int | None, said: Sentence, kind: ErrorKind) -> EngineError:
        """The error that says this sentence (``message`` is its English)."""
        return EngineError(request_id, str(said), kind, said)


Event = ModelLoaded | Progress | Token | Done | TokenCount | ImageStatus | ReadAheadDone | EngineError
