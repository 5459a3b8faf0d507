"""A read-only Markdown block that is exactly as tall as its text, for one chat message.

Rendering is Qt's own (``QTextDocument.setMarkdown``, GitHub dialect); this widget only sizes
itself to its document, shades code blocks with a colour derived from the palette (so dark mode
stays readable) and lets wheel scrolling through to the chat around it.
"""

from __future__ import annotations

import math

from PySide6.QtCore import QEvent, QSizeF, Qt
from PySide6.QtGui import QColor, QPalette, QTextBlockFormat, QTextCursor, QTextFormat, QTextOption, QWheelEvent
from PySide6.QtWidgets import QFrame, QSizePolicy, QTextBrowser, QWidget


def blend(base: QColor, tint: QColor, amount: float) -> QColor:
    """``base`` moved ``amount`` of the way to ``tint``: palette-derived shades for any theme."""
    return QColor.fromRgbF(
        base.redF() + (tint.redF() - base.redF()) * amount,
        base.greenF() + (tint.greenF() - base.greenF()) * amount,
        base.blueF() + (tint.blueF() - base.blueF()) * amount,
    )


class MarkdownView(QTextBrowser):
    """Shows one message's Markdown; its height follows its content, never scrolls itself.

    No signals of its own (links open in the system browser).
    """

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setFrameShape(QFrame.Shape.NoFrame)
        self.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.setWordWrapMode(QTextOption.WrapMode.WrapAtWordBoundaryOrAnywhere)
        self.setOpenExternalLinks(True)
        self.setFocusPolicy(Qt.FocusPolicy.ClickFocus)
        # Drops belong to the chat around it, which attaches images.
        self.setAcceptDrops(False)
        self.viewport().setAutoFillBackground(False)
        self.document().setDocumentMargin(0)
        self.document().documentLayout().documentSizeChanged.connect(self._fit_height)
        self._markdown = ""

    def markdown(self) -> str:
        """The Markdown source last shown (what "Copy" copies)."""
        return self._markdown

    def set_markdown(self, text: str) -> None:
        """Render ``text``; only this message's document is laid out again."""
        self._markdown = text
        self.document().setMarkdown(text)
        self._shade_code_blocks()

    def wheelEvent(self, event: QWheelEvent) -> None:  # noqa: N802 - Qt override
        event.ignore()  # the chat scrolls, not the message

    def changeEvent(self, event: QEvent) -> None:  # noqa: N802 - Qt override
        super().changeEvent(event)
        if event.type() == QEvent.Type.PaletteChange:
            self._shade_code_blocks()

    def _shade_code_blocks(self) -> None:
        """Give fenced and indented code a background and an inset; wrap its long lines.

        Qt's importer already sets the monospace font; it marks the lines non-breaking, which
        would clip them in a widget without a horizontal scroll bar.
        """
        palette = self.palette()
        shade = blend(palette.color(QPalette.ColorRole.Base), palette.color(QPalette.ColorRole.Text), 0.07)
        cursor = QTextCursor(self.document())
        block = self.document().begin()
        cursor.beginEditBlock()
        while block.isValid():
            fmt = block.blockFormat()
            if fmt.hasProperty(QTextFormat.Property.BlockCodeFence) or fmt.nonBreakableLines():
                code = QTextBlockFormat(fmt)
                code.setBackground(shade)
                code.setNonBreakableLines(False)
                code.setLeftMargin(8)
                code.setRightMargin(8)
                cursor.setPosition(block.position())
                cursor.setBlockFormat(code)
            block = block.next()
        cursor.endEditBlock()

    def _fit_height(self, size: QSizeF) -> None:
        margins = self.contentsMargins()
        self.setFixedHeight(math.ceil(size.height()) + margins.top() + margins.bottom())
