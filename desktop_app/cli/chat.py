"""Headless ``ask`` and ``chat`` commands: the engine from the command line, for scripts and tests.

``ask`` answers one prompt (streamed, or one JSON object with ``--json``) about images
(``--image``) and documents (``--file``: PDF, Word, text or code; an image given as ``--file`` is
an image), attached in the order given; ``ask --print-prompt`` prints the prompt text the model
would read and exits.  ``chat --jsonl`` keeps one engine and one conversation alive over
stdin/stdout, one JSON line per turn each way.  Everything the user gives is checked before the
engine starts, so a wrong file costs one sentence, not a model load; a message with documents is
counted before it is sent, so one too large for the context is refused at once, with the numbers.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import mimetypes
import sys
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, TextIO

from desktop_app.cli.parser import Subparsers
from desktop_app.engine import prompt
from desktop_app.engine.client import EngineClient
from desktop_app.engine.documents import (
    REPLY_ROOM,
    PreparedDocument,
    fits_context,
    is_image_file,
    prepare_document,
    shortfall_of,
)
from desktop_app.engine.images import PreparedImage, prepare_image
from desktop_app.engine.interface import Engine
from desktop_app.engine.protocol import ChatMessage, Done, EngineError, LoadRequest, Token, TokenCount
from desktop_app.errors import UserError
from desktop_app.models.fit import context_that_holds, machine_memory
from desktop_app.models.gemma_files import check_pair, inspect_model, inspect_projector, require_vision
from desktop_app.settings import (
    MAX_OUTPUT_TOKENS,
    PAN_SCAN_MODES,
    GenerationSettings,
    RuntimeSettings,
)
from desktop_app.store import ConversationStore, StreamingWriter


def register(sub: Subparsers) -> None:
    """Add ``ask`` and ``chat`` to the CLI."""
    ask = sub.add_parser("ask", help="answer one prompt (optionally about images and documents) and exit")
    _add_engine_options(ask)
    ask.add_argument("--image", action="append", dest="attachments", default=[], type=_image_argument,
                     metavar="PATH", help="image file (repeatable)")
    ask.add_argument("--file", action="append", dest="attachments", type=_file_argument, metavar="PATH",
                     help="document to ask about: PDF, Word (.docx), text or code, or an image "
                          "(repeatable; kept in order with --image)")
    ask.add_argument("--json", action="store_true", help="print one JSON object instead of streaming")
    ask.add_argument("--print-prompt", action="store_true",
                     help="print the exact prompt text the model would read (images as a "
                          "placeholder line) and exit without generating")
    ask.add_argument("prompt", help="the question")
    ask.set_defaults(func=run_ask)

    chat = sub.add_parser("chat", help="one conversation over stdin/stdout, a JSON line per turn")
    _add_engine_options(chat)
    chat.add_argument(
        "--jsonl",
        action="store_true",
        required=True,
        help='read {"text": ..., "images": [paths], "files": [paths]} lines, write one JSON reply '
             "line per turn",
    )
    chat.add_argument(
        "--no-save", action="store_true", help="do not keep this conversation in the app's store"
    )
    chat.set_defaults(func=run_chat)


Attachment = tuple[Path, PreparedImage | PreparedDocument]
"""A file the user gave and what it became."""


def _image_argument(text: str) -> tuple[str, Path]:
    return ("image", Path(text))


def _file_argument(text: str) -> tuple[str, Path]:
    return ("file", Path(text))


def prepare_attachments(given: Iterable[tuple[str, Path]], vision: bool) -> list[Attachment]:
    """Read each image (``--image``, or a ``--file`` whose content is an image) and document, in
    order; the first that cannot be used raises its sentence."""
    prepared: list[Attachment] = []
    for kind, path in given:
        if kind == "image" or is_image_file(path):
            prepared.append((path, prepare_image(path)))
        else:
            document = prepare_document(path, vision=vision)
            if document.scanned_unread:
                pages = ", ".join(map(str, document.scanned_unread))
                print(
                    f"note: '{document.name}' has scanned pages ({pages}) that need a vision "
                    "projector (--mmproj) to be read; the model gets its other pages.",
                    file=sys.stderr,
                )
            prepared.append((path, document))
    return prepared


def _images_seen(parts: Iterable[PreparedImage | PreparedDocument]) -> int:
    return sum(1 if isinstance(p, PreparedImage) else len(p.scans) for p in parts)


def _add_engine_options(parser: argparse.ArgumentParser) -> None:
    defaults = GenerationSettings()
    parser.add_argument("--model", type=Path, required=True, help="Gemma 3 GGUF file")
    parser.add_argument("--mmproj", type=Path, help="its vision projector (mmproj GGUF)")
    parser.add_argument("--system", default="", help="system prompt")
    parser.add_argument("--max-tokens", type=int, default=defaults.max_tokens,
                        help=f"reply length limit (1-{MAX_OUTPUT_TOKENS})")
    parser.add_argument("--temperature", type=float, default=defaults.temperature)
    parser.add_argument("--top-k", type=int, default=defaults.top_k)
    parser.add_argument("--top-p", type=float, default=defaults.top_p)
    parser.add_argument("--min-p", type=float, default=defaults.min_p)
    parser.add_argument("--repeat-penalty", type=float, default=defaults.repeat_penalty)
    parser.add_argument("--seed", type=int, default=defaults.seed, help="-1 for random")
    add_pan_scan_option(parser)
    add_runtime_options(parser)


def add_pan_scan_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--pan-scan", choices=PAN_SCAN_MODES, default=GenerationSettings().pan_scan,
                        help="Gemma 3 Pan & Scan crops for tall or wide images (default auto)")


def add_runtime_options(parser: argparse.ArgumentParser) -> None:
    """How the model is loaded: context, threads, GPU layers, flash attention."""
    runtime = RuntimeSettings()
    parser.add_argument("--ctx", type=int, default=runtime.n_ctx, help="context size in tokens")
    parser.add_argument("--threads", type=int, default=runtime.n_threads)
    parser.add_argument("--gpu-layers", type=int, default=runtime.n_gpu_layers,
                        help="-1 all (default), 0 CPU only")
    parser.add_argument("--no-flash-attn", action="store_true", help="turn flash attention off")


def runtime_settings(args: argparse.Namespace) -> RuntimeSettings:
    """The options of :func:`add_runtime_options`, checked."""
    return RuntimeSettings(
        n_ctx=args.ctx,
        n_threads=args.threads,
        n_gpu_layers=args.gpu_layers,
        flash_attn=not args.no_flash_attn,
    ).validate()


def _settings(args: argparse.Namespace) -> tuple[GenerationSettings, RuntimeSettings]:
    generation = GenerationSettings(
        temperature=args.temperature,
        top_k=args.top_k,
        top_p=args.top_p,
        min_p=args.min_p,
        repeat_penalty=args.repeat_penalty,
        seed=args.seed,
        max_tokens=args.max_tokens,
        pan_scan=args.pan_scan,
    ).validate()
    return generation, runtime_settings(args)


def _start_engine(args: argparse.Namespace, n_images: int) -> Engine:
    """Check the files, then load them; UserError for anything the user can fix."""
    model = inspect_model(args.model)
    mmproj = inspect_projector(args.mmproj) if args.mmproj else None
    if mmproj is not None:
        check_pair(model, mmproj)
    require_vision(model, mmproj, n_images)
    _, runtime = _settings(args)
    return load_engine(LoadRequest.of(args.model, args.mmproj, runtime))


def load_engine(request: LoadRequest) -> EngineClient:
    """A started engine holding the model; UserError when the files are the user's to fix."""
    client = EngineClient()
    load_model(client, request)
    return client


def load_model(engine: Engine, request: LoadRequest) -> None:
    """Load the model and wait; on failure close ``engine`` and raise (UserError when the files
    are the user's to fix)."""
    engine.load(request)
    result = engine.wait_loaded()
    if isinstance(result, EngineError):
        engine.close()
        if result.kind == "user":
            raise UserError(result.message)
        raise RuntimeError(result.message)


def check_context(
    client: Engine, messages: list[ChatMessage], args: argparse.Namespace
) -> TokenCount | None:
    """Count a message with documents before sending it; UserError with the numbers and what
    would work (a larger context this computer can hold, the first pages that fit) when the
    context cannot hold it.  Messages without documents are left to the engine's own check."""
    documents = messages[-1].documents
    if not documents:
        return None
    generation, _ = _settings(args)
    counted = client.count(messages, args.system, generation)
    if isinstance(counted, EngineError):
        if counted.kind == "user":
            raise UserError(counted.message)
        raise _EngineFailed(counted.message)
    if fits_context(counted.prompt_tokens, counted.n_ctx):
        return counted
    sizes = [client.count([ChatMessage.user(d)], "", generation) for d in documents]
    loaded = client.loaded
    shortfall = shortfall_of(
        documents,
        needed=counted.prompt_tokens,
        document_tokens=counted.document_tokens,
        n_ctx=counted.n_ctx,
        n_ctx_train=loaded.n_ctx_train if loaded else counted.n_ctx,
        larger_context=context_that_holds(
            inspect_model(args.model),
            inspect_projector(args.mmproj) if args.mmproj else None,
            counted.prompt_tokens + REPLY_ROOM,
            machine_memory(),
        ),
        sizes=[c.document_tokens if isinstance(c, TokenCount) else 0 for c in sizes],
    )
    sentences = [str(sentence) for sentence in shortfall.sentences()]
    if shortfall.larger_context is not None:
        sentences.append(f"Run again with --ctx {shortfall.larger_context}.")
    raise UserError(" ".join(sentences))


def print_prompt(args: argparse.Namespace, messages: list[ChatMessage]) -> None:
    """The prompt text the model would read, from the model file's own chat template."""
    generation, _ = _settings(args)
    template = inspect_model(args.model).chat_template
    text, images = prompt.render(messages, args.system, template, generation.pan_scan)
    sys.stdout.write(prompt.readable(text, images))
    sys.stdout.flush()


def reply_json(done: Done) -> dict[str, Any]:
    """The ``ask --json`` / ``chat --jsonl`` reply object."""
    metrics = dataclasses.asdict(done.metrics)
    return {"text": done.text, "finish_reason": done.finish_reason, "metrics": metrics}


def _reply(
    client: Engine,
    messages: list[ChatMessage],
    args: argparse.Namespace,
    on_token: Callable[[str], object] | None,
) -> Done:
    generation, _ = _settings(args)
    for event in client.stream(messages, args.system, generation):
        if isinstance(event, Token) and on_token is not None:
            on_token(event.text)
        elif isinstance(event, Done):
            return event
        elif isinstance(event, EngineError):
            if event.kind == "user":
                raise UserError(event.message)
            raise _EngineFailed(event.message)
    raise _EngineFailed("The engine ended the reply without a result.")


class _EngineFailed(Exception):
    """The engine crashed or failed internally; exit code 1, with the engine's sentence."""


def run_ask(args: argparse.Namespace) -> int:
    """``ask``: stream one reply to stdout (or print it as JSON)."""
    _settings(args)  # bad values fail before any file is read
    parts = [prepared for _, prepared in prepare_attachments(args.attachments, args.mmproj is not None)]
    message = ChatMessage.user(*parts, args.prompt)
    if args.print_prompt:
        print_prompt(args, [message])
        return 0
    client = _start_engine(args, _images_seen(parts))
    try:
        check_context(client, [message], args)

        def stream_out(text: str) -> None:
            sys.stdout.write(text)
            sys.stdout.flush()

        done = _reply(client, [message], args, None if args.json else stream_out)
    except _EngineFailed as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    finally:
        client.close()
    if args.json:
        print(json.dumps(reply_json(done), ensure_ascii=False))
    else:
        sys.stdout.write("\n")
    return 0


def _parse_turn(line: str, vision: bool) -> tuple[str, list[Attachment]]:
    try:
        data = json.loads(line)
    except json.JSONDecodeError:
        raise UserError('Each line must be a JSON object like {"text": "...", "images": []}.') from None
    if not isinstance(data, dict) or not isinstance(data.get("text", ""), str):
        raise UserError('Each line must be a JSON object with a "text" string.')
    given: list[tuple[str, Path]] = []
    for key, kind in (("images", "image"), ("files", "file")):
        paths = data.get(key) or []
        if not isinstance(paths, list) or not all(isinstance(p, str) for p in paths):
            raise UserError('"{key}" must be a list of file paths.', key=key)
        given += [(kind, Path(p)) for p in paths]
    return data.get("text", ""), prepare_attachments(given, vision)


def run_chat(args: argparse.Namespace, stdin: Iterable[str] | None = None, stdout: TextIO | None = None) -> int:
    """``chat --jsonl``: one conversation; a bad line gets an error line and changes nothing.

    Unless ``--no-save``, the conversation is kept in the store like one from the window: the
    first output line is ``{"conversation_id": N}``, each prompt is committed before its reply
    starts, and each reply is flushed while it streams.
    """
    stdin = sys.stdin if stdin is None else stdin
    stdout = sys.stdout if stdout is None else stdout
    generation, _ = _settings(args)
    has_vision = args.mmproj is not None
    client = _start_engine(args, 0)
    history: list[ChatMessage] = []
    store = None if args.no_save else ConversationStore()

    def write(obj: dict[str, Any]) -> None:
        stdout.write(json.dumps(obj, ensure_ascii=False) + "\n")
        stdout.flush()

    try:
        conversation_id = None
        if store is not None:
            conversation_id = store.create_conversation(
                model_path=args.model.resolve(),
                mmproj_path=args.mmproj.resolve() if args.mmproj else None,
                system_prompt=args.system,
                settings=generation,
            ).id
            write({"conversation_id": conversation_id})
        for line in stdin:
            if not line.strip():
                continue
            try:
                text, attachments = _parse_turn(line, has_vision)
                if _images_seen(part for _, part in attachments) and not has_vision:
                    raise UserError(
                        f"{args.model.name} was started without a projector; start chat with "
                        "--mmproj to ask about images."
                    )
                turn = ChatMessage.user(*(part for _, part in attachments), text)
                check_context(client, [*history, turn], args)
                writer = None
                if store is not None and conversation_id is not None:
                    shas = [_store_attachment(store, path, part) for path, part in attachments]
                    names = [path.name for path, _ in attachments]
                    store.add_user_message(conversation_id, text, shas, names)
                    writer = StreamingWriter(store, store.begin_assistant_message(conversation_id))
                try:
                    done = _reply(client, [*history, turn], args, writer.append if writer else None)
                except _EngineFailed:
                    if writer is not None:
                        writer.finish("crashed")
                    raise
                if writer is not None:
                    writer.finish(done.finish_reason, dataclasses.asdict(done.metrics))
            except (UserError, _EngineFailed) as exc:
                # The engine restarts with the next turn; the conversation so far is kept.
                write({"error": str(exc)})
                continue
            history += [turn, ChatMessage.assistant(done.text)]
            write(reply_json(done))
    finally:
        client.close()
        if store is not None:
            store.close()
    return 0


def _store_attachment(store: ConversationStore, path: Path, part: PreparedImage | PreparedDocument) -> str:
    """Keep the original file (what the user gave), content-addressed; returns its sha256."""
    if isinstance(part, PreparedDocument):
        return store.add_document(path.read_bytes(), part.mime, part.plain_text)
    mime = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    return store.add_attachment(path.read_bytes(), mime, part.width, part.height)
