"""The conversation store's API: conversations, messages, streaming, search and image files."""

from __future__ import annotations

import itertools
import os
import time
from pathlib import Path

import pytest

from desktop_app import paths
from desktop_app.errors import UserError
from desktop_app.settings import GenerationSettings
from desktop_app.store import (
    ConversationNotFound,
    ConversationStore,
    StreamingWriter,
    database,
    title_from_prompt,
)
from tests.support.data import JPEG, PNG


def _files(store: ConversationStore) -> set[str]:
    root = paths.attachments_dir()
    return {str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()}


# --- conversations ---------------------------------------------------------------------------


def test_database_lives_in_the_data_dir_with_wal_and_foreign_keys(
    store: ConversationStore, app_home: Path
) -> None:
    assert store.path == app_home / "data" / "conversations.sqlite3"
    conn = store.connection
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert conn.execute("PRAGMA foreign_keys").fetchone()[0] == 1
    assert conn.execute("PRAGMA synchronous").fetchone()[0] == 1  # NORMAL
    assert conn.execute("PRAGMA busy_timeout").fetchone()[0] == 5000
    assert conn.execute("PRAGMA user_version").fetchone()[0] == database.SCHEMA_VERSION


def test_create_and_get_keep_model_prompt_and_settings(store: ConversationStore) -> None:
    settings = GenerationSettings(temperature=0.3, top_k=20, seed=7)
    created = store.create_conversation(
        model_path=Path("/models/gemma-3-4b-it-Q4_K_M.gguf"),
        mmproj_path="/models/mmproj.gguf",
        system_prompt="Answer in French.",
        settings=settings,
    )
    again = store.get_conversation(created.id)
    assert again == created
    assert again.title == ""
    assert again.model_path == "/models/gemma-3-4b-it-Q4_K_M.gguf"
    assert again.mmproj_path == "/models/mmproj.gguf"
    assert again.system_prompt == "Answer in French."
    assert again.settings == settings
    assert again.message_count == 0


def test_conversation_reopens_with_everything_after_restart() -> None:
    with ConversationStore() as store:
        conversation = store.create_conversation(
            model_path="/m.gguf", settings=GenerationSettings(top_p=0.5)
        )
        sha = store.add_attachment(PNG, "image/png", 4, 3)
        store.add_user_message(conversation.id, "Describe", [sha])
        reply = store.begin_assistant_message(conversation.id)
        store.finish_assistant_message(reply, "A square.", "stop", {"decode_tokens": 3})
        before = store.messages(conversation.id)
    with ConversationStore() as store:
        assert store.get_conversation(conversation.id).settings.top_p == 0.5
        after = store.messages(conversation.id)
    assert after == before
    assert after[0].attachments[0].path.read_bytes() == PNG
    assert after[1].metrics == {"decode_tokens": 3}


def test_list_is_sorted_by_last_activity(store: ConversationStore) -> None:
    first = store.create_conversation(title="first")
    second = store.create_conversation(title="second")
    third = store.create_conversation(title="third")
    assert [c.title for c in store.list_conversations()] == ["third", "second", "first"]
    store.add_user_message(first.id, "hello")
    assert [c.id for c in store.list_conversations()] == [first.id, third.id, second.id]
    reply = store.begin_assistant_message(second.id)
    assert store.list_conversations()[0].id == second.id
    store.add_user_message(third.id, "hi")
    store.finish_assistant_message(reply, "done", "stop")
    assert store.list_conversations()[0].id == second.id
    store.rename(first.id, "renamed")  # not activity: keeps its place
    assert store.list_conversations()[-1].title == "renamed"


def test_first_prompt_names_an_untitled_conversation(store: ConversationStore) -> None:
    untitled = store.create_conversation()
    store.add_user_message(untitled.id, "\n  Explain   the KV cache\nin detail please")
    store.add_user_message(untitled.id, "and then something else")
    assert store.get_conversation(untitled.id).title == "Explain the KV cache"
    named = store.create_conversation(title="  Mine  ")
    store.add_user_message(named.id, "Explain the KV cache")
    assert store.get_conversation(named.id).title == "Mine"


def test_title_from_prompt_cuts_at_a_word_boundary() -> None:
    assert title_from_prompt("Short one") == "Short one"
    assert title_from_prompt("\n\n   \nSecond line wins\nthird") == "Second line wins"
    long = "Please write a detailed comparison of the Gemma three models, with tables"
    title = title_from_prompt(long)
    assert title == "Please write a detailed comparison of the Gemma…"
    assert len(title) <= 49 and long.startswith(title[:-1])
    assert title_from_prompt("x" * 100) == "x" * 48 + "…"
    assert title_from_prompt("") == ""


def test_rename_and_settings_update(store: ConversationStore) -> None:
    conversation = store.create_conversation(
        title="old", model_path="/a.gguf", mmproj_path="/p.gguf"
    )
    store.rename(conversation.id, "  new\n title ")
    assert store.get_conversation(conversation.id).title == "new title"
    with pytest.raises(UserError):
        store.rename(conversation.id, "   ")
    updated = store.update_conversation_settings(
        conversation.id, GenerationSettings(temperature=0.1), system_prompt="Be short."
    )
    assert updated.settings.temperature == 0.1
    assert updated.system_prompt == "Be short."
    assert updated.model_path == "/a.gguf"  # left out: unchanged
    updated = store.update_conversation_settings(
        conversation.id, model_path="/b.gguf", mmproj_path=None
    )
    assert (updated.model_path, updated.mmproj_path) == ("/b.gguf", None)
    assert updated.settings.temperature == 0.1


def test_missing_conversation_is_a_user_error(store: ConversationStore) -> None:
    for call in (
        lambda: store.get_conversation(99),
        lambda: store.rename(99, "x"),
        lambda: store.delete_conversation(99),
        lambda: store.messages(99),
        lambda: store.add_user_message(99, "hi"),
        lambda: store.begin_assistant_message(99),
        lambda: store.update_conversation_settings(99, system_prompt="x"),
    ):
        with pytest.raises(ConversationNotFound, match="no conversation with id 99"):
            call()


# --- messages --------------------------------------------------------------------------------


def test_messages_in_order_with_positions_and_attachments(store: ConversationStore) -> None:
    conversation = store.create_conversation()
    png = store.add_attachment(PNG, "image/png", 64, 32)
    jpeg = store.add_attachment(JPEG, "image/jpeg", 10, 20)
    user = store.add_user_message(conversation.id, "Compare these", [jpeg, png])
    assert user.position == 0 and user.role == "user" and user.state == "complete"
    assert [a.sha256 for a in user.attachments] == [jpeg, png]
    second = user.attachments[1]
    assert (second.width, second.height, second.size) == (64, 32, len(PNG))
    reply = store.begin_assistant_message(conversation.id)
    messages = store.messages(conversation.id)
    assert [(m.position, m.role, m.state, m.finish_reason) for m in messages] == [
        (0, "user", "complete", None),
        (1, "assistant", "streaming", None),
    ]
    store.append_assistant_text(reply, "The first ")
    store.append_assistant_text(reply, "is larger.")
    assert store.messages(conversation.id)[1].text == "The first is larger."
    store.finish_assistant_message(reply, "The first is larger.", "length", {"decode_tok_s": 31.5})
    final = store.messages(conversation.id)[1]
    assert (final.state, final.finish_reason) == ("complete", "length")
    assert final.metrics == {"decode_tok_s": 31.5}
    assert store.get_conversation(conversation.id).message_count == 2


def test_unknown_finish_reason_and_unknown_attachment_are_bugs(store: ConversationStore) -> None:
    conversation = store.create_conversation()
    reply = store.begin_assistant_message(conversation.id)
    with pytest.raises(ValueError):
        store.finish_assistant_message(reply, "x", "exploded")  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        store.add_user_message(conversation.id, "x", ["0" * 64])
    assert [m.id for m in store.messages(conversation.id)] == [reply]  # nothing half-added


def test_every_engine_finish_reason_is_storable(store: ConversationStore) -> None:
    conversation = store.create_conversation()
    for reason in ("stop", "length", "context", "cancelled", "error", "crashed", "interrupted"):
        reply = store.begin_assistant_message(conversation.id)
        store.finish_assistant_message(reply, reason, reason)
    assert [m.finish_reason for m in store.messages(conversation.id)] == [
        "stop", "length", "context", "cancelled", "error", "crashed", "interrupted"
    ]


def test_delete_messages_from_a_position(store: ConversationStore) -> None:
    conversation = store.create_conversation()
    for n in range(3):
        store.add_user_message(conversation.id, f"q{n}")
        reply = store.begin_assistant_message(conversation.id)
        store.finish_assistant_message(reply, f"a{n}", "stop")
    assert store.delete_messages_from(conversation.id, 4) == 2
    assert [m.text for m in store.messages(conversation.id)] == ["q0", "a0", "q1", "a1"]
    regenerated = store.begin_assistant_message(conversation.id)
    assert store.messages(conversation.id)[-1].id == regenerated
    assert store.messages(conversation.id)[-1].position == 4


def test_a_reply_for_a_deleted_conversation_is_dropped_quietly(store: ConversationStore) -> None:
    conversation = store.create_conversation()
    reply = store.begin_assistant_message(conversation.id)
    writer = StreamingWriter(store, reply, interval_s=0)
    writer.append("tokens")
    store.delete_conversation(conversation.id)
    assert writer.append("more") is True
    writer.finish("cancelled")
    assert store.list_conversations() == []


def test_streaming_reply_left_by_a_dead_process_is_marked_interrupted() -> None:
    with ConversationStore() as store:
        conversation = store.create_conversation()
        store.add_user_message(conversation.id, "Tell me a story")
        reply = store.begin_assistant_message(conversation.id)
        store.append_assistant_text(reply, "Once upon")
        finished = store.begin_assistant_message(conversation.id)
        store.finish_assistant_message(finished, "done", "stop")
    with ConversationStore() as store:
        messages = store.messages(conversation.id)
    assert (messages[1].text, messages[1].state, messages[1].finish_reason) == (
        "Once upon",
        "complete",
        "interrupted",
    )
    assert messages[2].finish_reason == "stop"


# --- StreamingWriter -------------------------------------------------------------------------


class FakeClock:
    """A monotonic clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_streaming_writer_commits_at_most_every_interval(store: ConversationStore) -> None:
    conversation = store.create_conversation()
    reply = store.begin_assistant_message(conversation.id)
    clock = FakeClock()
    writer = StreamingWriter(store, reply, interval_s=0.5, clock=clock)

    def stored() -> str:
        return store.messages(conversation.id)[0].text

    assert writer.append("He") is False
    clock.now += 0.2
    assert writer.append("llo") is False
    assert stored() == ""
    clock.now += 0.31
    assert writer.append(",") is True
    assert stored() == "Hello,"
    clock.now += 0.1
    assert writer.append(" world") is False
    assert stored() == "Hello,"
    assert writer.text == "Hello, world"
    writer.flush()
    assert stored() == "Hello, world"
    writer.append("!")
    writer.finish("stop", {"decode_tokens": 4})
    final = store.messages(conversation.id)[0]
    assert (final.text, final.state, final.finish_reason) == ("Hello, world!", "complete", "stop")


def test_streaming_writer_by_default_commits_within_a_second_but_not_every_token(
    store: ConversationStore,
) -> None:
    """A killed app loses under a second of the reply, and a reply streaming at 100 tokens a
    second is a handful of transactions, not one per token."""
    conversation = store.create_conversation()
    clock = FakeClock()
    writer = StreamingWriter(store, store.begin_assistant_message(conversation.id), clock=clock)
    commits: list[float] = []
    started = clock.now
    for _ in range(300):  # three seconds of tokens at 100 a second
        clock.now += 0.01
        if writer.append("x"):
            commits.append(clock.now)
            assert store.messages(conversation.id)[0].text == writer.text
    stamps = [started, *commits, clock.now]
    assert max(b - a for a, b in itertools.pairwise(stamps)) < 1.0  # never a second uncommitted
    assert len(commits) <= 10  # a few commits a second, not 100


# --- search ----------------------------------------------------------------------------------


def _searchable(store: ConversationStore) -> dict[str, int]:
    ids = {}
    for title, prompt, reply in (
        ("Birds", "What bird is this robin?", "A European robin."),
        ("Cooking", "How long do I boil an egg?", "About nine minutes for a hard-boiled égg."),
        ("100% done_ish", "percent signs", "fine"),
    ):
        conversation = store.create_conversation(title=title)
        store.add_user_message(conversation.id, prompt)
        message = store.begin_assistant_message(conversation.id)
        store.finish_assistant_message(message, reply, "stop")
        ids[title] = conversation.id
    return ids


def _found(store: ConversationStore, query: str) -> set[int]:
    return {c.id for c in store.list_conversations(query)}


@pytest.mark.parametrize("full_text", [True, False], ids=["fts5", "like"])
def test_search_over_titles_and_message_text(
    monkeypatch: pytest.MonkeyPatch, full_text: bool
) -> None:
    if not full_text:
        monkeypatch.setattr(database, "fts5_available", lambda: False)
    with ConversationStore() as store:
        has_index = database.has_search_index(store.connection)
        assert has_index is full_text
        ids = _searchable(store)
        assert _found(store, "bird") == {ids["Birds"]}  # title
        assert _found(store, "European") == {ids["Birds"]}  # reply text
        assert _found(store, "boil") == {ids["Cooking"]}  # prompt text
        assert _found(store, "ROBIN") == {ids["Birds"]}  # any case
        assert _found(store, "nothing like this") == set()
        assert _found(store, "100%") == {ids["100% done_ish"]}  # LIKE wildcards are literal
        assert _found(store, "e_ish") == {ids["100% done_ish"]}
        assert _found(store, "0%d") == set()
        assert _found(store, '"') == set()  # never an FTS syntax error
        assert _found(store, "  ") == set(ids.values())
        if full_text:
            assert _found(store, "minutes boil") == {ids["Cooking"]}  # words in any order
            assert _found(store, "hard egg") == {ids["Cooking"]}  # accents folded
        store.delete_messages_from(ids["Birds"], 0)
        assert _found(store, "European") == set()
        reply = store.begin_assistant_message(ids["Cooking"])
        store.append_assistant_text(reply, "streaming partridge")
        assert _found(store, "partridge") == {ids["Cooking"]}


# --- attachments -----------------------------------------------------------------------------


def test_attachments_are_content_addressed_and_stored_once(store: ConversationStore) -> None:
    first = store.add_attachment(PNG, "image/png", 4, 3)
    again = store.add_attachment(PNG, "image/png", 4, 3)
    assert first == again and len(first) == 64
    assert _files(store) == {f"{first[:2]}/{first[2:]}"}
    with pytest.raises(ValueError):
        store.add_attachment(b"", "image/png", 1, 1)
    with pytest.raises(ValueError):
        store.add_attachment(PNG, "text/plain", 1, 1)


def test_files_are_deleted_when_no_message_uses_them(store: ConversationStore) -> None:
    a = store.create_conversation()
    b = store.create_conversation()
    shared = store.add_attachment(PNG, "image/png", 4, 3)
    only_a = store.add_attachment(JPEG, "image/jpeg", 4, 3)
    store.add_user_message(a.id, "one", [shared, only_a])
    store.add_user_message(b.id, "two", [shared])
    store.add_user_message(a.id, "three", [only_a])
    assert len(_files(store)) == 2
    store.delete_messages_from(a.id, 2)  # only_a is still used by message "one"
    assert len(_files(store)) == 2
    store.delete_conversation(a.id)
    assert _files(store) == {f"{shared[:2]}/{shared[2:]}"}
    rows = store.connection.execute("SELECT sha256 FROM attachments").fetchall()
    assert [r[0] for r in rows] == [shared]
    store.delete_messages_from(b.id, 0)
    assert _files(store) == set()
    assert store.connection.execute("SELECT count(*) FROM attachments").fetchone()[0] == 0


def test_an_image_waiting_in_the_composer_survives_deleting_its_other_uses(
    store: ConversationStore
) -> None:
    old = store.create_conversation()
    store.add_user_message(old.id, "first use", [store.add_attachment(PNG, "image/png", 4, 3)])
    new = store.create_conversation()
    pending = store.add_attachment(PNG, "image/png", 4, 3)  # attached again, not sent yet
    store.delete_conversation(old.id)
    sent = store.add_user_message(new.id, "second use", [pending])
    assert sent.attachments[0].path.read_bytes() == PNG
    store.delete_conversation(new.id)  # sent now, so no longer protected
    assert _files(store) == set()


def test_strays_older_than_a_day_are_swept_at_open() -> None:
    with ConversationStore() as store:
        conversation = store.create_conversation()
        used = store.add_attachment(PNG, "image/png", 4, 3)
        store.add_user_message(conversation.id, "kept", [used])
        never_sent = store.add_attachment(JPEG, "image/jpeg", 4, 3)
        fresh_unsent = store.add_attachment(b"fresh" * 20, "image/webp", 4, 3)
    root = paths.attachments_dir()
    old = time.time() - 2 * 24 * 3600
    os.utime(root / never_sent[:2] / never_sent[2:], (old, old))
    os.utime(root / used[:2] / used[2:], (old, old))
    orphan = root / "ab" / ("c" * 62)  # a crash between writing the file and committing its row
    orphan.parent.mkdir()
    orphan.write_bytes(b"lost")
    os.utime(orphan, (old, old))
    temp = root / "ab" / ("d" * 62 + ".tmp-123")
    temp.write_bytes(b"half")
    os.utime(temp, (old, old))
    young_orphan = root / "ab" / ("e" * 62)  # maybe another process is about to commit it
    young_orphan.write_bytes(b"new")
    unrelated = root / "README.txt"
    unrelated.write_text("not ours")
    with ConversationStore() as store:
        shas = {r[0] for r in store.connection.execute("SELECT sha256 FROM attachments")}
        assert store.messages(conversation.id)[0].attachments[0].path.is_file()
    assert shas == {used, fresh_unsent}
    assert not (root / never_sent[:2] / never_sent[2:]).exists()
    assert not orphan.exists() and not temp.exists()
    assert young_orphan.exists() and unrelated.exists()


def test_a_custom_database_path_gets_its_own_images_folder(tmp_path: Path) -> None:
    custom = tmp_path / "elsewhere" / "chats.sqlite3"
    with ConversationStore(custom) as store:
        sha = store.add_attachment(PNG, "image/png", 4, 3)
        assert store.path == custom
    assert (tmp_path / "elsewhere" / "chats.sqlite3.attachments" / sha[:2] / sha[2:]).is_file()
