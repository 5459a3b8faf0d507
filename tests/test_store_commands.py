"""The headless ``list``, ``export`` and ``import`` commands."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from desktop_app.cli import conversations as commands
from desktop_app.cli.parser import Parser
from desktop_app.errors import UserError
from desktop_app.store import ConversationStore
from tests.support.data import PNG


def run(*argv: str) -> int:
    """Parse and dispatch as cli.main does, with only the store's commands registered."""
    parser = Parser(prog="gemma-desktop")
    commands.register(parser.add_subparsers(parser_class=Parser))
    args = parser.parse_args(list(argv))
    return int(args.func(args))


def _two_conversations() -> tuple[int, int]:
    with ConversationStore() as store:
        older = store.create_conversation(title="Pelicans")
        image = store.add_attachment(PNG, "image/png", 4, 3)
        store.add_user_message(older.id, "How far do pelicans fly?", [image])
        reply = store.begin_assistant_message(older.id)
        store.finish_assistant_message(reply, "Far.", "stop", {"decode_tokens": 1})
        newer = store.create_conversation(title="Soup")
        store.add_user_message(newer.id, "A soup recipe")
    return older.id, newer.id


def test_list_prints_a_table_most_recent_first(
    capsys: pytest.CaptureFixture[str]
) -> None:
    older, newer = _two_conversations()
    assert run("list") == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["ID", "UPDATED", "MESSAGES", "TITLE"]
    assert lines[1].split()[0] == str(newer) and lines[1].endswith("Soup")
    assert lines[2].split()[0] == str(older) and lines[2].split()[3] == "2"
    assert lines[2].endswith("Pelicans")


def test_list_json_and_search(capsys: pytest.CaptureFixture[str]) -> None:
    older, newer = _two_conversations()
    assert run("list", "--json") == 0
    listed = json.loads(capsys.readouterr().out)
    assert [c["id"] for c in listed] == [newer, older]
    assert set(listed[0]) == {
        "id", "title", "created_at", "updated_at", "message_count", "model_path"
    }
    assert run("list", "--json", "--search", "fly") == 0
    assert [c["id"] for c in json.loads(capsys.readouterr().out)] == [older]
    assert run("list", "--search", "nothing matches") == 0
    assert capsys.readouterr().out == "No conversations found.\n"


def test_list_on_a_new_install(capsys: pytest.CaptureFixture[str]) -> None:
    assert run("list") == 0
    assert capsys.readouterr().out == "No conversations yet.\n"
    assert run("list", "--json") == 0
    assert json.loads(capsys.readouterr().out) == []


def test_export_then_import(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    older, _ = _two_conversations()
    md = tmp_path / "exports" / "pelicans.md"
    assert run("export", str(older), "--format", "md", "--out", str(md)) == 0
    assert capsys.readouterr().out.strip() == str(md)
    assert "How far do pelicans fly?" in md.read_text(encoding="utf-8")
    assert len(list((tmp_path / "exports" / "pelicans_files").iterdir())) == 1

    data = tmp_path / "exports" / "pelicans.json"
    assert run("export", str(older), "--out", str(data)) == 0  # format from the suffix
    assert capsys.readouterr().out.strip() == str(data)
    assert json.loads(data.read_text())["format"] == "gemma-desktop-conversation"

    assert run("import", str(data)) == 0
    new_id = int(capsys.readouterr().out.strip())
    with ConversationStore() as store:
        assert [m.text for m in store.messages(new_id)] == ["How far do pelicans fly?", "Far."]
        assert store.list_conversations()[0].id == new_id


def test_user_mistakes_raise_user_errors(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="no conversation with id 42"):
        run("export", "42", "--out", str(tmp_path / "x.md"))
    not_ours = tmp_path / "notes.json"
    not_ours.write_text('{"hello": "world"}')
    with pytest.raises(UserError, match="not a conversation exported by Gemma Desktop"):
        run("import", str(not_ours))
    with pytest.raises(UserError, match="There is no file"):
        run("import", str(tmp_path / "missing.json"))


def test_through_the_real_cli(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from desktop_app import cli

    older, newer = _two_conversations()
    assert cli.main(["list", "--json"]) == 0
    assert [c["id"] for c in json.loads(capsys.readouterr().out)] == [newer, older]
    out = tmp_path / "soup.json"
    assert cli.main(["export", str(newer), "--format", "json", "--out", str(out)]) == 0
    capsys.readouterr()
    assert cli.main(["import", str(out)]) == 0
    assert int(capsys.readouterr().out) > newer
    assert cli.main(["export", "999", "--out", str(out)]) == 2
    assert capsys.readouterr().err.startswith("error: There is no conversation with id 999")
    assert cli.main(["export", "not-a-number", "--out", str(out)]) == 2
    corrupt = tmp_path / "corrupt.json"
    corrupt.write_text("{")
    assert cli.main(["import", str(corrupt)]) == 2
    assert "Traceback" not in capsys.readouterr().err


def test_list_prints_one_short_line_per_conversation_whatever_its_title(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # 500 characters (the most an import accepts) with a terminal escape sequence and a bell.
    title = "\x1b[2J\x07Pelicans " + "and more pelicans " * 30
    title = title[:500]
    export = tmp_path / "long.json"
    export.write_text(json.dumps({
        "format": "gemma-desktop-conversation",
        "version": 1,
        "conversation": {"title": title},
        "messages": [{"role": "user", "text": "How far do pelicans fly?"}],
    }))
    assert run("import", str(export)) == 0
    capsys.readouterr()
    assert run("list") == 0
    [header, row] = capsys.readouterr().out.splitlines()
    cell = row[len(header) - len("TITLE"):]
    assert len(cell) == commands.TITLE_CELL_CHARS and cell.endswith("…")
    assert cell.startswith("[2J Pelicans and more pelicans")  # the escape and the bell are gone
    assert "\x1b" not in row and "\x07" not in row
    assert run("list", "--json") == 0
    assert json.loads(capsys.readouterr().out)[0]["title"] == " ".join(title.split())
