"""The SQLite file under the conversation store: opening it safely, migrating its schema, and
turning SQLite's failures into sentences.

Opening never writes to a file before it is known to be ours: a file that is not SQLite, a SQLite
database of another program, or one written by a newer version of the app is refused with a
:class:`UserError` that says where it is, and is left byte for byte as it was.  Errors the user can
do something about (disk full, read-only folder, locked or damaged file) become ``UserError``;
anything else is a bug and propagates, as qutebrowser splits "known" SQL errors from the rest.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import sqlite3
from collections.abc import Callable, Iterator
from pathlib import Path

from desktop_app.errors import UserError, os_reason

log = logging.getLogger(__name__)

APPLICATION_ID = 0x47454D41
"""``PRAGMA application_id`` ("GEMA"): tells our database apart from any other SQLite file."""

BUSY_TIMEOUT_S = 5.0
"""How long a write waits for another process (the CLI beside the window) before "locked"."""

_SQLITE_HEADER = b"SQLite format 3\x00"

# SQLite primary result codes (the low byte of an extended code).
_SQLITE_PERM = 3
_SQLITE_BUSY = 5
_SQLITE_LOCKED = 6
_SQLITE_READONLY = 8
_SQLITE_IOERR = 10
_SQLITE_CORRUPT = 11
_SQLITE_FULL = 13
_SQLITE_CANTOPEN = 14
_SQLITE_NOTADB = 26

# Python < 3.11 has no ``sqlite_errorcode``; SQLite's fixed messages identify the same cases.
_CODE_BY_MESSAGE = {
    "database or disk is full": _SQLITE_FULL,
    "disk I/O error": _SQLITE_IOERR,
    "attempt to write a readonly database": _SQLITE_READONLY,
    "unable to open database file": _SQLITE_CANTOPEN,
    "database is locked": _SQLITE_BUSY,
    "database table is locked": _SQLITE_LOCKED,
    "database disk image is malformed": _SQLITE_CORRUPT,
    "file is not a database": _SQLITE_NOTADB,
}


def _damaged(path: Path) -> UserError:
    return UserError(
        "The conversations database at {path} is damaged or is not a Gemma Desktop database, so it "
        "was left as it is; move it elsewhere to start a new one, or restore it from a backup.",
        path=path,
    )


def _disk_full(where: object) -> UserError:
    return UserError(
        "The disk that holds {path} is full, so the conversation could not be saved; free some "
        "space and try again.",
        path=where,
    )


def _read_only(path: Path) -> UserError:
    return UserError(
        "The conversations database at {path} cannot be written because its folder or disk is "
        "read-only; make it writable, or set GEMMA_DESKTOP_HOME to a writable folder.",
        path=path,
    )


def _sqlite_error(exc: sqlite3.Error, path: Path) -> UserError | None:
    """The sentence for a SQLite failure the user can fix, or None for a bug."""
    code = getattr(exc, "sqlite_errorcode", None)
    if code is None:
        code = _CODE_BY_MESSAGE.get(str(exc))
    if code is None:
        return None
    primary = code & 0xFF
    if primary == _SQLITE_FULL:
        return _disk_full(path.parent)
    if primary == _SQLITE_IOERR:
        return UserError(
            "The conversations database at {path} could not be read or written because of a disk "
            "error; check that the disk is connected and has free space.",
            path=path,
        )
    if primary in (_SQLITE_READONLY, _SQLITE_PERM):
        return _read_only(path)
    if primary == _SQLITE_CANTOPEN:
        if path.parent.is_dir() and not os.access(path.parent, os.W_OK):
            return _read_only(path)
        return UserError(
            "The conversations database at {path} could not be opened; check that its folder "
            "exists and can be written to.",
            path=path,
        )
    if primary in (_SQLITE_BUSY, _SQLITE_LOCKED):
        return UserError(
            "The conversations database at {path} is locked by another program; close other "
            "copies of Gemma Desktop and try again.",
            path=path,
        )
    if primary in (_SQLITE_CORRUPT, _SQLITE_NOTADB):
        return _damaged(path)
    return None


def _os_error(exc: OSError, path: Path) -> UserError | None:
    """The sentence for a file-system failure (attachments, backups) the user can fix, or None."""
    where = exc.filename or path.parent
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return _disk_full(where)
    if exc.errno in (errno.EROFS, errno.EACCES, errno.EPERM):
        return UserError(
            "Gemma Desktop cannot write to {path} because it is read-only; make it writable, or set "
            "GEMMA_DESKTOP_HOME to a writable folder.",
            path=where,
        )
    return None


@contextlib.contextmanager
def known_errors(path: Path) -> Iterator[None]:
    """Re-raise SQLite and file-system failures the user can fix as UserError; let bugs through."""
    try:
        yield
    except sqlite3.Error as exc:
        problem = _sqlite_error(exc, path)
        if problem is None:
            raise
        log.warning("conversation store: %s (%r)", problem, exc)
        raise problem from exc
    except OSError as exc:
        problem = _os_error(exc, path)
        if problem is None:
            raise
        log.warning("conversation store: %s (%r)", problem, exc)
        raise problem from exc


@contextlib.contextmanager
def transaction(conn: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """One write transaction: all of it or none of it.

    ``BEGIN IMMEDIATE`` takes the write lock up front, so two processes never both read, decide
    and then collide on commit with a "locked" error halfway through.
    """
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield conn
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise


# --- schema ----------------------------------------------------------------------------------


def _v1_base_schema(conn: sqlite3.Connection) -> None:
    """Conversations, messages and content-addressed attachments.

    ``finish_reason`` has no CHECK constraint on purpose: SQLite cannot alter a CHECK without
    rebuilding the table, and the engine may learn new reasons; the store validates it instead.
    """
    statements = (
        """CREATE TABLE conversations (
            id INTEGER PRIMARY KEY,
            title TEXT NOT NULL DEFAULT '',
            created_at REAL NOT NULL,
            updated_at REAL NOT NULL,
            model_path TEXT,
            mmproj_path TEXT,
            system_prompt TEXT NOT NULL DEFAULT '',
            settings_json TEXT NOT NULL DEFAULT '{}'
        )""",
        "CREATE INDEX conversations_by_update ON conversations (updated_at DESC, id DESC)",
        """CREATE TABLE messages (
            id INTEGER PRIMARY KEY,
            conversation_id INTEGER NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
            position INTEGER NOT NULL,
            role TEXT NOT NULL CHECK (role IN ('user', 'assistant')),
            text TEXT NOT NULL DEFAULT '',
            finish_reason TEXT,
            metrics_json TEXT,
            created_at REAL NOT NULL,
            updated_at REAL NOT NULL,
            state TEXT NOT NULL DEFAULT 'complete' CHECK (state IN ('complete', 'streaming')),
            UNIQUE (conversation_id, position)
        )""",
        "CREATE INDEX messages_streaming ON messages (state) WHERE state = 'streaming'",
        """CREATE TABLE attachments (
            sha256 TEXT PRIMARY KEY CHECK (length(sha256) = 64),
            mime TEXT NOT NULL,
            width INTEGER NOT NULL,
            height INTEGER NOT NULL,
            size INTEGER NOT NULL,
            path TEXT NOT NULL
        )""",
        """CREATE TABLE message_attachments (
            message_id INTEGER NOT NULL REFERENCES messages (id) ON DELETE CASCADE,
            sha256 TEXT NOT NULL REFERENCES attachments (sha256),
            ordinal INTEGER NOT NULL,
            PRIMARY KEY (message_id, ordinal)
        )""",
        "CREATE INDEX message_attachments_by_sha ON message_attachments (sha256)",
        f"PRAGMA application_id = {APPLICATION_ID}",
    )
    for statement in statements:
        conn.execute(statement)


def fts5_available() -> bool:
    """Whether this Python's SQLite was built with FTS5 (nearly all are; some distros' are not)."""
    probe = sqlite3.connect(":memory:")
    try:
        probe.execute("CREATE VIRTUAL TABLE probe USING fts5(text)")
        return True
    except sqlite3.OperationalError:
        return False
    finally:
        probe.close()


def _v2_search_index(conn: sqlite3.Connection) -> None:
    """A full-text index over message text, kept in step by triggers; filled from existing rows.

    Without FTS5 the migration still counts as done and search falls back to LIKE, so a database
    never gets stuck at version 1 on a Python whose SQLite lacks the module.
    """
    if not fts5_available():
        log.info("SQLite has no FTS5; conversation search will use LIKE")
        return
    statements = (
        """CREATE VIRTUAL TABLE messages_fts USING fts5 (
            text, content='messages', content_rowid='id'
        )""",
        """CREATE TRIGGER messages_fts_insert AFTER INSERT ON messages BEGIN
            INSERT INTO messages_fts (rowid, text) VALUES (new.id, new.text);
        END""",
        """CREATE TRIGGER messages_fts_delete AFTER DELETE ON messages BEGIN
            INSERT INTO messages_fts (messages_fts, rowid, text)
                VALUES ('delete', old.id, old.text);
        END""",
        """CREATE TRIGGER messages_fts_update AFTER UPDATE OF text ON messages BEGIN
            INSERT INTO messages_fts (messages_fts, rowid, text)
                VALUES ('delete', old.id, old.text);
            INSERT INTO messages_fts (rowid, text) VALUES (new.id, new.text);
        END""",
        "INSERT INTO messages_fts (messages_fts) VALUES ('rebuild')",
    )
    for statement in statements:
        conn.execute(statement)


def _v3_documents(conn: sqlite3.Connection) -> None:
    """Documents beside images: the name each message gave an attachment (a document's name is
    part of its prompt) and how many first pages it gave (None: all), and each document's text,
    indexed for search like message text.

    A document is an ``attachments`` row like an image (width and height 0), kept once by
    content; its text is kept once too, and goes with the row.
    """
    statements = [
        "ALTER TABLE message_attachments ADD COLUMN name TEXT",
        # A message may give the model only a PDF's first pages (what fit its context).
        "ALTER TABLE message_attachments ADD COLUMN first_pages INTEGER",
        """CREATE TABLE document_texts (
            sha256 TEXT PRIMARY KEY REFERENCES attachments (sha256) ON DELETE CASCADE,
            text TEXT NOT NULL
        )""",
    ]
    if fts5_available():
        statements += [
            """CREATE VIRTUAL TABLE document_texts_fts USING fts5 (
                text, content='document_texts', content_rowid='rowid'
            )""",
            """CREATE TRIGGER document_texts_fts_insert AFTER INSERT ON document_texts BEGIN
                INSERT INTO document_texts_fts (rowid, text) VALUES (new.rowid, new.text);
            END""",
            """CREATE TRIGGER document_texts_fts_delete AFTER DELETE ON document_texts BEGIN
                INSERT INTO document_texts_fts (document_texts_fts, rowid, text)
                    VALUES ('delete', old.rowid, old.text);
            END""",
        ]
    for statement in statements:
        conn.execute(statement)


def _v4_where_it_runs(conn: sqlite3.Connection) -> None:
    """Where a conversation runs: NULLs for this computer, or a saved server's name, its URL and
    the model's id there.  Never a key: keys live in the operating system's keyring."""
    for column in ("server_name", "server_url", "server_model"):
        conn.execute(f"ALTER TABLE conversations ADD COLUMN {column} TEXT")


def _v5_image_views(conn: sqlite3.Connection) -> None:
    """An image's own Pan & Scan choice in its message ("off": one view, "auto": the crops too;
    NULL: the conversation's setting), so the model is shown the image as it was when sent."""
    conn.execute("ALTER TABLE message_attachments ADD COLUMN pan_scan TEXT")


MIGRATIONS: tuple[Callable[[sqlite3.Connection], None], ...] = (
    _v1_base_schema,
    _v2_search_index,
    _v3_documents,
    _v4_where_it_runs,
    _v5_image_views,
)
"""``MIGRATIONS[n]`` takes a database from ``user_version`` n to n + 1.  Only ever append."""

SCHEMA_VERSION = len(MIGRATIONS)


def user_version(conn: sqlite3.Connection) -> int:
    return int(conn.execute("PRAGMA user_version").fetchone()[0])


def has_search_index(conn: sqlite3.Connection, table: str = "messages_fts") -> bool:
    row = conn.execute(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (table,)
    ).fetchone()
    return row is not None


def migrate(conn: sqlite3.Connection, target: int = SCHEMA_VERSION) -> None:
    """Bring the schema from its ``user_version`` up to ``target``, one transaction per step.

    A step that fails rolls back whole, leaving the file at the last version that completed.
    """
    for version in range(user_version(conn), target):
        with transaction(conn):
            MIGRATIONS[version](conn)
            conn.execute(f"PRAGMA user_version = {version + 1}")
        log.info("conversation store migrated to schema version %d", version + 1)


# --- opening ---------------------------------------------------------------------------------


def _refuse_non_sqlite(path: Path) -> None:
    """Reject a file that is not SQLite before SQLite opens it (an empty file is a new database)."""
    try:
        with open(path, "rb") as file:
            header = file.read(len(_SQLITE_HEADER))
    except FileNotFoundError:
        return
    if header and header != _SQLITE_HEADER:
        raise _damaged(path)


def _check_identity(conn: sqlite3.Connection, path: Path) -> None:
    """Read-only checks that the file is a (possibly older) Gemma Desktop database, or empty."""
    app_id = int(conn.execute("PRAGMA application_id").fetchone()[0])
    version = user_version(conn)
    tables = int(conn.execute("SELECT count(*) FROM sqlite_master").fetchone()[0])
    if app_id == 0 and version == 0 and tables == 0:
        return
    if app_id != APPLICATION_ID or version < 1:
        raise UserError(
            "The file at {path} belongs to another program, not Gemma Desktop, so it was left as it "
            "is; move it elsewhere and Gemma Desktop will start a new database there.",
            path=path,
        )
    if version > SCHEMA_VERSION:
        raise UserError(
            "The conversations database at {path} was written by a newer version of Gemma Desktop "
            "(schema {version}, this one knows up to {known}), so it was left as it is; update Gemma "
            "Desktop to open it.",
            path=path,
            version=version,
            known=SCHEMA_VERSION,
        )


def _back_up(conn: sqlite3.Connection, path: Path, version: int) -> Path:
    """Copy the database aside before migrating it, so a faulty migration cannot lose chats."""
    backup_path = path.with_name(f"{path.name}.v{version}.bak")
    backup_path.unlink(missing_ok=True)
    backup = sqlite3.connect(backup_path)
    try:
        conn.backup(backup)
    finally:
        backup.close()
    log.info("backed up schema version %d database to %s before migrating", version, backup_path)
    return backup_path


def open_database(path: Path) -> sqlite3.Connection:
    """Open (creating if needed) and migrate the database at ``path``; UserError if it is not ours.

    The connection is in autocommit mode (``isolation_level=None``): every write goes through
    :func:`transaction`, so when something is committed is explicit, never Python's guess.
    WAL with ``synchronous=NORMAL`` makes each commit survive the app being killed (a power cut
    may lose the last few, never corrupt the file); ``timeout`` sets SQLite's busy timeout.
    """
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UserError(
            "The folder {folder} for the conversations database could not be created ({reason}).",
            folder=path.parent,
            reason=os_reason(exc),
        ) from exc
    with known_errors(path):
        _refuse_non_sqlite(path)
        conn = sqlite3.connect(path, timeout=BUSY_TIMEOUT_S, isolation_level=None)
    try:
        with known_errors(path):
            _check_identity(conn, path)
            conn.execute("PRAGMA foreign_keys = ON")
            conn.execute("PRAGMA synchronous = NORMAL")
            mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
            if mode != "wal":
                log.warning("conversation store at %s runs in %s mode, not WAL", path, mode)
            version = user_version(conn)
            if 1 <= version < SCHEMA_VERSION:
                _back_up(conn, path, version)
            migrate(conn)
    except BaseException:
        conn.close()
        raise
    return conn
