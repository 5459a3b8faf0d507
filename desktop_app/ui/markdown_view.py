"""A read-only Markdown block that is exactly as tall as its text, for one chat message.

Rendering is Qt's own (``QTextDocument.setMarkdown``, GitHub dialect); this widget only sizes
itself to its document, shades code blocks with a colour derived from the palette (so dark mode
stays readable) and lets wheel scrolling through to the chat around it.

A streaming reply is rendered incrementally, so that showing one more token costs the same at
the end of a long reply as at its start: the Markdown up to its last block boundary (a blank
line outside fenced code, before a line that starts a new top-level block) is "settled" and
rendered once; each append re-renders only the unsettled tail after it.  Rendering the parts
separately can differ from rendering the whole (a list whose items are separated by blank lines
shows as several lists, a reference link defined later stays literal), so the finished reply is
rendered once more as a whole.
"""

from __future__ import annotations

import math
import re

from PySide6.QtCore import QEvent, QSizeF, Qt
from PySide6.QtGui import (
    QColor,
    QPalette,
    QTextBlockFormat,
    QTextCharFormat,
    QTextCursor,
    QTextDocument,
    QTextDocumentFragment,
    QTextFormat,
    QTextOption,
    QWheelEvent,
)
from PySide6.QtWidgets import QFrame, QSizePolicy, QTextBrowser, QWidget


def blend(base: QColor, tint: QColor, amount: float) -> QColor:
    """``base`` moved ``amount`` of the way to ``tint``: palette-derived shades for any theme."""
    return QColor.fromRgbF(
        base.redF() + (tint.redF() - base.redF()) * amount,
        base.greenF() + (tint.greenF() - base.greenF()) * amount,
        base.blueF() + (tint.blueF() - base.blueF()) * amount,
    )


_FENCE = re.compile(r"[ \t]*(`{3,}|~{3,})(.*)")
"""A code fence line: its marker and what follows (an info string, or nothing on a closing one).

Indented fences count too (a fence inside a list item is indented), which at worst settles less.
"""


class _Boundaries:
    """Where the settled part of a streaming Markdown text ends; each line is looked at once.

    A boundary is the start of a line that begins at column 0 after a blank line, outside fenced
    code: there the blocks before it are complete.  A line indented after a blank line may
    continue a list item (or be indented code), so it does not make one.
    """

    def __init__(self) -> None:
        self.settled = 0
        """Length of the text before the last boundary found."""
        self._scanned = 0
        self._fence = ""
        """The marker of the fenced code block the scan is in ("" outside one)."""
        self._after_blank = False

    def feed(self, text: str) -> int:
        """Scan the complete lines of ``text`` (the whole text so far) not yet seen; the new
        settled length."""
        start = self._scanned
        end = text.rfind("\n", start) + 1
        while start < end:
            stop = text.index("\n", start) + 1
            self._line(text[start:stop], start)
            start = stop
        self._scanned = start
        return self.settled

    def _line(self, line: str, start: int) -> None:
        fence = _FENCE.match(line)
        if self._fence:
            closing = fence is not None and not fence.group(2).strip()
            if closing and fence.group(1)[0] == self._fence[0] and len(fence.group(1)) >= len(self._fence):
                self._fence = ""
            return
        if not line.strip():
            self._after_blank = True
            return
        if self._after_blank and not line[0].isspace():
            self.settled = start
        self._after_blank = False
        if fence is not None and not (fence.group(1)[0] == "`" and "`" in fence.group(2)):
            self._fence = fence.group(1)


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
        self._boundaries = _Boundaries()
        self._settled_end = 0
        """Document position at the end of the settled blocks' rendering; 0 while none shows."""
        self._settled_formats = (QTextBlockFormat(), QTextCharFormat())
        """The block and block character formats of the last settled block."""

    def markdown(self) -> str:
        """The Markdown source last shown (what "Copy" copies)."""
        return self._markdown

    def set_markdown(self, text: str) -> None:
        """Render ``text`` as a whole; only this message's document is laid out again.

        Appends after this start settling from the beginning again (one render of the whole).
        """
        self._markdown = text
        self._boundaries = _Boundaries()
        self._settled_end = 0
        self.document().setMarkdown(text)
        self._shade_code_blocks(self.document())

    def append_markdown(self, chunk: str) -> None:
        """Show ``chunk`` after the text shown, re-rendering only the blocks not yet settled."""
        if not chunk:
            return
        settled = self._boundaries.settled
        self._markdown += chunk
        boundary = self._boundaries.feed(self._markdown)
        if boundary > settled:
            self._render_after_settled(self._markdown[settled:boundary])
            last = self.document().lastBlock()
            self._settled_end = last.position() + last.length() - 1
            self._settled_formats = (last.blockFormat(), last.charFormat())
        self._render_after_settled(self._markdown[boundary:])

    def wheelEvent(self, event: QWheelEvent) -> None:  # noqa: N802 - Qt override
        event.ignore()  # the chat scrolls, not the message

    def changeEvent(self, event: QEvent) -> None:  # noqa: N802 - Qt override
        super().changeEvent(event)
        if event.type() == QEvent.Type.PaletteChange:
            self._shade_code_blocks(self.document())

    def _render_after_settled(self, markdown: str) -> None:
        """Replace what follows the settled blocks with ``markdown`` rendered on its own.

        It is rendered in a scratch document and inserted as a fragment, so the document's
        settled blocks are neither parsed nor shaded again.
        """
        document = self.document()
        if self._settled_end == 0:
            document.setMarkdown(markdown)
            self._shade_code_blocks(document)
            return
        cursor = QTextCursor(document)
        cursor.beginEditBlock()
        cursor.setPosition(self._settled_end)
        cursor.movePosition(QTextCursor.MoveOperation.End, QTextCursor.MoveMode.KeepAnchor)
        cursor.removeSelectedText()
        # Removing the separator after an empty block (a rule, the line after a table) removes
        # that block instead and keeps the next one's format: give the settled block its own.
        block_format, char_format = self._settled_formats
        if cursor.blockFormat() != block_format:
            cursor.setBlockFormat(block_format)
        if cursor.blockCharFormat() != char_format:
            cursor.setBlockCharFormat(char_format)
        if markdown.strip():
            cursor.insertFragment(self._fragment(markdown))
        cursor.endEditBlock()

    def _fragment(self, markdown: str) -> QTextDocumentFragment:
        """``markdown`` rendered and shaded, to be inserted at the end of a block.

        Inserting a fragment merges its first block into the block at the cursor, which keeps
        its own format; so the fragment starts with an empty plain block to be merged, and its
        first real block comes after it with its own format.  Qt's importer already leaves such
        a block before a table or a horizontal rule that starts the text.
        """
        scratch = QTextDocument()
        scratch.setDefaultFont(self.document().defaultFont())
        scratch.setMarkdown(markdown)
        self._shade_code_blocks(scratch)
        first = scratch.begin()
        if first.length() > 1 or first.blockFormat().properties():
            # Qt's importer gives every block but the first (and list items) the format of its
            # first character as its block character format.
            formats = first.textFormats()
            char_format = formats[0].format if formats and first.textList() is None else QTextCharFormat()
            cursor = QTextCursor(scratch)
            cursor.insertBlock(first.blockFormat(), char_format)
            cursor.setPosition(0)
            cursor.setBlockFormat(QTextBlockFormat())
        return QTextDocumentFragment(scratch)

    def _shade_code_blocks(self, document: QTextDocument) -> None:
        """Give the fenced and indented code of ``document`` a background and an inset; wrap its
        long lines.  While a reply streams, ``document`` holds only the newly rendered blocks.

        Qt's importer already sets the monospace font; it marks the lines non-breaking, which
        would clip them in a widget without a horizontal scroll bar.
        """
        palette = self.palette()
        shade = blend(palette.color(QPalette.ColorRole.Base), palette.color(QPalette.ColorRole.Text), 0.07)
        cursor = QTextCursor(document)
        block = document.begin()
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
