"""Documents in the store: kept once by content with their text, named per message, released with
the last message that used them, and found by search."""

from __future__ import annotations

from pathlib import Path

from desktop_app.store import ConversationStore


def test_a_document_is_kept_once_and_released_with_its_last_message(tmp_path: Path) -> None:
    with ConversationStore(tmp_path / "db.sqlite") as store:
        data = b"Minutes of the harbour committee.\n"
        first = store.create_conversation()
        second = store.create_conversation()
        sha = store.add_document(data, "text/plain", "Minutes of the harbour committee.")
        assert store.add_document(data, "text/plain", "Minutes of the harbour committee.") == sha
        store.add_user_message(first.id, "Read it.", [sha], ["minutes.txt"])
        store.add_user_message(second.id, "And you.", [sha], ["copy.txt"])
        conn = store.connection
        assert conn.execute("SELECT count(*) FROM attachments").fetchone()[0] == 1
        assert conn.execute("SELECT count(*) FROM document_texts").fetchone()[0] == 1
        [attachment] = store.messages(second.id)[0].attachments
        assert (attachment.name, attachment.is_document, attachment.width) == ("copy.txt", True, 0)
        assert {c.id for c in store.list_conversations("harbour")} == {first.id, second.id}

        store.delete_conversation(first.id)
        assert attachment.path.exists()
        store.delete_conversation(second.id)
        assert not attachment.path.exists()
        assert conn.execute("SELECT count(*) FROM document_texts").fetchone()[0] == 0
        assert store.list_conversations("harbour") == []


def test_search_without_full_text_index_still_finds_document_text(tmp_path: Path) -> None:
    with ConversationStore(tmp_path / "db.sqlite") as store:
        conversation = store.create_conversation()
        sha = store.add_document(b"%PDF-1.4 ...", "application/pdf", "The lighthouse keeper's log.")
        store.add_user_message(conversation.id, "Summarise.", [sha], ["log.pdf"])
        store._full_text = False  # as on a Python whose SQLite lacks FTS5
        assert [c.id for c in store.list_conversations("lighthouse")] == [conversation.id]
