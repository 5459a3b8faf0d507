"""Small widgets more than one part of the window builds the same way."""

from __future__ import annotations

from PySide6.QtWidgets import QStyle, QToolButton, QWidget


def dismiss_button(parent: QWidget, accessible_name: str) -> QToolButton:
    """The flat "x" that closes a notice; the caller connects ``clicked``."""
    button = QToolButton(parent)
    button.setIcon(parent.style().standardIcon(QStyle.StandardPixmap.SP_DialogCloseButton))
    button.setAutoRaise(True)
    button.setToolTip(parent.tr("Dismiss"))
    button.setAccessibleName(accessible_name)
    return button
