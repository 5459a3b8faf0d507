"""Headless ``ask`` and ``chat`` commands: the engine from the command line, for scripts and tests.

``ask`` answers one prompt (streamed, or one JSON object with ``--json``); ``chat --jsonl`` keeps
one engine and one conversation alive over stdin/stdout, one JSON line per turn each way.
Everything the user gives is checked before the engine starts, so a wrong file costs one sentence,
not a model load.
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
from desktop_app.engine.client import EngineClient
from desktop_app.engine.images import PreparedImage, prepare_image
from desktop_app.engine.interface import Engine
from desktop_app.engine.protocol import ChatMessage, Done, EngineError, LoadRequest, Token
from desktop_app.errors import UserError
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
    ask = sub.add_parser("ask", help="answer one prompt (optionally about images) and exit")
    _add_engine_options(ask)
    ask.add_argument("--image", action="append", default=[], type=Path, help="image file (repeatable)")
    ask.add_argument("--json", action="store_true", help="print one JSON object instead of streaming")
    ask.add_argument("prompt", help="the question")
    ask.set_defaults(func=run_ask)

    chat = sub.add_parser("chat", help="one conversation over stdin/stdout, a JSON line per turn")
    _add_engine_options(chat)
    chat.add_argument(
        "--jsonl",
        action="store_true",
        required=True,
        help='read {"text": ..., "images": [paths]} lines, write one JSON reply line per turn',
    )
    chat.add_argument(
        "--no-save", action="store_true", help="do not keep this conversation in the app's store"
    )
    chat.set_defaults(func=run_chat)


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
    images = [prepare_image(path) for path in args.image]
    message = ChatMessage.user(*images, args.prompt)
    client = _start_engine(args, len(images))
    try:
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


def _parse_turn(line: str) -> tuple[str, list[tuple[Path, PreparedImage]]]:
    try:
        data = json.loads(line)
    except json.JSONDecodeError:
        raise UserError('Each line must be a JSON object like {"text": "...", "images": []}.') from None
    if not isinstance(data, dict) or not isinstance(data.get("text", ""), str):
        raise UserError('Each line must be a JSON object with a "text" string.')
    paths = data.get("images") or []
    if not isinstance(paths, list) or not all(isinstance(p, str) for p in paths):
        raise UserError('"images" must be a list of file paths.')
    return data.get("text", ""), [(Path(p), prepare_image(Path(p))) for p in paths]


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
                text, images = _parse_turn(line)
                if images and not has_vision:
                    raise UserError(
                        f"{args.model.name} was started without a projector; start chat with "
                        "--mmproj to ask about images."
                    )
                turn = ChatMessage.user(*(image for _, image in images), text)
                writer = None
                if store is not None and conversation_id is not None:
                    shas = [_store_image(store, path, image) for path, image in images]
                    store.add_user_message(conversation_id, text, shas)
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


def _store_image(store: ConversationStore, path: Path, image: PreparedImage) -> str:
    """Keep the original file (what the user gave), content-addressed; returns its sha256."""
    mime = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    return store.add_attachment(path.read_bytes(), mime, image.width, image.height)
