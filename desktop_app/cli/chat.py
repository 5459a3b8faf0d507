"""Headless ``ask`` and ``chat`` commands: the engine from the command line, for scripts and tests.

``ask`` answers one prompt (streamed, or one JSON object with ``--json``) about images
(``--image``) and documents (``--file``: PDF, Word, text or code; an image given as ``--file`` is
an image), attached in the order given; ``ask --print-prompt`` prints the prompt text the model
would read and exits.  ``chat --jsonl`` keeps one engine and one conversation alive over
stdin/stdout, one JSON line per turn each way.  Everything the user gives is checked before the
engine starts, so a wrong file costs one sentence, not a model load; a message with documents is
counted before it is sent, so one too large for the context is refused at once, with the numbers.

Both run a local GGUF (``--model``) or a model on a server that speaks the OpenAI API
(``--server URL --server-model NAME [--api-key-env VAR]``), with the same output either way.
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

from desktop_app.api_keys import key_from_environment
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
from desktop_app.engine.protocol import (
    AnyLoadRequest,
    ChatMessage,
    Done,
    EngineError,
    FinishReason,
    LoadRequest,
    Metrics,
    ServerLoadRequest,
    Token,
    TokenCount,
)
from desktop_app.engine.remote import RemoteEngine
from desktop_app.engine.remote_probe import check_url
from desktop_app.errors import Sentence, UserError
from desktop_app.models.fit import context_that_holds, machine_memory
from desktop_app.models.gemma_files import check_pair, inspect_model, inspect_projector, require_vision
from desktop_app.settings import (
    MAX_OUTPUT_TOKENS,
    PAN_SCAN_MODES,
    GenerationSettings,
    RuntimeSettings,
)
from desktop_app.store import ConversationServer, ConversationStore, StreamingWriter
from desktop_app.thoughts import SplitReply, split_reply, unanswered


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
    parser.add_argument("--model", type=Path, help="Gemma GGUF file (Gemma 3, 3n or 4), or use --server")
    parser.add_argument("--mmproj", type=Path, help="its vision projector (mmproj GGUF)")
    parser.add_argument("--server", metavar="URL",
                        help="an OpenAI-compatible server instead of --model, e.g. http://host:8080/v1")
    parser.add_argument("--server-model", metavar="NAME", help="the model's id on that server")
    parser.add_argument("--api-key-env", metavar="VAR",
                        help="environment variable that holds the server's API key")
    parser.add_argument("--ca-file", type=Path, metavar="PEM",
                        help="certificate authority of a server with its own (https)")
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
    parser.add_argument("--think", choices=("on", "off"), default="on" if defaults.think else "off",
                        help="let a model that thinks (Gemma 4) reason first; the thought goes to "
                        "stderr, --max-tokens bounds the answer (default off)")
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
        think=args.think == "on",
    ).validate()
    return generation, runtime_settings(args)


def _load_request(args: argparse.Namespace, n_images: int) -> AnyLoadRequest:
    """What to run, from the options; UserError for a combination that cannot work."""
    if args.server is None:
        if args.model is None:
            raise UserError("Give a model: --model FILE.gguf, or --server URL --server-model NAME.")
        if args.server_model or args.api_key_env or args.ca_file:
            raise UserError("--server-model, --api-key-env and --ca-file go with --server.")
        model = inspect_model(args.model)
        if args.think == "on" and not model.family.thinks:
            raise UserError(
                "{name} is a {family} model, which does not think; leave --think off.",
                name=model.display_name,
                family=model.family.label,
            )
        mmproj = inspect_projector(args.mmproj) if args.mmproj else None
        if mmproj is not None:
            check_pair(model, mmproj)
        require_vision(model, mmproj, n_images)
        _, runtime = _settings(args)
        return LoadRequest.of(args.model, args.mmproj, runtime)
    if args.model is not None or args.mmproj is not None:
        raise UserError("Use either --model (a file here) or --server (a model on a server), not both.")
    if not args.server_model:
        raise UserError("--server needs --server-model NAME: the model's id on the server.")
    ca_file = args.ca_file.expanduser().resolve() if args.ca_file else None
    if ca_file is not None and not ca_file.is_file():
        raise UserError("The certificate authority file '{path}' was not found.", path=args.ca_file)
    return ServerLoadRequest(
        check_url(args.server),
        args.server_model,
        key_from_environment(args.api_key_env) if args.api_key_env else "",
        str(ca_file) if ca_file else None,
    )


def _start_engine(args: argparse.Namespace, n_images: int) -> Engine:
    """Check the files (or the server), then load; UserError for anything the user can fix."""
    request = _load_request(args, n_images)
    client: Engine = RemoteEngine() if isinstance(request, ServerLoadRequest) else EngineClient()
    load_model(client, request)
    return client


def load_engine(request: LoadRequest) -> EngineClient:
    """A started local engine holding the model; UserError when the files are the user's to fix."""
    client = EngineClient()
    load_model(client, request)
    return client


def load_model(engine: Engine, request: AnyLoadRequest) -> None:
    """Load the model and wait; on failure close ``engine`` and raise (UserError when the files
    or the server are the user's to fix).  A notice (the model's chat template set aside) goes
    to stderr."""
    engine.load(request)
    result = engine.wait_loaded()
    if isinstance(result, EngineError):
        engine.close()
        if result.kind == "user":
            raise UserError(result.message)
        raise RuntimeError(result.message)
    _note(result.notice)


def _note(notice: Sentence | None) -> None:
    """A sentence that is no error (the model's chat template was set aside), on stderr so
    ``--json`` output stays one object."""
    if notice:
        print(f"note: {notice}", file=sys.stderr)


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
        raise _ReplyFailed(counted, "")
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
        larger_context=None if args.server else context_that_holds(
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
    if args.server:
        raise UserError("--print-prompt shows a local model's prompt; a server applies its own template.")
    generation, _ = _settings(args)
    model = inspect_model(args.model)
    chat_format = prompt.ChatFormat(model.chat_template, args.model.name, model.architecture)
    text, images, notice = chat_format.render(messages, args.system, generation.pan_scan)
    _note(notice)
    sys.stdout.write(prompt.readable(text, images))
    sys.stdout.flush()


def reply_json(done: Done) -> dict[str, Any]:
    """The ``ask --json`` / ``chat --jsonl`` reply object: ``text`` is the answer; a reply that
    thought also carries ``thought`` (and ``notice`` when it never answered), so a model that
    does not think answers in exactly the same shape as always."""
    metrics = dataclasses.asdict(done.metrics)
    reply = split_reply(done.text)
    answer: dict[str, Any] = {"text": reply.answer, "finish_reason": done.finish_reason, "metrics": metrics}
    if reply.thought or reply.thinking:
        answer["thought"] = reply.thought
    problem = unanswered(reply, done.finish_reason)
    if problem is not None:
        answer["notice"] = str(problem)
    return answer


class _ThoughtAwareOutput:
    """Streams a reply to the terminal: the thought to stderr as it comes, the answer to stdout."""

    def __init__(self) -> None:
        self._text = ""
        self._shown = SplitReply("", "", False)

    def add(self, piece: str) -> None:
        self._text += piece
        reply = split_reply(self._text)
        if len(reply.thought) > len(self._shown.thought):
            if not self._shown.thought:
                sys.stderr.write("Thinking: ")
            sys.stderr.write(reply.thought[len(self._shown.thought) :])
            sys.stderr.flush()
        if len(reply.answer) > len(self._shown.answer):
            if self._shown.thought and not self._shown.answer:
                sys.stderr.write("\n")
            sys.stdout.write(reply.answer[len(self._shown.answer) :])
            sys.stdout.flush()
        self._shown = reply


def _reply(
    client: Engine,
    messages: list[ChatMessage],
    args: argparse.Namespace,
    on_token: Callable[[str], object] | None,
) -> Done:
    generation, _ = _settings(args)
    parts: list[str] = []
    for event in client.stream(messages, args.system, generation):
        if isinstance(event, Token):
            parts.append(event.text)
            if on_token is not None:
                on_token(event.text)
        elif isinstance(event, Done):
            _note(event.notice)
            return event
        elif isinstance(event, EngineError):
            raise _ReplyFailed(event, "".join(parts))
    raise _ReplyFailed(EngineError(None, "The engine ended the reply without a result."), "".join(parts))


class _ReplyFailed(Exception):
    """The reply failed: a sentence for the user (a server that went away, say: exit code 2) or
    the engine crashed or failed internally (exit code 1).  ``partial`` is what streamed before."""

    def __init__(self, error: EngineError, partial: str) -> None:
        super().__init__(error.message)
        self.error = error
        self.partial = partial

    @property
    def finish_reason(self) -> FinishReason:
        return "crashed" if self.error.kind == "crashed" else "error"

    def json(self) -> dict[str, Any]:
        """The error line; with the reply's object shape when part of a reply streamed, so a
        script keeps what the user would have seen."""
        if not self.partial:
            return {"error": str(self)}
        return {
            "text": self.partial,
            "finish_reason": self.finish_reason,
            "metrics": dataclasses.asdict(Metrics()),
            "error": str(self),
        }


def run_ask(args: argparse.Namespace) -> int:
    """``ask``: stream one reply to stdout (or print it as JSON)."""
    _settings(args)  # bad values fail before any file is read
    # A server's model is checked only once it is reached: scanned pages are kept as images, and
    # the server's engine refuses them, before anything is sent, if its model cannot see.
    vision = args.server is not None or args.mmproj is not None
    parts = [prepared for _, prepared in prepare_attachments(args.attachments, vision)]
    message = ChatMessage.user(*parts, args.prompt)
    if args.print_prompt:
        print_prompt(args, [message])
        return 0
    client = _start_engine(args, _images_seen(parts))
    try:
        check_context(client, [message], args)
        done = _reply(client, [message], args, None if args.json else _ThoughtAwareOutput().add)
    except _ReplyFailed as exc:
        if args.json and exc.partial:
            print(json.dumps(exc.json(), ensure_ascii=False))
        elif exc.partial:
            sys.stdout.write("\n")
        if exc.error.kind == "user":
            raise UserError(str(exc)) from None
        print(f"error: {exc}", file=sys.stderr)
        return 1
    finally:
        client.close()
    if args.json:
        print(json.dumps(reply_json(done), ensure_ascii=False))
    else:
        sys.stdout.write("\n")
        problem = unanswered(split_reply(done.text), done.finish_reason)
        if problem is not None:
            print(problem, file=sys.stderr)
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
    has_vision = args.server is not None or args.mmproj is not None
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
                model_path=args.model.resolve() if args.model else None,
                mmproj_path=args.mmproj.resolve() if args.mmproj else None,
                system_prompt=args.system,
                settings=generation,
                server=ConversationServer(args.server, args.server, args.server_model)
                if args.server else None,
            ).id
            write({"conversation_id": conversation_id})
        for line in stdin:
            if not line.strip():
                continue
            writer = None
            try:
                text, attachments = _parse_turn(line, has_vision)
                if _images_seen(part for _, part in attachments) and not has_vision:
                    raise UserError(
                        f"{args.model.name} was started without a projector; start chat with "
                        "--mmproj to ask about images."
                    )
                turn = ChatMessage.user(*(part for _, part in attachments), text)
                check_context(client, [*history, turn], args)
                if store is not None and conversation_id is not None:
                    shas = [_store_attachment(store, path, part) for path, part in attachments]
                    names = [path.name for path, _ in attachments]
                    store.add_user_message(conversation_id, text, shas, names)
                    writer = StreamingWriter(store, store.begin_assistant_message(conversation_id))
                done = _reply(client, [*history, turn], args, writer.append if writer else None)
                if writer is not None:
                    writer.finish(done.finish_reason, dataclasses.asdict(done.metrics))
            except UserError as exc:
                write({"error": str(exc)})
                continue
            except _ReplyFailed as exc:
                # What streamed is kept, in the store and on the line; a local engine restarts
                # with the next turn, a server is asked again.
                if writer is not None:
                    writer.finish(exc.finish_reason, {"error": str(exc)})
                write(exc.json())
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
