"""Conversations, their messages and their attachments (images and documents), kept in SQLite so
that nothing is lost.

The user's message is committed before generation starts; a streaming reply is written by a
:class:`StreamingWriter` at least every :data:`FLUSH_INTERVAL_S` seconds and finalised with its
finish reason and metrics.  A reply still marked "streaming" when the store opens belonged to a
process that died: it is kept, and marked ``interrupted``.
"""

from __future__ import annotations

import contextlib
import enum
import hashlib
import json
import logging
import re
import sqlite3
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Literal, get_args

from desktop_app import paths
from desktop_app.errors import UserError, os_reason
from desktop_app.settings import GenerationSettings, generation_from_dict, to_dict
from desktop_app.store import database
from desktop_app.store.attachment_files import AttachmentFiles, relative_path

log = logging.getLogger(__name__)

Role = Literal["user", "assistant"]
FinishReason = Literal[
    "stop", "length", "context", "cancelled", "error", "crashed", "interrupted"
]
"""The engine's reasons, plus ``interrupted``: the app died while the reply streamed."""
FINISH_REASONS: frozenset[str] = frozenset(get_args(FinishReason))
MessageState = Literal["complete", "streaming"]

FLUSH_INTERVAL_S = 0.5
"""How often a streaming reply reaches the disk: the most a killed app can lose."""

STRAY_GRACE_S = 24 * 3600.0
"""An unreferenced image younger than this may still be on its way into a message (another
process's composer), so the sweep at open leaves it alone."""

TITLE_LENGTH = 48


class ConversationNotFound(UserError):
    """The conversation was deleted (perhaps by another window or the CLI) or never existed."""


@dataclass(frozen=True)
class Attachment:
    """An image or document file referenced by messages; ``path`` is absolute."""

    sha256: str
    mime: str
    width: int
    """0 for a document."""
    height: int
    size: int
    path: Path
    name: str | None = None
    """The file name the message gave it (what a document's prompt calls it); None for images
    stored before documents existed."""
    first_pages: int | None = None
    """A PDF the message gave only the first pages of (what fit the context); None: all of it."""
    pan_scan: str | None = None
    """An image's own Pan & Scan choice in its message ("off" or "auto"); None: the
    conversation's setting."""

    @property
    def is_document(self) -> bool:
        return not self.mime.startswith("image/")


@dataclass(frozen=True)
class Message:
    id: int
    conversation_id: int
    position: int
    """0 for the first message; contiguous within a conversation."""
    role: Role
    text: str
    finish_reason: FinishReason | None
    """None for user messages and for a reply still streaming."""
    metrics: Mapping[str, Any]
    created_at: datetime
    updated_at: datetime
    state: MessageState
    attachments: tuple[Attachment, ...]


@dataclass(frozen=True)
class ConversationServer:
    """Where a conversation runs when it is not this computer (never with a key)."""

    name: str
    """The saved server's name (its key is in the keyring under this name)."""
    url: str
    """Its base URL when the conversation last ran there."""
    model: str
    """The model's id on the server."""


@dataclass(frozen=True)
class Conversation:
    id: int
    title: str
    """Empty until the first prompt names it; the UI shows its own "New conversation"."""
    created_at: datetime
    updated_at: datetime
    """Last activity: a message added, streamed to completion or deleted (not a rename)."""
    model_path: str | None
    mmproj_path: str | None
    system_prompt: str
    settings: GenerationSettings
    message_count: int
    server: ConversationServer | None = None
    """None: it runs on this computer (``model_path``); else on this server."""


@dataclass(frozen=True)
class AttachmentDraft:
    """An image or document to store as part of :meth:`ConversationStore.insert_conversation`."""

    data: bytes
    mime: str
    width: int
    height: int
    name: str | None = None
    text: str | None = None
    """A document's text, for search (None for an image)."""
    first_pages: int | None = None
    pan_scan: str | None = None


@dataclass(frozen=True)
class MessageDraft:
    role: Role
    text: str
    finish_reason: FinishReason | None
    metrics: Mapping[str, Any]
    created_at: datetime
    attachments: tuple[AttachmentDraft, ...] = ()


@dataclass(frozen=True)
class ConversationDraft:
    """A whole conversation to insert at once (an import), so it lands completely or not at all."""

    title: str
    created_at: datetime
    model_path: str | None
    mmproj_path: str | None
    system_prompt: str
    settings: GenerationSettings
    messages: tuple[MessageDraft, ...]
    server: ConversationServer | None = None


class _Keep(enum.Enum):
    """Marks an argument left out, where None is a real value (no model chosen)."""

    KEEP = enum.auto()


KEEP = _Keep.KEEP


def title_from_prompt(text: str, limit: int = TITLE_LENGTH) -> str:
    """A conversation title from a prompt: its first non-blank line, cut at a word boundary."""
    line = next((" ".join(ln.split()) for ln in text.splitlines() if ln.strip()), "")
    if len(line) <= limit:
        return line
    window = line[: limit + 1]
    cut = window.rsplit(" ", 1)[0] if " " in window else ""
    if len(cut) < limit // 2:  # one very long word: a hard cut reads better than a stub
        cut = line[:limit]
    return cut.rstrip(" ,.;:-") + "…"


def _one_line(title: str) -> str:
    """Titles are one line of single spaces, however they were typed or imported."""
    return " ".join(title.split())


def _time(timestamp: float) -> datetime:
    return datetime.fromtimestamp(timestamp, tz=timezone.utc)


def _path_text(path: str | Path | None) -> str | None:
    return None if path is None else str(path)


def _server_columns(server: ConversationServer | None) -> tuple[str | None, str | None, str | None]:
    return (server.name, server.url, server.model) if server else (None, None, None)


_UNSPACED_SCRIPT = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
"""Chinese and Japanese: FTS5's unicode61 tokenizer takes a whole run of them for one word, so a
word inside a sentence is never found by it; such a query is a plain substring search."""


def _like_pattern(text: str) -> str:
    return "%" + re.sub(r"([\\%_])", r"\\\1", text) + "%"


_CONVERSATION_SELECT = """
    SELECT c.*, (SELECT count(*) FROM messages m WHERE m.conversation_id = c.id) AS message_count
    FROM conversations c
"""


class ConversationStore:
    """All conversations in one SQLite database, with their images in a folder beside it.

    Use from one thread (the UI's); other processes (the CLI) may open the same database at the
    same time.  Every method commits before it returns.  Failures the user can fix (disk full,
    read-only folder, damaged file) raise :class:`UserError`.
    """

    def __init__(self, path: Path | None = None, attachments_dir: Path | None = None) -> None:
        """Open the database at ``path`` (default: the user data dir), creating or migrating it.

        A database at a custom path gets its own images folder beside it unless one is given,
        so two databases never share, and garbage-collect, each other's files.
        """
        if path is None:
            try:
                self.path = paths.database_path()
                root = attachments_dir or paths.attachments_dir()
            except OSError as exc:
                raise UserError(
                    "The data folder {folder} could not be created ({reason}); set GEMMA_DESKTOP_HOME "
                    "to a folder that can be.",
                    folder=exc.filename,
                    reason=os_reason(exc),
                ) from exc
        else:
            self.path = Path(path)
            root = attachments_dir or self.path.with_name(self.path.name + ".attachments")
        self._files = AttachmentFiles(root)
        self._pending: set[str] = set()
        """Images added for a message not sent yet; deleting messages must not collect them."""
        self._last_time = 0.0
        self._conn: sqlite3.Connection | None = database.open_database(self.path)
        self._conn.row_factory = sqlite3.Row
        try:
            with database.known_errors(self.path):
                self._full_text = database.has_search_index(
                    self._conn
                ) and database.has_search_index(self._conn, "document_texts_fts")
            self._mark_interrupted()
            self._sweep_strays()
        except BaseException:
            # Not close(): its PRAGMA optimize may write, and this file may be damaged.
            self._conn.close()
            self._conn = None
            raise

    # --- lifecycle ---------------------------------------------------------------------------

    def close(self) -> None:
        if self._conn is None:
            return
        with contextlib.suppress(sqlite3.Error):
            self._conn.execute("PRAGMA optimize")
        self._conn.close()
        self._conn = None

    def __enter__(self) -> ConversationStore:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    @property
    def connection(self) -> sqlite3.Connection:
        """The open connection (tests check integrity and provoke failures through it)."""
        if self._conn is None:
            raise RuntimeError("the conversation store is closed")
        return self._conn

    @contextlib.contextmanager
    def _reading(self) -> Iterator[sqlite3.Connection]:
        """A read transaction: reads of several queries see one snapshot while others write."""
        conn = self.connection
        with database.known_errors(self.path):
            conn.execute("BEGIN")
            try:
                yield conn
            finally:
                conn.execute("COMMIT")

    @contextlib.contextmanager
    def _writing(self) -> Iterator[sqlite3.Connection]:
        with database.known_errors(self.path), database.transaction(self.connection) as conn:
            yield conn

    def _now(self) -> float:
        """Wall-clock seconds, strictly increasing within this store, so "last activity" order
        holds even where the clock ticks coarsely (about 16 ms on Windows)."""
        self._last_time = max(time.time(), self._last_time + 1e-6)
        return self._last_time

    # --- conversations -----------------------------------------------------------------------

    def create_conversation(
        self,
        title: str | None = None,
        model_path: str | Path | None = None,
        mmproj_path: str | Path | None = None,
        system_prompt: str = "",
        settings: GenerationSettings | None = None,
        server: ConversationServer | None = None,
    ) -> Conversation:
        """A new, empty conversation; without a title, the first prompt will name it."""
        now = self._now()
        with self._writing() as conn:
            cursor = conn.execute(
                """INSERT INTO conversations
                   (title, created_at, updated_at, model_path, mmproj_path, system_prompt,
                    settings_json, server_name, server_url, server_model)
                   VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)""",
                (
                    _one_line(title or ""),
                    now,
                    now,
                    _path_text(model_path),
                    _path_text(mmproj_path),
                    system_prompt,
                    json.dumps(to_dict(settings or GenerationSettings())),
                    *_server_columns(server),
                ),
            )
        return self.get_conversation(int(cursor.lastrowid or 0))

    def list_conversations(self, query: str | None = None) -> list[Conversation]:
        """Most recent activity first; ``query`` keeps those whose title or messages contain it.

        With FTS5, message text matches word prefixes in any order ("gem tok" finds "Gemma's
        tokenizer"), ignoring case and accents; without it, the query is a plain substring.
        """
        sql = _CONVERSATION_SELECT
        params: list[str] = []
        if query and query.strip():
            where, params = self._search_clause(query.strip())
            sql += f" WHERE {where}"
        sql += " ORDER BY c.updated_at DESC, c.id DESC"
        with self._reading() as conn:
            return [self._conversation(row) for row in conn.execute(sql, params)]

    def _search_clause(self, query: str) -> tuple[str, list[str]]:
        like = _like_pattern(query)
        words = re.findall(r"\w+", query)
        in_documents = """c.id IN (SELECT m.conversation_id FROM messages m
                          JOIN message_attachments ma ON ma.message_id = m.id
                          JOIN document_texts d ON d.sha256 = ma.sha256 WHERE {where})"""
        if self._full_text and words and not _UNSPACED_SCRIPT.search(query):
            # \w+ holds no quote, so each word is safe inside an FTS5 string.
            match = " ".join(f'"{word}"*' for word in words)
            in_text = """c.id IN (SELECT m.conversation_id FROM messages_fts
                          JOIN messages m ON m.id = messages_fts.rowid
                          WHERE messages_fts MATCH ?)"""
            documents = in_documents.format(
                where="d.rowid IN (SELECT rowid FROM document_texts_fts WHERE document_texts_fts MATCH ?)"
            )
            return f"(c.title LIKE ? ESCAPE '\\' OR {in_text} OR {documents})", [like, match, match]
        in_text = "c.id IN (SELECT conversation_id FROM messages WHERE text LIKE ? ESCAPE '\\')"
        documents = in_documents.format(where="d.text LIKE ? ESCAPE '\\'")
        return f"(c.title LIKE ? ESCAPE '\\' OR {in_text} OR {documents})", [like, like, like]

    def get_conversation(self, conversation_id: int) -> Conversation:
        with self._reading() as conn:
            row = conn.execute(
                f"{_CONVERSATION_SELECT} WHERE c.id = ?", (conversation_id,)
            ).fetchone()
        if row is None:
            raise self._not_found(conversation_id)
        return self._conversation(row)

    def rename(self, conversation_id: int, title: str) -> None:
        """Change the title; not "activity", so the conversation keeps its place in the list."""
        title = _one_line(title)
        if not title:
            raise UserError("A conversation's title cannot be empty.")
        with self._writing() as conn:
            cursor = conn.execute(
                "UPDATE conversations SET title = ? WHERE id = ?", (title, conversation_id)
            )
            if cursor.rowcount == 0:
                raise self._not_found(conversation_id)

    def update_conversation_settings(
        self,
        conversation_id: int,
        settings: GenerationSettings | None = None,
        *,
        system_prompt: str | None = None,
        model_path: str | Path | _Keep | None = KEEP,
        mmproj_path: str | Path | _Keep | None = KEEP,
        server: ConversationServer | _Keep | None = KEEP,
    ) -> Conversation:
        """Save what the conversation reopens with; arguments left out stay as they were.
        ``server=None`` moves it back to this computer."""
        changes: dict[str, Any] = {}
        if server is not KEEP:
            changes.update(zip(("server_name", "server_url", "server_model"),
                               _server_columns(server), strict=True))
        if settings is not None:
            changes["settings_json"] = json.dumps(to_dict(settings))
        if system_prompt is not None:
            changes["system_prompt"] = system_prompt
        if model_path is not KEEP:
            changes["model_path"] = _path_text(model_path)
        if mmproj_path is not KEEP:
            changes["mmproj_path"] = _path_text(mmproj_path)
        if changes:
            assignments = ", ".join(f"{column} = ?" for column in changes)
            with self._writing() as conn:
                cursor = conn.execute(
                    f"UPDATE conversations SET {assignments} WHERE id = ?",
                    (*changes.values(), conversation_id),
                )
                if cursor.rowcount == 0:
                    raise self._not_found(conversation_id)
        return self.get_conversation(conversation_id)

    def delete_conversation(self, conversation_id: int) -> None:
        """Delete it with its messages, and the image files no other message uses."""
        with self._writing() as conn:
            used = self._attachments_of(conn, "m.conversation_id = ?", (conversation_id,))
            cursor = conn.execute("DELETE FROM conversations WHERE id = ?", (conversation_id,))
            if cursor.rowcount == 0:
                raise self._not_found(conversation_id)
            released = self._release(conn, used)
        self._remove_files(released)

    # --- messages ----------------------------------------------------------------------------

    def messages(self, conversation_id: int) -> list[Message]:
        """The conversation's messages in order, each with its images."""
        with self._reading() as conn:
            self._require_conversation(conn, conversation_id)
            return self._load_messages(conn, conversation_id)

    def add_user_message(
        self,
        conversation_id: int,
        text: str,
        attachments: Sequence[str] = (),
        names: Sequence[str | None] = (),
        first_pages: Sequence[int | None] = (),
        pan_scan: Sequence[str | None] = (),
    ) -> Message:
        """Commit the user's turn (``attachments`` are sha256s from :meth:`add_attachment` or
        :meth:`add_document`, in the order given; ``names`` their file names, where known;
        ``first_pages`` how many pages of a PDF the model was given, where not all;
        ``pan_scan`` an image's own Pan & Scan choice, where it has one).

        Call this before generation starts, so a crash while the model runs cannot lose the
        prompt.  The first prompt of an untitled conversation becomes its title.
        """
        now = self._now()
        with self._writing() as conn:
            row = conn.execute(
                "SELECT title FROM conversations WHERE id = ?", (conversation_id,)
            ).fetchone()
            if row is None:
                raise self._not_found(conversation_id)
            for sha256 in attachments:
                found = conn.execute("SELECT 1 FROM attachments WHERE sha256 = ?", (sha256,))
                if found.fetchone() is None:
                    raise ValueError(f"attachment {sha256} was not stored with add_attachment")
            message_id = self._insert_message(conn, conversation_id, "user", text, now)
            given = list(names) + [None] * (len(attachments) - len(names))
            pages = list(first_pages) + [None] * (len(attachments) - len(first_pages))
            views = list(pan_scan) + [None] * (len(attachments) - len(pan_scan))
            conn.executemany(
                """INSERT INTO message_attachments (message_id, sha256, ordinal, name, first_pages, pan_scan)
                   VALUES (?, ?, ?, ?, ?, ?)""",
                [
                    (message_id, sha256, ordinal, name, limit, mode)
                    for ordinal, (sha256, name, limit, mode) in enumerate(
                        zip(attachments, given, pages, views, strict=False)
                    )
                ],
            )
            title = row["title"] or title_from_prompt(text)
            conn.execute(
                "UPDATE conversations SET title = ?, updated_at = ? WHERE id = ?",
                (title, now, conversation_id),
            )
            message = self._load_messages(conn, conversation_id, message_id)[0]
        self._pending.difference_update(attachments)
        return message

    def begin_assistant_message(self, conversation_id: int) -> int:
        """An empty reply in state "streaming"; returns its id for :class:`StreamingWriter`."""
        now = self._now()
        with self._writing() as conn:
            self._require_conversation(conn, conversation_id)
            message_id = self._insert_message(
                conn, conversation_id, "assistant", "", now, state="streaming"
            )
            conn.execute(
                "UPDATE conversations SET updated_at = ? WHERE id = ?", (now, conversation_id)
            )
        return message_id

    def append_assistant_text(self, message_id: int, text: str) -> None:
        """Add streamed text to a reply and commit it.

        A reply whose conversation was deleted meanwhile is simply gone: nothing to keep, no error.
        """
        if not text:
            return
        with self._writing() as conn:
            cursor = conn.execute(
                """UPDATE messages SET text = text || ?, updated_at = ?
                   WHERE id = ? AND role = 'assistant'""",
                (text, self._now(), message_id),
            )
        if cursor.rowcount == 0:
            log.info("streamed text for deleted message %d dropped", message_id)

    def finish_assistant_message(
        self,
        message_id: int,
        text: str,
        finish_reason: FinishReason,
        metrics: Mapping[str, Any] | None = None,
    ) -> None:
        """Write the reply's final text, why it ended and its metrics; it is then complete."""
        if finish_reason not in FINISH_REASONS:
            raise ValueError(f"unknown finish reason {finish_reason!r}")
        now = self._now()
        with self._writing() as conn:
            cursor = conn.execute(
                """UPDATE messages SET text = ?, finish_reason = ?, metrics_json = ?,
                       state = 'complete', updated_at = ?
                   WHERE id = ? AND role = 'assistant'""",
                (text, finish_reason, json.dumps(dict(metrics or {})), now, message_id),
            )
            conn.execute(
                """UPDATE conversations SET updated_at = ?
                   WHERE id = (SELECT conversation_id FROM messages WHERE id = ?)""",
                (now, message_id),
            )
        if cursor.rowcount == 0:
            log.info("final text for deleted message %d dropped", message_id)

    def delete_messages_from(self, conversation_id: int, position: int) -> int:
        """Delete the message at ``position`` and all after it (regenerate, edit the last prompt).

        Returns how many were deleted; images no other message uses are deleted with them.
        """
        where = "m.conversation_id = ? AND m.position >= ?"
        with self._writing() as conn:
            used = self._attachments_of(conn, where, (conversation_id, position))
            cursor = conn.execute(
                "DELETE FROM messages WHERE conversation_id = ? AND position >= ?",
                (conversation_id, position),
            )
            conn.execute(
                "UPDATE conversations SET updated_at = ? WHERE id = ?",
                (self._now(), conversation_id),
            )
            released = self._release(conn, used)
        self._remove_files(released)
        return cursor.rowcount

    # --- attachments -------------------------------------------------------------------------

    def add_attachment(self, data: bytes, mime: str, width: int, height: int) -> str:
        """Store an image (already verified and sized by the caller) and return its sha256.

        Storing the same bytes again is cheap and returns the same hash.  The image stays until
        a message that used it is deleted and no other message uses it.
        """
        if not data or not mime.startswith("image/") or width <= 0 or height <= 0:
            raise ValueError(f"not a usable image: {len(data)} bytes of {mime}, {width}x{height}")
        sha256 = hashlib.sha256(data).hexdigest()
        with database.known_errors(self.path):
            self._files.write(sha256, data)
        self._pending.add(sha256)
        with self._writing() as conn:
            self._insert_attachment(conn, sha256, len(data), mime, width, height)
        return sha256

    def add_document(self, data: bytes, mime: str, text: str) -> str:
        """Store a document's file (already read by the caller) and its text, for search; return
        its sha256.  Kept once by content, and released like an image."""
        if not data or mime.startswith("image/"):
            raise ValueError(f"not a usable document: {len(data)} bytes of {mime}")
        sha256 = hashlib.sha256(data).hexdigest()
        with database.known_errors(self.path):
            self._files.write(sha256, data)
        self._pending.add(sha256)
        with self._writing() as conn:
            self._insert_attachment(conn, sha256, len(data), mime, 0, 0, text)
        return sha256

    def _insert_attachment(
        self,
        conn: sqlite3.Connection,
        sha256: str,
        size: int,
        mime: str,
        width: int,
        height: int,
        text: str | None = None,
    ) -> None:
        conn.execute(
            """INSERT OR IGNORE INTO attachments (sha256, mime, width, height, size, path)
               VALUES (?, ?, ?, ?, ?, ?)""",
            (sha256, mime, width, height, size, relative_path(sha256)),
        )
        if text is not None:
            conn.execute(
                "INSERT OR IGNORE INTO document_texts (sha256, text) VALUES (?, ?)", (sha256, text)
            )

    def _attachments_of(
        self, conn: sqlite3.Connection, where: str, params: tuple[int, ...]
    ) -> set[str]:
        rows = conn.execute(
            f"""SELECT DISTINCT ma.sha256 FROM message_attachments ma
                JOIN messages m ON m.id = ma.message_id WHERE {where}""",
            params,
        )
        return {row[0] for row in rows}

    def _release(self, conn: sqlite3.Connection, candidates: Iterable[str]) -> list[str]:
        """Delete the rows of candidate images no message uses now; return their files' paths.

        The files go only after the commit: a crash in between leaves a stray file (swept
        later), never a row pointing at a missing file.
        """
        released = []
        for sha256 in set(candidates) - self._pending:
            row = conn.execute(
                """SELECT path FROM attachments a WHERE sha256 = ? AND NOT EXISTS
                   (SELECT 1 FROM message_attachments ma WHERE ma.sha256 = a.sha256)""",
                (sha256,),
            ).fetchone()
            if row is not None:
                conn.execute("DELETE FROM attachments WHERE sha256 = ?", (sha256,))
                released.append(row["path"])
        return released

    def _remove_files(self, relative_paths: Iterable[str]) -> None:
        for relative in relative_paths:
            try:
                self._files.remove(relative)
            except OSError as exc:  # the sweep at the next open retries it
                log.warning("could not delete image %s: %s", relative, exc)

    # --- import ------------------------------------------------------------------------------

    def insert_conversation(self, draft: ConversationDraft) -> int:
        """Insert a whole conversation in one transaction and return its id.

        Either all of it lands or none of it: image files this call created are removed again
        if the transaction fails.  It counts as new activity, so it appears at the top.
        """
        created: list[str] = []
        try:
            images = {
                hashlib.sha256(a.data).hexdigest(): a
                for message in draft.messages
                for a in message.attachments
            }
            with database.known_errors(self.path):
                for sha256, image in images.items():
                    if self._files.write(sha256, image.data):
                        created.append(relative_path(sha256))
            with self._writing() as conn:
                cursor = conn.execute(
                    """INSERT INTO conversations
                       (title, created_at, updated_at, model_path, mmproj_path, system_prompt,
                        settings_json, server_name, server_url, server_model)
                       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)""",
                    (
                        _one_line(draft.title),
                        draft.created_at.timestamp(),
                        self._now(),
                        draft.model_path,
                        draft.mmproj_path,
                        draft.system_prompt,
                        json.dumps(to_dict(draft.settings)),
                        *_server_columns(draft.server),
                    ),
                )
                conversation_id = int(cursor.lastrowid or 0)
                for sha256, image in images.items():
                    self._insert_attachment(
                        conn, sha256, len(image.data), image.mime, image.width, image.height, image.text
                    )
                for message in draft.messages:
                    message_id = self._insert_message(
                        conn,
                        conversation_id,
                        message.role,
                        message.text,
                        message.created_at.timestamp(),
                        finish_reason=message.finish_reason,
                        metrics=message.metrics,
                    )
                    conn.executemany(
                        """INSERT INTO message_attachments
                               (message_id, sha256, ordinal, name, first_pages, pan_scan)
                           VALUES (?, ?, ?, ?, ?, ?)""",
                        [
                            (
                                message_id,
                                hashlib.sha256(a.data).hexdigest(),
                                ordinal,
                                a.name,
                                a.first_pages,
                                a.pan_scan,
                            )
                            for ordinal, a in enumerate(message.attachments)
                        ],
                    )
        except BaseException:
            self._remove_files(created)
            raise
        return conversation_id

    # --- open-time repairs -------------------------------------------------------------------

    def _mark_interrupted(self) -> None:
        """Keep replies whose writer died mid-stream, marked ``interrupted``.

        Another process that is really still streaming one (the window, while the CLI opens the
        store) overwrites the mark when it finishes, so the mark is never wrong for long.
        """
        with self._reading() as conn:
            streaming = conn.execute("SELECT 1 FROM messages WHERE state = 'streaming'").fetchone()
        if streaming is None:
            return
        with self._writing() as conn:
            cursor = conn.execute(
                """UPDATE messages SET state = 'complete', finish_reason = 'interrupted',
                       updated_at = ?
                   WHERE state = 'streaming'""",
                (self._now(),),
            )
        log.info("marked %d reply(ies) cut off by a crash as interrupted", cursor.rowcount)

    def _sweep_strays(self) -> None:
        """Delete images nothing uses: rows no message references (an image attached, then the
        message never sent) and files with no row (a crash between writing and committing)."""
        cutoff = time.time() - STRAY_GRACE_S
        with self._reading() as conn:
            unused = conn.execute(
                """SELECT sha256, path FROM attachments a WHERE NOT EXISTS
                   (SELECT 1 FROM message_attachments ma WHERE ma.sha256 = a.sha256)"""
            ).fetchall()
        stale = []
        for row in unused:
            file = self._files.path(row["path"])
            if not file.exists() or file.stat().st_mtime < cutoff:
                stale.append(row["sha256"])
        if stale:
            with self._writing() as conn:
                released = self._release(conn, stale)
            self._remove_files(released)
        with self._reading() as conn:
            known = {row[0] for row in conn.execute("SELECT sha256 FROM attachments")}
        with database.known_errors(self.path):
            for stray in self._files.strays(known, STRAY_GRACE_S):
                log.info("deleting stray image file %s", stray)
                stray.unlink(missing_ok=True)

    # --- rows --------------------------------------------------------------------------------

    def _insert_message(
        self,
        conn: sqlite3.Connection,
        conversation_id: int,
        role: Role,
        text: str,
        at: float,
        state: MessageState = "complete",
        finish_reason: FinishReason | None = None,
        metrics: Mapping[str, Any] | None = None,
    ) -> int:
        (position,) = conn.execute(
            "SELECT coalesce(max(position), -1) + 1 FROM messages WHERE conversation_id = ?",
            (conversation_id,),
        ).fetchone()
        cursor = conn.execute(
            """INSERT INTO messages
               (conversation_id, position, role, text, finish_reason, metrics_json, created_at,
                updated_at, state)
               VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)""",
            (
                conversation_id,
                position,
                role,
                text,
                finish_reason,
                None if metrics is None else json.dumps(dict(metrics)),
                at,
                at,
                state,
            ),
        )
        return int(cursor.lastrowid or 0)

    def _load_messages(
        self, conn: sqlite3.Connection, conversation_id: int, message_id: int | None = None
    ) -> list[Message]:
        only = "" if message_id is None else " AND m.id = ?"
        params = (conversation_id,) if message_id is None else (conversation_id, message_id)
        images: dict[int, list[Attachment]] = {}
        for row in conn.execute(
            f"""SELECT ma.message_id, ma.name, ma.first_pages, ma.pan_scan, a.* FROM message_attachments ma
                JOIN attachments a ON a.sha256 = ma.sha256
                JOIN messages m ON m.id = ma.message_id
                WHERE m.conversation_id = ?{only} ORDER BY ma.message_id, ma.ordinal""",
            params,
        ):
            images.setdefault(row["message_id"], []).append(
                Attachment(
                    sha256=row["sha256"],
                    mime=row["mime"],
                    width=row["width"],
                    height=row["height"],
                    size=row["size"],
                    path=self._files.path(row["path"]),
                    name=row["name"],
                    first_pages=row["first_pages"],
                    pan_scan=row["pan_scan"],
                )
            )
        return [
            Message(
                id=row["id"],
                conversation_id=row["conversation_id"],
                position=row["position"],
                role=row["role"],
                text=row["text"],
                finish_reason=row["finish_reason"],
                metrics=json.loads(row["metrics_json"] or "{}"),
                created_at=_time(row["created_at"]),
                updated_at=_time(row["updated_at"]),
                state=row["state"],
                attachments=tuple(images.get(row["id"], ())),
            )
            for row in conn.execute(
                f"SELECT * FROM messages m WHERE m.conversation_id = ?{only} ORDER BY m.position",
                params,
            )
        ]

    @staticmethod
    def _conversation(row: sqlite3.Row) -> Conversation:
        return Conversation(
            id=row["id"],
            title=row["title"],
            created_at=_time(row["created_at"]),
            updated_at=_time(row["updated_at"]),
            model_path=row["model_path"],
            mmproj_path=row["mmproj_path"],
            system_prompt=row["system_prompt"],
            settings=generation_from_dict(json.loads(row["settings_json"] or "{}")),
            message_count=row["message_count"],
            server=ConversationServer(row["server_name"], row["server_url"], row["server_model"])
            if row["server_name"] else None,
        )

    def _require_conversation(self, conn: sqlite3.Connection, conversation_id: int) -> None:
        found = conn.execute("SELECT 1 FROM conversations WHERE id = ?", (conversation_id,))
        if found.fetchone() is None:
            raise self._not_found(conversation_id)

    @staticmethod
    def _not_found(conversation_id: int) -> ConversationNotFound:
        return ConversationNotFound(
            "There is no conversation with id {id}; it may have been deleted.", id=str(conversation_id)
        )


class StreamingWriter:
    """Writes a streaming reply to the store without a commit per token.

    ``append`` commits when :data:`FLUSH_INTERVAL_S` has passed since the last commit, so a
    killed app loses at most that much of the reply, and the disk sees a couple of small
    transactions a second instead of one per token.  The UI can also call ``flush`` on a timer
    for a reply that stalls.
    """

    def __init__(
        self,
        store: ConversationStore,
        message_id: int,
        interval_s: float = FLUSH_INTERVAL_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._store = store
        self.message_id = message_id
        self._interval_s = interval_s
        self._clock = clock
        self._committed: list[str] = []
        self._pending: list[str] = []
        self._last_flush = clock()

    @property
    def text(self) -> str:
        """Everything appended so far, committed or not."""
        return "".join(self._committed + self._pending)

    def append(self, text: str) -> bool:
        """Add streamed text; True when this call committed it (and what came before)."""
        self._pending.append(text)
        if self._clock() - self._last_flush < self._interval_s:
            return False
        self.flush()
        return True

    def flush(self) -> None:
        """Commit whatever has not been committed yet."""
        if self._pending:
            chunk = "".join(self._pending)
            self._store.append_assistant_text(self.message_id, chunk)
            self._committed.append(chunk)
            self._pending.clear()
        self._last_flush = self._clock()

    def finish(self, finish_reason: FinishReason, metrics: Mapping[str, Any] | None = None) -> None:
        """Write the whole reply with why it ended and its metrics, completing the message."""
        self._store.finish_assistant_message(self.message_id, self.text, finish_reason, metrics)
        self._committed = [self.text]
        self._pending.clear()
