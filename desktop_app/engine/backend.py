"""The one module that talks to llama.cpp: load a Gemma GGUF and its projector, and generate.

Runs only inside the engine process (``process.py``); the app never imports it.  It drives
llama-cpp-python's low-level and mtmd bindings directly instead of ``Llama`` and its chat
handlers, because those reset the context and re-encode every image on every turn.  Here the KV
cache holds what was evaluated last, a new turn evaluates only what differs (longest common prefix
over tokens and image identities), and encoded images are kept by content hash.  A conversation
the engine leaves for another thread is kept as a snapshot of its KV state
(:mod:`desktop_app.engine.snapshots`) and restored when its thread comes back; one that outgrows
the context leaves out the turns after its first exchange.
"""

from __future__ import annotations

import codecs
import ctypes
import logging
import time
from collections import OrderedDict
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import llama_cpp
import numpy as np
from gguf import GGUFReader
from llama_cpp import mtmd_cpp as mtmd

from desktop_app import paths
from desktop_app.engine import prompt
from desktop_app.engine.cancel import CancelFlag, native_reader
from desktop_app.engine.embedding_cache import EmbeddingCache, file_identity
from desktop_app.engine.images import PreparedImage, pan_scan_for_backend
from desktop_app.engine.protocol import (
    ChatMessage,
    CountRequest,
    FinishReason,
    GenerateRequest,
    Metrics,
    ReadAhead,
    Restored,
    TokenCount,
)
from desktop_app.engine.sampler import Sampler
from desktop_app.engine.snapshots import CacheShape, Key, Snapshot, SnapshotStore
from desktop_app.errors import Sentence, UserError
from desktop_app.settings import DEFAULT_CONTEXT, SWA_FULL_CACHE, GenerationSettings, RuntimeSettings
from desktop_app.thoughts import THOUGHT_CLOSE, THOUGHT_OPEN, split_reply

log = logging.getLogger(__name__)

N_BATCH = 512
"""Prompt tokens per llama_decode; also bounds one image's tokens (Gemma 3 uses 256)."""

REPLY_ROOM_SHARE = 4
"""A conversation that outgrows the context keeps 1/4 of it free for the reply (or the reply's
length limit, if smaller) ..."""
REFIT_SLACK_SHARE = 8
"""... and, when turns must be left out, another 1/8 free for the next turns: leaving out one
more turn each time would change the prompt right after the first exchange every turn and make
the engine read everything after it again; this way the next few turns only append."""


class Cancelled(Exception):
    """The user stopped the reply while the prompt or an image was being evaluated."""


class _Yielded(Exception):
    """Work done ahead stopped between two batches because a request is waiting; what was
    evaluated so far is kept."""


@dataclass
class _TextSpan:
    tokens: list[int]
    document: bool = False
    """A document's words, tokenized without parsing control tokens."""


@dataclass
class _ImageSpan:
    chunk: ctypes.c_void_p
    sha256: str
    n_tokens: int


_Span = _TextSpan | _ImageSpan

def chunk_spans(chunks: ctypes.c_void_p) -> list[_Span]:
    """What ``mtmd_tokenize`` put in a chunk list, as spans (image spans point into the list)."""
    spans: list[_Span] = []
    for i in range(mtmd.mtmd_input_chunks_size(chunks)):
        chunk = mtmd.mtmd_input_chunks_get(chunks, i)
        kind = mtmd.mtmd_input_chunk_get_type(chunk)
        if kind == mtmd.MTMD_INPUT_CHUNK_TYPE_TEXT:
            n = ctypes.c_size_t()
            ptr = mtmd.mtmd_input_chunk_get_tokens_text(chunk, ctypes.byref(n))
            spans.append(_TextSpan([ptr[j] for j in range(n.value)]))
        elif kind == mtmd.MTMD_INPUT_CHUNK_TYPE_IMAGE:
            sha = (mtmd.mtmd_input_chunk_get_id(chunk) or b"").decode()
            spans.append(_ImageSpan(chunk, sha, mtmd.mtmd_input_chunk_get_n_tokens(chunk)))
        else:
            raise RuntimeError(f"unexpected mtmd chunk type {kind}")
    return spans


IMAGE_CHUNKS_KEPT = 8
"""Single-image tokenizations kept between prompts (about 9.6 MB each for Gemma 3's 896 px)."""


@dataclass
class _Tokenized:
    chunks: ctypes.c_void_p
    spans: list[_Span]
    pins: int = 0


class _ImageChunks:
    """mtmd's tokenization of single pictures (their delimiters and their resized, normalised
    pixels), kept by picture so that a prompt read again (every turn, the read-ahead, settling
    after a reply, a token count) does not prepare its pictures again: ``mtmd_tokenize`` does
    that for every picture of the text it is given, even one whose embedding is cached and whose
    tokens are already in memory (measured: 9.9 ms for one 4:3 photo on a laptop-class core,
    each time).  Pictures of a prompt being used are pinned; of the rest, the most recently used
    ``keep`` stay.  This object owns every chunk list it holds and frees it on eviction or close.
    """

    def __init__(self, keep: int = IMAGE_CHUNKS_KEPT) -> None:
        self._entries: OrderedDict[str, _Tokenized] = OrderedDict()
        self._keep = keep

    def pin(self, sha256: str, tokenize: Callable[[], tuple[ctypes.c_void_p, list[_Span]]]) -> list[_Span]:
        """The spans of one picture, tokenized now unless kept; pinned until :meth:`release`."""
        entry = self._entries.get(sha256)
        if entry is None:
            chunks, spans = tokenize()
            entry = self._entries[sha256] = _Tokenized(chunks, spans)
        self._entries.move_to_end(sha256)
        entry.pins += 1
        return entry.spans

    def release(self, shas: Sequence[str]) -> None:
        """Unpin these pictures (one pin each), then keep only the ``keep`` newest unpinned."""
        for sha256 in shas:
            self._entries[sha256].pins -= 1
        unpinned = [sha for sha, entry in self._entries.items() if entry.pins == 0]
        for sha256 in unpinned[: max(0, len(unpinned) - self._keep)]:
            mtmd.mtmd_input_chunks_free(self._entries.pop(sha256).chunks)

    def close(self) -> None:
        while self._entries:
            mtmd.mtmd_input_chunks_free(self._entries.popitem()[1].chunks)


def _document_tokens(spans: list[_Span]) -> int:
    return sum(len(s.tokens) for s in spans if isinstance(s, _TextSpan) and s.document)


class _Run:
    """What one reply's decoding carries from one stretch to the next (thought, then answer)."""

    def __init__(
        self, backend: LlamaBackend, sampler: Sampler, emit: Callable[[str], None], received_at: float
    ) -> None:
        self.sampler = sampler
        self.n_vocab = llama_cpp.llama_vocab_n_tokens(backend._vocab)
        self.emit = emit
        self.received_at = received_at
        self.parts: list[str] = []
        self.logits, self.logits_addr = np.empty(0, np.float32), 0
        self.decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self.piece_buf = ctypes.create_string_buffer(64)
        self.one = (llama_cpp.llama_token * 1)()
        self.batch = llama_cpp.llama_batch_get_one(self.one, 1)  # points at ``one``: reusable
        self.first_at = self.ttft = 0.0
        self.produced = 0
        self.stopped_at = -1
        """The token a stretch stopped at (not written), -1 when it stopped otherwise."""


def _silence_native_logs() -> None:
    """llama.cpp prints every tensor at load; keep warnings and errors, in our log."""

    def on_log(level: int, text: bytes, _user: ctypes.c_void_p) -> None:
        if level in (3, 4):  # GGML_LOG_LEVEL_WARN, GGML_LOG_LEVEL_ERROR
            log.warning("llama.cpp: %s", text.decode("utf-8", "replace").rstrip())

    _callback = llama_cpp.llama_log_callback(on_log)
    global _LOG_CALLBACK  # the C side keeps only a pointer: keep the object alive
    _LOG_CALLBACK = _callback
    llama_cpp.llama_log_set(_callback, ctypes.c_void_p(0))
    mtmd.mtmd_log_set(_callback, ctypes.c_void_p(0))
    mtmd.mtmd_helper_log_set(_callback, ctypes.c_void_p(0))


_LOG_CALLBACK: object = None

_LOGITS_ADDRESS = ctypes.CFUNCTYPE(ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int32)(
    ctypes.cast(llama_cpp.llama_get_logits_ith, ctypes.c_void_p).value or 0
)
"""``llama_get_logits_ith`` returning the address as an int: the token loop compares it with the
last one and keeps its numpy view, where wrapping the pointer anew cost ~30 us a token (0.3%)."""


def backend_name(n_gpu_layers: int) -> str:
    """Which compute backend replies run on: "CUDA", "Metal", "Vulkan" or "CPU"."""
    if n_gpu_layers != 0 and llama_cpp.llama_supports_gpu_offload():
        info = llama_cpp.llama_print_system_info().decode("utf-8", "replace")
        for name in ("CUDA", "Metal", "Vulkan", "ROCm", "SYCL"):
            if name.upper() in info.upper():
                return name
        return "GPU"
    return "CPU"


LOAD_PROGRESS_STEP = 0.01
"""Loading progress is reported in steps of at least 1 %: llama.cpp calls back once per tensor
(236 times for the 270M, ~800 for a 27B), more than a progress bar needs."""


class _LoadProgress:
    """llama.cpp's model-load progress callback: it reports how far the weights are read and
    aborts the load when the stop flag is set (returning false makes
    ``llama_model_load_from_file`` free what it read and return NULL)."""

    def __init__(self, report: Callable[[float], None] | None, is_cancelled: Callable[[], bool]) -> None:
        self._report = report
        self._is_cancelled = is_cancelled
        self._last = -1.0
        # The C side keeps only a pointer: this object must outlive the load.
        self.callback = llama_cpp.llama_progress_callback(self._on_progress)

    def _on_progress(self, fraction: float, _user_data: ctypes.c_void_p) -> bool:
        if self._is_cancelled():
            return False
        if self._report is not None and (fraction - self._last >= LOAD_PROGRESS_STEP or fraction >= 1.0):
            self._last = fraction
            self._report(min(1.0, fraction))
        return True


def _projector_output_width(mmproj_path: Path) -> int | None:
    """The embedding width a gemma3 projector produces (None: not a gemma3 projector, or
    unreadable; mtmd then judges the file itself)."""
    try:
        reader = GGUFReader(mmproj_path)
        field = reader.fields.get("clip.projector_type")
        if field is None or field.contents() != "gemma3":
            return None
        for tensor in reader.tensors:
            if tensor.name == "mm.input_projection.weight":  # [n_embd_text, n_embd_vision]
                return int(tensor.shape[0])
    except Exception:  # a damaged header: mtmd refuses it, and frees what it loaded
        log.info("could not read %s ahead of mtmd", mmproj_path, exc_info=True)
    return None


def _projector_does_not_fit(mmproj_path: Path, model_path: Path) -> UserError:
    return UserError(
        "The projector {projector} does not fit {model} or is damaged; choose the mmproj file "
        "made for this model.",
        projector=mmproj_path.name,
        model=model_path.name,
    )


class LlamaBackend:
    """A loaded model (+ projector) and the KV cache of the conversation evaluated last."""

    def __init__(
        self,
        model_path: Path,
        mmproj_path: Path | None,
        runtime: RuntimeSettings,
        cancel: CancelFlag,
        on_load_progress: Callable[[float], None] | None = None,
        *,
        snapshots: SnapshotStore | None = None,
    ) -> None:
        """Load the files; ``on_load_progress`` hears how far (0..1) the weights are read, and
        setting ``cancel`` meanwhile stops the load (a UserError, with the flag still set).
        ``snapshots`` keeps conversations this backend leaves (the engine process has one for
        its lifetime, so they outlive a model reload); None keeps them nowhere."""
        _silence_native_logs()
        llama_cpp.llama_backend_init()
        self._is_cancelled = cancel.is_set
        self._cancel_address = cancel.address
        self.runtime = runtime
        started = time.perf_counter()
        # The one owner of every native handle this backend allocates: each is registered the
        # moment it exists, and ``close()`` (or a load that fails half-way) frees them newest
        # first (projector, context, model), as llama-cpp-python's ``_internals`` does.
        self._handles = ExitStack()
        self._image_chunks = _ImageChunks()
        try:
            self._open(model_path, mmproj_path, runtime, _LoadProgress(on_load_progress, cancel.is_set))
        except BaseException:
            self._handles.close()
            raise
        self.backend = backend_name(runtime.n_gpu_layers)
        self._snapshots = snapshots or SnapshotStore(None)
        self._snapshots.configure(disk=runtime.disk_cache, disk_bytes=runtime.snapshot_disk_mib << 20)
        self._shape = CacheShape(
            model=file_identity(model_path),
            projector=file_identity(mmproj_path) if mmproj_path is not None else "",
            n_ctx=self.n_ctx,
            n_ubatch=N_BATCH,
            flash_attn=runtime.flash_attn,
            type_k=self._type_k,
            type_v=self._type_v,
            swa_full=SWA_FULL_CACHE,
            backend=self.backend,
            llama_cpp=llama_cpp.__version__,
        )
        self._thread = ""
        """The thread whose conversation the KV cache holds ("": a scratch one, never kept)."""
        self._dropped = 0
        """Messages the conversation in the KV cache leaves out (see ``_leave_out``)."""
        self._saved = False
        """Whether the conversation in the KV cache was written to disk as it is now."""
        self._checkpoint: Snapshot | None = None
        """The conversation as it was before a read-ahead appended the pictures of a message
        still being written: if the message is sent otherwise, the memory goes back to it."""
        self._arrived_from: Restored | None = None
        """Where the thread's memory came from when it arrived, until its first reply says so
        (a read-ahead may have restored it before Send)."""
        self._replied: tuple[GenerateRequest, str] | None = None
        """The last request and its reply, until ``settle`` has run."""
        self.load_s = time.perf_counter() - started

    def _open(
        self,
        model_path: Path,
        mmproj_path: Path | None,
        runtime: RuntimeSettings,
        load_progress: _LoadProgress,
    ) -> None:
        """Allocate model, context and projector, each handed to ``self._handles`` at once."""
        model_params = llama_cpp.llama_model_default_params()
        model_params.n_gpu_layers = 999 if runtime.n_gpu_layers < 0 else runtime.n_gpu_layers
        model_params.progress_callback = load_progress.callback  # kept alive by the caller
        model = llama_cpp.llama_model_load_from_file(str(model_path).encode(), model_params)
        if not model:
            raise UserError(
                "llama.cpp could not load {name}: the file is damaged, is not a Gemma model this app "
                "runs, or there is not enough memory for it.",
                name=model_path.name,
            )
        self._handles.callback(llama_cpp.llama_model_free, model)
        self._model = model
        self._vocab = llama_cpp.llama_model_get_vocab(model)
        self.n_ctx_train = llama_cpp.llama_model_n_ctx_train(model)

        ctx_params = llama_cpp.llama_context_default_params()
        ctx_params.n_ctx = runtime.n_ctx or DEFAULT_CONTEXT  # a front end sizes it; else this
        ctx_params.n_batch = N_BATCH
        ctx_params.n_ubatch = N_BATCH
        ctx_params.n_threads = runtime.n_threads
        ctx_params.n_threads_batch = runtime.n_threads
        ctx_params.flash_attn_type = (
            llama_cpp.LLAMA_FLASH_ATTN_TYPE_ENABLED
            if runtime.flash_attn
            else llama_cpp.LLAMA_FLASH_ATTN_TYPE_DISABLED
        )
        # Gemma 3's sliding-window layers (5 of every 6) keep only the last window of positions.
        # A full-size cache for them would make any trim exact but costs gigabytes at long
        # contexts (27B at 128K: ~67 GB instead of ~11 GB), so the reduced cache is used and
        # `_safe_keep` re-reads the prompt in the rare case a trim reaches past what it holds.
        ctx_params.swa_full = SWA_FULL_CACHE
        self._type_k, self._type_v = int(ctx_params.type_k), int(ctx_params.type_v)
        ctx = llama_cpp.llama_init_from_model(model, ctx_params)
        if not ctx:
            raise UserError(
                "There is not enough memory for a context of {n_ctx} tokens with {name}; choose a "
                "smaller context size.",
                n_ctx=ctx_params.n_ctx,
                name=model_path.name,
            )
        self._handles.callback(llama_cpp.llama_free, ctx)
        self._ctx = ctx
        self.n_ctx = llama_cpp.llama_n_ctx(ctx)
        self._memory = llama_cpp.llama_get_memory(ctx)
        # Checked by ggml before every graph node while the prompt or an image is evaluated (a
        # generated token is one short step: the loop checks the flag between steps).  It is a C
        # function reading the shared flag, not a Python call per node (see cancel.py).
        self._abort_cb = ctypes.cast(native_reader(), llama_cpp.ggml_abort_callback)

        self._mtmd: mtmd.mtmd_context_p | None = None
        if mmproj_path is not None:
            width = _projector_output_width(mmproj_path)
            if width is not None and width != llama_cpp.llama_model_n_embd_inp(model):
                # Refused here, before mtmd: ``mtmd_init_from_file`` refuses it too, but its
                # constructor throws after loading the encoder, whose destructor then never runs
                # (measured: the engine grew 5.6 MB per refused 0.2 MB test projector; a real
                # one would leave its whole 850 MB behind).
                raise _projector_does_not_fit(mmproj_path, model_path)
            params = mtmd.mtmd_context_params_default()
            params.use_gpu = runtime.n_gpu_layers != 0
            params.n_threads = runtime.n_threads
            params.print_timings = False
            params.warmup = False
            params.media_marker = prompt.MEDIA_MARKER.encode()
            params.flash_attn_type = ctx_params.flash_attn_type
            projector = mtmd.mtmd_init_from_file(str(mmproj_path).encode(), model, params)
            if not projector:
                raise _projector_does_not_fit(mmproj_path, model_path)
            self._handles.callback(mtmd.mtmd_free, projector)
            self._mtmd = projector
            self._handles.callback(self._image_chunks.close)
        self.has_vision = bool(self._mtmd) and mtmd.mtmd_support_vision(self._mtmd)
        self.architecture = self._meta("general.architecture") or ""
        # The GGUF's template is someone else's code: tried once now, so a broken one is
        # reported with the load rather than with the first reply.
        self._format = prompt.ChatFormat(self._meta("tokenizer.chat_template"), model_path.name, self.architecture)
        self._notice = self._format.check()
        self._window = int(self._meta(f"{self.architecture}.attention.sliding_window") or 0)
        # Gemma 3 and 3n end a turn with <end_of_turn>, Gemma 4 with <turn|>; llama.cpp marks
        # both as end-of-generation too, this just spares the lookup for the common case.
        self._end_of_turn = (
            self._single_token(prompt.END_OF_TURN) or self._single_token(prompt.GEMMA4_END_OF_TURN) or -1
        )
        # Gemma 4 thinks between two marker tokens; the loop ends a thought at the second.
        opens, closes = self._single_token(THOUGHT_OPEN), self._single_token(THOUGHT_CLOSE)
        self._thought_end = closes if opens is not None and closes is not None else None
        self.thinks = self.architecture == "gemma4" and self._thought_end is not None
        self._cached: list[Key] = []
        self._embeddings = EmbeddingCache(
            paths.cache_dir() / "embeddings" / file_identity(mmproj_path)
            if mmproj_path is not None and runtime.disk_cache
            else None
        )
        # Before anything else is freed, the embeddings an encode took a minute for reach disk.
        self._handles.callback(self._embeddings.flush)
        self._n_embd = llama_cpp.llama_model_n_embd_inp(model)

    def take_notice(self) -> Sentence | None:
        """A sentence for the user that is no error (the model's chat template was set aside for
        the built-in one), once; None when there is nothing to say."""
        notice, self._notice = self._notice, None
        return notice

    # ----------------------------------------------------------------------------- helpers
    def _meta(self, key: str) -> str | None:
        size = llama_cpp.llama_model_meta_val_str(self._model, key.encode(), None, 0)
        if size < 0:
            return None
        buf = ctypes.create_string_buffer(size + 1)
        llama_cpp.llama_model_meta_val_str(self._model, key.encode(), buf, size + 1)
        return buf.value.decode("utf-8", "replace")

    def tokenize(self, text: str, *, special: bool = True) -> list[int]:
        data = text.encode("utf-8")
        capacity = len(data) + 8
        buf = (llama_cpp.llama_token * capacity)()
        n = llama_cpp.llama_tokenize(self._vocab, data, len(data), buf, capacity, False, special)
        if n < 0:
            buf = (llama_cpp.llama_token * -n)()
            n = llama_cpp.llama_tokenize(self._vocab, data, len(data), buf, -n, False, special)
        return list(buf[:n])

    def _single_token(self, text: str) -> int | None:
        tokens = self.tokenize(text)
        return tokens[0] if len(tokens) == 1 else None

    def _piece(self, token: int, buf: ctypes.Array[ctypes.c_char]) -> bytes:
        n = llama_cpp.llama_token_to_piece(self._vocab, token, buf, len(buf), 0, False)
        if n < 0:
            bigger = ctypes.create_string_buffer(-n)
            n = llama_cpp.llama_token_to_piece(self._vocab, token, bigger, -n, 0, False)
            return bigger.raw[:n]
        return buf.raw[:n]

    # ----------------------------------------------------------------------- prompt spans
    @contextmanager
    def _spans(self, text: str, images: list[PreparedImage]) -> Iterator[list[_Span]]:
        """Split the prompt into text tokens and image chunks (mtmd adds the image delimiters).

        Documents' words are tokenized apart, as plain text (see ``prompt.segments``).  The image
        spans point into chunk lists that ``_image_chunks`` owns; they stay pinned while this
        context is open.
        """
        pinned: list[str] = []
        try:
            spans: list[_Span] = []
            queue = iter(images)
            for piece, is_document in prompt.segments(text):
                if is_document:
                    spans.append(_TextSpan(self.tokenize(piece, special=False), document=True))
                    continue
                mine = [next(queue) for _ in range(piece.count(prompt.MEDIA_MARKER))]
                spans += self._piece_spans(piece, mine, pinned)
            yield spans
        finally:
            self._image_chunks.release(pinned)

    def _piece_spans(self, text: str, images: list[PreparedImage], pinned: list[str]) -> list[_Span]:
        """Text (control tokens parsed) and its images as spans.  The text between markers is
        tokenized apart, as mtmd itself does; each picture is mtmd's tokenization of it alone
        (kept between prompts), pinned by adding it to ``pinned``."""
        if not images:
            return [_TextSpan(self.tokenize(text))]
        if not self.has_vision:
            raise UserError("This model has no vision projector loaded; add its mmproj file.")
        parts = text.split(prompt.MEDIA_MARKER)
        spans: list[_Span] = [_TextSpan(self.tokenize(parts[0]))] if parts[0] else []
        for image, after in zip(images, parts[1:], strict=True):
            spans += self._image_chunks.pin(image.sha256, partial(self._tokenize_image, image))
            pinned.append(image.sha256)
            if after:
                spans.append(_TextSpan(self.tokenize(after)))
        return spans

    def _tokenize_image(self, image: PreparedImage) -> tuple[ctypes.c_void_p, list[_Span]]:
        """mtmd's chunks for one picture alone (its delimiters as text, its pixels prepared for
        the encoder), and the spans pointing into them; the caller owns the chunk list."""
        with ExitStack() as bitmap_owned:  # mtmd copies what it needs into the chunks
            pixels = (ctypes.c_uint8 * len(image.rgb)).from_buffer_copy(image.rgb)
            bitmap = mtmd.mtmd_bitmap_init(image.width, image.height, pixels)
            if not bitmap:
                raise MemoryError(f"mtmd could not hold a {image.width}x{image.height} image")
            bitmap_owned.callback(mtmd.mtmd_bitmap_free, bitmap)
            mtmd.mtmd_bitmap_set_id(bitmap, image.sha256.encode())
            chunks = mtmd.mtmd_input_chunks_init()
            try:
                data = prompt.MEDIA_MARKER.encode("utf-8")
                text_in = mtmd.mtmd_input_text(data, len(data), False, True)
                array = (mtmd.mtmd_bitmap_p_ctypes * 1)(bitmap)
                rc = mtmd.mtmd_tokenize(self._mtmd, chunks, ctypes.byref(text_in), array, 1)
                if rc != 0:
                    raise RuntimeError(f"mtmd_tokenize failed with {rc}")
                spans = chunk_spans(chunks)
            except BaseException:
                mtmd.mtmd_input_chunks_free(chunks)
                raise
        return chunks, spans

    @staticmethod
    def _keys(spans: list[_Span]) -> list[Key]:
        keys: list[Key] = []
        for span in spans:
            if isinstance(span, _TextSpan):
                keys.extend(span.tokens)
            else:
                keys.extend((span.sha256, i) for i in range(span.n_tokens))
        return keys

    def _reusable_prefix(self, keys: list[Key]) -> int:
        """How many leading positions of the KV cache this prompt can keep."""
        n = _common_prefix(self._cached, keys)
        # An image is all or nothing: never keep half of one.
        while n > 0 and n < len(keys):
            before, after = keys[n - 1], keys[n]
            if not (isinstance(before, tuple) and isinstance(after, tuple) and after[0] == before[0]):
                break
            n -= 1
        # At least one position must be evaluated to get logits for the first new token.
        if n >= len(keys):
            n = len(keys) - 1
            while n > 0 and isinstance(keys[n], tuple):
                n -= 1
        return max(n, 0)

    def _safe_keep(self, keep: int) -> int:
        """``keep``, or 0 when trimming back to it would leave the sliding-window layers blind.

        After the trim, the next position attends to the ``window`` positions before it; the
        reduced SWA cache still holds them only if its oldest position is at most
        ``keep - window`` (measured exact in ENGINE-FACTS; a deeper trim gave wrong logits).
        Appending to what is cached never trims, so follow-ups always keep their prefix.
        """
        if keep >= len(self._cached) or self._window <= 0 or keep == 0:
            return keep
        oldest = llama_cpp.llama_memory_seq_pos_min(self._memory, 0)
        return keep if 0 <= oldest <= max(0, keep - self._window) else 0

    def _trim(self, keep: int) -> None:
        llama_cpp.llama_memory_seq_rm(self._memory, 0, keep, -1)
        del self._cached[keep:]

    # --------------------------------------------------------------------------- evaluate
    def _decode_tokens(self, tokens: list[int], yield_to: Callable[[], bool] | None = None) -> None:
        for start in range(0, len(tokens), N_BATCH):
            if yield_to is not None and yield_to():
                raise _Yielded()
            batch_tokens = tokens[start : start + N_BATCH]
            array = (llama_cpp.llama_token * len(batch_tokens))(*batch_tokens)
            rc = llama_cpp.llama_decode(self._ctx, llama_cpp.llama_batch_get_one(array, len(array)))
            if rc != 0:
                self._trim(len(self._cached))
                if rc == 2 or self._is_cancelled():
                    raise Cancelled()
                raise RuntimeError(f"llama_decode failed with {rc}")
            self._cached.extend(batch_tokens)

    def _image_embedding(self, span: _ImageSpan) -> tuple[np.ndarray, float | None]:
        """The encoded image and the seconds its encoding took (None: it came from the cache)."""
        shape = (span.n_tokens, self._n_embd)
        cached = self._embeddings.get(span.sha256, shape)
        if cached is not None:
            return cached, None
        if self._is_cancelled():
            raise Cancelled()
        return self._encode(span)

    def _encode(self, span: _ImageSpan) -> tuple[np.ndarray, float]:
        """Run the vision encoder on one image chunk and keep its output in the cache."""
        shape = (span.n_tokens, self._n_embd)
        started = time.perf_counter()
        rc = mtmd.mtmd_encode_chunk(self._mtmd, span.chunk)
        encode_s = time.perf_counter() - started
        if rc != 0:
            raise RuntimeError(f"mtmd_encode_chunk failed with {rc}")
        out = mtmd.mtmd_get_output_embd(self._mtmd)
        # Copy: the next encode overwrites mtmd's output buffer.
        embedding = np.ctypeslib.as_array(out, shape=shape).copy()
        self._embeddings.put(span.sha256, embedding)
        return embedding, encode_s

    def _decode_image(self, span: _ImageSpan, embedding: np.ndarray) -> None:
        n_past = len(self._cached)
        new_n_past = llama_cpp.llama_pos(0)
        rc = mtmd.mtmd_helper_decode_image_chunk(
            self._mtmd,
            self._ctx,
            span.chunk,
            embedding.ctypes.data_as(ctypes.POINTER(ctypes.c_float)),
            n_past,
            0,
            N_BATCH,
            ctypes.byref(new_n_past),
            mtmd.mtmd_helper_post_decode_callback(0),
            None,
        )
        if rc != 0:
            self._trim(n_past)
            if self._is_cancelled():
                raise Cancelled()
            raise RuntimeError(f"decoding image embeddings failed with {rc}")
        self._cached.extend((span.sha256, i) for i in range(span.n_tokens))

    # ------------------------------------------------------------------------ threads
    def _switch_to(self, thread: str) -> None:
        """Make ``thread``'s conversation the one in the KV cache (``_arrived_from`` says where
        it came from).

        The departing conversation is kept as a snapshot (a named thread only); the arriving
        one is restored from its snapshot as it was when it left, if there is one, and the
        usual prefix rules then decide how much of it the new prompt keeps.  Leaving the
        scratch thread ("") keeps what the cache holds: a new conversation's first message was
        read ahead there before the conversation had a name.  Leaving a named thread empties
        the cache, so a thread without a snapshot is read as if fresh, byte for byte (reusing
        another thread's prefix would change the batches its prompt is read in, and with them
        the last bits of its logits: a greedy reply of the 270M parted after 60 tokens).
        """
        if thread == self._thread:
            return
        self.settle()
        self._keep_current()
        if self._thread:
            self._trim(0)
        self._thread, self._dropped, self._checkpoint, self._saved = thread, 0, None, False
        self._arrived_from = None
        found = self._snapshots.take(self._shape, thread) if thread else None
        if found is not None:
            snapshot, where = found
            self._arrived_from = where if self._restore(snapshot) else None

    def _capture(self) -> Snapshot:
        """The KV state of the conversation in the cache, with the keys it holds."""
        size = llama_cpp.llama_state_seq_get_size(self._ctx, 0)
        state = np.empty(size, np.uint8)
        written = llama_cpp.llama_state_seq_get_data(
            self._ctx, state.ctypes.data_as(ctypes.POINTER(ctypes.c_uint8)), size, 0
        )
        return Snapshot(tuple(self._cached), state[:written], self._dropped)

    def _restore(self, snapshot: Snapshot) -> bool:
        """Load a snapshot into the cache in place of what it holds; False, and the cache left
        empty, when llama.cpp refuses it or it does not hold as many positions as it has keys."""
        self._trim(0)
        state = snapshot.state
        read = llama_cpp.llama_state_seq_set_data(
            self._ctx, state.ctypes.data_as(ctypes.POINTER(ctypes.c_uint8)), state.nbytes, 0
        )
        if read == 0 or llama_cpp.llama_memory_seq_pos_max(self._memory, 0) != len(snapshot.keys) - 1:
            log.warning("a snapshot of %s did not fit this context; reading the thread again", self._thread)
            llama_cpp.llama_memory_seq_rm(self._memory, 0, -1, -1)
            return False
        self._cached = list(snapshot.keys)
        self._dropped = snapshot.dropped
        return True

    def _certain(self) -> Snapshot:
        """The conversation in the cache without what a read-ahead added to it."""
        return self._checkpoint or self._capture()

    def _keep_current(self) -> None:
        """Hand the conversation in the cache (a named thread's) to the snapshot pool."""
        if self._thread and self._cached:
            self._snapshots.keep(self._shape, self._thread, self._certain(), on_disk=self._saved)

    def save_snapshot(self) -> None:
        """Write the conversation in the cache to disk, in the background (warm after a restart)."""
        self.settle()
        if self._thread and self._cached and not self._saved:
            self._snapshots.save(self._shape, self._thread, self._certain())
            self._saved = True

    def _back_to_checkpoint(self, keys: list[Key]) -> None:
        """Undo a read-ahead that ``keys`` do not follow (a picture removed or replaced before
        Send): trimming it off could reach past what the sliding-window layers still hold."""
        checkpoint = self._checkpoint
        if checkpoint is None or _common_prefix(self._cached, keys) == len(self._cached):
            return
        self._checkpoint = None
        self._restore(checkpoint)

    def forget_snapshots(self) -> None:
        """Clear every snapshot (the conversation in the cache stays: it is live, not kept)."""
        self._snapshots.clear()

    def read_ahead(self, request: ReadAhead, yield_to: Callable[[], bool] = lambda: False) -> int:
        """Do now what Send would do for the message being written, as far as it is certain:
        the conversation before it (a thread just opened is made warm), then the message
        through its last picture, if it has one (its words come after).  The memory where the
        message begins is kept as a checkpoint, so a picture removed before Send is undone
        cheaply (see ``_back_to_checkpoint``).  Stops between batches when ``yield_to`` says a
        request waits (what was read stays).  Returns the positions the memory holds now."""
        self._switch_to(request.thread)
        pairs = min(self._dropped // 2, _droppable_pairs(len(request.messages)))
        messages = _leave_out(request.messages, pairs)
        before, earlier = self._render(messages[:-1], request.system_prompt, request.settings)
        with self._spans(before, earlier) as spans:
            before_keys = self._keys(spans)
        text, images = self._render(messages, request.system_prompt, request.settings)
        with self._spans(text, images) as spans:
            keys = self._keys(spans)
            room = min(request.settings.max_tokens, self.n_ctx // REPLY_ROOM_SHARE)
            if len(keys) + room > self.n_ctx:
                return len(self._cached)  # the prompt will be fitted at Send
            certain = until = min(_common_prefix(before_keys, keys), len(keys) - 1)
            position = 0
            for span in spans:
                position += len(span.tokens) if isinstance(span, _TextSpan) else span.n_tokens
                if isinstance(span, _ImageSpan) and position > certain:
                    until = position
            self._back_to_checkpoint(keys)
            keep = _common_prefix(self._cached, keys[:until])
            if keep < len(self._cached):
                self._checkpoint = None
                self._trim(self._safe_keep(keep))
            try:
                if len(self._cached) < certain:
                    self._evaluate(spans, certain, lambda _phase: None, yield_to)
                if until > certain:
                    if self._checkpoint is None and len(self._cached) <= certain:
                        self._checkpoint = self._capture()
                    self._evaluate(spans, until, lambda _phase: None, yield_to)
            except _Yielded:
                pass
            return len(self._cached)

    # ------------------------------------------------------------------------ prefetch
    def image_views(self, image: PreparedImage, pan_scan: str) -> list[PreparedImage]:
        """The images the model sees for ``image``: it, then its Pan & Scan crops."""
        views = prompt.image_views(image, self._pan_scan(pan_scan))
        return [view for view in views if isinstance(view, PreparedImage)]

    def encode_ahead(self, view: PreparedImage) -> None:
        """Encode one view into the embedding cache, unless it is there already."""
        if view.sha256 in self._embeddings:
            return
        if not self.has_vision:
            raise UserError("This model has no vision projector loaded; add its mmproj file.")
        with self._spans(prompt.MEDIA_MARKER, [view]) as spans:
            for span in spans:
                if isinstance(span, _ImageSpan):
                    self._encode(span)

    # --------------------------------------------------------------------------- generate
    def generate(
        self,
        request: GenerateRequest,
        emit: Callable[[str], None],
        received_at: float,
        on_phase: Callable[[Sentence], None] = lambda _phase: None,
    ) -> tuple[str, FinishReason, Metrics]:
        """Evaluate what is new in the prompt, then stream the reply through ``emit``.

        ``on_phase`` hears about the slow steps before they start ("encoding image 1 of 2" can
        take a minute on a laptop CPU), so the window can say what it is waiting for.
        """
        self._switch_to(request.thread)
        restored, self._arrived_from = self._arrived_from, None
        self._saved = False
        settings = request.settings
        messages = request.messages
        most = _droppable_pairs(len(messages))
        pairs = 0 if settings.stop_when_full else min(self._dropped // 2, most)
        room = min(settings.max_tokens, self.n_ctx // REPLY_ROOM_SHARE)
        while True:
            text, images = self._render(_leave_out(messages, pairs), request.system_prompt, settings)
            with self._spans(text, images) as spans:
                keys = self._keys(spans)
                if settings.stop_when_full or len(keys) + room <= self.n_ctx or pairs >= most:
                    self._dropped = 2 * pairs
                    result = self._run(spans, keys, settings, emit, received_at, on_phase, restored)
                    self._replied = (request, result[0])
                    return result
            pairs = self._pairs_to_leave_out(request, pairs, most, room)

    def _pan_scan(self, mode: str) -> str | None:
        # Pan & Scan is Gemma 3's: the other projectors take an image whole, at its own size.
        return pan_scan_for_backend(mode, self.backend) if self.architecture == "gemma3" else None

    def _render(
        self, messages: Sequence[ChatMessage], system_prompt: str, settings: GenerationSettings
    ) -> tuple[str, list[PreparedImage]]:
        """The prompt as this model is asked: its template (while it works; the sentence saying
        the built-in one took over waits in :meth:`take_notice`), and the features it has."""
        text, images, notice = self._format.render(
            messages,
            system_prompt,
            self._pan_scan(settings.pan_scan),
            think=settings.think and self.thinks,
        )
        self._notice = notice or self._notice
        return text, images

    def count(self, request: CountRequest) -> TokenCount:
        """The tokens a reply to this conversation would evaluate, by kind; nothing is decoded."""
        text, images = self._render(request.messages, request.system_prompt, request.settings)
        with self._spans(text, images) as spans:
            return TokenCount(
                request.request_id,
                prompt_tokens=len(self._keys(spans)),
                document_tokens=_document_tokens(spans),
                image_tokens=sum(s.n_tokens for s in spans if isinstance(s, _ImageSpan)),
                n_ctx=self.n_ctx,
            )

    def settle(self) -> None:
        """Trim the memory to what the thread's next turn will keep: the reply as the next
        prompt reads it back (tokenized anew, its ends trimmed by the chat template, its thought
        left out as the front ends leave it out).

        Run after each reply, off the way to any first token.  It matters for snapshots: a
        restored one holds only the sliding window's own positions, so it can be appended to but
        not trimmed (measured: the oldest position a 270M thread of 1,530 held was 506 live,
        1,018 restored); a reply ending in a newline would otherwise cost a full re-read.
        """
        if self._replied is None:
            return
        request, reply = self._replied
        self._replied = None
        answer = ChatMessage.assistant(split_reply(reply).answer)
        messages = (*_leave_out(request.messages, self._dropped // 2), answer)
        text, images = self._render(messages, request.system_prompt, request.settings)
        with self._spans(text, images) as spans:
            keep = _common_prefix(self._cached, self._keys(spans))
        if keep < len(self._cached):
            self._trim(self._safe_keep(keep))

    def _prompt_size(self, request: GenerateRequest, pairs: int) -> int:
        text, images = self._render(_leave_out(request.messages, pairs), request.system_prompt, request.settings)
        with self._spans(text, images) as spans:
            return sum(len(s.tokens) if isinstance(s, _TextSpan) else s.n_tokens for s in spans)

    def _pairs_to_leave_out(self, request: GenerateRequest, fewest: int, most: int, room: int) -> int:
        """The fewest exchanges after the first to leave out (more than ``fewest``) so the prompt
        leaves ``room`` for the reply and some slack for the next turns; without the slack if
        that is impossible; ``most`` if nothing fits (the reply then says the context is full).
        """
        for limit in (self.n_ctx - room - self.n_ctx // REFIT_SLACK_SHARE, self.n_ctx - room):
            low, high = fewest + 1, most
            if self._prompt_size(request, high) > limit:
                continue
            while low < high:  # the size shrinks as more is left out: bisect
                middle = (low + high) // 2
                if self._prompt_size(request, middle) <= limit:
                    high = middle
                else:
                    low = middle + 1
            return low
        return most

    def _run(
        self,
        spans: list[_Span],
        keys: list[Key],
        settings: GenerationSettings,
        emit: Callable[[str], None],
        received_at: float,
        on_phase: Callable[[Sentence], None],
        restored: Restored | None,
    ) -> tuple[str, FinishReason, Metrics]:
        if len(keys) >= self.n_ctx:
            documents = _document_tokens(spans)
            if documents:
                raise UserError(
                    "This message needs {tokens} tokens, {documents} of them its documents; the "
                    "model holds at most {train} and the context is set to {n_ctx}. Choose a "
                    "larger context size or attach fewer pages.",
                    tokens=len(keys),
                    documents=documents,
                    train=self.n_ctx_train,
                    n_ctx=self.n_ctx,
                )
            raise UserError(
                "This conversation needs {tokens} tokens but the context holds {n_ctx}; start a "
                "new chat or choose a larger context size.",
                tokens=len(keys),
                n_ctx=self.n_ctx,
            )
        self._back_to_checkpoint(keys)
        self._checkpoint = None  # from here on, the cache holds only what was sent
        keep = self._safe_keep(self._reusable_prefix(keys))
        self._trim(keep)
        image_tokens = sum(s.n_tokens for s in spans if isinstance(s, _ImageSpan))
        encode_s = 0.0
        from_cache = 0
        reply = ""
        try:
            llama_cpp.llama_set_abort_callback(self._ctx, self._abort_cb, self._cancel_address)
            on_phase(Sentence("reading the prompt"))
            encode_s, from_cache = self._evaluate(spans, len(keys), on_phase)
            llama_cpp.llama_set_abort_callback(self._ctx, llama_cpp.ggml_abort_callback(), None)
            on_phase(Sentence("writing"))
            prompt_read_s = time.perf_counter() - received_at
            reply, finish, ttft, decode_tokens, decode_s, thought_tokens = self._stream(settings, emit, received_at)
            if decode_tokens == 0:  # the reply ended at once: it waited for the prompt only
                ttft = prompt_read_s
        except Cancelled:
            finish, ttft, decode_tokens, decode_s, thought_tokens = "cancelled", 0.0, 0, 0.0, 0
        finally:
            llama_cpp.llama_set_abort_callback(self._ctx, llama_cpp.ggml_abort_callback(), None)
        metrics = Metrics(
            prompt_tokens=len(keys),
            image_tokens=image_tokens,
            document_tokens=_document_tokens(spans),
            # Microseconds: a small projector encodes in ~1 ms, and the benchmark compares it.
            image_encode_s=round(encode_s, 6),
            ttft_s=round(ttft, 6),
            decode_tokens=decode_tokens,
            decode_tok_s=round(decode_tokens / decode_s, 2) if decode_s > 0 else 0.0,
            cached_tokens=keep,
            images_from_cache=from_cache,
            thought_tokens=thought_tokens,
            restored=restored,
            dropped_turns=self._dropped,
        )
        return reply, finish, metrics

    def _evaluate(
        self,
        spans: list[_Span],
        until: int,
        on_phase: Callable[[Sentence], None],
        yield_to: Callable[[], bool] | None = None,
    ) -> tuple[float, int]:
        """Evaluate the prompt's positions from what the cache holds up to ``until`` (never inside
        an image); the seconds spent encoding images, and how many came from the cache.  With
        ``yield_to``, stop (``_Yielded``) between batches and images once it says so."""
        keep = len(self._cached)
        encode_s, from_cache = 0.0, 0
        n_images = sum(isinstance(s, _ImageSpan) for s in spans)
        image_index = 0
        position = 0
        for span in spans:
            if position >= until:
                break
            if isinstance(span, _TextSpan):
                end = position + len(span.tokens)
                if end > keep:
                    self._decode_tokens(span.tokens[max(keep - position, 0) : until - position], yield_to)
                position = end
                continue
            end = position + span.n_tokens
            image_index += 1
            if end > keep:
                if yield_to is not None and yield_to():
                    raise _Yielded()
                on_phase(Sentence("encoding image {n} of {total}", n=image_index, total=n_images))
                embedding, spent_s = self._image_embedding(span)
                if spent_s is None:
                    from_cache += 1
                else:
                    encode_s += spent_s
                self._decode_image(span, embedding)
            position = end
        return encode_s, from_cache

    def _stream(
        self, settings: GenerationSettings, emit: Callable[[str], None], received_at: float
    ) -> tuple[str, FinishReason, float, int, float, int]:
        """Write the reply: (text, finish, ttft, tokens, decode seconds, thought tokens).

        A thinking model asked to think writes in two stretches: the thought, bounded by the
        context only and ended by its closing marker, then the answer, which ``max_tokens``
        bounds, so a long thought can never leave the answer without room.  Everyone else writes
        one stretch, exactly as before.
        """
        with Sampler(settings) as sampler:
            run = _Run(self, sampler, emit, received_at)
            thought_end = self._thought_end if settings.think and self.thinks else None
            thought_tokens = 0
            if thought_end is not None:
                finish = self._decode(run, self.n_ctx, thought_end)
                thought_tokens = run.produced
                if finish == "stop" and run.stopped_at == thought_end:
                    finish = self._take(run, thought_end)
                    if finish == "stop":
                        finish = self._decode(run, settings.max_tokens, self._end_of_turn)
            else:
                finish = self._decode(run, settings.max_tokens, self._end_of_turn)
        tail = run.decoder.decode(b"", final=True)
        if tail:
            run.parts.append(tail)
            emit(tail)
        decode_s = time.perf_counter() - run.first_at if run.produced else 0.0
        return "".join(run.parts), finish, run.ttft, run.produced, decode_s, thought_tokens

    def _decode(self, run: _Run, limit: int, stop: int) -> FinishReason:
        """The decode loop: up to ``limit`` tokens, ending at ``stop`` or end-of-generation
        (which are neither written nor evaluated).  Each pass runs with caches just flushed by
        a decode step, so it keeps to few Python operations: everything it can set up once is
        set up before it, and what lasts across stretches goes back into ``run`` after it."""
        sampler, n_vocab, emit, parts = run.sampler, run.n_vocab, run.emit, run.parts
        logits_at = _LOGITS_ADDRESS
        logits, logits_addr = run.logits, run.logits_addr  # llama.cpp's buffer, viewed once
        decoder, piece_buf, one, batch = run.decoder, run.piece_buf, run.one, run.batch
        is_cancelled, ctx, vocab = self._is_cancelled, self._ctx, self._vocab
        received_at, first_at, ttft, produced = run.received_at, run.first_at, run.ttft, run.produced
        finish: FinishReason = "length"
        for _ in range(limit):
            if is_cancelled():
                finish = "cancelled"
                break
            addr = logits_at(ctx, -1)
            if addr != logits_addr:  # the buffer moves only when llama.cpp regrows it
                if not addr:
                    raise RuntimeError("llama.cpp returned no logits")
                logits_addr = addr
                logits = np.frombuffer((ctypes.c_float * n_vocab).from_address(addr), np.float32)
            token = sampler.sample(logits)
            if token == stop or llama_cpp.llama_vocab_is_eog(vocab, token):
                run.stopped_at = token
                finish = "stop"
                break
            produced += 1
            if produced == 1:
                first_at = time.perf_counter()
                ttft = first_at - received_at
            piece = decoder.decode(self._piece(token, piece_buf))
            if piece:
                parts.append(piece)
                if produced == 1:  # the first words show at once
                    emit(piece)
                    piece = ""
            if len(self._cached) + 1 >= self.n_ctx:
                if piece:
                    emit(piece)
                finish = "context"
                break
            one[0] = token
            rc = llama_cpp.llama_decode(ctx, batch)
            # Later pieces go out after the step that consumed them: the app process then wakes
            # while this one samples (llama.cpp's other thread only spins meanwhile), not in the
            # middle of a step, where it would preempt one of llama.cpp's threads.  Measured
            # +0.4% decode speed (270M, 2 threads); the text arrives one step later, the first
            # piece excepted.
            if piece:
                emit(piece)
            if rc != 0:
                if rc == 2 or is_cancelled():
                    finish = "cancelled"
                    break
                raise RuntimeError(f"llama_decode failed with {rc}")
            self._cached.append(token)
        run.logits, run.logits_addr = logits, logits_addr
        run.first_at, run.ttft, run.produced = first_at, ttft, produced
        return finish

    def _take(self, run: _Run, token: int) -> FinishReason:
        """Write and evaluate one token the loop stopped at (the end of a thought): "stop" when
        the reply can go on, else why it cannot."""
        if len(self._cached) + 1 >= self.n_ctx:
            return "context"
        piece = run.decoder.decode(self._piece(token, run.piece_buf))
        run.parts.append(piece)
        run.emit(piece)
        run.produced += 1
        run.one[0] = token
        rc = llama_cpp.llama_decode(self._ctx, run.batch)
        if rc != 0:
            if rc == 2 or self._is_cancelled():
                return "cancelled"
            raise RuntimeError(f"llama_decode failed with {rc}")
        self._cached.append(token)
        return "stop"

    def close(self) -> None:
        """Keep the conversation in the cache as a snapshot and hand every snapshot held in RAM
        to the disk writer (they outlive this model); then free every native handle, newest
        first, after the embedding cache reached disk."""
        try:
            self.settle()
            self._keep_current()
            self._snapshots.spill()
        finally:
            self._handles.close()


def _common_prefix(a: Sequence[Key], b: Sequence[Key]) -> int:
    """How many leading keys two sequences share."""
    n = 0
    for old, new in zip(a, b, strict=False):
        if old != new:
            break
        n += 1
    return n


def _droppable_pairs(n_messages: int) -> int:
    """Exchanges that may be left out: those between the first exchange and the last message."""
    return max(0, (n_messages - 3) // 2)


def _leave_out(messages: tuple[ChatMessage, ...], pairs: int) -> tuple[ChatMessage, ...]:
    """The conversation without the ``pairs`` exchanges right after the first one."""
    return messages if pairs <= 0 else messages[:2] + messages[2 + 2 * pairs :]
