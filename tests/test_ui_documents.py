"""Documents in the window, with the real engine: dropped beside a photo, priced on their chip by
the model's tokenizer, sent in one message, kept with it; a long read stopped by removing the
chip; a document larger than the context refused before sending, with the first pages offered."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest
from pytestqt.qtbot import QtBot

from desktop_app.engine import documents
from desktop_app.ui.attachments import DocumentAttachment
from desktop_app.ui.main_window import MainWindow
from tests.support import document_files
from tests.support.data import PHOTO
from tests.support.qt_input import drop, file_urls
from tests.support.window import stored, wait_attached, wait_done

pytestmark = pytest.mark.qt_log_ignore("propagateSizeHints")


def _counted(window: MainWindow) -> bool:
    chips = window.composer._chips
    return all(chip.tokens is not None for chip in chips if isinstance(chip.attachment, DocumentAttachment))


def test_a_pdf_and_a_photo_in_one_message_get_one_answer(qtbot: QtBot, ready: MainWindow, tmp_path: Path) -> None:
    report = tmp_path / "report.pdf"
    report.write_bytes(document_files.text_pdf(["Revenue grew by eleven percent.", "Costs fell."]))
    drop(ready.chat_pane, file_urls(report, PHOTO))
    wait_attached(qtbot, ready, 2)
    qtbot.waitUntil(lambda: _counted(ready), timeout=60_000)
    chip = ready.composer._chips[0]
    assert chip.title.text() == "report.pdf"
    assert chip.tokens is not None and chip.cost.text() == f"2 pages · {chip.tokens:,} tokens"
    images = ready.composer._chips[1]
    assert ready.composer.attached_tokens == chip.tokens + ready.composer._chip_tokens(images) > chip.tokens
    assert f"+{ready.composer.attached_tokens:,} attached" in ready.status_context.text()

    ready.settings_panel.max_tokens.setValue(8)
    ready.composer.edit.setPlainText("What grew, and who is in the photo?")
    ready.composer.submit()  # counted by the engine first, then sent
    qtbot.waitUntil(lambda: ready.session.busy, timeout=60_000)
    wait_done(qtbot, ready)
    user, reply = stored(ready)
    assert [(a.name, a.is_document) for a in user.attachments] == [("report.pdf", True), (PHOTO.name, False)]
    assert reply.metrics["document_tokens"] == chip.tokens
    assert reply.metrics["image_tokens"] > 0 and reply.finish_reason in ("stop", "length")
    assert ready.composer.attachments == []
    message = ready.chat_view.messages[0]
    assert any(label.text() == "report.pdf" for label in message.findChildren(type(chip.title)))

    # Reopened, the conversation reads its document again from the store, to the same tokens.
    assert ready.session.conversation is not None
    conversation_id = ready.session.conversation.id
    ready.session.new_conversation()
    ready.session.open_conversation(conversation_id)
    ready.session.regenerate()
    wait_done(qtbot, ready)
    assert stored(ready)[-1].metrics["document_tokens"] == chip.tokens


def test_pasting_a_copied_document_attaches_it(qtbot: QtBot, window: MainWindow, tmp_path: Path) -> None:
    notes = tmp_path / "notes.md"
    notes.write_text("# Minutes\nThe harbour opens at six.\n")
    window.composer.edit.setPlainText("What time?")
    window.composer.edit.insertFromMimeData(file_urls(notes))  # what Ctrl+V of a copied file does
    wait_attached(qtbot, window, 1)
    [attachment] = window.composer.attachments
    assert isinstance(attachment, DocumentAttachment) and attachment.document.kind == "text"
    assert window.composer.edit.toPlainText() == "What time?"
    assert window.composer._chips[0].cost.text() == "counting…"  # no model loaded: counted when one is


def test_removing_a_document_chip_stops_its_reading(
    qtbot: QtBot, window: MainWindow, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    book = tmp_path / "book.pdf"
    book.write_bytes(document_files.long_text_pdf(200, lines_per_page=2))
    read: list[int] = []
    reading, removed = threading.Event(), threading.Event()
    real = documents._pdf_page_text

    def held_page(pdf: Any, index: int, pdfium_c: Any) -> tuple[str, bool, Any]:
        read.append(index)
        reading.set()
        removed.wait(timeout=60)  # the first page is held until the chip is gone
        return real(pdf, index, pdfium_c)

    monkeypatch.setattr(documents, "_pdf_page_text", held_page)
    drop(window.chat_pane, file_urls(book))
    qtbot.waitUntil(reading.is_set, timeout=20_000)
    try:
        window.composer._chips[0].remove_button.click()
    finally:
        removed.set()
    window.work._pool.waitForDone(20_000)
    assert read == [0]  # the page being read when the chip went was the last of 200
    assert window.composer._chips == [] and window.composer.notice_label.text() == ""


def test_a_document_larger_than_the_context_is_refused_before_sending_and_its_first_pages_offered(
    qtbot: QtBot, ready: MainWindow, tmp_path: Path
) -> None:
    book = tmp_path / "book.pdf"
    book.write_bytes(document_files.long_text_pdf(6))  # ~16,500 tokens; the context holds 8,192
    drop(ready.chat_pane, file_urls(book))
    wait_attached(qtbot, ready, 1)
    ready.settings_panel.max_tokens.setValue(4)
    ready.composer.edit.setPlainText("Summarise.")
    ready.composer.submit()
    offer = ready.composer.offer_buttons[0]
    qtbot.waitUntil(lambda: offer.isVisible(), timeout=60_000)
    notice = ready.composer.notice_label.text()
    assert "'book.pdf' is " in notice and "the model holds at most 8,192 and the context is set to 8,192" in notice
    assert not ready.session.busy and ready.session.conversation is None  # nothing sent, nothing stored
    assert ready.composer.edit.toPlainText() == "Summarise."
    assert offer.text() == "Send the first 2 pages"
    offer.click()
    qtbot.waitUntil(lambda: ready.session.busy, timeout=60_000)
    wait_done(qtbot, ready)
    user, reply = stored(ready)
    assert user.attachments[0].first_pages == 2
    assert 0 < reply.metrics["document_tokens"] < 8192 and reply.finish_reason in ("stop", "length")
