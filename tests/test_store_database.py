"""The database file: migrations from schema v1, refusing files that are not ours without touching
them, and full or read-only disks as sentences rather than tracebacks."""

from __future__ import annotations

import errno
import hashlib
import json
import os
import shutil
import sqlite3
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from desktop_app import paths
from desktop_app.errors import UserError
from desktop_app.store import (
    ConversationServer,
    ConversationStore,
    StreamingWriter,
    attachment_files,
    database,
)
from desktop_app.store.attachment_files import AttachmentFiles
from tests.support.data import PNG


def _version(path: Path) -> int:
    conn = sqlite3.connect(path)
    try:
        return int(conn.execute("PRAGMA user_version").fetchone()[0])
    finally:
        conn.close()


def _refused_untouched(path: Path, match: str) -> UserError:
    """Open the store on ``path`` and check it refuses with ``match`` and leaves the file alone."""
    before = path.read_bytes()
    with pytest.raises(UserError, match=match) as raised:
        ConversationStore()
    assert path.read_bytes() == before
    assert str(path) in str(raised.value)
    assert str(raised.value).count(". ") == 0 and str(raised.value).endswith(".")
    return raised.value


# --- migrations ------------------------------------------------------------------------------


def _make_v1_database(path: Path) -> dict[str, int]:
    """A database as the first released schema wrote it, with a conversation in it."""
    conn = sqlite3.connect(path, isolation_level=None)
    database.migrate(conn, target=1)
    assert database.user_version(conn) == 1
    assert not database.has_search_index(conn)
    now = time.time()
    conn.execute(
        """INSERT INTO conversations (id, title, created_at, updated_at, model_path, settings_json)
           VALUES (7, 'Old chat', ?, ?, '/models/old.gguf', ?)""",
        (now - 100, now - 50, json.dumps({"temperature": 0.2, "unknown_future_key": 1})),
    )
    sha = hashlib.sha256(PNG).hexdigest()
    AttachmentFiles(paths.attachments_dir()).write(sha, PNG)
    conn.execute(
        "INSERT INTO attachments VALUES (?, 'image/png', 4, 3, ?, ?)",
        (sha, len(PNG), attachment_files.relative_path(sha)),
    )
    rows = [
        (1, 0, "user", "Which pelican species is this?", None, None, "complete"),
        (2, 1, "assistant", "A brown pelican.", "stop", '{"decode_tokens": 5}', "complete"),
        (3, 2, "user", "And its wingspan?", None, None, "complete"),
        (4, 3, "assistant", "About two me", None, None, "streaming"),
    ]
    for message_id, position, role, text, reason, metrics, state in rows:
        conn.execute(
            """INSERT INTO messages (id, conversation_id, position, role, text, finish_reason,
                   metrics_json, created_at, updated_at, state)
               VALUES (?, 7, ?, ?, ?, ?, ?, ?, ?, ?)""",
            (message_id, position, role, text, reason, metrics, now - 60, now - 60, state),
        )
    conn.execute("INSERT INTO message_attachments VALUES (1, ?, 0)", (sha,))
    conn.close()
    return {"conversation": 7}


def test_a_v1_database_is_migrated_with_its_data() -> None:
    path = paths.database_path()
    _make_v1_database(path)
    with ConversationStore() as store:
        assert database.user_version(store.connection) == database.SCHEMA_VERSION
        conversation = store.get_conversation(7)
        messages = store.messages(7)
        assert conversation.title == "Old chat" and conversation.settings.temperature == 0.2
        assert [m.text for m in messages] == [
            "Which pelican species is this?",
            "A brown pelican.",
            "And its wingspan?",
            "About two me",
        ]
        assert messages[0].attachments[0].path.read_bytes() == PNG
        assert messages[1].metrics == {"decode_tokens": 5}
        assert (messages[3].state, messages[3].finish_reason) == ("complete", "interrupted")
        if database.fts5_available():
            assert database.has_search_index(store.connection)
        # Rows written before the index existed are searchable, and new rows are too.
        assert [c.id for c in store.list_conversations("pelican")] == [7]
        store.add_user_message(7, "What about flamingos?")
        assert [c.id for c in store.list_conversations("flamingos")] == [7]
        assert store.connection.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    backup = path.with_name(f"{path.name}.v1.bak")
    assert _version(backup) == 1
    conn = sqlite3.connect(backup)
    assert conn.execute("SELECT count(*) FROM messages").fetchone()[0] == 4
    conn.close()


def test_an_old_database_learns_where_conversations_run_without_losing_any() -> None:
    _make_v1_database(paths.database_path())
    with ConversationStore() as store:
        old = store.get_conversation(7)
        assert old.server is None and old.model_path == "/models/old.gguf"
        gpu = ConversationServer("GPU box", "http://gpu.lan:8080/v1", "gemma-3-27b-it")
        moved = store.update_conversation_settings(7, server=gpu)
        assert moved.server == gpu and moved.model_path == "/models/old.gguf"
        fresh = store.create_conversation(server=gpu)
        assert store.get_conversation(fresh.id).server == gpu
        assert store.update_conversation_settings(7, server=None).server is None
        columns = [row[1] for row in store.connection.execute("PRAGMA table_info(conversations)")]
        assert {"server_name", "server_url", "server_model"} <= set(columns)
        assert not any("key" in column for column in columns)


def test_a_failing_migration_leaves_the_database_at_its_old_version(
    monkeypatch: pytest.MonkeyPatch
) -> None:
    path = paths.database_path()
    _make_v1_database(path)

    def broken(conn: sqlite3.Connection) -> None:
        conn.execute("CREATE TABLE half_done (x)")
        raise RuntimeError("bug in a migration")

    with monkeypatch.context() as patch, pytest.raises(RuntimeError):
        patch.setattr(database, "MIGRATIONS", (database.MIGRATIONS[0], broken))
        ConversationStore()
    conn = sqlite3.connect(path)
    assert database.user_version(conn) == 1
    leftover = conn.execute("SELECT name FROM sqlite_master WHERE name = 'half_done'")
    assert leftover.fetchone() is None
    assert conn.execute("SELECT count(*) FROM messages").fetchone()[0] == 4
    conn.close()
    with ConversationStore() as store:  # the fixed app migrates it fine
        assert len(store.messages(7)) == 4


def test_a_new_database_runs_every_migration() -> None:
    with ConversationStore():
        pass
    conn = sqlite3.connect(paths.database_path())
    assert database.user_version(conn) == len(database.MIGRATIONS) == database.SCHEMA_VERSION == 5
    assert conn.execute("PRAGMA application_id").fetchone()[0] == database.APPLICATION_ID
    conn.close()
    assert not list(paths.data_dir().glob("*.bak"))  # nothing to back up for a new database


# --- files that are not ours -----------------------------------------------------------------


def test_a_file_that_is_not_sqlite_is_refused_and_left_untouched() -> None:
    path = paths.database_path()
    path.write_bytes(b"These are my notes, not a database.\n" * 200)
    _refused_untouched(path, "damaged or is not a Gemma Desktop database")
    assert sorted(p.name for p in path.parent.iterdir()) == ["attachments", path.name]


def test_a_sqlite_file_with_damaged_pages_is_refused_and_left_untouched() -> None:
    with ConversationStore() as store:
        for n in range(30):
            conversation = store.create_conversation(title=f"chat {n}")
            store.add_user_message(conversation.id, "some words " * 200)
    path = paths.database_path()
    data = bytearray(path.read_bytes())
    page = 4096
    assert len(data) > 6 * page
    data[2 * page : len(data) - page] = os.urandom(len(data) - 3 * page)
    path.write_bytes(bytes(data))
    before = path.read_bytes()
    with pytest.raises(UserError, match="is damaged"), ConversationStore() as store:
        for conversation in store.list_conversations():
            store.messages(conversation.id)
        store.list_conversations("words")
    assert path.read_bytes() == before


def test_another_programs_sqlite_database_is_refused_and_left_untouched() -> None:
    path = paths.database_path()
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE moz_places (id INTEGER PRIMARY KEY, url TEXT)")
    conn.execute("INSERT INTO moz_places (url) VALUES ('https://example.org')")
    conn.commit()
    conn.close()
    _refused_untouched(path, "belongs to another program")


def test_another_programs_database_with_a_user_version_is_refused() -> None:
    path = paths.database_path()
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE conversations (id INTEGER PRIMARY KEY)")
    conn.execute("PRAGMA user_version = 1")
    conn.commit()
    conn.close()
    _refused_untouched(path, "belongs to another program")


def test_a_database_from_a_newer_version_is_refused_and_left_untouched() -> None:
    with ConversationStore() as store:
        store.create_conversation(title="from the future")
    path = paths.database_path()
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute(f"PRAGMA user_version = {database.SCHEMA_VERSION + 1}")
    conn.close()
    error = _refused_untouched(path, "newer version of Gemma Desktop")
    assert f"schema {database.SCHEMA_VERSION + 1}" in str(error)


def test_an_empty_file_becomes_a_new_database() -> None:
    paths.database_path().write_bytes(b"")
    with ConversationStore() as store:
        store.create_conversation(title="fresh")
        assert [c.title for c in store.list_conversations()] == ["fresh"]


def test_a_data_folder_that_cannot_be_created_is_a_user_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("in the way")
    monkeypatch.setenv(paths.HOME_ENV, str(blocker / "home"))
    with pytest.raises(UserError, match="could not be created"):
        ConversationStore()
    with pytest.raises(UserError, match="could not be created"):
        ConversationStore(blocker / "db.sqlite3")


# --- full and read-only disks ----------------------------------------------------------------


def test_a_full_database_is_a_user_error_and_loses_nothing_committed() -> None:
    with ConversationStore() as store:
        conversation = store.create_conversation()
        store.add_user_message(conversation.id, "kept")
        reply = store.begin_assistant_message(conversation.id)
        pages = store.connection.execute("PRAGMA page_count").fetchone()[0]
        store.connection.execute(f"PRAGMA max_page_count = {pages}")
        with pytest.raises(UserError, match="is full") as raised:
            store.add_user_message(conversation.id, "x" * 200_000)
        assert "Traceback" not in str(raised.value)
        writer = StreamingWriter(store, reply, interval_s=0)
        with pytest.raises(UserError, match="is full"):
            writer.append("y" * 200_000)
        store.connection.execute("PRAGMA max_page_count = 1073741823")
        assert [m.text for m in store.messages(conversation.id)] == ["kept", ""]
        writer.finish("error")
        assert store.messages(conversation.id)[1].text == "y" * 200_000


def test_a_full_disk_while_writing_an_image_is_a_user_error(
    monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_space(fd: int) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    with ConversationStore() as store:
        with monkeypatch.context() as patch, pytest.raises(UserError, match="is full"):
            patch.setattr(os, "fsync", no_space)  # as attachment_files calls it
            store.add_attachment(PNG, "image/png", 4, 3)
        assert store.connection.execute("SELECT count(*) FROM attachments").fetchone()[0] == 0
        assert not [p for p in paths.attachments_dir().rglob("*") if p.is_file()]  # no temp left


def test_a_read_only_database_is_a_user_error() -> None:
    with ConversationStore() as store:
        conversation = store.create_conversation()
        store.connection.execute("PRAGMA query_only = ON")
        with pytest.raises(UserError, match="read-only"):
            store.add_user_message(conversation.id, "hello")
        store.connection.execute("PRAGMA query_only = OFF")
        assert store.messages(conversation.id) == []


def test_locked_database_is_a_user_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(database, "BUSY_TIMEOUT_S", 0.1)
    with ConversationStore() as store:
        conversation = store.create_conversation()
        other = sqlite3.connect(paths.database_path(), isolation_level=None)
        other.execute("BEGIN IMMEDIATE")
        try:
            with pytest.raises(UserError, match="locked by another program"):
                store.add_user_message(conversation.id, "hello")
        finally:
            other.execute("ROLLBACK")
            other.close()
        store.add_user_message(conversation.id, "hello")


def test_unknown_sqlite_errors_are_bugs_not_user_errors() -> None:
    with pytest.raises(sqlite3.OperationalError), database.known_errors(paths.database_path()):
        raise sqlite3.OperationalError("no such table: nope")


# Real small and read-only file systems, where this machine lets the tests mount a tmpfs (root
# with CAP_SYS_ADMIN on Linux); chmod alone proves nothing when the tests run as root.


@pytest.fixture
def tiny_disk(tmp_path: Path) -> Iterator[Path]:
    if os.name != "posix" or os.geteuid() != 0 or shutil.which("mount") is None:
        pytest.skip("mounting a tmpfs needs root on Linux")
    mountpoint = tmp_path / "disk"
    mountpoint.mkdir()
    result = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(mountpoint)],
        capture_output=True,
        check=False,
    )
    if result.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {result.stderr.decode().strip()}")
    try:
        yield mountpoint
    finally:
        subprocess.run(["umount", "-l", str(mountpoint)], check=False)


def test_a_really_full_disk_is_a_user_error(
    tiny_disk: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(paths.HOME_ENV, str(tiny_disk))
    with ConversationStore() as store:
        conversation = store.create_conversation()
        store.add_user_message(conversation.id, "kept")
        filler = tiny_disk / "filler"
        fd = os.open(filler, os.O_WRONLY | os.O_CREAT)
        try:
            while os.write(fd, b"\0" * 4096):
                pass
        except OSError as exc:
            assert exc.errno == errno.ENOSPC
        finally:
            os.close(fd)
        with pytest.raises(UserError, match="is full"):
            store.add_attachment(PNG * 100, "image/png", 4, 3)
        with pytest.raises(UserError, match="is full"):
            for _ in range(10):
                store.add_user_message(conversation.id, "x" * 100_000)
        filler.unlink()
        assert store.messages(conversation.id)[0].text == "kept"
        store.add_user_message(conversation.id, "after")
        assert store.connection.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


def test_a_really_read_only_disk_is_a_user_error(
    tiny_disk: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(paths.HOME_ENV, str(tiny_disk))
    with ConversationStore() as store:
        store.create_conversation(title="kept")
    path = paths.database_path()
    before = path.read_bytes()
    subprocess.run(["mount", "-o", "remount,ro", str(tiny_disk)], check=True)
    with pytest.raises(UserError, match="read-only"):
        ConversationStore()
    assert path.read_bytes() == before
