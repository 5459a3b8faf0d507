"""The headless document contract: ``ask --file`` (beside ``--image``, in order), ``chat --jsonl``
lines with ``"files"``, ``document_tokens`` in the reply metrics, ``ask --print-prompt``, the
context check before sending, and documents kept, searched, exported and imported."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from desktop_app.engine.images import prepare_image
from tests.support import document_files
from tests.support.cli import assert_one_clear_line, run_cli
from tests.support.data import PHOTO, Models


@pytest.fixture
def report(tmp_path: Path) -> Path:
    path = tmp_path / "report.pdf"
    path.write_bytes(document_files.text_pdf(["Revenue grew by eleven percent.", "Costs fell."]))
    return path


@pytest.fixture
def chinese(tmp_path: Path) -> Path:
    path = tmp_path / "notes.txt"
    path.write_bytes(document_files.CHINESE.encode("gbk"))
    return path


def test_print_prompt_shows_the_exact_prompt_and_generates_nothing(
    models: Models, report: Path, chinese: Path
) -> None:
    result = run_cli(
        "ask", "--model", models.tiny, "--mmproj", models.mmproj, "--pan-scan", "off",
        "--file", report, "--image", PHOTO, "--file", chinese, "--system", "Be brief.",
        "--print-prompt", "Compare them.",
    )
    assert result.returncode == 0, result.stderr
    photo = prepare_image(PHOTO)
    assert result.stdout == (
        "<bos><start_of_turn>user\nBe brief.\n\n"
        '<document name="report.pdf" pages="2">\n'
        "[Page 1 of 2]\nRevenue grew by eleven percent.\n"
        "[Page 2 of 2]\nCosts fell.\n"
        "</document>\n\n"
        f"[image 1: grace_hopper.jpg, {photo.width}x{photo.height}]\n"
        '<document name="notes.txt">\n'
        f"{document_files.CHINESE}\n"
        "</document>\n\n"
        "Compare them.<end_of_turn>\n<start_of_turn>model\n"
    )
    assert not (Path(str(models.tiny)).parent / "never").exists()


def test_ask_file_reports_document_tokens(models: Models, report: Path) -> None:
    result = run_cli(
        "ask", "--model", models.tiny, "--file", report, "--max-tokens", "4", "--ctx", "1024",
        "--json", "What grew?",
    )
    assert result.returncode == 0, result.stderr
    metrics = json.loads(result.stdout)["metrics"]
    assert 0 < metrics["document_tokens"] < metrics["prompt_tokens"]
    assert metrics["image_tokens"] == 0


def test_a_file_that_is_an_image_is_attached_as_one(models: Models) -> None:
    result = run_cli(
        "ask", "--model", models.tiny, "--mmproj", models.mmproj, "--file", PHOTO,
        "--max-tokens", "2", "--ctx", "1024", "--json", "What is it?",
    )
    assert result.returncode == 0, result.stderr
    metrics = json.loads(result.stdout)["metrics"]
    assert metrics["image_tokens"] > 0 and metrics["document_tokens"] == 0


@pytest.mark.parametrize(
    ("pages", "ctx", "offer"),
    [
        # ~2,750 tokens a page with the tiny model's vocabulary; it holds at most 8,192.
        (6, "8192", "Its first 2 pages fit the context as it is."),
        (2, "2048", "A context of 8,192 tokens holds it and fits this computer's memory. Run again with --ctx 8192."),
    ],
    ids=["first-pages", "larger-context"],
)
def test_a_document_larger_than_the_context_is_refused_before_sending(
    models: Models, tmp_path: Path, pages: int, ctx: str, offer: str
) -> None:
    book = tmp_path / "book.pdf"
    book.write_bytes(document_files.long_text_pdf(pages))
    result = run_cli("ask", "--model", models.tiny, "--file", book, "--ctx", ctx, "--json", "Summarise.")
    assert_one_clear_line(
        result, 2, "'book.pdf' is ", f"tokens; the model holds at most 8,192 and the context is set to {int(ctx):,}.",
        offer,
    )
    assert result.stdout == ""


@pytest.mark.parametrize(
    ("make", "words"),
    [
        (lambda tmp: _write(tmp / "locked.pdf", document_files.text_pdf(["x"], password="pw")),
         ["'locked.pdf' is protected by a password"]),
        (lambda tmp: _write(tmp / "notes.txt", bytes(range(256)) * 4), ["'notes.txt' is not a file", "PDF"]),
        (lambda tmp: _write(tmp / "empty.md", b""), ["'empty.md' is empty"]),
    ],
    ids=["encrypted", "binary", "empty"],
)
def test_a_bad_file_is_one_sentence_before_any_model_load(
    models: Models, tmp_path: Path, make: Callable[[Path], Path], words: list[str]
) -> None:
    result = run_cli("ask", "--model", models.not_gguf, "--file", make(tmp_path), "hi")
    assert_one_clear_line(result, 2, *words)


def _write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def test_chat_jsonl_files_are_kept_searched_exported_and_imported(
    models: Models, report: Path, chinese: Path, tmp_path: Path
) -> None:
    from desktop_app.store import ConversationStore

    turns = [
        json.dumps({"text": "Read these.", "files": [str(report), str(chinese)]}),
        json.dumps({"text": "And this one?", "files": [str(tmp_path / "missing.pdf")]}),
        json.dumps({"text": "Thanks."}),
    ]
    result = run_cli(
        "chat", "--model", models.tiny, "--jsonl", "--max-tokens", "4", "--ctx", "2048",
        stdin="\n".join(turns) + "\n",
    )
    assert result.returncode == 0, result.stderr
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    conversation_id = lines[0]["conversation_id"]
    replies = [line for line in lines[1:] if "text" in line]
    errors = [line for line in lines[1:] if "error" in line]
    assert len(replies) == 2 and "missing.pdf" in errors[0]["error"]
    assert replies[0]["metrics"]["document_tokens"] > 0
    # The documents stay in the conversation: the next turn reads them from the KV cache.
    assert replies[1]["metrics"]["document_tokens"] == replies[0]["metrics"]["document_tokens"]
    assert replies[1]["metrics"]["cached_tokens"] >= replies[0]["metrics"]["prompt_tokens"]

    with ConversationStore() as store:
        first = store.messages(conversation_id)[0]
        assert [(a.name, a.mime, a.is_document) for a in first.attachments] == [
            ("report.pdf", "application/pdf", True),
            ("notes.txt", "text/plain", True),
        ]
        assert first.attachments[0].path.read_bytes() == report.read_bytes()
        # Search finds words inside the documents (here: in the PDF, and in the GBK text).
        assert [c.id for c in store.list_conversations("eleven")] == [conversation_id]
        assert [c.id for c in store.list_conversations("计算机科学")] == [conversation_id]

    exported = tmp_path / "out.json"
    assert run_cli("export", conversation_id, "--out", exported).returncode == 0
    entry = json.loads(exported.read_text())["messages"][0]["attachments"][0]
    assert entry["name"] == "report.pdf" and "width" not in entry
    markdown = tmp_path / "out.md"
    assert run_cli("export", conversation_id, "--out", markdown).returncode == 0
    assert "[report.pdf](out_files/" in markdown.read_text()

    imported = run_cli("import", exported)
    assert imported.returncode == 0, imported.stderr
    new_id = int(imported.stdout.strip())
    with ConversationStore() as store:
        assert {c.id for c in store.list_conversations("eleven")} == {conversation_id, new_id}
        copy = store.messages(new_id)[0]
        assert [a.sha256 for a in copy.attachments] == [a.sha256 for a in first.attachments]

    # The same integrity checks as images: a document whose bytes do not match is refused whole.
    document = json.loads(exported.read_text())
    document["messages"][0]["attachments"][0]["data_base64"] = "aGVsbG8="
    damaged = tmp_path / "damaged.json"
    damaged.write_text(json.dumps(document))
    assert_one_clear_line(run_cli("import", damaged), 2, "attachment 1 of message 1 does not match its sha256")
