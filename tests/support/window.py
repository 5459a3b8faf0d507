"""Driving the main window in tests: waiting for its model, its attachments and its replies, and
reading what its store holds.  The limits are hang detectors, never measurements."""

from __future__ import annotations

from pytestqt.qtbot import QtBot

from desktop_app.store import Message
from desktop_app.ui.main_window import MainWindow
from desktop_app.ui.model_controller import ModelState

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
