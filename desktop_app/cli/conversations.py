"""Headless conversation commands: ``list``, ``export`` and ``import``.

They open the same database as the window, so they work while it runs (SQLite's WAL lets a
reader and a writer go on together).
"""

from __future__ import annotations

import argparse
import json
import unicodedata
from pathlib import Path
from typing import Any, Literal

from desktop_app.cli.parser import Subparsers
from desktop_app.engine.documents import searchable_text
from desktop_app.store.export import export_conversation, import_conversation
from desktop_app.store.store import Conversation, ConversationStore


def register(subparsers: Subparsers) -> None:
    """Add the store's subcommands to the CLI's ``add_subparsers()`` object."""
    listing = subparsers.add_parser("list", help="list saved conversations, most recent first")
    listing.add_argument(
        "--search", metavar="TEXT", help="only those whose title or messages contain TEXT"
    )
    listing.add_argument("--json", action="store_true", help="print JSON instead of a table")
    listing.set_defaults(func=_list)

    export = subparsers.add_parser(
        "export", help="write a conversation to Markdown (images beside it) or JSON"
    )
    export.add_argument("id", type=int, help="conversation id, as `list` shows it")
    export.add_argument(
        "--format",
        choices=("md", "json"),
        help="md or json (default: from the --out suffix, else md)",
    )
    export.add_argument(
        "--out", type=Path, required=True, metavar="PATH", help="file or folder to write"
    )
    export.set_defaults(func=_export)

    importing = subparsers.add_parser("import", help="add a conversation from a JSON export")
    importing.add_argument("path", type=Path, metavar="PATH")
    importing.set_defaults(func=_import)


def _summary(conversation: Conversation) -> dict[str, Any]:
    return {
        "id": conversation.id,
        "title": conversation.title,
        "created_at": conversation.created_at.isoformat(),
        "updated_at": conversation.updated_at.isoformat(),
        "message_count": conversation.message_count,
        "model_path": conversation.model_path,
    }


def _list(args: argparse.Namespace) -> int:
    with ConversationStore() as store:
        conversations = store.list_conversations(args.search)
    if args.json:
        print(json.dumps([_summary(c) for c in conversations], ensure_ascii=False, indent=2))
        return 0
    if not conversations:
        print("No conversations found." if args.search else "No conversations yet.")
        return 0
    print(f"{'ID':>6}  {'UPDATED':<16}  {'MESSAGES':>8}  TITLE")
    for c in conversations:
        updated = c.updated_at.astimezone().strftime("%Y-%m-%d %H:%M")
        print(f"{c.id:>6}  {updated:<16}  {c.message_count:>8}  {_title_cell(c.title)}")
    return 0


TITLE_CELL_CHARS = 60
"""A table row stays one terminal line: longer titles (an import may bring 500 characters) are
cut, and ``--json`` has them whole."""


def _title_cell(title: str) -> str:
    """The title as one short, printable line: control characters (an escape sequence would
    drive the terminal) become spaces."""
    if not title:
        return "(untitled)"
    printable = "".join(" " if unicodedata.category(ch) == "Cc" else ch for ch in title)
    line = " ".join(printable.split())
    return line if len(line) <= TITLE_CELL_CHARS else line[: TITLE_CELL_CHARS - 1] + "…"


def _export(args: argparse.Namespace) -> int:
    fmt: Literal["md", "json"] = args.format or ("json" if args.out.suffix.lower() == ".json" else "md")
    with ConversationStore() as store:
        written = export_conversation(store, args.id, args.out, fmt)
    print(written)
    return 0


def _import(args: argparse.Namespace) -> int:
    with ConversationStore() as store:
        conversation_id = import_conversation(store, args.path, searchable_text)
    print(conversation_id)
    return 0
