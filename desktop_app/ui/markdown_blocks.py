"""Where a streaming Markdown text can be cut: the part before shows the same whatever follows.

A chat reply arrives a few characters at a time.  Rendering all of it again on every append costs
in proportion to its length; rendering once what can no longer change ("settled") and only the
tail after it again costs the same at the end of a long reply as at its start.  This module finds
the places ("stops") where the text may be cut, from the text alone, line by line
(:class:`BlockScanner`); :mod:`desktop_app.ui.markdown_view` renders the parts.  It holds no Qt,
so the rules can be tested on text (tests/test_markdown_blocks.py).

Stops (each complete line is looked at once):

* before a line that starts a top-level block: a column-0 line after a blank line, a heading, a
  fence, a quote or a rule that interrupts a paragraph or ends a list, the line after a heading
  or after fenced code (:attr:`Mode.BLOCK`);
* before another item of the top-level list being written (:attr:`Mode.ITEM`);
* after each line of top-level fenced code: a code line is literal (:attr:`Mode.CODE`);
* before each continuation line of a top-level paragraph, and inside a long last line of one
  (:meth:`BlockScanner.stop_in_line`): before a space, or between two letters or digits in a text
  without spaces (:attr:`Mode.JOIN`).  Whether the part before such a stop shows the same as the
  paragraph whole (no emphasis, code span or link crossing it) only a rendering can tell: the view
  checks that before settling at one.

Conservative: where a line's role is not certain without more context (indentation inside a list
item, HTML, tables), no stop is made, which only settles less.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass

TAIL_LIMIT = 200
"""Characters of a paragraph the unsettled tail holds before the paragraph is settled in part:
about what one append re-renders, at most, of a long paragraph."""
LOOKAHEAD = 100
"""Characters of a line left unsettled after a stop inside it: the text the part before the stop
is checked against (an emphasis or link begun before it that ends within them is seen)."""


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


def code_text(line: str, indent: int) -> str:
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


def closes_fence(line: str, marker: str, top_level: bool) -> bool:
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


class Mode(enum.Enum):
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
class Stop:
    """A position of the text where the settled part can end, and how the text after it shows."""

    position: int
    mode: Mode
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


class BlockScanner:
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

    def feed(self, text: str) -> list[Stop]:
        """Scan the complete lines of ``text`` (the whole text so far) not yet seen; their stops."""
        stops: list[Stop] = []
        start = self.scanned
        end = text.rfind("\n", start) + 1
        while start < end:
            stop = text.index("\n", start) + 1
            self._line(text[start : stop - 1], start, stop, stops)
            start = stop
        self.scanned = start
        return stops

    def _line(self, line: str, start: int, end: int, stops: list[Stop]) -> None:
        hard_break = self._hard_break  # the line before this one's
        self._hard_break = line.endswith("  ") or (len(line) - len(line.rstrip("\\"))) % 2 == 1
        if self._fence:
            self._code_line(line, end, stops)
            return
        if self._front_matter or (start == 0 and line == "---"):
            self._front_matter = start == 0 or line != "---"
            if not self._front_matter:
                stops.append(Stop(end, Mode.BLOCK))
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

    def _list_line(self, body: str, indent: int, start: int, stops: list[Stop]) -> bool:
        """A line after a top-level list's: another item of it (an ITEM stop), a top-level block
        that ends it, or the item's content (nothing); whether it was dealt with."""
        kind, list_indent, content = self._list
        item = _ITEM.match(body)
        if indent <= list_indent:
            if _RULE.match(body) or _opens_fence(body) or _HEADING.match(body) or body.startswith(">"):
                self._begin(body, indent, start, stops)
            elif item is not None and item.group(1)[-1] == kind and indent == list_indent:
                stops.append(Stop(start, Mode.ITEM))
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

    def _begin(self, body: str, indent: int, start: int, stops: list[Stop]) -> None:
        """A top-level block starts with this line: a BLOCK stop, and the run it begins."""
        stops.append(Stop(start, Mode.BLOCK))
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

    def _paragraph_line(self, body: str, indent: int, start: int, hard_break: bool, stops: list[Stop]) -> None:
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
        stops.append(Stop(start, Mode.JOIN, separator="  \n" if hard_break else "\n"))

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

    def stop_in_line(self, text: str, settled: int) -> Stop | None:
        """A JOIN stop inside the last line of ``text`` (the whole text so far, its complete lines
        fed), if that line is long and in a top-level paragraph: before a space, else between two
        letters or digits (a text without spaces, as Chinese is written), ``LOOKAHEAD`` characters
        or more before its end and after ``settled`` (the length of the text settled already)."""
        line_start = self.scanned
        start = max(line_start, settled) + 1
        end = len(text) - LOOKAHEAD
        if end - start < TAIL_LIMIT - LOOKAHEAD or not self.in_paragraph(text[line_start:]):
            return None
        space = text.rfind(" ", start, end)
        while space > start and text[space - 1] == " ":  # a single space: one shows as one
            space = text.rfind(" ", start, space - 1)
        if space > start and not text[space + 1].isspace():
            return Stop(space + 1, Mode.JOIN, separator=" ")
        if text[end - 1].isalnum() and text[end].isalnum():
            return Stop(end, Mode.JOIN, separator="")
        return None

    def _code_line(self, line: str, end: int, stops: list[Stop]) -> None:
        """A line inside fenced code: each line of a top-level block is a CODE stop after it."""
        top_level = self._fence_indent >= 0
        if closes_fence(line, self._fence, top_level):
            self._fence = ""
            if top_level:
                stops.append(Stop(end, Mode.BLOCK))
            return
        if top_level and (self._code or line.strip()):
            self._code = True
            stops.append(Stop(end, Mode.CODE, fence=self._fence, indent=self._fence_indent))

