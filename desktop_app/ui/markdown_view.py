"""A read-only Markdown block that is exactly as tall as its text, for one chat message.

Rendering is Qt's own (``QTextDocument.setMarkdown``, GitHub dialect); this widget only sizes
itself to its document, shades code blocks with a colour derived from the palette (so dark mode
stays readable) and lets wheel scrolling through to the chat around it.

A streaming reply is rendered incrementally, so that showing one more token costs the same at
the end of a long reply as at its start: the Markdown up to its last "stop" is settled and
rendered once; each append re-renders only the unsettled tail after it.  Where the stops are is
read from the text alone by :mod:`desktop_app.ui.markdown_blocks`; this widget renders the parts:

* a BLOCK stop: the text after it is rendered on its own;
* an ITEM stop (another item of the top-level list being written): rendered on its own, as a list
  numbered on from the items shown (making it an item of their list would lay out all of them
  again on every append);
* a CODE stop (after a line of top-level fenced code): the next code line is appended as a block
  formatted like the line before it (font and shade included), with the text Qt's importer gives
  it;
* a JOIN stop inside a top-level paragraph whose tail has grown to ``TAIL_LIMIT`` characters
  (before its last complete line, or inside one long line): settled only where the part before
  the stop, rendered alone, shows the same characters in the same formats as the tail rendered
  whole (so no emphasis, code span or link crosses the stop).  What follows is rendered after a
  stand-in that is then removed, so that it joins the paragraph as it does in the text.

While a reply streams, the display can differ from rendering it whole; the finished reply is
rendered once more as a whole, which shows it exactly.  What can differ:

* a list whose items are separated by blank lines shows as several lists (each numbered from its
  first item's own number), and a reference link defined later stays literal;
* a paragraph longer than ``_PARAGRAPH_LIMIT`` characters goes on in a new block at its next
  stop, without a gap, so a line ends early there (a block is laid out and painted again as a
  whole when text joins it: one long block would cost in proportion to its length on every
  append);
* where a paragraph is settled in part, an emphasis or link that began before the stop and ends
  only more than a line (or ``markdown_blocks.LOOKAHEAD`` characters) after it shows its markers,
  and a heading underline (``===``, ``---``) that comes later makes only the text after the stop a heading.

What is still settled only as a whole, so re-rendered on every append while it grows: a table (Qt
lays out all of a table's rows again on any change to it anyway), a block quote, a list item (a
long line in one, code fenced in one) and HTML.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from PySide6.QtCore import QEvent, QSizeF, Qt
from PySide6.QtGui import (
    QColor,
    QPalette,
    QTextBlock,
    QTextBlockFormat,
    QTextCharFormat,
    QTextCursor,
    QTextDocument,
    QTextDocumentFragment,
    QTextFormat,
    QTextListFormat,
    QTextOption,
    QWheelEvent,
)
from PySide6.QtWidgets import QFrame, QSizePolicy, QTextBrowser, QWidget

from desktop_app.ui.markdown_blocks import (
    TAIL_LIMIT,
    BlockScanner,
    Mode,
    Stop,
    closes_fence,
    code_text,
)

_PARAGRAPH_LIMIT = 400
"""Characters of a streaming paragraph's block after which it goes on in a new block: with the
tail joined to it, what one append lays out and paints again, at most."""


def blend(base: QColor, tint: QColor, amount: float) -> QColor:
    """``base`` moved ``amount`` of the way to ``tint``: palette-derived shades for any theme."""
    return QColor.fromRgbF(
        base.redF() + (tint.redF() - base.redF()) * amount,
        base.greenF() + (tint.greenF() - base.greenF()) * amount,
        base.blueF() + (tint.blueF() - base.blueF()) * amount,
    )


@dataclass
class _Rendering:
    """Markdown rendered in a scratch document, to be inserted after the settled blocks."""

    document: QTextDocument
    joined: bool
    """Whether its first block continues the last settled block (and merges into it)."""


def _runs(block: QTextBlock, length: int) -> list[tuple[int, QTextCharFormat]]:
    """The character formats of ``block``'s first ``length`` characters: (end, format) runs."""
    runs: list[tuple[int, QTextCharFormat]] = []
    fragments = block.begin()
    while not fragments.atEnd() and length > 0:
        fragment = fragments.fragment()
        end = min(fragment.position() - block.position() + fragment.length(), length)
        fmt = fragment.charFormat()
        if runs and runs[-1][1] == fmt:
            runs[-1] = (end, fmt)
        else:
            runs.append((end, fmt))
        if end >= length:
            break
        fragments += 1
    return runs


def _shows_first(part: QTextDocument, whole: QTextDocument, stop: Stop) -> bool:
    """Whether ``whole`` starts with what ``part`` shows (the same blocks, characters and formats),
    then goes on as ``stop`` says: in a new block after a hard line break, else in the same block
    (after a space, which a line break shows as too)."""
    mine, theirs = part.begin(), whole.begin()
    while mine.isValid():
        if not theirs.isValid() or mine.blockFormat() != theirs.blockFormat():
            return False
        text, other = mine.text(), theirs.text()
        if mine.next().isValid():
            same = other == text
        elif stop.hard_break:
            same = other == text and theirs.next().isValid()
        else:
            gap = " " if stop.separator else ""
            same = other.startswith(text + gap) and len(other) > len(text + gap)
        if not same or _runs(mine, len(text)) != _runs(theirs, len(text)):
            return False
        mine, theirs = mine.next(), theirs.next()
    return True


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
        self._start_settling()

    def _start_settling(self) -> None:
        """Forget what was settled: the next append renders from the start of the text."""
        self._scanner = BlockScanner()
        self._settled = 0
        """Length of the text settled."""
        self._stop = Stop(0, Mode.BLOCK)
        """The stop the settled text ends at: how the tail after it shows."""
        self._join: Stop | None = None
        """The last JOIN stop in the tail (a line's start), where a long paragraph may be settled."""
        self._settled_end = 0
        """Document position at the end of the settled blocks' rendering; 0 while none shows."""
        self._settled_formats = (QTextBlockFormat(), QTextCharFormat())
        """The block and block character formats of the last settled block."""
        self._number = 1
        """For an ITEM stop, the number of the next item of its list."""
        self._code_formats = (QTextBlockFormat(), QTextCharFormat())
        """For a CODE stop, the block and character formats of the code line before it."""

    def markdown(self) -> str:
        """The Markdown source last shown (what "Copy" copies)."""
        return self._markdown

    def set_markdown(self, text: str) -> None:
        """Render ``text`` as a whole; only this message's document is laid out again.

        Appends after this start settling from the beginning again (one render of the whole).
        """
        self._markdown = text
        self._start_settling()
        self.document().setMarkdown(text)
        self._shade_code_blocks(self.document())

    def append_markdown(self, chunk: str) -> None:
        """Show ``chunk`` after the text shown, re-rendering only what is not yet settled."""
        if not chunk:
            return
        self._markdown += chunk
        for stop in self._scanner.feed(self._markdown):
            if stop.position < self._settled:
                continue  # the start of a line settled in part already (a paragraph's)
            if stop.mode is Mode.JOIN:
                self._join = stop
            else:
                self._settle(stop)
        self._settle_paragraph()
        self._show_after_settled(self._markdown[self._settled :])

    def wheelEvent(self, event: QWheelEvent) -> None:
        event.ignore()  # the chat scrolls, not the message

    def changeEvent(self, event: QEvent) -> None:
        super().changeEvent(event)
        if event.type() == QEvent.Type.PaletteChange:
            document = self.document()
            self._shade_code_blocks(document)
            # What a streaming reply keeps of its settled blocks' formats has the old shade.
            last = document.findBlock(self._settled_end)
            self._settled_formats = (last.blockFormat(), last.charFormat())
            if self._stop.mode is Mode.CODE:
                self._code_formats = (last.blockFormat(), self._code_formats[1])

    def _settle(self, stop: Stop, rendering: _Rendering | None = None) -> None:
        """Settle the text up to ``stop``: render it after the settled blocks, once."""
        first = self._show_after_settled(self._markdown[self._settled : stop.position], rendering)
        document = self.document()
        last = document.lastBlock()
        self._settled_end = last.position() + last.length() - 1
        self._settled_formats = (last.blockFormat(), last.charFormat())
        items = first.textList()
        if stop.mode is Mode.ITEM and items is not None:
            if self._stop.mode is not Mode.ITEM:
                self._number = items.format().start()
            self._number += items.count()
        elif stop.mode is Mode.CODE and self._stop.mode is not Mode.CODE:
            # The character format of the code's text (a block's own is unset at the start of the
            # document); Qt's importer gives each code block after the first the same one.
            cursor = QTextCursor(document)
            cursor.setPosition(self._settled_end)
            self._code_formats = (last.blockFormat(), cursor.charFormat())
        self._settled, self._stop = stop.position, stop
        if self._join is not None and self._join.position <= stop.position:
            self._join = None
        if self._paragraph_full():
            # What follows goes on in a block of its own: no gap under this one.
            block_format = last.blockFormat()
            if block_format.bottomMargin():
                block_format.setBottomMargin(0)
                QTextCursor(last).setBlockFormat(block_format)
                self._settled_formats = (block_format, last.charFormat())

    def _paragraph_full(self) -> bool:
        """Whether the settled text ends in a paragraph (not at a hard line break) that is already
        ``_PARAGRAPH_LIMIT`` long, so that it goes on in a new block."""
        if self._stop.mode is not Mode.JOIN or self._stop.hard_break:
            return False
        return self._settled_end - self.document().findBlock(self._settled_end).position() > _PARAGRAPH_LIMIT

    def _settle_paragraph(self) -> None:
        """Settle a long paragraph in the tail in part, where the part shows what rendering the
        tail whole shows: up to its last complete line, or inside its last line (one long line)
        before a space, or between two letters or digits where it has no space (a text without
        spaces, as Chinese is written)."""
        text, settled = self._markdown, self._settled
        stop, end = self._join, self._scanner.scanned
        if stop is not None and end - settled >= TAIL_LIMIT:
            self._join = None  # if the part does not show the same, the next line is the next try
        else:
            stop, end = self._scanner.stop_in_line(text, settled), len(text)
        if stop is None:
            return
        whole = self._render(text[settled:end])
        part = self._render(text[settled : stop.position])
        if whole.joined == part.joined and _shows_first(part.document, whole.document, stop):
            self._settle(stop, part)

    def _show_after_settled(self, markdown: str, rendering: _Rendering | None = None) -> QTextBlock:
        """Replace what follows the settled blocks with ``markdown`` (already rendered as
        ``rendering``, if given), shown as the stop the settled text ends at says; the first
        block shown.

        It is rendered in a scratch document and inserted as a fragment, whose first block merges
        into the settled blocks' last (code lines are inserted as they are), so the document's
        settled blocks are neither parsed nor shaded again.
        """
        document = self.document()
        if self._settled_end == 0 and self._stop.mode is Mode.BLOCK:
            document.setMarkdown(markdown)
            self._shade_code_blocks(document)
            return document.begin()
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
        if self._stop.mode is Mode.CODE:
            self._insert_code(cursor, markdown)
        elif rendering is not None or markdown.strip():
            rendering = rendering or self._render(markdown)
            cursor.insertFragment(QTextDocumentFragment(rendering.document))
        cursor.endEditBlock()
        first = document.findBlock(self._settled_end)
        if rendering is None or not rendering.joined:
            first = first.next()
        items = first.textList()
        if self._stop.mode is Mode.ITEM and items is not None:
            list_format = items.format()
            if list_format.style() == QTextListFormat.Style.ListDecimal and list_format.start() != self._number:
                list_format.setStart(self._number)
                items.setFormat(list_format)
        return first

    def _insert_code(self, cursor: QTextCursor, markdown: str) -> None:
        """Append the lines of fenced code in ``markdown`` as blocks formatted like the code line
        before them, up to the closing fence; a last line still arriving shows as it is so far."""
        block_format, char_format = self._code_formats
        fence, indent = self._stop.fence, self._stop.indent
        lines = markdown.split("\n")
        if not lines[-1]:
            lines.pop()  # the text ends with a complete line
        for line in lines:
            if closes_fence(line, fence, top_level=True):
                return
            cursor.insertBlock(block_format, char_format)
            cursor.insertText(code_text(line, indent), char_format)

    def _render(self, markdown: str) -> _Rendering:
        """``markdown`` rendered and shaded in a scratch document, as the settled text's stop says,
        to be inserted at the end of the settled blocks' last block.

        It is rendered after a stand-in paragraph, which is then removed.  After a JOIN stop it
        follows the stand-in as the stop's text follows the settled paragraph (on the next line,
        after a space or straight on): it goes on with a paragraph, as it does in the reply, and
        joins the settled one (in a new block after a hard line break, or without a gap when that
        paragraph is already ``_PARAGRAPH_LIMIT`` long).  Otherwise (and where the stand-in does
        not stay a paragraph: a heading underline follows) it follows the stand-in after a blank
        line, so that it renders as it does after other blocks (at the start of a document, Qt's
        importer drops the empty lines that start fenced code), and the stand-in's emptied block
        merges into the settled block: the rendering's first block comes after it, with its own
        format.
        """
        scratch = QTextDocument()
        scratch.setDefaultFont(self.document().defaultFont())
        if self._stop.mode is Mode.JOIN:
            # Two lines: only a paragraph's first line can be a table's header.
            scratch.setMarkdown("x\nx" + self._stop.separator + markdown)
            first = scratch.begin()
            if first.text().startswith("x x") and not first.blockFormat().headingLevel():
                cursor = QTextCursor(scratch)
                cursor.movePosition(QTextCursor.MoveOperation.NextCharacter, QTextCursor.MoveMode.KeepAnchor, 3)
                cursor.removeSelectedText()
                if self._paragraph_full():
                    if first.text().startswith(" "):
                        cursor.deleteChar()  # what the line break or space shows as
                    if first.text():
                        block_format = first.blockFormat()
                        block_format.setTopMargin(0)
                        cursor.insertBlock(block_format, first.charFormat())
                self._shade_code_blocks(scratch)
                return _Rendering(scratch, joined=True)
        scratch.setMarkdown("x\n\n" + markdown)
        cursor = QTextCursor(scratch)
        cursor.deleteChar()
        cursor.setBlockFormat(QTextBlockFormat())
        cursor.setBlockCharFormat(QTextCharFormat())
        self._shade_code_blocks(scratch)
        return _Rendering(scratch, joined=False)

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
