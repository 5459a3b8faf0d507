"""The window without a model: attaching images (drop, paste, picker), refusals, the settings
panel's ranges, the conversation list.  No engine process is started here."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pytest
from PIL import Image
from PySide6.QtCore import QMimeData, QPoint, Qt
from PySide6.QtGui import QGuiApplication, QImage, QPalette, QTextCursor, QTextFormat
from PySide6.QtWidgets import (
    QAbstractButton,
    QAbstractSpinBox,
    QApplication,
    QComboBox,
    QFileDialog,
    QLineEdit,
    QListWidget,
    QMessageBox,
    QPlainTextEdit,
    QWidget,
)
from pytestqt.qtbot import QtBot

from desktop_app.errors import UserError
from desktop_app.settings import GenerationSettings, RuntimeSettings
from desktop_app.ui.attachments import PreparedAttachment
from desktop_app.ui.main_window import MainWindow
from desktop_app.ui.markdown_view import MarkdownView
from tests.support.data import PHOTO
from tests.support.qt_input import drop, file_urls
from tests.support.window import wait_attached

# The offscreen platform cannot pass a window's size limits to a window system, and says so.
pytestmark = pytest.mark.qt_log_ignore("propagateSizeHints")


def shown_thumbnails(window: MainWindow) -> int:
    chips = window.composer._chips
    return sum(1 for chip in chips if chip.picture.pixmap() is not None and not chip.picture.pixmap().isNull())


def png_bytes(size: tuple[int, int] = (40, 30)) -> bytes:
    out = io.BytesIO()
    Image.linear_gradient("L").resize(size).convert("RGB").save(out, "PNG")
    return out.getvalue()


def test_dropping_image_files_on_the_composer_attaches_thumbnails(
    qtbot: QtBot, window: MainWindow, image_file: Path
) -> None:
    drop(window.composer.edit, file_urls(image_file, PHOTO))
    wait_attached(qtbot, window, 2)
    assert shown_thumbnails(window) == 2
    assert [a.name for a in window.composer.attachments] == [image_file.name, PHOTO.name]
    photo = window.composer.attachments[1]
    assert photo.mime == "image/jpeg" and photo.data == PHOTO.read_bytes()  # the original is kept
    assert window.composer.edit.toPlainText() == ""  # no file path was typed into the box


def test_dropping_files_anywhere_on_the_chat_attaches_them(qtbot: QtBot, window: MainWindow, image_file: Path) -> None:
    drop(window.chat_pane, file_urls(image_file))
    wait_attached(qtbot, window, 1)
    assert shown_thumbnails(window) == 1


def test_dropping_raw_image_data_attaches(qtbot: QtBot, window: MainWindow) -> None:
    encoded = QMimeData()
    encoded.setData("image/png", png_bytes())
    drop(window.chat_pane, encoded)
    wait_attached(qtbot, window, 1)
    pixels = QMimeData()
    pixels.setImageData(QImage(str(PHOTO)))
    drop(window.composer.edit, pixels)
    wait_attached(qtbot, window, 2)
    first, second = window.composer.attachments
    assert isinstance(first, PreparedAttachment) and isinstance(second, PreparedAttachment)
    assert (first.image.width, first.image.height) == (40, 30)
    assert (second.image.width, second.image.height) == (512, 600) and second.mime == "image/png"
    assert shown_thumbnails(window) == 2


def test_paste_attaches_image_data_and_copied_files_but_text_stays_text(
    qtbot: QtBot, window: MainWindow, image_file: Path
) -> None:
    clipboard = QGuiApplication.clipboard()
    edit = window.composer.edit
    edit.setFocus()
    pixels = QMimeData()
    pixels.setImageData(QImage(str(image_file)))
    clipboard.setMimeData(pixels)
    qtbot.keyClick(edit, Qt.Key.Key_V, Qt.KeyboardModifier.ControlModifier)
    wait_attached(qtbot, window, 1)
    clipboard.setMimeData(file_urls(PHOTO))  # "Copy" on a file in a file manager
    edit.paste()
    wait_attached(qtbot, window, 2)
    clipboard.setText("just words")
    edit.paste()
    assert edit.toPlainText() == "just words"
    assert len(window.composer.attachments) == 2


def test_a_broken_file_is_refused_inline_and_nothing_else_is_lost(
    qtbot: QtBot, window: MainWindow, image_file: Path, tmp_path: Path
) -> None:
    window.composer.edit.setPlainText("Compare these")
    drop(window.composer.edit, file_urls(image_file))
    wait_attached(qtbot, window, 1)
    truncated = tmp_path / "cut-off.png"
    truncated.write_bytes(image_file.read_bytes()[: image_file.stat().st_size // 2])
    notes = tmp_path / "notes.txt"
    notes.write_bytes(bytes(range(256)) * 4)  # binary: neither an image nor a document
    drop(window.chat_pane, file_urls(truncated))
    qtbot.waitUntil(lambda: "cut-off.png" in window.composer.notice_label.text(), timeout=20_000)
    assert "damaged or incomplete" in window.composer.notice_label.text()
    assert window.composer.notice_label.isVisible()
    drop(window.chat_pane, file_urls(notes))
    qtbot.waitUntil(lambda: "notes.txt" in window.composer.notice_label.text(), timeout=20_000)
    assert "is not a file Gemma Desktop can read" in window.composer.notice_label.text()
    assert window.composer.pending == 0
    assert [a.name for a in window.composer.attachments] == [image_file.name]
    assert window.composer.edit.toPlainText() == "Compare these"


def test_removing_an_attachment_before_sending(qtbot: QtBot, window: MainWindow, image_file: Path) -> None:
    drop(window.composer.edit, file_urls(image_file, PHOTO))
    wait_attached(qtbot, window, 2)
    window.composer._chips[0].remove_button.click()
    assert [a.name for a in window.composer.attachments] == [PHOTO.name]


def test_enter_sends_shift_enter_breaks_the_line_and_nothing_is_lost_without_a_model(
    qtbot: QtBot, window: MainWindow
) -> None:
    edit = window.composer.edit
    assert "Shift+Enter" in edit.toolTip()
    edit.setFocus()
    qtbot.keyClicks(edit, "first line")
    qtbot.keyClick(edit, Qt.Key.Key_Return, Qt.KeyboardModifier.ShiftModifier)
    qtbot.keyClicks(edit, "second line")
    with qtbot.waitSignal(window.composer.sendRequested, timeout=5_000) as sent:
        qtbot.keyClick(edit, Qt.Key.Key_Return)
    assert sent.args[0] == "first line\nsecond line"
    # No model yet: the window says so and keeps the message.
    assert "Open a model first" in window.composer.notice_label.text()
    assert edit.toPlainText() == "first line\nsecond line"
    assert window.store.list_conversations() == []


def test_the_welcome_page_shows_until_a_model_is_chosen(window: MainWindow) -> None:
    assert window.pages.currentWidget() is window.first_run
    assert window.status_model.text() == "No model"
    assert window.first_run.open_button.accessibleName()


def test_settings_widgets_hold_exactly_the_values_the_validators_accept(window: MainWindow) -> None:
    panel = window.settings_panel
    # field: (widget, the nearest values beyond its range on either side); the widgets are
    # QSpinBox and QDoubleSpinBox, which share no typed base with minimum() and setValue().
    fields: dict[str, tuple[Any, float, float]] = {
        "temperature": (panel.temperature, -0.01, 5.01),
        "top_k": (panel.top_k, -1, 1001),
        "top_p": (panel.top_p, 0.0, 1.01),
        "min_p": (panel.min_p, -0.01, 1.0),
        "repeat_penalty": (panel.repeat_penalty, 0.49, 2.01),
        "seed": (panel.seed, -2, 2**32),
        "max_tokens": (panel.max_tokens, 0, 8193),
    }
    for name, (box, below, above) in fields.items():
        assert box.accessibleName()
        for edge in (box.minimum(), box.maximum()):
            box.setValue(edge)
            panel.generation().validate()  # the widget's extremes are valid...
        kind = type(getattr(GenerationSettings(), name))
        for value in (below, above):  # ...and what lies beyond them is not
            with pytest.raises(UserError):
                GenerationSettings(**{name: kind(value)}).validate()
        box.setValue(box.maximum() + 1000)
        assert box.value() == box.maximum()  # going past the end is impossible
    runtime: dict[str, Any] = {"n_ctx": panel.context, "n_threads": panel.threads, "n_gpu_layers": panel.gpu_layers}
    for name, box in runtime.items():
        for edge in (box.minimum(), box.maximum()):
            box.setValue(edge)
            panel.runtime().validate()
        with pytest.raises(UserError):
            RuntimeSettings(**{name: box.minimum() - 1}).validate()
    panel.set_context_limit(8192)
    assert panel.context.maximum() == 8192
    panel.set_context_limit(131072)
    assert panel.context.maximum() == 131072


def test_conversation_list_sorts_searches_renames_and_deletes_with_confirmation(
    qtbot: QtBot, window: MainWindow, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = window.store
    older = store.create_conversation()
    store.add_user_message(older.id, "How do tides work?")
    newer = store.create_conversation()
    store.add_user_message(newer.id, "Explain the Gemma tokenizer")
    window._refresh_list()
    titles = [window.conversations.list.item(i).text() for i in range(window.conversations.list.count())]
    assert titles == ["Explain the Gemma tokenizer", "How do tides work?"]

    window.conversations.search.setText("tides")
    qtbot.waitUntil(lambda: window.conversations.list.count() == 1, timeout=5_000)
    assert window.conversations.list.item(0).text() == "How do tides work?"
    window.conversations.search.clear()
    qtbot.waitUntil(lambda: window.conversations.list.count() == 2, timeout=5_000)

    item = window.conversations.list.item(1)
    item.setText("Tides, explained")  # what finishing an in-place edit does
    assert store.get_conversation(older.id).title == "Tides, explained"

    window.conversations.list.setCurrentRow(0)
    assert window.session.conversation is not None and window.session.conversation.id == newer.id
    monkeypatch.setattr(QMessageBox, "question", lambda *args: QMessageBox.StandardButton.Cancel)
    window.conversations.delete_action.trigger()
    assert len(store.list_conversations()) == 2
    monkeypatch.setattr(QMessageBox, "question", lambda *args: QMessageBox.StandardButton.Yes)
    window.conversations.delete_action.trigger()
    assert [c.id for c in store.list_conversations()] == [older.id]
    assert window.session.conversation is None  # the deleted one is no longer shown
    assert window.conversations.list.count() == 1


def test_keyboard_shortcuts(qtbot: QtBot, window: MainWindow, monkeypatch: pytest.MonkeyPatch) -> None:
    window.activateWindow()
    qtbot.waitActive(window)
    conversation = window.store.create_conversation("Earlier")
    window._refresh_list()
    window.conversations.list.setCurrentRow(0)
    assert window.session.conversation is not None and window.session.conversation.id == conversation.id
    window.conversations.list.setFocus()

    qtbot.keyClick(window, Qt.Key.Key_L, Qt.KeyboardModifier.ControlModifier)
    assert window.composer.edit.hasFocus()
    qtbot.keyClick(window.composer.edit, Qt.Key.Key_N, Qt.KeyboardModifier.ControlModifier)
    assert window.session.conversation is None  # a new, empty conversation
    asked: list[str] = []
    monkeypatch.setattr(QFileDialog, "getOpenFileName", lambda *args, **kwargs: (asked.append("open"), ("", ""))[1])
    qtbot.keyClick(window.composer.edit, Qt.Key.Key_O, Qt.KeyboardModifier.ControlModifier)
    assert asked == ["open"]
    # Esc stops a reply; with none running it is left to the focused widget.
    assert window.stop_action.shortcut().toString() == "Esc" and not window.stop_action.isEnabled()


def test_every_control_has_an_accessible_name(window: MainWindow) -> None:
    window.settings_dock.show()
    kinds = (QAbstractButton, QLineEdit, QPlainTextEdit, QAbstractSpinBox, QComboBox, QListWidget)
    unnamed = [
        f"{type(widget).__name__} {widget.objectName()!r}"
        for kind in kinds
        for widget in window.findChildren(kind)
        if widget.isVisibleTo(window)
        and not widget.accessibleName()
        and not (isinstance(widget, QAbstractButton) and widget.text())
        and not isinstance(widget.parent(), (QAbstractSpinBox, QComboBox))  # their inner parts
    ]
    assert unnamed == []


def test_the_window_follows_a_dark_palette(qtbot: QtBot, window: MainWindow) -> None:
    from desktop_app.ui.screenshot import _dark_palette

    app = QApplication.instance()
    assert isinstance(app, QApplication)
    light = app.palette()
    user = window.chat_view.add_message("user", "Show me code")
    reply = window.chat_view.add_message("assistant", "Here:\n\n```python\nprint('hi')\n```\n")
    window.pages.setCurrentWidget(window.chat_view)
    try:
        app.setPalette(_dark_palette())
        qtbot.waitUntil(
            lambda: window.chat_view.palette().color(QPalette.ColorRole.Base).lightness() < 60, timeout=5_000
        )
        picture = window.chat_view.grab().toImage()

        def lightness_at(widget: QWidget, point: QPoint) -> int:
            return picture.pixelColor(widget.mapTo(window.chat_view, point)).lightness()

        assert lightness_at(user, QPoint(4, user.height() // 2)) < 80  # the bubble is a dark tint
        view = reply._body
        assert isinstance(view, MarkdownView)
        block = view.document().begin()
        while not block.blockFormat().hasProperty(QTextFormat.Property.BlockCodeFence):
            block = block.next()
        line = view.cursorRect(QTextCursor(block))
        # Right of the short code line: the code block's shading, which is dark too.
        assert lightness_at(view.viewport(), QPoint(view.viewport().width() // 2, line.center().y())) < 80
    finally:
        app.setPalette(light)
