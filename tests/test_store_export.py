"""Export to Markdown and JSON, and import of JSON: round trips, and damaged or foreign files."""

from __future__ import annotations

import base64
import copy
import json
import re
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import pytest

from desktop_app import paths
from desktop_app.errors import UserError
from desktop_app.settings import GenerationSettings
from desktop_app.store import ConversationStore
from desktop_app.store.export import (
    FORMAT_NAME,
    FORMAT_VERSION,
    export_conversation,
    import_conversation,
)
from tests.support.data import JPEG, PNG


def _conversation(store: ConversationStore) -> int:
    conversation = store.create_conversation(
        model_path="/models/gemma-3-4b-it-Q4_K_M.gguf",
        mmproj_path="/models/mmproj-gemma-3-4b-it-f16.gguf",
        system_prompt="Answer briefly.\nUse metric units.",
        settings=GenerationSettings(temperature=0.7, seed=42),
    )
    png = store.add_attachment(PNG, "image/png", 64, 48)
    jpeg = store.add_attachment(JPEG, "image/jpeg", 32, 24)
    store.add_user_message(conversation.id, "What birds are these? Über-cute, right?", [png, jpeg])
    reply = store.begin_assistant_message(conversation.id)
    metrics = {
        "decode_tokens": 42,
        "decode_tok_s": 31.25,
        "ttft_s": 0.4,
        "prompt_tokens": 600,
        "cached_tokens": 12,
    }
    store.finish_assistant_message(reply, "**Two robins.**\n\n- one\n- two", "stop", metrics)
    store.add_user_message(conversation.id, "Same one again", [png], pan_scan=["auto"])
    reply = store.begin_assistant_message(conversation.id)
    store.finish_assistant_message(reply, "Still a rob", "cancelled", {"decode_tokens": 3})
    return conversation.id


def test_markdown_links_images_copied_beside_it(store: ConversationStore, tmp_path: Path) -> None:
    conversation_id = _conversation(store)
    out = export_conversation(store, conversation_id, tmp_path / "out" / "birds.md", "md")
    assert out == tmp_path / "out" / "birds.md"
    text = out.read_text(encoding="utf-8")
    assert text.startswith("# What birds are these? Über-cute, right?\n")
    assert "gemma-3-4b-it-Q4_K_M.gguf" in text
    assert "> Answer briefly.\n> Use metric units." in text
    assert "### You" in text and "### Gemma" in text
    assert "**Two robins.**\n\n- one\n- two" in text
    footer = (
        "*42 tokens · 31.2 tokens/s · first token after 0.40 s · prompt 600 tokens (12 cached)*"
    )
    assert footer in text
    assert "stopped by the user" in text
    links = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", text)
    assert len(links) == 3
    for link in links:
        assert not link.startswith("/") and "://" not in link  # relative, so the pair can move
        assert (out.parent / unquote(link)).is_file()
    images = sorted(p.name for p in (tmp_path / "out" / "birds_files").iterdir())
    assert sorted(Path(name).suffix for name in images) == [".jpg", ".png"]
    assert (out.parent / unquote(links[0])).read_bytes() == PNG


def test_export_into_a_folder_names_the_file_after_the_title(
    store: ConversationStore, tmp_path: Path
) -> None:
    conversation_id = _conversation(store)
    md = export_conversation(store, conversation_id, tmp_path, "md")
    assert md.name == "What-birds-are-these-Über-cute-right.md"
    assert (tmp_path / "What-birds-are-these-Über-cute-right_files").is_dir()
    data = export_conversation(store, conversation_id, tmp_path, "json")
    assert data.suffix == ".json"
    untitled = store.create_conversation()
    written = export_conversation(store, untitled.id, tmp_path, "md")
    assert written.name == f"conversation-{untitled.id}.md"


def test_json_export_is_the_documented_format(store: ConversationStore, tmp_path: Path) -> None:
    conversation_id = _conversation(store)
    out = export_conversation(store, conversation_id, tmp_path / "birds.json", "json")
    document = json.loads(out.read_text(encoding="utf-8"))
    assert (document["format"], document["version"]) == ("gemma-desktop-conversation", 1)
    conversation = document["conversation"]
    assert conversation["model_path"] == "/models/gemma-3-4b-it-Q4_K_M.gguf"
    assert conversation["settings"]["temperature"] == 0.7
    first, second = document["messages"][:2]
    assert set(first) == {"role", "text", "thought", "finish_reason", "metrics", "created_at", "attachments"}
    assert (first["role"], first["finish_reason"], first["thought"]) == ("user", None, "")
    assert (second["role"], second["finish_reason"]) == ("assistant", "stop")
    assert second["metrics"]["decode_tokens"] == 42
    image = first["attachments"][0]
    assert set(image) == {"sha256", "mime", "width", "height", "data_base64"}
    assert base64.b64decode(image["data_base64"]) == PNG
    assert (image["mime"], image["width"], image["height"]) == ("image/png", 64, 48)


def test_json_round_trip_recreates_the_conversation(
    store: ConversationStore, tmp_path: Path
) -> None:
    original_id = _conversation(store)
    out = export_conversation(store, original_id, tmp_path / "birds.json", "json")
    original = store.get_conversation(original_id)
    store.delete_conversation(original_id)
    assert not [p for p in paths.attachments_dir().rglob("*") if p.is_file()]

    new_id = import_conversation(store, out)
    imported = store.get_conversation(new_id)
    assert store.list_conversations()[0].id == new_id
    kept = ("title", "created_at", "model_path", "mmproj_path", "system_prompt", "settings")
    for field in (*kept, "message_count"):
        assert getattr(imported, field) == getattr(original, field)
    messages = store.messages(new_id)
    assert [(m.role, m.text, m.finish_reason, m.state) for m in messages] == [
        ("user", "What birds are these? Über-cute, right?", None, "complete"),
        ("assistant", "**Two robins.**\n\n- one\n- two", "stop", "complete"),
        ("user", "Same one again", None, "complete"),
        ("assistant", "Still a rob", "cancelled", "complete"),
    ]
    assert messages[1].metrics["decode_tok_s"] == 31.25
    assert [a.path.read_bytes() for a in messages[0].attachments] == [PNG, JPEG]
    assert messages[2].attachments[0].sha256 == messages[0].attachments[0].sha256
    # An image's own Pan & Scan choice travels with its message.
    assert messages[0].attachments[0].pan_scan is None and messages[2].attachments[0].pan_scan == "auto"
    # and exporting the import gives the same document, apart from when it was exported
    again_path = export_conversation(store, new_id, tmp_path / "again.json", "json")
    again = json.loads(again_path.read_text())
    first = json.loads(out.read_text())
    for document in (again, first):
        document.pop("exported_at")
        document["conversation"].pop("updated_at")
    assert again == first


def _valid_document(store: ConversationStore, tmp_path: Path) -> dict[str, Any]:
    out = export_conversation(store, _conversation(store), tmp_path / "valid.json", "json")
    return json.loads(out.read_text())


def _broken(document: dict[str, Any], change: str) -> dict[str, Any]:
    broken = copy.deepcopy(document)
    first_image = broken["messages"][0]["attachments"][0]
    if change == "bad sha":
        first_image["sha256"] = "0" * 64
    elif change == "bad base64":
        first_image["data_base64"] = "not base64!"
    elif change == "truncated image":
        first_image["data_base64"] = first_image["data_base64"][:8]
    elif change == "no role":
        del broken["messages"][1]["role"]
    elif change == "bad role":
        broken["messages"][1]["role"] = "system"
    elif change == "bad finish reason":
        broken["messages"][1]["finish_reason"] = "exploded"
    elif change == "user finish reason":
        broken["messages"][0]["finish_reason"] = "stop"
    elif change == "text not a string":
        broken["messages"][1]["text"] = 5
    elif change == "messages not a list":
        broken["messages"] = {"0": "x"}
    elif change == "bad settings":
        broken["conversation"]["settings"]["top_p"] = 7
    elif change == "bad date":
        broken["messages"][0]["created_at"] = "yesterday"
    elif change == "no title":
        del broken["conversation"]["title"]
    elif change == "width not a number":
        first_image["width"] = "64"
    elif change == "old version":
        broken["version"] = 0
    elif change == "unknown pan & scan":
        first_image["pan_scan"] = "sideways"
    return broken


@pytest.mark.parametrize(
    "change",
    [
        "bad sha",
        "bad base64",
        "truncated image",
        "no role",
        "bad role",
        "bad finish reason",
        "user finish reason",
        "text not a string",
        "messages not a list",
        "bad settings",
        "bad date",
        "no title",
        "width not a number",
        "old version",
        "unknown pan & scan",
    ],
)
def test_a_damaged_export_imports_nothing(
    store: ConversationStore, tmp_path: Path, change: str
) -> None:
    document = _valid_document(store, tmp_path)
    before = store.list_conversations()
    images_before = sorted(paths.attachments_dir().rglob("*"))
    path = tmp_path / "damaged.json"
    path.write_text(json.dumps(_broken(document, change)))
    with pytest.raises(UserError, match="is damaged") as raised:
        import_conversation(store, path)
    assert str(path) in str(raised.value) and "nothing was imported" in str(raised.value)
    assert store.list_conversations() == before
    assert sorted(paths.attachments_dir().rglob("*")) == images_before


@pytest.mark.parametrize(
    "content",
    [
        b"\x89PNG\r\n not json at all",
        b'{"format": "something-else", "version": 1}',
        b"[1, 2, 3]",
        b"\xff\xfe\x00",
    ],
    ids=["binary", "other format", "a list", "not utf-8"],
)
def test_a_foreign_file_is_refused(
    store: ConversationStore, tmp_path: Path, content: bytes
) -> None:
    path = tmp_path / "foreign.json"
    path.write_bytes(content)
    with pytest.raises(UserError, match="is not a conversation exported by Gemma Desktop"):
        import_conversation(store, path)
    assert path.read_bytes() == content
    assert store.list_conversations() == []


def test_a_newer_export_format_is_refused(store: ConversationStore, tmp_path: Path) -> None:
    path = tmp_path / "future.json"
    future = {"format": FORMAT_NAME, "version": FORMAT_VERSION + 1, "whatever": []}
    path.write_text(json.dumps(future))
    with pytest.raises(UserError, match="newer version of Gemma Desktop"):
        import_conversation(store, path)


def test_a_missing_file_is_a_user_error(store: ConversationStore, tmp_path: Path) -> None:
    with pytest.raises(UserError, match="There is no file at"):
        import_conversation(store, tmp_path / "nope.json")


def test_a_minimal_hand_written_export_imports(store: ConversationStore, tmp_path: Path) -> None:
    path = tmp_path / "minimal.json"
    path.write_text(
        json.dumps(
            {
                "format": FORMAT_NAME,
                "version": 1,
                "conversation": {"title": "By hand"},
                "messages": [
                    {"role": "user", "text": "hi"},
                    {"role": "assistant", "text": "hello", "finish_reason": "stop"},
                ],
            }
        )
    )
    conversation_id = import_conversation(store, path)
    assert store.get_conversation(conversation_id).settings == GenerationSettings()
    assert [m.text for m in store.messages(conversation_id)] == ["hi", "hello"]


def test_a_failure_while_inserting_removes_the_images_it_wrote(
    store: ConversationStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    document = _valid_document(store, tmp_path)
    for conversation in store.list_conversations():
        store.delete_conversation(conversation.id)
    path = tmp_path / "valid.json"
    path.write_text(json.dumps(document))

    def fail(*args: object, **kwargs: object) -> int:
        raise UserError("The disk is full.")

    with monkeypatch.context() as patch, pytest.raises(UserError):
        patch.setattr(ConversationStore, "_insert_message", fail)
        import_conversation(store, path)
    assert store.connection.execute("SELECT count(*) FROM conversations").fetchone()[0] == 0
    assert store.connection.execute("SELECT count(*) FROM attachments").fetchone()[0] == 0
    assert not [p for p in paths.attachments_dir().rglob("*") if p.is_file()]


def test_export_to_an_unwritable_place_is_a_user_error(
    store: ConversationStore, tmp_path: Path
) -> None:
    conversation_id = _conversation(store)
    blocker = tmp_path / "a-file"
    blocker.write_text("in the way")
    with pytest.raises(UserError, match="could not be written"):
        export_conversation(store, conversation_id, blocker / "out.md", "md")


def test_an_import_accepts_any_file_the_app_itself_would_attach() -> None:
    from desktop_app.engine.documents import MAX_PDF_BYTES
    from desktop_app.engine.images import MAX_FILE_BYTES
    from desktop_app.store.export import MAX_ATTACHMENT_BYTES

    assert MAX_ATTACHMENT_BYTES == MAX_FILE_BYTES == MAX_PDF_BYTES
