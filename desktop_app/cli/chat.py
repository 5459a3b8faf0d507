"""Headless ``ask`` and ``chat`` commands: the engine from the command line, for scripts and tests.

``ask`` answers one prompt (streamed, or one JSON object with ``--json``); ``chat --jsonl`` keeps
one engine alive over stdin/stdout, one JSON line per turn each way, for one conversation or
several: a line's ``"thread"`` names the conversation it belongs to, and the engine keeps each
thread's memory while it answers the others.  Everything the user gives is checked before the
engine starts, so a wrong file costs one sentence, not a model load.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import mimetypes
import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from desktop_app.cli.parser import Subparsers
from desktop_app.engine.client import EngineClient
from desktop_app.engine.images import PreparedImage, prepare_image
from desktop_app.engine.interface import Engine
from desktop_app.engine.protocol import (
    ChatMessage,
    Done,
    EngineError,
    LoadRequest,
    Role,
    Token,
    conversation_turns,
)
from desktop_app.errors import UserError
from desktop_app.models.fit import default_context_for_files, machine_memory
from desktop_app.models.gemma_files import check_pair, inspect_model, inspect_projector, require_vision
from desktop_app.settings import (
    AUTO_CONTEXT,
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
        help='read {"text": ..., "images": [paths], "thread": name} lines, write one JSON reply '
        "line per turn",
    )
    chat.add_argument(
        "--continue",
        dest="continue_id",
        type=int,
        metavar="ID",
        help="continue the saved conversation ID (lines without a thread go to it)",
    )
    chat.add_argument(
        "--no-save", action="store_true", help="do not keep the conversations in the app's store"
    )
    chat.set_defaults(func=run_chat)


def _add_engine_options(parser: argparse.ArgumentParser) -> None:
    defaults = GenerationSettings()
    runtime = RuntimeSettings()
    parser.add_argument("--model", type=Path, required=True, help="Gemma 3 GGUF file")
    parser.add_argument("--mmproj", type=Path, help="its vision projector (mmproj GGUF)")
    parser.add_argument("--system", default=None, help="system prompt")
    parser.add_argument("--max-tokens", type=int, default=defaults.max_tokens,
                        help=f"reply length limit (1-{MAX_OUTPUT_TOKENS})")
    parser.add_argument("--temperature", type=float, default=defaults.temperature)
    parser.add_argument("--top-k", type=int, default=defaults.top_k)
    parser.add_argument("--top-p", type=float, default=defaults.top_p)
    parser.add_argument("--min-p", type=float, default=defaults.min_p)
    parser.add_argument("--repeat-penalty", type=float, default=defaults.repeat_penalty)
    parser.add_argument("--seed", type=int, default=defaults.seed, help="-1 for random")
    parser.add_argument("--pan-scan", choices=PAN_SCAN_MODES, default=defaults.pan_scan,
                        help="Gemma 3 Pan & Scan crops for tall or wide images (default: off on a "
                             "CPU, auto on a GPU)")
    parser.add_argument("--stop-when-full", action="store_true",
                        help="stop when the context is full instead of leaving out older turns")
    parser.add_argument("--ctx", type=int, default=runtime.n_ctx,
                        help="context size in tokens (default: sized to this computer's memory)")
    parser.add_argument("--threads", type=int, default=runtime.n_threads)
    parser.add_argument("--gpu-layers", type=int, default=runtime.n_gpu_layers,
                        help="-1 all (default), 0 CPU only")
    parser.add_argument("--no-flash-attn", action="store_true", help="turn flash attention off")


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
        stop_when_full=args.stop_when_full,
    ).validate()
    runtime = RuntimeSettings(
        n_ctx=args.ctx,
        n_threads=args.threads,
        n_gpu_layers=args.gpu_layers,
        flash_attn=not args.no_flash_attn,
    ).validate()
    return generation, runtime


def _start_engine(args: argparse.Namespace, n_images: int) -> Engine:
    """Check the files, then load them; UserError for anything the user can fix."""
    model = inspect_model(args.model)
    mmproj = inspect_projector(args.mmproj) if args.mmproj else None
    if mmproj is not None:
        check_pair(model, mmproj)
    require_vision(model, mmproj, n_images)
    _, runtime = _settings(args)
    if runtime.n_ctx == AUTO_CONTEXT:
        n_ctx = default_context_for_files(model, mmproj, machine_memory(), flash_attn=runtime.flash_attn)
        runtime = dataclasses.replace(runtime, n_ctx=n_ctx)
    client = EngineClient()
    client.load(LoadRequest.of(args.model, args.mmproj, runtime))
    result = client.wait_loaded()
    if isinstance(result, EngineError):
        client.close()
        if result.kind == "user":
            raise UserError(result.message)
        raise RuntimeError(result.message)
    return client


def reply_json(done: Done) -> dict[str, Any]:
    """The ``ask --json`` / ``chat --jsonl`` reply object."""
    metrics = dataclasses.asdict(done.metrics)
    return {"text": done.text, "finish_reason": done.finish_reason, "metrics": metrics}


def _reply(
    client: Engine,
    messages: list[ChatMessage],
    args: argparse.Namespace,
    on_token: Callable[[str], object] | None,
    *,
    system: str = "",
    thread: str = "",
) -> Done:
    generation, _ = _settings(args)
    for event in client.stream(messages, system, generation, thread=thread):
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

        done = _reply(client, [message], args, None if args.json else stream_out, system=args.system or "")
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


def _parse_turn(line: str) -> tuple[str | None, str, list[tuple[Path, PreparedImage]]]:
    """A line's thread (None: the default one), text and images."""
    try:
        data = json.loads(line)
    except json.JSONDecodeError:
        raise UserError('Each line must be a JSON object like {"text": "...", "images": []}.') from None
    if not isinstance(data, dict) or not isinstance(data.get("text", ""), str):
        raise UserError('Each line must be a JSON object with a "text" string.')
    thread = data.get("thread")
    if thread is not None and (not isinstance(thread, str) or not thread):
        raise UserError('"thread" must be a non-empty string naming the conversation.')
    paths = data.get("images") or []
    if not isinstance(paths, list) or not all(isinstance(p, str) for p in paths):
        raise UserError('"images" must be a list of file paths.')
    return thread, data.get("text", ""), [(Path(p), prepare_image(Path(p))) for p in paths]


def _named_thread(line: str) -> Any:
    """The ``"thread"`` a line names, whatever it is (for its error line); None if none."""
    try:
        data = json.loads(line)
    except json.JSONDecodeError:
        return None
    return data.get("thread") if isinstance(data, dict) else None


@dataclass
class _Thread:
    """One conversation of a ``chat --jsonl`` run."""

    name: str | None
    """The ``"thread"`` of its input lines; None for lines without one."""
    conversation_id: int | None
    """Its id in the store (None with ``--no-save``)."""
    history: list[tuple[Role, str, list[PreparedImage]]] = field(default_factory=list)
    """Its messages as stored: turned into the engine's alternating turns the way the window
    turns them (:func:`conversation_turns`), so both send the same prompt and share memory."""

    @property
    def engine_thread(self) -> str:
        """The engine's name for it: the stored conversation's (the window uses the same, so
        either continues the other's memory), or this run's thread name."""
        if self.conversation_id is not None:
            return engine_thread_name(self.conversation_id)
        return f"jsonl:{self.name or ''}"


def engine_thread_name(conversation_id: int) -> str:
    """The engine thread of a stored conversation, the same in the window and the CLI."""
    return f"conversation-{conversation_id}"


def run_chat(args: argparse.Namespace, stdin: Iterable[str] | None = None, stdout: TextIO | None = None) -> int:
    """``chat --jsonl``: one conversation per thread; a bad line gets an error line and changes
    nothing.

    Unless ``--no-save``, each thread is kept in the store like a conversation from the window:
    the first output line is ``{"conversation_id": N}`` for lines without a thread (``--continue
    N`` continues N), each prompt is committed before its reply starts, and each reply is
    flushed while it streams.  Reply lines carry ``"thread"`` and ``"conversation_id"``.  At the
    end of input the engine stores the current conversation's memory, so ``--continue`` (or the
    window) picks it up at once.
    """
    stdin = sys.stdin if stdin is None else stdin
    stdout = sys.stdout if stdout is None else stdout
    generation, _ = _settings(args)
    if args.continue_id is not None and args.no_save:
        raise UserError("--continue reads a saved conversation; leave out --no-save.")
    store = None if args.no_save else ConversationStore()
    try:
        system, default = _default_thread(args, store, generation)
        client = _start_engine(args, 0)
    except BaseException:
        if store is not None:
            store.close()
        raise
    threads: dict[str | None, _Thread] = {None: default}

    def write(obj: dict[str, Any]) -> None:
        stdout.write(json.dumps(obj, ensure_ascii=False) + "\n")
        stdout.flush()

    try:
        if default.conversation_id is not None:
            write({"conversation_id": default.conversation_id})
        for line in stdin:
            if not line.strip():
                continue
            try:
                name, text, images = _parse_turn(line)
                if images and args.mmproj is None:
                    raise UserError(
                        "{model} was started without a projector; start chat with --mmproj to ask "
                        "about images.",
                        model=args.model.name,
                    )
                thread = threads.get(name)
                if thread is None:
                    thread = threads[name] = _new_thread(name, store, args, system, generation)
                done = _turn(client, store, thread, text, images, args, system)
            except (UserError, _EngineFailed) as exc:
                # The engine restarts with the next turn; the conversations so far are kept.
                write({"error": str(exc), "thread": _named_thread(line)})
                continue
            write({**reply_json(done), "thread": name, "conversation_id": thread.conversation_id})
        client.save_snapshot()
    finally:
        client.close()
        if store is not None:
            if default.conversation_id is not None and args.continue_id is None and not default.history:
                store.delete_conversation(default.conversation_id)  # no line went to it
            store.close()
    return 0


def _default_thread(
    args: argparse.Namespace, store: ConversationStore | None, generation: GenerationSettings
) -> tuple[str, _Thread]:
    """The system prompt and the conversation of lines without a thread: ``--continue``'s, with
    its history and (unless ``--system`` says otherwise) its system prompt, or a new one."""
    if store is None:
        return args.system or "", _Thread(None, None)
    if args.continue_id is None:
        system = args.system or ""
        return system, _new_thread(None, store, args, system, generation)
    conversation = store.get_conversation(args.continue_id)
    history: list[tuple[Role, str, list[PreparedImage]]] = [
        (m.role, m.text, [prepare_image(a.path) for a in m.attachments])
        for m in store.messages(conversation.id)
    ]
    if any(images for _, _, images in history) and args.mmproj is None:
        raise UserError(
            "Conversation {id} has images; start chat with --mmproj to continue it.", id=conversation.id
        )
    system = conversation.system_prompt if args.system is None else args.system
    return system, _Thread(None, conversation.id, history)


def _new_thread(
    name: str | None,
    store: ConversationStore | None,
    args: argparse.Namespace,
    system: str,
    generation: GenerationSettings,
) -> _Thread:
    if store is None:
        return _Thread(name, None)
    conversation = store.create_conversation(
        model_path=args.model.resolve(),
        mmproj_path=args.mmproj.resolve() if args.mmproj else None,
        system_prompt=system,
        settings=generation,
    )
    return _Thread(name, conversation.id)


def _turn(
    client: Engine,
    store: ConversationStore | None,
    thread: _Thread,
    text: str,
    images: list[tuple[Path, PreparedImage]],
    args: argparse.Namespace,
    system: str,
) -> Done:
    """One prompt of a thread: committed, answered (flushed while it streams), remembered."""
    prompt: tuple[Role, str, list[PreparedImage]] = ("user", text, [image for _, image in images])
    writer = None
    if store is not None and thread.conversation_id is not None:
        shas = [_store_image(store, path, image) for path, image in images]
        store.add_user_message(thread.conversation_id, text, shas)
        writer = StreamingWriter(store, store.begin_assistant_message(thread.conversation_id))
    try:
        done = _reply(
            client,
            conversation_turns([*thread.history, prompt]),
            args,
            writer.append if writer else None,
            system=system,
            thread=thread.engine_thread,
        )
    except _EngineFailed:
        if writer is not None:
            writer.finish("crashed")
        raise
    if writer is not None:
        writer.finish(done.finish_reason, dataclasses.asdict(done.metrics))
    thread.history += [prompt, ("assistant", done.text, [])]
    return done


def _store_image(store: ConversationStore, path: Path, image: PreparedImage) -> str:
    """Keep the original file (what the user gave), content-addressed; returns its sha256."""
    mime = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    return store.add_attachment(path.read_bytes(), mime, image.width, image.height)
