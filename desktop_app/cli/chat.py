"""Headless ``ask`` and ``chat`` commands: the engine from the command line, for scripts and tests.

``ask`` answers one prompt (streamed, or one JSON object with ``--json``) about images
(``--image``) and documents (``--file``: PDF, Word, text or code; an image given as ``--file`` is
an image), attached in the order given; ``ask --print-prompt`` prints the prompt text the model
would read and exits.  ``chat --jsonl`` keeps one engine alive over stdin/stdout, one JSON line
per turn each way, for one conversation or several: a line's ``"thread"`` names the conversation
it belongs to, and the engine keeps each thread's memory while it answers the others.
Everything the user gives is checked before the engine starts, so a wrong file costs one
sentence, not a model load; a message with documents is counted before it is sent, so one too
large for the context is refused at once, with the numbers.

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
from dataclasses import dataclass, field
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
    alternating_turns,
    conversation_thread,
)
from desktop_app.engine.remote import RemoteEngine
from desktop_app.engine.remote_probe import check_url
from desktop_app.errors import Sentence, UserError
from desktop_app.models.fit import context_that_holds, default_context_for_files, machine_memory
from desktop_app.models.gemma_files import (
    ModelFile,
    ProjectorFile,
    check_pair,
    inspect_model,
    inspect_projector,
    require_vision,
)
from desktop_app.settings import (
    AUTO_CONTEXT,
    MAX_OUTPUT_TOKENS,
    PAN_SCAN_MODES,
    GenerationSettings,
    RuntimeSettings,
)
from desktop_app.store import Attachment as StoredAttachment
from desktop_app.store import ConversationServer, ConversationStore, Message, StreamingWriter
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
        help='read {"text": ..., "images": [paths], "files": [paths], "thread": name} lines, '
             "write one JSON reply line per turn",
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
    parser.add_argument("--system", default=None, help="system prompt")
    parser.add_argument("--max-tokens", type=int, default=defaults.max_tokens,
                        help=f"reply length limit (1-{MAX_OUTPUT_TOKENS})")
    parser.add_argument("--temperature", type=float, default=defaults.temperature)
    parser.add_argument("--top-k", type=int, default=defaults.top_k)
    parser.add_argument("--top-p", type=float, default=defaults.top_p)
    parser.add_argument("--min-p", type=float, default=defaults.min_p)
    parser.add_argument("--repeat-penalty", type=float, default=defaults.repeat_penalty)
    parser.add_argument("--seed", type=int, default=defaults.seed, help="-1 for random")
    add_pan_scan_option(parser)
    parser.add_argument("--stop-when-full", action="store_true",
                        help="stop when the context is full instead of leaving out older turns")
    parser.add_argument("--think", choices=("on", "off"), default="on" if defaults.think else "off",
                        help="let a model that thinks (Gemma 4) reason first; the thought goes to "
                        "stderr, --max-tokens bounds the answer (default off)")
    add_runtime_options(parser)


def add_pan_scan_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--pan-scan", choices=PAN_SCAN_MODES, default=GenerationSettings().pan_scan,
                        help="Gemma 3 Pan & Scan crops for tall or wide images (default: off on a "
                             "CPU, auto on a GPU)")


def add_runtime_options(parser: argparse.ArgumentParser) -> None:
    """How the model is loaded: context, threads, GPU layers, flash attention."""
    runtime = RuntimeSettings()
    parser.add_argument("--ctx", type=int, default=runtime.n_ctx,
                        help="context size in tokens (default: sized to this computer's memory)")
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


def sized_to_machine(runtime: RuntimeSettings, model: ModelFile, mmproj: ProjectorFile | None) -> RuntimeSettings:
    """``runtime`` with :data:`AUTO_CONTEXT` made the context this computer holds comfortably."""
    if runtime.n_ctx != AUTO_CONTEXT:
        return runtime
    n_ctx = default_context_for_files(model, mmproj, machine_memory(), flash_attn=runtime.flash_attn)
    return dataclasses.replace(runtime, n_ctx=n_ctx)


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
        stop_when_full=args.stop_when_full,
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
        return LoadRequest.of(args.model, args.mmproj, sized_to_machine(runtime, model, mmproj))
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
    client: Engine, messages: list[ChatMessage], args: argparse.Namespace, system: str = ""
) -> TokenCount | None:
    """Count a message with documents before sending it; UserError with the numbers and what
    would work (a larger context this computer can hold, the first pages that fit) when the
    context cannot hold it.  Messages without documents are left to the engine's own check."""
    documents = messages[-1].documents
    if not documents:
        return None
    generation, _ = _settings(args)
    counted = client.count(messages, system, generation)
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
    text, images, notice = chat_format.render(messages, args.system or "", generation.pan_scan)
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
    *,
    system: str = "",
    thread: str = "",
) -> Done:
    generation, _ = _settings(args)
    parts: list[str] = []
    for event in client.stream(messages, system, generation, thread=thread):
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
        check_context(client, [message], args, args.system or "")
        done = _reply(
            client,
            [message],
            args,
            None if args.json else _ThoughtAwareOutput().add,
            system=args.system or "",
        )
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


def _parse_turn(line: str, vision: bool) -> tuple[str | None, str, list[Attachment]]:
    """A line's thread (None: the default one), text and attachments."""
    try:
        data = json.loads(line)
    except json.JSONDecodeError:
        raise UserError('Each line must be a JSON object like {"text": "...", "images": []}.') from None
    if not isinstance(data, dict) or not isinstance(data.get("text", ""), str):
        raise UserError('Each line must be a JSON object with a "text" string.')
    thread = data.get("thread")
    if thread is not None and (not isinstance(thread, str) or not thread):
        raise UserError('"thread" must be a non-empty string naming the conversation.')
    given: list[tuple[str, Path]] = []
    for key, kind in (("images", "image"), ("files", "file")):
        paths = data.get(key) or []
        if not isinstance(paths, list) or not all(isinstance(p, str) for p in paths):
            raise UserError('"{key}" must be a list of file paths.', key=key)
        given += [(kind, Path(p)) for p in paths]
    return thread, data.get("text", ""), prepare_attachments(given, vision)


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
    history: list[ChatMessage] = field(default_factory=list)
    """Its turns as the window sends them (:func:`alternating_turns`, replies as their answer),
    so both send the same prompt and share the engine's memory of it."""

    @property
    def engine_thread(self) -> str:
        """The engine's name for it: the stored conversation's, or this run's thread name."""
        if self.conversation_id is not None:
            return conversation_thread(self.conversation_id)
        return f"jsonl:{self.name or ''}"


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
    has_vision = args.server is not None or args.mmproj is not None
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
                name, text, attachments = _parse_turn(line, has_vision)
                if _images_seen(part for _, part in attachments) and not has_vision:
                    raise UserError(
                        "{model} was started without a projector; start chat with --mmproj to ask "
                        "about images.",
                        model=args.model.name,
                    )
                thread = threads.get(name)
                if thread is None:
                    thread = threads[name] = _new_thread(name, store, args, system, generation)
                done = _turn(client, store, thread, text, attachments, args, system)
            except UserError as exc:
                write({"error": str(exc), "thread": _named_thread(line)})
                continue
            except _ReplyFailed as exc:
                # What streamed is kept, in the store and on the line; a local engine restarts
                # with the next turn, a server is asked again; the conversations so far are kept.
                write({**exc.json(), "thread": _named_thread(line)})
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
    vision = args.server is not None or args.mmproj is not None
    messages = store.messages(conversation.id)
    if not vision and any(not a.is_document for m in messages for a in m.attachments):
        raise UserError(
            "Conversation {id} has images; start chat with --mmproj to continue it.", id=conversation.id
        )
    history = alternating_turns(_stored_turn(message, vision) for message in messages)
    system = conversation.system_prompt if args.system is None else args.system
    return system, _Thread(None, conversation.id, history)


def _stored_turn(message: Message, vision: bool) -> ChatMessage:
    """A stored message as the window sends it: attachments read again, then the text; a reply
    as its answer (what the model thought stays out of the history)."""
    if message.role == "assistant":
        return ChatMessage.assistant(split_reply(message.text).answer)
    parts: list[PreparedImage | PreparedDocument | str] = [
        _stored_part(attachment, number, vision) for number, attachment in enumerate(message.attachments, 1)
    ]
    if message.text:
        parts.append(message.text)
    return ChatMessage.user(*parts)


def _stored_part(attachment: StoredAttachment, number: int, vision: bool) -> PreparedImage | PreparedDocument:
    name = attachment.name or f"image {number}"
    if attachment.is_document:
        return prepare_document(attachment.path, name=name, vision=vision).first_pages(attachment.first_pages)
    return dataclasses.replace(prepare_image(attachment.path, name=name), pan_scan=attachment.pan_scan)


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
        model_path=args.model.resolve() if args.model else None,
        mmproj_path=args.mmproj.resolve() if args.mmproj else None,
        system_prompt=system,
        settings=generation,
        server=ConversationServer(args.server, args.server, args.server_model) if args.server else None,
    )
    return _Thread(name, conversation.id)


def _turn(
    client: Engine,
    store: ConversationStore | None,
    thread: _Thread,
    text: str,
    attachments: list[Attachment],
    args: argparse.Namespace,
    system: str,
) -> Done:
    """One prompt of a thread: checked, committed, answered (flushed while it streams), kept."""
    turn = ChatMessage.user(*(part for _, part in attachments), text)
    messages = alternating_turns([*thread.history, turn])
    check_context(client, messages, args, system)
    writer = None
    if store is not None and thread.conversation_id is not None:
        shas = [_store_attachment(store, path, part) for path, part in attachments]
        names = [path.name for path, _ in attachments]
        store.add_user_message(thread.conversation_id, text, shas, names)
        writer = StreamingWriter(store, store.begin_assistant_message(thread.conversation_id))
    try:
        done = _reply(
            client,
            messages,
            args,
            writer.append if writer else None,
            system=system,
            thread=thread.engine_thread,
        )
    except _ReplyFailed as exc:
        if writer is not None:
            writer.finish(exc.finish_reason, {"error": str(exc)})
        raise
    if writer is not None:
        writer.finish(done.finish_reason, dataclasses.asdict(done.metrics))
    thread.history = [*messages, ChatMessage.assistant(split_reply(done.text).answer)]
    return done


def _store_attachment(store: ConversationStore, path: Path, part: PreparedImage | PreparedDocument) -> str:
    """Keep the original file (what the user gave), content-addressed; returns its sha256."""
    if isinstance(part, PreparedDocument):
        return store.add_document(path.read_bytes(), part.mime, part.plain_text)
    mime = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    return store.add_attachment(path.read_bytes(), mime, part.width, part.height)
