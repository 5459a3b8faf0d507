"""A conversation out of the store as Markdown or JSON, and JSON back in.

Markdown is for reading: images and documents are copied into a folder beside the ``.md`` file
(``chat.md`` -> ``chat_files/``) and linked with relative paths (images shown, documents as links
by their names), so the pair opens in any Markdown viewer and can be moved together.  JSON is
for keeping and moving between machines; :func:`import_conversation` recreates the conversation
from it.

JSON format ``gemma-desktop-conversation``, version 1 (UTF-8, one object)::

    {
      "format": "gemma-desktop-conversation",   # required, exactly this
      "version": 1,                             # required; newer versions are refused
      "exported_at": "2025-05-01T09:30:00+00:00",
      "app_version": "0.1.0",
      "conversation": {
        "title": "Name the bird in this photo",  # required
        "created_at": "2025-05-01T09:12:03.250000+00:00",
        "updated_at": "2025-05-01T09:14:41.002000+00:00",
        "model_path": "/models/gemma-3-4b-it-Q4_K_M.gguf",   # or null
        "mmproj_path": "/models/mmproj-gemma-3-4b-it-f16.gguf",  # or null
        "server": {"name": "GPU box", "url": "https://gpu.example:8080/v1",
                   "model": "gemma-3-27b-it"},   # or null: where it runs (never a key)
        "system_prompt": "",
        "settings": {"temperature": 1.0, "top_k": 64, "top_p": 0.95, "min_p": 0.0,
                     "repeat_penalty": 1.0, "seed": -1, "max_tokens": 8192}
      },
      "messages": [                             # required, in conversation order
        {
          "role": "user",                       # required: "user" or "assistant"
          "text": "What bird is this?",         # required; for a reply, its answer
          "thought": "",                        # what the model thought before answering
          "finish_reason": null,                # null for user messages; for replies one of
                                                # stop length context cancelled error crashed
                                                # interrupted
          "metrics": {},                        # the engine's numbers for a reply
          "created_at": "2025-05-01T09:12:03.250000+00:00",
          "attachments": [                      # in the order the user gave them
            {"sha256": "<64 hex digits of the image bytes>", "mime": "image/jpeg",
             "width": 896, "height": 672, "data_base64": "<the image file, base64>",
             "pan_scan": "auto"},               # optional: the image's own Pan & Scan choice
            {"sha256": "<64 hex digits of the file>", "mime": "application/pdf",
             "name": "report.pdf", "first_pages": 40,   # optional: only these were read
             "data_base64": "<the document file, base64>"}
          ]
        }
      ]
    }

A document (any ``mime`` not ``image/*``) has a ``name`` and no size; on import its file must
match its sha256 and read as a document again (its text is what search finds), or nothing is
imported.  ``name`` is optional on images.

Timestamps are ISO 8601 with a UTC offset.  Fields not marked required may be left out (they
default to empty); unknown fields are ignored, so a later version 1 writer may add some.  A
change that older readers would misread increments ``version``.

An import is bounded: the file (:data:`MAX_IMPORT_BYTES`), the title, the number and length of
messages, and the number and size of each message's attachments each have a limit, and going
past one is refused in a sentence naming it, so a hostile or runaway file cannot fill the store
or a terminal.  Reading a file at the limit holds about four times its size in memory at the
peak (the bytes, the decoded text, the parsed strings, the decoded attachments).
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import hashlib
import json
import mimetypes
import os
import re
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Literal
from urllib.parse import quote

from desktop_app import __version__
from desktop_app.errors import UserError, os_reason
from desktop_app.settings import generation_from_dict, to_dict
from desktop_app.store.store import (
    FINISH_REASONS,
    Attachment,
    AttachmentDraft,
    Conversation,
    ConversationDraft,
    ConversationServer,
    ConversationStore,
    Message,
    MessageDraft,
)
from desktop_app.thoughts import join_reply, split_reply

FORMAT_NAME = "gemma-desktop-conversation"
FORMAT_VERSION = 1

ExportFormat = Literal["md", "json"]

DocumentReader = Callable[[bytes, str], str]
"""Reads a document's file (bytes, name) to its text, raising UserError when it cannot: the store
knows no document formats, so whoever imports (the command line, the window) passes one."""

MAX_IMPORT_BYTES = 1024**3
"""Largest export file imported: about 150 phone photos with their conversation."""
MAX_TITLE_CHARS = 500
MAX_MESSAGES = 20_000
MAX_MESSAGE_CHARS = 2_000_000
"""Per message (and for the system prompt): four times what Gemma 3's 128K-token context holds."""
MAX_ATTACHMENTS_PER_MESSAGE = 64
MAX_ATTACHMENT_BYTES = 256 * 1024 * 1024
"""The most the app reads of one attached file (``engine.images.MAX_FILE_BYTES`` and
``engine.documents.MAX_PDF_BYTES``, which the store may not import; a test keeps them equal)."""
MAX_FIELD_CHARS = 4096
"""Paths, names, MIME types, dates and metric values: short by nature; longer means damage."""
MAX_METRICS = 64

_ENDINGS = {
    "length": "stopped at the token limit",
    "context": "stopped: the context is full",
    "cancelled": "stopped by the user",
    "error": "ended by an error",
    "crashed": "cut off: the engine crashed",
    "interrupted": "cut off: the app closed while it was written",
}


def export_conversation(
    store: ConversationStore, conversation_id: int, out: Path, fmt: ExportFormat
) -> Path:
    """Write the conversation to ``out`` (a file, or a folder to name one in); return the file.

    An existing file is replaced; the new one appears whole or not at all.
    """
    conversation = store.get_conversation(conversation_id)
    messages = store.messages(conversation_id)
    if out.is_dir():
        out = out / f"{_file_stem(conversation)}.{fmt}"
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        if fmt == "md":
            text = _markdown(conversation, messages, out)
        else:
            text = json.dumps(_json_document(conversation, messages), ensure_ascii=False, indent=2)
        _write_atomically(out, text.encode("utf-8"))
    except OSError as exc:
        raise UserError(
            "The export could not be written to {path} ({reason}).", path=out, reason=os_reason(exc)
        ) from exc
    return out


def import_conversation(
    store: ConversationStore, path: Path, read_document: DocumentReader | None = None
) -> int:
    """Recreate a conversation from a JSON export; return its new id.

    The file is checked whole before anything is stored, and stored in one transaction: a
    damaged or foreign file raises UserError and leaves the store as it was.  Documents are read
    with ``read_document``; an export holding documents needs one.
    """
    return store.insert_conversation(_read_export(path, read_document))


# --- Markdown --------------------------------------------------------------------------------


def _markdown(conversation: Conversation, messages: list[Message], out: Path) -> str:
    images_dir = out.with_name(f"{out.stem}_files")
    title = conversation.title or "Untitled conversation"
    about = [f"Exported from Gemma Desktop {__version__} on {_local(datetime.now(timezone.utc))}"]
    if conversation.server:
        about.append(f"model {conversation.server.model} on {conversation.server.name}")
    elif conversation.model_path:
        about.append(f"model {Path(conversation.model_path).name}")
    lines = [f"# {title}", "", f"*{' · '.join(about)}*", ""]
    if conversation.system_prompt:
        quoted = "\n".join(f"> {line}" for line in conversation.system_prompt.splitlines())
        lines += ["**System prompt**", "", quoted, ""]
    for message in messages:
        speaker = "You" if message.role == "user" else "Gemma"
        lines += ["---", "", f"### {speaker} · {_local(message.created_at)}", ""]
        for number, attachment in enumerate(message.attachments, 1):
            if attachment.is_document:
                shown = attachment.name or f"document {number}"
                name = f"{attachment.sha256[:8]}-{_safe_name(shown)}"
            else:
                name = f"{attachment.sha256[:16]}{_extension(attachment.mime)}"
            images_dir.mkdir(exist_ok=True)
            _write_atomically(images_dir / name, _image_bytes(attachment))
            link = quote(f"{images_dir.name}/{name}")
            if attachment.is_document:
                lines += [f"[{shown}]({link})", ""]
            else:
                lines += [f"![image {number}, {attachment.width}×{attachment.height}]({link})", ""]
        reply = split_reply(message.text) if message.role == "assistant" else None
        if reply is not None and reply.thought:
            # Collapsed, as in the window: most Markdown viewers render <details> folded.
            lines += ["<details><summary>Thinking</summary>", "", reply.thought, "", "</details>", ""]
        text = reply.answer if reply is not None else message.text
        if text:
            lines += [text, ""]
        footer = _footer(message)
        if footer:
            lines += [f"*{footer}*", ""]
    return "\n".join(lines)


def _footer(message: Message) -> str:
    """One line of the reply's metrics and, if it did not simply finish, why it ended."""
    metrics = message.metrics

    def number(key: str) -> float | None:
        value = metrics.get(key)
        if isinstance(value, (int, float)) and not isinstance(value, bool) and value > 0:
            return float(value)
        return None

    parts = []
    if (tokens := number("decode_tokens")) is not None:
        parts.append(f"{tokens:.0f} tokens")
    if (speed := number("decode_tok_s")) is not None:
        parts.append(f"{speed:.1f} tokens/s")
    if (ttft := number("ttft_s")) is not None:
        parts.append(f"first token after {ttft:.2f} s")
    if (prompt := number("prompt_tokens")) is not None:
        cached = number("cached_tokens")
        parts.append(f"prompt {prompt:.0f} tokens" + (f" ({cached:.0f} cached)" if cached else ""))
    if (encode := number("image_encode_s")) is not None:
        parts.append(f"images encoded in {encode:.1f} s")
    if message.finish_reason in _ENDINGS:
        parts.append(_ENDINGS[message.finish_reason])
    return " · ".join(parts)


def _extension(mime: str) -> str:
    return mimetypes.guess_extension(mime) or ".img"


def _local(moment: datetime) -> str:
    return moment.astimezone().strftime("%Y-%m-%d %H:%M")


def _file_stem(conversation: Conversation) -> str:
    """A file name from the title; dashes for spaces keep the image links plain in every viewer."""
    words = re.sub(r"[^\w\- ]+", "", conversation.title).split()
    stem = "-".join(words)[:60].strip("-")
    return stem or f"conversation-{conversation.id}"


def _safe_name(name: str) -> str:
    """A file name that is a plain name on every system: no folders, no reserved characters."""
    cleaned = re.sub(r'[\\/:*?"<>|\x00-\x1f]+', "_", name).strip(" .")
    return cleaned[:100] or "document"


def _image_bytes(attachment: Attachment) -> bytes:
    try:
        return attachment.path.read_bytes()
    except FileNotFoundError as exc:
        raise UserError(
            "The attached file {path} is missing, so the conversation cannot be exported with "
            "its attachments.",
            path=attachment.path,
        ) from exc


def _write_atomically(target: Path, data: bytes) -> None:
    temp = target.with_name(f".{target.name}.tmp-{os.getpid()}")
    try:
        temp.write_bytes(data)
        os.replace(temp, target)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise


# --- JSON ------------------------------------------------------------------------------------


def _json_document(conversation: Conversation, messages: list[Message]) -> dict[str, Any]:
    return {
        "format": FORMAT_NAME,
        "version": FORMAT_VERSION,
        "exported_at": datetime.now(timezone.utc).isoformat(),
        "app_version": __version__,
        "conversation": {
            "title": conversation.title,
            "created_at": conversation.created_at.isoformat(),
            "updated_at": conversation.updated_at.isoformat(),
            "model_path": conversation.model_path,
            "mmproj_path": conversation.mmproj_path,
            "server": dataclasses.asdict(conversation.server) if conversation.server else None,
            "system_prompt": conversation.system_prompt,
            "settings": to_dict(conversation.settings),
        },
        "messages": [
            {
                "role": message.role,
                **_text_fields(message),
                "finish_reason": message.finish_reason,
                "metrics": dict(message.metrics),
                "created_at": message.created_at.isoformat(),
                "attachments": [_attachment_entry(attachment) for attachment in message.attachments],
            }
            for message in messages
        ],
    }


def _attachment_entry(attachment: Attachment) -> dict[str, Any]:
    entry: dict[str, Any] = {"sha256": attachment.sha256, "mime": attachment.mime}
    if not attachment.is_document:
        entry.update(width=attachment.width, height=attachment.height)
    if attachment.name is not None:
        entry["name"] = attachment.name
    if attachment.first_pages is not None:
        entry["first_pages"] = attachment.first_pages
    if attachment.pan_scan is not None:
        entry["pan_scan"] = attachment.pan_scan
    entry["data_base64"] = base64.b64encode(_image_bytes(attachment)).decode("ascii")
    return entry


def _text_fields(message: Message) -> dict[str, str]:
    """``text`` and ``thought`` of an exported message: a reply's answer and thought apart."""
    if message.role != "assistant":
        return {"text": message.text, "thought": ""}
    reply = split_reply(message.text)
    return {"text": reply.answer, "thought": reply.thought}


class _Damaged(Exception):
    """What is wrong with an export file, as a phrase for the UserError sentence."""


def _echo(value: Any) -> str:
    """A value from the file quoted in a sentence: short, whatever the file holds."""
    text = repr(value) if not isinstance(value, (list, dict)) else type(value).__name__
    return text if len(text) <= 40 else text[:39] + "…"


def _read_export(path: Path, read_document: DocumentReader | None) -> ConversationDraft:
    """Parse and check a JSON export completely; UserError saying what is wrong if it is not one."""
    try:
        size = path.stat().st_size
        if size > MAX_IMPORT_BYTES:
            raise UserError(
                "The file {path} is {size} bytes, more than the {limit} a conversation export "
                "may be, so nothing was imported.",
                path=str(path),
                size=size,
                limit=MAX_IMPORT_BYTES,
            )
        with path.open("rb") as handle:
            # As many bytes as stat() said (read(n) reserves n bytes at once): a file that
            # grows meanwhile is read cut short, and then is not JSON.
            raw = handle.read(size)
    except FileNotFoundError as exc:
        raise UserError("There is no file at {path}.", path=path) from exc
    except OSError as exc:
        raise UserError("The file {path} could not be read ({reason}).", path=path, reason=os_reason(exc)) from exc
    foreign = UserError("The file {path} is not a conversation exported by Gemma Desktop.", path=path)
    try:
        document = json.loads(raw.decode("utf-8"))
    except (ValueError, RecursionError) as exc:
        # ValueError: not UTF-8, not JSON, or an integer of more digits than Python converts;
        # RecursionError: arrays nested thousands deep.
        raise foreign from exc
    if not isinstance(document, dict) or document.get("format") != FORMAT_NAME:
        raise foreign
    version = document.get("version")
    if isinstance(version, int) and not isinstance(version, bool) and version > FORMAT_VERSION:
        raise UserError(
            "The file {path} was exported by a newer version of Gemma Desktop (format version "
            "{version}); update Gemma Desktop to import it.",
            path=path,
            version=version,
        )
    try:
        if version != FORMAT_VERSION:
            raise _Damaged(f"its version is {_echo(version)}")
        return _draft(document, path, read_document)
    except _Damaged as exc:
        raise UserError(
            "The conversation export {path} is damaged ({reason}), so nothing was imported.",
            path=path,
            reason=str(exc),
        ) from exc


def _get(
    obj: dict[str, Any],
    key: str,
    kind: type | tuple[type, ...],
    where: str,
    default: Any = ...,
) -> Any:
    """``obj[key]`` if it has the right type; ``default`` when absent, if a default is given."""
    if key not in obj and default is not ...:
        return default
    value = obj.get(key)
    kinds = kind if isinstance(kind, tuple) else (kind,)
    if not isinstance(value, kinds) or (isinstance(value, bool) and bool not in kinds):
        raise _Damaged(f"{where}{key} is missing or has the wrong type")
    return value


def _short(obj: dict[str, Any], key: str, where: str, default: Any = ...) -> Any:
    """A string field that is short by nature (a path, a MIME type), or None where allowed."""
    value = _get(obj, key, (str, type(None)) if default is None else str, where, default)
    if isinstance(value, str) and len(value) > MAX_FIELD_CHARS:
        raise _Damaged(f"{where}{key} is too long")
    return value


def _timestamp(obj: dict[str, Any], key: str, where: str) -> datetime:
    text = _short(obj, key, where, default=None)
    if text is None:
        return datetime.now(timezone.utc)
    try:
        moment = datetime.fromisoformat(text)
    except ValueError as exc:
        raise _Damaged(f"{where}{key} is not a date") from exc
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def _draft(document: dict[str, Any], path: Path, read_document: DocumentReader | None) -> ConversationDraft:
    conversation = _get(document, "conversation", dict, "")
    where = "conversation."
    settings_data = _get(conversation, "settings", dict, where, default={})
    try:
        settings = generation_from_dict(settings_data).validate()
    except (TypeError, ValueError, UserError) as exc:
        raise _Damaged(f"its settings are invalid: {str(exc).rstrip('.')}") from exc
    title = _get(conversation, "title", str, where)
    if len(title) > MAX_TITLE_CHARS:
        raise UserError(
            "The conversation export {path} has a title of {count} characters, more than the "
            "{limit} a title may have, so nothing was imported.",
            path=str(path),
            count=len(title),
            limit=MAX_TITLE_CHARS,
        )
    system_prompt = _get(conversation, "system_prompt", str, where, default="")
    if len(system_prompt) > MAX_MESSAGE_CHARS:
        raise UserError(
            "The conversation export {path} has a system prompt of {count} characters, more "
            "than the {limit} a message may have, so nothing was imported.",
            path=str(path),
            count=len(system_prompt),
            limit=MAX_MESSAGE_CHARS,
        )
    messages = _get(document, "messages", list, "")
    if len(messages) > MAX_MESSAGES:
        raise UserError(
            "The conversation export {path} has {count} messages, more than the {limit} a "
            "conversation may have, so nothing was imported.",
            path=str(path),
            count=len(messages),
            limit=MAX_MESSAGES,
        )
    return ConversationDraft(
        title=title,
        created_at=_timestamp(conversation, "created_at", where),
        model_path=_short(conversation, "model_path", where, default=None),
        mmproj_path=_short(conversation, "mmproj_path", where, default=None),
        system_prompt=system_prompt,
        settings=settings,
        messages=tuple(_message_draft(item, n, path, read_document) for n, item in enumerate(messages, 1)),
        server=_server(conversation, where),
    )


def _server(conversation: dict[str, Any], where: str) -> ConversationServer | None:
    server = _get(conversation, "server", (dict, type(None)), where, default=None)
    if server is None:
        return None
    where += "server."
    return ConversationServer(
        _get(server, "name", str, where), _get(server, "url", str, where), _get(server, "model", str, where)
    )


def _message_draft(item: Any, number: int, path: Path, read_document: DocumentReader | None) -> MessageDraft:
    where = f"message {number} "
    if not isinstance(item, dict):
        raise _Damaged(f"message {number} is not an object")
    role = _get(item, "role", str, where)
    if role not in ("user", "assistant"):
        raise _Damaged(f"message {number} has the unknown role {_echo(role)}")
    finish_reason = _short(item, "finish_reason", where, default=None)
    if (role == "user" and finish_reason is not None) or (
        finish_reason is not None and finish_reason not in FINISH_REASONS
    ):
        raise _Damaged(f"message {number} has the wrong finish reason {_echo(finish_reason)}")
    text = _get(item, "text", str, where)
    if len(text) > MAX_MESSAGE_CHARS:
        raise UserError(
            "Message {number} of the conversation export {path} has {count} characters, more "
            "than the {limit} a message may have, so nothing was imported.",
            number=number,
            path=str(path),
            count=len(text),
            limit=MAX_MESSAGE_CHARS,
        )
    attachments = _get(item, "attachments", list, where, default=[])
    if len(attachments) > MAX_ATTACHMENTS_PER_MESSAGE:
        raise UserError(
            "Message {number} of the conversation export {path} has {count} attachments, more "
            "than the {limit} a message may have, so nothing was imported.",
            number=number,
            path=str(path),
            count=len(attachments),
            limit=MAX_ATTACHMENTS_PER_MESSAGE,
        )
    thought = _get(item, "thought", str, where, default="") if role == "assistant" else ""
    if len(thought) > MAX_MESSAGE_CHARS:
        raise UserError(
            "Message {number} of the conversation export {path} has a thought of {count} "
            "characters, more than the {limit} a message may have, so nothing was imported.",
            number=number,
            path=str(path),
            count=len(thought),
            limit=MAX_MESSAGE_CHARS,
        )
    return MessageDraft(
        role=role,
        text=join_reply(thought, text),
        finish_reason=finish_reason,
        metrics=_metrics(item, where),
        created_at=_timestamp(item, "created_at", where),
        attachments=tuple(
            _attachment_draft(entry, n, number, path, read_document) for n, entry in enumerate(attachments, 1)
        ),
    )


def _metrics(item: dict[str, Any], where: str) -> dict[str, Any]:
    """The engine's numbers for a reply: a few names with numbers (or an error sentence)."""
    metrics: dict[str, Any] = _get(item, "metrics", (dict, type(None)), where, default=None) or {}
    scalars = (int, float, str, bool, type(None))
    if len(metrics) > MAX_METRICS or any(
        len(key) > MAX_FIELD_CHARS
        or not isinstance(value, scalars)
        or (isinstance(value, str) and len(value) > MAX_FIELD_CHARS)
        for key, value in metrics.items()
    ):
        raise _Damaged(f"{where}metrics are not the engine's numbers")
    return metrics


def _attachment_draft(
    entry: Any, index: int, number: int, path: Path, read_document: DocumentReader | None
) -> AttachmentDraft:
    name = f"attachment {index} of message {number}"
    if not isinstance(entry, dict):
        raise _Damaged(f"{name} is not an object")
    where = f"{name}: "
    mime = _short(entry, "mime", where)
    file_name = _short(entry, "name", where, default=None)
    encoded = _get(entry, "data_base64", str, where)
    if len(encoded) > (MAX_ATTACHMENT_BYTES + 2) // 3 * 4:
        raise UserError(
            "Attachment {index} of message {number} in the conversation export {path} is larger "
            "than the {limit} bytes an attached file may have, so nothing was imported.",
            index=index,
            number=number,
            path=str(path),
            limit=MAX_ATTACHMENT_BYTES,
        )
    try:
        data = base64.b64decode(encoded, validate=True)
    except binascii.Error as exc:
        raise _Damaged(f"{name} is not valid base64") from exc
    if not data or hashlib.sha256(data).hexdigest() != _short(entry, "sha256", where).lower():
        raise _Damaged(f"{name} does not match its sha256")
    if not mime.startswith("image/"):
        if read_document is None or not file_name:
            raise _Damaged(f"{name} is a document without a name")
        try:
            text = read_document(data, file_name)
        except UserError as exc:
            raise _Damaged(f"{name} cannot be read: {str(exc).rstrip('.')}") from exc
        first_pages = _get(entry, "first_pages", (int, type(None)), where, default=None)
        if first_pages is not None and first_pages < 1:
            raise _Damaged(f"{name} gives {first_pages} pages")
        return AttachmentDraft(
            data=data, mime=mime, width=0, height=0, name=file_name, text=text, first_pages=first_pages
        )
    width = _get(entry, "width", int, where)
    height = _get(entry, "height", int, where)
    if width <= 0 or height <= 0:
        raise _Damaged(f"{name} is not described as an image")
    pan_scan = _get(entry, "pan_scan", (str, type(None)), where, default=None)
    if pan_scan not in (None, "off", "auto"):
        raise _Damaged(f"{name} asks for Pan & Scan '{pan_scan}'")
    return AttachmentDraft(data=data, mime=mime, width=width, height=height, name=file_name, pan_scan=pan_scan)
