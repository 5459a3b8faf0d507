"""Small widgets more than one part of the window builds the same way."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QCoreApplication, Qt
from PySide6.QtGui import QPalette
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QStyle, QToolButton, QWidget


def dismiss_button(parent: QWidget, accessible_name: str) -> QToolButton:
    """The flat "x" that closes a notice; the caller connects ``clicked``."""
    button = QToolButton(parent)
    button.setIcon(parent.style().standardIcon(QStyle.StandardPixmap.SP_DialogCloseButton))
    button.setAutoRaise(True)
    button.setToolTip(QCoreApplication.translate("Widgets", "Dismiss"))
    button.setAccessibleName(accessible_name)
    return button


class NoticeBar(QFrame):
    """A dismissible sentence above the chat, with an optional action button.

    No signals: the action is a callback given with the message.
    """

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.setAutoFillBackground(True)
        self.setBackgroundRole(QPalette.ColorRole.AlternateBase)
        self._callback: Callable[[], None] | None = None
        layout = QHBoxLayout(self)
        layout.setContentsMargins(10, 6, 6, 6)
        icon = QLabel(self)
        size = self.style().pixelMetric(QStyle.PixelMetric.PM_SmallIconSize)
        icon.setPixmap(self.style().standardIcon(QStyle.StandardPixmap.SP_MessageBoxInformation).pixmap(size, size))
        layout.addWidget(icon, 0, Qt.AlignmentFlag.AlignTop)
        self.label = QLabel(self)
        self.label.setWordWrap(True)
        self.label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.label.setAccessibleName(self.tr("Notice"))
        layout.addWidget(self.label, 1)
        self.action_button = QToolButton(self)
        self.action_button.clicked.connect(self._act)
        layout.addWidget(self.action_button, 0, Qt.AlignmentFlag.AlignTop)
        close = dismiss_button(self, self.tr("Dismiss this notice"))
        close.clicked.connect(self.hide)
        layout.addWidget(close, 0, Qt.AlignmentFlag.AlignTop)
        self.hide()

    def show_message(self, text: str, action: str | None = None, callback: Callable[[], None] | None = None) -> None:
        """Show ``text``; with ``action``, a button of that name hides the notice and calls
        ``callback``."""
        self.label.setText(text)
        self._callback = callback
        self.action_button.setVisible(action is not None)
        self.action_button.setText(action or "")
        self.action_button.setAccessibleName(action or "")
        self.show()

    def _act(self) -> None:
        callback = self._callback
        self.hide()
        if callback is not None:
            callback()


def ability_words(abilities: tuple[str, ...]) -> str:
    """What a model can do, for people: "text only", "text and images", "text, images and
    thinking" (``abilities`` as :func:`desktop_app.models.gemma_files.abilities` names them).

    Each combination is its own phrase, so a translation never joins words its own grammar
    would join differently (Chinese lists with "、").
    """
    phrases = {
        ("text",): QCoreApplication.translate("Abilities", "text only"),
        ("text", "images"): QCoreApplication.translate("Abilities", "text and images"),
        ("text", "thinking"): QCoreApplication.translate("Abilities", "text and thinking"),
        ("text", "images", "thinking"): QCoreApplication.translate("Abilities", "text, images and thinking"),
    }
    return phrases.get(tuple(abilities)) or ", ".join(abilities)
