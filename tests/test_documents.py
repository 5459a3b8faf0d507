"""Document preparation: PDFs, Word files and text in many encodings become delimited prompt
text; every bad input is refused in one sentence naming the file."""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from desktop_app.engine import documents
from desktop_app.engine.documents import (
    DocumentCancelled,
    PreparedDocument,
    document_parts,
    document_text,
    prepare_document,
)
from desktop_app.engine.images import PreparedImage
from desktop_app.errors import UserError
from tests.support import document_files
from tests.support.data import PHOTO


def test_text_pdf_pages_in_order_with_markers(tmp_path: Path) -> None:
    path = tmp_path / "report.pdf"
    path.write_bytes(document_files.text_pdf(["First page words.", "Second page words."]))
    document = prepare_document(path)
    assert (document.kind, document.page_count, document.mime) == ("pdf", 2, "application/pdf")
    assert [page.text for page in document.pages] == ["First page words.", "Second page words."]
    assert document_text(document) == (
        '<document name="report.pdf" pages="2">\n'
        "[Page 1 of 2]\nFirst page words.\n"
        "[Page 2 of 2]\nSecond page words.\n"
        "</document>\n\n"
    )


def test_identity_is_the_file_bytes(tmp_path: Path) -> None:
    import hashlib

    data = document_files.text_pdf(["Same."])
    path = tmp_path / "a.pdf"
    path.write_bytes(data)
    from_file = prepare_document(path)
    from_bytes = prepare_document(data, name="a.pdf")
    assert from_file.sha256 == from_bytes.sha256 == hashlib.sha256(data).hexdigest()
    assert document_text(from_file) == document_text(from_bytes)


def test_first_pages_cut_is_said_in_the_block() -> None:
    document = prepare_document(document_files.text_pdf(["one", "two", "three"]), name="b.pdf")
    cut = document.first_pages(2)
    text = document_text(cut)
    assert "[Page 2 of 3]\ntwo\n" in text and "three" not in text
    assert "only the first 2 pages are given" in text


def test_scanned_pdf_without_projector_is_refused_in_one_sentence() -> None:
    with pytest.raises(UserError, match=r"'scan.pdf' is a scanned document .* vision projector"):
        prepare_document(document_files.scanned_pdf(["page one"]), name="scan.pdf")


def test_scanned_pages_become_images_for_a_vision_model() -> None:
    document = prepare_document(
        document_files.scanned_pdf(["page one", "page two"]), name="scan.pdf", vision=True
    )
    assert len(document.scans) == 2
    scan = document.scans[0]
    assert scan.width * scan.height <= documents.SCAN_MAX_PIXELS
    assert scan.source_name == "scan.pdf, page 1"
    parts = document_parts(document)
    assert [type(part) for part in parts] == [str, PreparedImage, str, PreparedImage, str]
    first, last = parts[0], parts[-1]
    assert isinstance(first, str) and first.endswith("[Page 1 of 2: scanned]\n")
    assert isinstance(last, str) and last.endswith("</document>\n\n")


def test_mixed_pdf_names_its_unread_scan_without_a_projector() -> None:
    document = prepare_document(document_files.mixed_pdf(), name="mixed.pdf")
    assert document.scanned_unread == [2]
    text = document_text(document)
    assert "A page with a text layer." in text
    assert "[Page 2 of 2: a scanned page, not read]" in text


def test_scans_beyond_the_limit_are_named_not_rendered(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(documents, "MAX_SCANNED_PAGES", 1)
    document = prepare_document(
        document_files.scanned_pdf(["one", "two"]), name="scan.pdf", vision=True
    )
    assert len(document.scans) == 1 and document.scanned_unread == [2]


def test_word_document_keeps_headings_lists_and_tables_in_order(tmp_path: Path) -> None:
    document = prepare_document(document_files.word_document(tmp_path / "report.docx"))
    assert document.kind == "docx" and document.page_count == 0
    assert document_text(document) == (
        '<document name="report.docx">\n'
        "# Quarterly report\n\n"
        "Sales rose in every region.\n\n"
        "# Regions\n\n"
        "- North grew fastest.\n\n"
        "| Region | Growth |\n"
        "| North | 12% |\n\n"
        "The end.\n"
        "</document>\n\n"
    )


@pytest.mark.parametrize(("text", "encoding"), document_files.ENCODED_TEXTS)
def test_text_in_any_usual_encoding_reads_exactly(text: str, encoding: str, tmp_path: Path) -> None:
    path = tmp_path / "notes.txt"
    path.write_bytes(text.encode(encoding))
    document = prepare_document(path)
    assert document.kind == "text"
    assert document.pages[0].text == text


def test_gbk_chinese_file_reads_correctly(tmp_path: Path) -> None:
    path = tmp_path / "中文.txt"
    path.write_bytes(document_files.CHINESE.encode("gbk"))
    document = prepare_document(path)
    assert document.encoding in ("gbk", "gb18030", "gb2312")
    assert document_text(document) == (
        f'<document name="中文.txt">\n{document_files.CHINESE}\n</document>\n\n'
    )


def test_text_is_recognised_by_content_whatever_the_name(tmp_path: Path) -> None:
    path = tmp_path / "Makefile"
    path.write_text("all:\n\tpython -m build\n\n\n# end\n")
    document = prepare_document(path)
    # A text file keeps its tabs and blank lines (in code they are the author's).
    assert document.pages[0].text == "all:\n\tpython -m build\n\n\n# end"
    pdf = tmp_path / "misnamed.txt"
    pdf.write_bytes(document_files.text_pdf(["Really a PDF."]))
    assert prepare_document(pdf).kind == "pdf"


def test_control_characters_never_reach_the_prompt() -> None:
    document = prepare_document(b"one\x02two\x03three\r\nfour\x0c", name="x.log")
    assert document.pages[0].text == "onetwothree\nfour"


# --- bad input: one sentence each ------------------------------------------------------------


def test_encrypted_pdf() -> None:
    data = document_files.text_pdf(["secret"], password="letmein")
    with pytest.raises(UserError, match=r"^The PDF 'locked.pdf' is protected by a password"):
        prepare_document(data, name="locked.pdf")


@pytest.mark.parametrize(
    "data",
    [
        b"%PDF-1.7\n" + bytes(range(256)) * 8,
        document_files.text_pdf(["cut short"])[:900],
    ],
    ids=["garbage", "truncated"],
)
def test_damaged_pdf(data: bytes) -> None:
    with pytest.raises(UserError, match=r"^The PDF 'broken.pdf' is damaged"):
        prepare_document(data, name="broken.pdf")


def test_pdf_with_no_pages() -> None:
    with pytest.raises(UserError, match=r"^The PDF 'none.pdf' has no pages\.$"):
        prepare_document(document_files.blank_pdf(0), name="none.pdf")


def test_pdf_of_blank_pages_has_no_text() -> None:
    with pytest.raises(UserError, match=r"^The PDF 'blank.pdf' contains no text\.$"):
        prepare_document(document_files.blank_pdf(3), name="blank.pdf")


def test_5000_page_pdf_is_refused_from_its_page_count() -> None:
    data = document_files.blank_pdf(5000)
    pages_read: list[int] = []

    def page_opened() -> bool:  # asked before every page: "stop reading?"
        pages_read.append(1)
        return False

    with pytest.raises(UserError, match=r"'huge.pdf' has 5,000 pages; .* up to 2,000 pages"):
        prepare_document(data, name="huge.pdf", cancelled=page_opened)
    assert pages_read == []  # refused before a single page was opened


def test_text_beyond_the_character_limit_stops_the_reading(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(documents, "MAX_TEXT_CHARS", 100)
    data = document_files.text_pdf(["word " * 15, "word " * 15, "never read"])
    with pytest.raises(UserError, match=r"more than 100 characters of text by page 2"):
        prepare_document(data, name="long.pdf")


def test_docx_that_is_not_a_zip(tmp_path: Path) -> None:
    path = tmp_path / "report.docx"
    path.write_bytes(b"PK\x03\x04" + b"not really a zip" * 10)
    with pytest.raises(UserError, match=r"^The Word document 'report.docx' is damaged \(it is not a complete zip"):
        prepare_document(path)


def test_docx_zip_bomb_is_refused_before_unpacking(tmp_path: Path) -> None:
    path = document_files.zip_bomb(tmp_path / "bomb.docx", unpacked_mb=130)
    assert path.stat().st_size < 1_000_000
    with pytest.raises(UserError, match=r"'bomb.docx' would unpack to 130 MB .* zip bomb"):
        prepare_document(path)


def test_zip_that_is_not_a_word_document(tmp_path: Path) -> None:
    import zipfile

    path = tmp_path / "sheet.xlsx"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("xl/workbook.xml", "<workbook/>")
    with pytest.raises(UserError, match=r"^'sheet.xlsx' is not a file Gemma Desktop can read; it reads PDF"):
        prepare_document(path)


@pytest.mark.parametrize(
    "data",
    [bytes(range(256)) * 4, b"\x7fELF\x02\x01\x01" + bytes(500), os.urandom(4096)],
    ids=["all-bytes", "elf", "random"],
)
def test_binary_file_named_txt(data: bytes, tmp_path: Path) -> None:
    path = tmp_path / "notes.txt"
    path.write_bytes(data)
    with pytest.raises(UserError, match=r"^'notes.txt' is not a file Gemma Desktop can read; .*images\.$"):
        prepare_document(path)


def test_empty_file(tmp_path: Path) -> None:
    path = tmp_path / "empty.md"
    path.write_bytes(b"")
    with pytest.raises(UserError, match=r"^The document 'empty.md' is empty \(0 bytes\)\.$"):
        prepare_document(path)


def test_whitespace_only_file(tmp_path: Path) -> None:
    with pytest.raises(UserError, match=r"^The document 'blank.txt' contains no text\.$"):
        prepare_document(b"  \n\n\t\n", name="blank.txt")


def test_too_large_is_refused_by_size_before_reading(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "big.log"
    with open(path, "wb") as file:  # sparse: 9 MB that cost no disk and are never read
        file.truncate(documents.MAX_TEXT_BYTES + 1_048_576)
    reads: list[int] = []
    real_open = open

    def counting_open(*args: Any, **kwargs: Any) -> Any:  # open's overloads, as given
        handle = real_open(*args, **kwargs)
        original_read = handle.read

        def read(size: int = -1) -> bytes:
            reads.append(size)
            return original_read(size)

        handle.read = read
        return handle

    monkeypatch.setattr("builtins.open", counting_open)
    with pytest.raises(UserError, match=r"^'big.log' is 9.0 MB, more than the 8 MB"):
        prepare_document(path)
    assert reads == [1024]  # the head, to know the kind; never the whole file


def test_missing_file_and_folder(tmp_path: Path) -> None:
    with pytest.raises(UserError, match=r"was not found"):
        prepare_document(tmp_path / "nowhere.pdf")
    with pytest.raises(UserError, match=r"is a folder, not a document"):
        prepare_document(tmp_path)


def test_old_word_and_image_are_told_apart() -> None:
    with pytest.raises(UserError, match=r"old Word document \(.doc\)"):
        prepare_document(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(600), name="old.doc")
    with pytest.raises(UserError, match=r"is an image, not a document"):
        prepare_document(PHOTO.read_bytes(), name="photo.jpg")
    assert documents.is_image_file(PHOTO)


def test_cancelling_stops_between_pages() -> None:
    data = document_files.text_pdf(["one", "two", "three"])
    asked: list[int] = []

    def cancelled() -> bool:
        asked.append(1)
        return len(asked) > 1

    with pytest.raises(DocumentCancelled):
        prepare_document(data, name="c.pdf", cancelled=cancelled)
    assert len(asked) == 2


def test_two_threads_reading_pdfs_take_turns() -> None:
    """pdfium is not thread-safe: the module's lock makes concurrent reads correct."""
    data = document_files.long_text_pdf(30, lines_per_page=10)
    results: list[PreparedDocument] = []
    threads = [
        threading.Thread(target=lambda: results.append(prepare_document(data, name="t.pdf")))
        for _ in range(3)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(results) == 3
    assert len({document_text(result) for result in results}) == 1


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    prefix=st.sampled_from([b"", b"%PDF-1.4\n", b"PK\x03\x04", b"\xef\xbb\xbf", b"\xff\xfe"]),
    body=st.binary(max_size=2048),
)
def test_any_bytes_give_a_document_or_one_sentence(prefix: bytes, body: bytes) -> None:
    try:
        document = prepare_document(prefix + body, name="fuzz.bin")
    except UserError as exc:
        assert "fuzz.bin" in str(exc) and "\n" not in str(exc)
        return
    text = document_text(document)
    assert text.startswith('<document name="fuzz.bin"') and "\x00" not in text
