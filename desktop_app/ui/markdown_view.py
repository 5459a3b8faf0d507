"""A read-only Markdown block that is exactly as tall as its text, for one chat message.

Rendering is Qt's own (``QTextDocument.setMarkdown``, GitHub dialect); this widget only sizes
itself to its document, shades code blocks with a colour derived from the palette (so dark mode
stays readable) and lets wheel scrolling through to the chat around it.

A streaming reply is rendered incrementally, so that showing one more token costs the same at
the end of a long reply as at its start: the Markdown up to its last "stop" is settled and
rendered once; each append re-renders only the unsettled tail after it.  Stops are found line by
line (``_Scanner``) where what comes before shows the same whatever follows:

* before a line that starts a top-level block: a column-0 line after a blank line, a heading, a
  fence, a quote or a rule that interrupts a paragraph or ends a list, the line after a heading
  or after fenced code;
* before another item of the top-level list being written: it is rendered on its own, as a list
  numbered on from the items shown (making it an item of their list would lay out all of them
  again on every append);
* after each line of top-level fenced code: a code line is literal, so it is appended as a block
  formatted like the line before it (font and shade included), with the text Qt's importer gives
  it (the fence's indentation removed, tabs in the indentation as spaces, the rest verbatim);
* inside a top-level paragraph whose tail has grown to ``_TAIL_LIMIT`` characters: before its
  last complete line, or, in one long line, before a space (between two letters or digits in a
  text without spaces) ``_LOOKAHEAD`` characters or more before its end; only where the part
  before the stop, rendered alone, shows the same characters in the same formats as the tail
  rendered whole (so no emphasis, code span or link crosses the stop).  What follows is rendered
  after a stand-in that is then removed, so that it joins the paragraph as it does in the text.

While a reply streams, the display can differ from rendering it whole; the finished reply is
rendered once more as a whole, which shows it exactly.  What can differ:

* a list whose items are separated by blank lines shows as several lists (each numbered from its
  first item's own number), and a reference link defined later stays literal;
* a paragraph longer than ``_PARAGRAPH_LIMIT`` characters goes on in a new block at its next
  stop, without a gap, so a line ends early there (a block is laid out and painted again as a
  whole when text joins it: one long block would cost in proportion to its length on every
  append);
* where a paragraph is settled in part, an emphasis or link that began before the stop and ends
  only more than a line (or ``_LOOKAHEAD`` characters) after it shows its markers, and a heading
  underline (``===``, ``---``) that comes later makes only the text after the stop a heading.

What is still settled only as a whole, so re-rendered on every append while it grows: a table (Qt
lays out all of a table's rows again on any change to it anyway), a block quote, a list item (a
long line in one, code fenced in one) and HTML.
"""

from __future__ import annotations

import enum
import math
import re
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

_TAIL_LIMIT = 200
"""Characters of a paragraph the unsettled tail holds before the paragraph is settled in part:
about what one append re-renders, at most, of a long paragraph."""
_LOOKAHEAD = 100
"""Characters of a line left unsettled after a stop inside it: the text the part before the stop
is checked against (an emphasis or link begun before it that ends within them is seen)."""
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


# Line patterns, matched after a line's indentation.
_FENCE = re.compile(r"(`{3,}|~{3,})(.*)")
"""A code fence: its marker and what follows (an info string, or nothing on a closing one)."""
_HEADING = re.compile(r"#{1,6}(?:[ \t]|$)")
_RULE = re.compile(r"(?:(?:\*[ \t]*){3,}|(?:-[ \t]*){3,}|(?:_[ \t]*){3,})$")
_UNDERLINE = re.compile(r"(?:=+|-+)[ \t]*$")
"""A setext heading's underline, which makes the paragraph above it a heading."""
_ITEM = re.compile(r"([-+*]|(\d{1,9})[.)])(?:[ \t]+(\S)?|$)")
"""A list item's marker (its number, if ordered) and the first character of its text."""
_DELIMITER_ROW = re.compile(r"\|?[ \t]*:?-+:?[ \t]*(?:\|[ \t]*:?-+:?[ \t]*)*\|?[ \t]*$")
"""The row under a table's header."""


def _indentation(line: str) -> tuple[int, str]:
    """The columns of ``line``'s leading whitespace (tabs stop every 4) and the rest of it."""
    body = line.lstrip(" \t")
    columns = 0
    for char in line[: len(line) - len(body)]:
        columns = columns + 4 - columns % 4 if char == "\t" else columns + 1
    return columns, body


def _code_text(line: str, indent: int) -> str:
    """A line of a fenced code block as Qt's importer shows it: up to the fence's ``indent`` columns
    of indentation removed, the rest of the indentation as spaces, the line otherwise verbatim."""
    columns, body = _indentation(line)
    return " " * max(columns - indent, 0) + body


def _opens_fence(body: str) -> re.Match[str] | None:
    """``body`` (a line without its indentation) as a code fence that opens a block, or None."""
    fence = _FENCE.match(body)
    if fence is None or (fence.group(1)[0] == "`" and "`" in fence.group(2)):
        return None
    return fence


def _closes_fence(line: str, marker: str, top_level: bool) -> bool:
    """Whether ``line`` closes the fenced code block opened with ``marker``.

    A top-level block's closing fence is indented less than 4 columns (more makes it code); one
    inside a list item is indented with it, so any indentation counts there, which at worst settles
    less.
    """
    indent, body = _indentation(line)
    fence = _FENCE.match(body)
    return (
        fence is not None
        and not fence.group(2).strip()
        and fence.group(1)[0] == marker[0]
        and len(fence.group(1)) >= len(marker)
        and (indent < 4 or not top_level)
    )


def _interrupts_paragraph(item: re.Match[str]) -> bool:
    """Whether a list item starts a list after a paragraph line rather than continuing it."""
    return item.group(3) is not None and (item.group(2) is None or int(item.group(2)) == 1)


def _list_item(item: re.Match[str], indent: int) -> tuple[str, int, int]:
    """A list item's marker kind ("-", "*", "+", "." or ")"), its indentation and the column its
    content starts at (1 to 4 spaces after the marker; 1 past it when more or none)."""
    marker = item.group(1)
    spaces = item.start(3) - len(marker) if item.group(3) is not None else 1
    return marker[-1], indent, indent + len(marker) + (spaces if spaces <= 4 else 1)


def _starts_block(body: str, after_paragraph: bool) -> bool:
    """Whether a line indented less than 4 columns (``body``, without its indentation) starts a
    fenced code block, a heading, a rule, a quote or a list item (after a paragraph's line, only
    some list items start one)."""
    item = _ITEM.match(body)
    return bool(
        _opens_fence(body)
        or _HEADING.match(body)
        or _RULE.match(body)
        or body.startswith(">")
        or (item is not None and (not after_paragraph or _interrupts_paragraph(item)))
    )


class _Mode(enum.Enum):
    """How the text after a stop is shown while its reply streams."""

    BLOCK = "block"
    """New top-level blocks start there: rendered on their own."""
    ITEM = "item"
    """More items of the top-level list just settled: rendered on their own, numbered on from it."""
    CODE = "code"
    """More lines of the top-level fenced code just settled: shown literally, formatted as its last
    line."""
    JOIN = "join"
    """The paragraph just settled goes on (after a line break, a space or straight on): the text
    joins that paragraph."""


@dataclass(frozen=True)
class _Stop:
    """A position of the text where the settled part can end, and how the text after it shows."""

    position: int
    mode: _Mode
    fence: str = ""
    """For CODE, the marker of the fence the code is in."""
    indent: int = 0
    """For CODE, the indentation of that fence (removed from its lines)."""
    separator: str = "\n"
    """For JOIN, what comes between the settled paragraph and the text after the stop: a line
    break ("\n"), a hard one ("  \n", for 2 spaces or a backslash), a space, or nothing."""

    @property
    def hard_break(self) -> bool:
        """Whether the text after the stop goes on in a new block, as after a hard line break."""
        return self.separator == "  \n"


class _Run(enum.Enum):
    """What the lines since the last top-level block began are, as far as stops are concerned."""

    START = enum.auto()
    """The next line starts a top-level block, whatever its indentation (after a heading, a rule,
    the end of a top-level fenced code block, and at the start of the text)."""
    AFTER_BLANK = enum.auto()
    """After a blank line: a column-0 line starts a top-level block; an indented one may continue
    a list item."""
    PARAGRAPH = enum.auto()
    """A top-level paragraph: its continuation lines are JOIN stops."""
    LIST = enum.auto()
    """A top-level list: its next items are ITEM stops."""
    QUOTE = enum.auto()
    """A top-level block quote: only a blank line or a block that starts ends it."""
    OTHER = enum.auto()
    """What the scan does not follow (indented code, a list item's content after a blank line, a
    list that took a turn): only a column-0 block start makes a stop."""
    TABLE = enum.auto()
    """A table: its rows go on (a fence or a heading is a row) until a blank line, or a line
    that starts indented code, a quote, a list or a rule."""
    HTML = enum.auto()
    """HTML: only a blank line ends it."""


class _Scanner:
    """Finds the stops of a streaming Markdown text; each complete line is looked at once.

    Conservative: where a line's role is not certain without more context (indentation inside a
    list item, HTML, tables), it makes no stop, which only settles less.
    """

    def __init__(self) -> None:
        self.scanned = 0
        """Length of the text's complete lines seen."""
        self._run = _Run.START
        self._list = ("", 0, 0)
        """The marker kind ("-", "*", "+", "." or ")") and indentation of the run's list, and the
        column its last item's text starts at (its content's indentation)."""
        self._fence = ""
        """The marker of the fenced code block the scan is in ("" outside one)."""
        self._fence_indent = -1
        """That block's indentation when it is top-level (its lines are stops); -1 inside a block."""
        self._code = False
        """Whether the top-level fenced code block had a line with text yet: its lines are settled
        one by one after one, whose rendering gives the code's formats (at the start of a
        document, Qt's importer drops the empty lines before it)."""
        self._table_header = False
        """Whether the run is a paragraph of one line that could be a table's header row."""
        self._hard_break = False
        """Whether the last line ends with a hard line break."""
        self._front_matter = False
        """Whether the scan is in front matter: between a first line "---" and the next one, Qt's
        importer shows nothing (and nothing before its end can be settled)."""

    def feed(self, text: str) -> list[_Stop]:
        """Scan the complete lines of ``text`` (the whole text so far) not yet seen; their stops."""
        stops: list[_Stop] = []
        start = self.scanned
        end = text.rfind("\n", start) + 1
        while start < end:
            stop = text.index("\n", start) + 1
            self._line(text[start : stop - 1], start, stop, stops)
            start = stop
        self.scanned = start
        return stops

    def _line(self, line: str, start: int, end: int, stops: list[_Stop]) -> None:
        hard_break = self._hard_break  # the line before this one's
        self._hard_break = line.endswith("  ") or (len(line) - len(line.rstrip("\\"))) % 2 == 1
        if self._fence:
            self._code_line(line, end, stops)
            return
        if self._front_matter or (start == 0 and line == "---"):
            self._front_matter = start == 0 or line != "---"
            if not self._front_matter:
                stops.append(_Stop(end, _Mode.BLOCK))
                self._run = _Run.START
            return
        indent, body = _indentation(line)
        if not body:
            self._run = _Run.AFTER_BLANK
            return
        if self._run is _Run.START or (self._run is _Run.AFTER_BLANK and indent == 0):
            self._begin(body, indent, start, stops)
            return
        if self._run is _Run.PARAGRAPH:
            self._paragraph_line(body, indent, start, hard_break, stops)
            return
        if self._run is _Run.HTML or (self._run is _Run.TABLE and not self._ends_table(body, indent)):
            return  # even a fence in them is not one
        fence = _opens_fence(body)
        if self._run is _Run.TABLE:
            self._enter(body, indent)
        elif self._run is _Run.AFTER_BLANK:
            self._run = _Run.OTHER
        elif self._run is _Run.LIST:
            if self._list_line(body, indent, start, stops):
                return
        elif self._run is _Run.QUOTE:
            if indent < 4 and not body.startswith(">") and _starts_block(body, after_paragraph=True):
                self._begin(body, indent, start, stops)
                return
        elif (
            self._run is _Run.OTHER
            and indent == 0
            and (fence or _HEADING.match(body) or _RULE.match(body) or body.startswith(">"))
        ):
            self._begin(body, indent, start, stops)
            return
        if fence is not None:
            self._fence, self._fence_indent = fence.group(1), -1

    @staticmethod
    def _ends_table(body: str, indent: int) -> bool:
        """Whether a line after a table's rows ends it (and starts a block of its own)."""
        return indent >= 4 or body.startswith(">") or _RULE.match(body) is not None or _ITEM.match(body) is not None

    def _list_line(self, body: str, indent: int, start: int, stops: list[_Stop]) -> bool:
        """A line after a top-level list's: another item of it (an ITEM stop), a top-level block
        that ends it, or the item's content (nothing); whether it was dealt with."""
        kind, list_indent, content = self._list
        item = _ITEM.match(body)
        if indent <= list_indent:
            if _RULE.match(body) or _opens_fence(body) or _HEADING.match(body) or body.startswith(">"):
                self._begin(body, indent, start, stops)
            elif item is not None and item.group(1)[-1] == kind and indent == list_indent:
                stops.append(_Stop(start, _Mode.ITEM))
                self._list = _list_item(item, indent)
            elif item is not None and indent == 0 and _interrupts_paragraph(item):
                self._begin(body, indent, start, stops)
            elif item is not None:
                self._run = _Run.OTHER
            else:
                return False  # a lazy continuation of the item's paragraph
            return True
        if indent < content and _starts_block(body, after_paragraph=True):
            self._enter(body, indent)  # indented too little for the item: its own block, or not
        return False

    def _enter(self, body: str, indent: int) -> None:
        """Follow a line that may start a top-level block, where it makes no stop."""
        if indent < 4 and body.startswith(">"):
            self._run = _Run.QUOTE
        elif indent < 4 and (_HEADING.match(body) or _RULE.match(body)):
            self._run = _Run.START
        else:
            self._run = _Run.OTHER

    def _begin(self, body: str, indent: int, start: int, stops: list[_Stop]) -> None:
        """A top-level block starts with this line: a BLOCK stop, and the run it begins."""
        stops.append(_Stop(start, _Mode.BLOCK))
        self._table_header = False
        item = _ITEM.match(body)
        fence = _opens_fence(body)
        if indent >= 4:
            self._run = _Run.OTHER
        elif fence is not None:
            self._fence, self._fence_indent, self._code = fence.group(1), indent, False
            self._run = _Run.START
        elif _HEADING.match(body) or _RULE.match(body):
            self._run = _Run.START
        elif body.startswith(">"):
            self._run = _Run.QUOTE
        elif item is not None:
            self._run, self._list = _Run.LIST, _list_item(item, indent)
        elif body.startswith("<"):
            self._run = _Run.HTML
        else:
            self._run, self._table_header = _Run.PARAGRAPH, "|" in body

    def _paragraph_line(self, body: str, indent: int, start: int, hard_break: bool, stops: list[_Stop]) -> None:
        """A line after a top-level paragraph's: it continues it (a JOIN stop) or interrupts it."""
        table_header, self._table_header = self._table_header, False
        if indent < 4:
            if table_header and _DELIMITER_ROW.match(body):
                self._run = _Run.TABLE
                return
            if _UNDERLINE.match(body):
                self._run = _Run.START  # the paragraph is a heading
                return
            if _starts_block(body, after_paragraph=True):
                self._begin(body, indent, start, stops)
                return
            if body.startswith("<"):
                self._run = _Run.HTML
                return
        stops.append(_Stop(start, _Mode.JOIN, separator="  \n" if hard_break else "\n"))

    def in_paragraph(self, line: str) -> bool:
        """Whether ``line``, the text's last line so far (not complete), is in a top-level paragraph
        (the run's, or one it starts) whatever its end: settling part of it is safe."""
        indent, body = _indentation(line)
        if self._fence or self._front_matter or not body:
            return False
        if self._run is _Run.PARAGRAPH:
            return indent >= 4 or not (
                (self._table_header and _DELIMITER_ROW.match(body))
                or _UNDERLINE.match(body)
                or _starts_block(body, after_paragraph=True)
                or body.startswith("<")
            )
        if self._run is _Run.START or (self._run is _Run.AFTER_BLANK and indent == 0):
            # A first line with a "|" may be a table's header.
            return indent < 4 and not (
                _starts_block(body, after_paragraph=False) or body.startswith("<") or "|" in body
            )
        return False

    def _code_line(self, line: str, end: int, stops: list[_Stop]) -> None:
        """A line inside fenced code: each line of a top-level block is a CODE stop after it."""
        top_level = self._fence_indent >= 0
        if _closes_fence(line, self._fence, top_level):
            self._fence = ""
            if top_level:
                stops.append(_Stop(end, _Mode.BLOCK))
            return
        if top_level and (self._code or line.strip()):
            self._code = True
            stops.append(_Stop(end, _Mode.CODE, fence=self._fence, indent=self._fence_indent))


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


def _shows_first(part: QTextDocument, whole: QTextDocument, stop: _Stop) -> bool:
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
        self._scanner = _Scanner()
        self._settled = 0
        """Length of the text settled."""
        self._stop = _Stop(0, _Mode.BLOCK)
        """The stop the settled text ends at: how the tail after it shows."""
        self._join: _Stop | None = None
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
            if stop.mode is _Mode.JOIN:
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
            if self._stop.mode is _Mode.CODE:
                self._code_formats = (last.blockFormat(), self._code_formats[1])

    def _settle(self, stop: _Stop, rendering: _Rendering | None = None) -> None:
        """Settle the text up to ``stop``: render it after the settled blocks, once."""
        first = self._show_after_settled(self._markdown[self._settled : stop.position], rendering)
        document = self.document()
        last = document.lastBlock()
        self._settled_end = last.position() + last.length() - 1
        self._settled_formats = (last.blockFormat(), last.charFormat())
        items = first.textList()
        if stop.mode is _Mode.ITEM and items is not None:
            if self._stop.mode is not _Mode.ITEM:
                self._number = items.format().start()
            self._number += items.count()
        elif stop.mode is _Mode.CODE and self._stop.mode is not _Mode.CODE:
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
        if self._stop.mode is not _Mode.JOIN or self._stop.hard_break:
            return False
        return self._settled_end - self.document().findBlock(self._settled_end).position() > _PARAGRAPH_LIMIT

    def _settle_paragraph(self) -> None:
        """Settle a long paragraph in the tail in part, where the part shows what rendering the
        tail whole shows: up to its last complete line, or inside its last line (one long line)
        before a space, or between two letters or digits where it has no space (a text without
        spaces, as Chinese is written)."""
        text, settled = self._markdown, self._settled
        stop, end = self._join, self._scanner.scanned
        if stop is not None and end - settled >= _TAIL_LIMIT:
            self._join = None  # if the part does not show the same, the next line is the next try
        else:
            stop, end = self._stop_in_line(), len(text)
        if stop is None:
            return
        whole = self._render(text[settled:end])
        part = self._render(text[settled : stop.position])
        if whole.joined == part.joined and _shows_first(part.document, whole.document, stop):
            self._settle(stop, part)

    def _stop_in_line(self) -> _Stop | None:
        """A JOIN stop inside the text's last line, if it is long and in a top-level paragraph,
        ``_LOOKAHEAD`` before its end or more."""
        text = self._markdown
        line_start = self._scanner.scanned
        start = max(line_start, self._settled) + 1
        end = len(text) - _LOOKAHEAD
        if end - start < _TAIL_LIMIT - _LOOKAHEAD or not self._scanner.in_paragraph(text[line_start:]):
            return None
        space = text.rfind(" ", start, end)
        while space > start and text[space - 1] == " ":  # a single space: one shows as one
            space = text.rfind(" ", start, space - 1)
        if space > start and not text[space + 1].isspace():
            return _Stop(space + 1, _Mode.JOIN, separator=" ")
        if text[end - 1].isalnum() and text[end].isalnum():
            return _Stop(end, _Mode.JOIN, separator="")
        return None

    def _show_after_settled(self, markdown: str, rendering: _Rendering | None = None) -> QTextBlock:
        """Replace what follows the settled blocks with ``markdown`` (already rendered as
        ``rendering``, if given), shown as the stop the settled text ends at says; the first
        block shown.

        It is rendered in a scratch document and inserted as a fragment, whose first block merges
        into the settled blocks' last (code lines are inserted as they are), so the document's
        settled blocks are neither parsed nor shaded again.
        """
        document = self.document()
        if self._settled_end == 0 and self._stop.mode is _Mode.BLOCK:
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
        if self._stop.mode is _Mode.CODE:
            self._insert_code(cursor, markdown)
        elif rendering is not None or markdown.strip():
            rendering = rendering or self._render(markdown)
            cursor.insertFragment(QTextDocumentFragment(rendering.document))
        cursor.endEditBlock()
        first = document.findBlock(self._settled_end)
        if rendering is None or not rendering.joined:
            first = first.next()
        items = first.textList()
        if self._stop.mode is _Mode.ITEM and items is not None:
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
            if _closes_fence(line, fence, top_level=True):
                return
            cursor.insertBlock(block_format, char_format)
            cursor.insertText(_code_text(line, indent), char_format)

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
        if self._stop.mode is _Mode.JOIN:
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
