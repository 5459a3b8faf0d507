"""Driving the main window in tests: sending a message, waiting for its model, its attachments
and its replies, and reading what its view and its store hold.  The limits are hang detectors, never measurements."""

from __future__ import annotations

from pathlib import Path

from pytestqt.qtbot import QtBot

from desktop_app.settings import RuntimeSettings
from desktop_app.store import Message
from desktop_app.ui.attachments import ImageSource
from desktop_app.ui.chat_view import MessageWidget
from desktop_app.ui.main_window import MainWindow
from desktop_app.ui.model_controller import ModelState

WINDOW_RUNTIME = RuntimeSettings(n_ctx=8192, n_threads=2)
"""The window's runtime settings in tests: the tiny model's whole context, two threads."""

LOAD_TIMEOUT_MS = 120_000
REPLY_TIMEOUT_MS = 180_000
ATTACH_TIMEOUT_MS = 20_000


def wait_ready(qtbot: QtBot, window: MainWindow) -> None:
    """Until the window's model is loaded."""
    qtbot.waitUntil(lambda: window.model_controller.state is ModelState.READY, timeout=LOAD_TIMEOUT_MS)


def wait_attached(qtbot: QtBot, window: MainWindow, count: int) -> None:
    """Until the composer holds ``count`` prepared attachments."""
    qtbot.waitUntil(
        lambda: window.composer.pending == 0 and len(window.composer.attachments) == count,
        timeout=ATTACH_TIMEOUT_MS,
    )


def wait_done(qtbot: QtBot, window: MainWindow) -> None:
    """Until no reply is being written."""
    qtbot.waitUntil(lambda: not window.session.busy, timeout=REPLY_TIMEOUT_MS)


def stored(window: MainWindow) -> list[Message]:
    """The open conversation's messages as the store holds them."""
    assert window.session.conversation is not None
    return window.store.messages(window.session.conversation.id)


def send(
    qtbot: QtBot,
    window: MainWindow,
    text: str,
    images: tuple[Path, ...] = (),
    seed: int | None = None,
    max_tokens: int = 8192,
) -> None:
    """Type ``text`` with these images attached and send it, with this seed and reply length."""
    if seed is not None:
        window.settings_panel.seed.setValue(seed)
    window.settings_panel.max_tokens.setValue(max_tokens)
    if images:
        window.composer.add_sources([ImageSource(path, path.name) for path in images])
        wait_attached(qtbot, window, len(images))
    window.composer.edit.setPlainText(text)
    window.composer.submit()
    assert window.session.busy, window.composer.notice_label.text()


def reply_widget(window: MainWindow) -> MessageWidget:
    """The last message in the view, which is the assistant's."""
    widget = window.chat_view.messages[-1]
    assert widget.role == "assistant"
    return widget
