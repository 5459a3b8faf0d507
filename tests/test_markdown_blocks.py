"""The Markdown block scanner on text alone: where a streaming reply may be cut (no Qt here).

Each case is a text and what the scanner makes of it: the text cut at its stops, each piece with
the mode of the stop it starts at ("" for text before the first stop).  Whether the view renders
the pieces as a whole render shows them is tested with the widget in tests/test_ui_chat.py.
"""

from __future__ import annotations

import itertools

import pytest

from desktop_app.ui.markdown_blocks import LOOKAHEAD, TAIL_LIMIT, BlockScanner, Mode, Stop, closes_fence, code_text


def pieces(text: str, stops: list[Stop]) -> list[tuple[str, str]]:
    """``text`` cut at ``stops``: (mode of the stop a piece starts at, the piece)."""
    cuts = [0, *(stop.position for stop in stops), len(text)]
    modes = ["", *(stop.mode.value for stop in stops)]
    cut = [(mode, text[start:end]) for mode, (start, end) in zip(modes, itertools.pairwise(cuts), strict=True)]
    return cut if cut[0] != ("", "") else cut[1:]


CASES: list[tuple[str, str, list[tuple[str, str]]]] = [
    (
        "paragraphs: continuation lines join, a blank line ends one",
        "First paragraph\non two lines.\n\nSecond one.\n",
        [("block", "First paragraph\n"), ("join", "on two lines.\n\n"), ("block", "Second one.\n")],
    ),
    (
        "hard line breaks (two spaces, a backslash) join too",
        "line one  \nline two\\\nline three\n",
        [("block", "line one  \n"), ("join", "line two\\\n"), ("join", "line three\n")],
    ),
    (
        "headings end a paragraph and start a block of their own",
        "# Title\nText under it.\n## Sub\nmore\n",
        [("block", "# Title\n"), ("block", "Text under it.\n"), ("block", "## Sub\n"), ("block", "more\n")],
    ),
    (
        "a setext underline makes the paragraph a heading: no stop before it",
        "Setext\nheading\n===\nafter\n",
        [("block", "Setext\n"), ("join", "heading\n===\n"), ("block", "after\n")],
    ),
    (
        "a rule, then a paragraph",
        "***\ntext\n",
        [("block", "***\n"), ("block", "text\n")],
    ),
    (
        "fenced code: a stop after each line, blank ones too, and after the closing fence",
        "Intro:\n```py\nx = 1\n\ny = 2\n```\nAfter.\n",
        [
            ("block", "Intro:\n"),
            ("block", "```py\nx = 1\n"),
            ("code", "\n"),
            ("code", "y = 2\n"),
            ("code", "```\n"),
            ("block", ""),
            ("block", "After.\n"),
        ],
    ),
    (
        "what looks like Markdown inside a fence is code; a shorter or other fence does not close it",
        "~~~~\n# no heading\n- no list\n~~~\n```\n~~~~\nend\n",
        [
            ("block", "~~~~\n# no heading\n"),
            ("code", "- no list\n"),
            ("code", "~~~\n"),
            ("code", "```\n"),
            ("code", "~~~~\n"),
            ("block", ""),
            ("block", "end\n"),
        ],
    ),
    (
        "indented code is not followed: only a column-0 line after a blank line ends it",
        "Para\n\n    indented code\n    # not a heading\n\nback\n",
        [("block", "Para\n\n    indented code\n    # not a heading\n\n"), ("block", "back\n")],
    ),
    (
        "a fence indented 4 columns is indented code",
        "    ```\n    not a fence\ntext\n",
        [("block", "    ```\n    not a fence\ntext\n")],
    ),
    (
        "a list: each item of the same kind is an ITEM stop, its content goes with it",
        "- one\n- two\n  continued\n- three\n\nAfter.\n",
        [("block", "- one\n"), ("item", "- two\n  continued\n"), ("item", "- three\n\n"), ("block", "After.\n")],
    ),
    (
        "an ordered list of another delimiter starts a list the scan does not follow",
        "1. one\n2. two\n3) other kind\n4) more\n",
        [("block", "1. one\n"), ("item", "2. two\n3) other kind\n4) more\n")],
    ),
    (
        "a list item's content after a blank line is not followed",
        "- item\n\n  second paragraph of it\n- next\n",
        [("block", "- item\n\n  second paragraph of it\n- next\n")],
    ),
    (
        "a heading ends a list",
        "* a\n* b\n# Heading\n",
        [("block", "* a\n"), ("item", "* b\n"), ("block", "# Heading\n")],
    ),
    (
        "only a list item numbered 1 interrupts a paragraph",
        "Some text\n2. not a list\n1. a list\n",
        [("block", "Some text\n"), ("join", "2. not a list\n"), ("block", "1. a list\n")],
    ),
    (
        "a quote, with a lazy continuation line, ends at a blank line",
        "> quoted\n> more\nlazy\n\nout\n",
        [("block", "> quoted\n> more\nlazy\n\n"), ("block", "out\n")],
    ),
    (
        "a quote ends at a block that starts",
        "> quoted\n# Heading\n",
        [("block", "> quoted\n"), ("block", "# Heading\n")],
    ),
    (
        "a table's rows go on (a heading is a row) until a blank line",
        "| a | b |\n|---|---|\n| 1 | 2 |\n# still a row\n\nafter\n",
        [("block", "| a | b |\n|---|---|\n| 1 | 2 |\n# still a row\n\n"), ("block", "after\n")],
    ),
    (
        "a table cannot interrupt a paragraph (as Qt's importer reads it): its lines join it",
        "intro\n| a | b |\n|---|---|\n",
        [("block", "intro\n"), ("join", "| a | b |\n"), ("join", "|---|---|\n")],
    ),
    (
        "indented code ends a table; a column-0 heading after it is a block",
        "| a |\n|---|\n    code\n# Heading\n",
        [("block", "| a |\n|---|\n    code\n"), ("block", "# Heading\n")],
    ),
    (
        "HTML goes on until a blank line, whatever it holds",
        "<div>\n# no\n</div>\n\npara\n",
        [("block", "<div>\n# no\n</div>\n\n"), ("block", "para\n")],
    ),
    (
        "front matter shows as nothing: no stop inside it",
        "---\ntitle: x\n---\nbody\n",
        [("", "---\ntitle: x\n---\n"), ("block", ""), ("block", "body\n")],
    ),
    (
        "Chinese text without spaces: lines join as any paragraph's",
        "这是一个很长的中文段落\n没有空格的第二行\n\n第二段\n",
        [("block", "这是一个很长的中文段落\n"), ("join", "没有空格的第二行\n\n"), ("block", "第二段\n")],
    ),
    (
        "streaming: the last line, not complete, makes no stop yet",
        "# Title\nText und",
        [("block", "# Title\nText und")],
    ),
    (
        "streaming: nothing is known of a first line still arriving",
        "A paragraph still stre",
        [("", "A paragraph still stre")],
    ),
    (
        "streaming: inside a fence still open, each complete line is settled",
        "```\nopen fence, streaming\nline two\nline th",
        [("block", "```\nopen fence, streaming\n"), ("code", "line two\n"), ("code", "line th")],
    ),
]


@pytest.mark.parametrize(("text", "expected"), [case[1:] for case in CASES], ids=[case[0] for case in CASES])
def test_stops(text: str, expected: list[tuple[str, str]]) -> None:
    assert pieces(text, BlockScanner().feed(text)) == expected


@pytest.mark.parametrize("text", [case[1] for case in CASES], ids=[case[0] for case in CASES])
def test_a_stop_once_found_stays_whatever_follows(text: str) -> None:
    # Fed as a reply streams (the whole text so far, one more character each time), the scanner
    # finds the stops it finds in the whole text, each once: what it settles never changes.
    scanner = BlockScanner()
    found: list[Stop] = []
    for end in range(1, len(text) + 1):
        found += scanner.feed(text[:end])
    assert found == BlockScanner().feed(text)
    assert scanner.scanned == text.rfind("\n") + 1


def test_code_stops_carry_their_fence() -> None:
    stops = BlockScanner().feed("  ~~~~ rust\nfn main() {}\n")
    assert stops[-1] == Stop(len("  ~~~~ rust\nfn main() {}\n"), Mode.CODE, fence="~~~~", indent=2)


@pytest.mark.parametrize(
    ("before", "line", "in_paragraph"),
    [
        ("", "Plain words still arriving", True),
        ("", "- a list item", False),
        ("", "# a heading", False),
        ("", "| a | b", False),  # may be a table's header
        ("", "<span>", False),
        ("", "    indented code", False),
        ("Para\n", "goes on", True),
        ("Para\n", "    indented: still the paragraph", True),
        ("Para\n", "===", False),  # the paragraph is a heading
        ("Para\n", "> a quote", False),
        ("| a |\n", "|---|", False),  # the paragraph is a table
        ("```\n", "code", False),
        ("- item\n", "more of it", False),
        ("Para\n\n", "new paragraph", True),
        ("Para\n\n", "  indented after a blank line", False),
        ("---\n", "title: front matter", False),
    ],
)
def test_whether_the_last_line_is_in_a_paragraph(before: str, line: str, in_paragraph: bool) -> None:
    scanner = BlockScanner()
    scanner.feed(before)
    assert scanner.in_paragraph(line) is in_paragraph


WORDS = "word " * 80
"""400 characters of one line with spaces."""
HANZI = "中文没有空格" * 50
"""300 characters of one line without a space."""


@pytest.mark.parametrize(
    ("text", "settled", "expected"),
    [
        # Before the last single space that leaves LOOKAHEAD characters after it.
        (WORDS, 0, Stop(len(WORDS) - LOOKAHEAD, Mode.JOIN, separator=" ")),
        # The same line as a paragraph's continuation.
        ("Intro\n" + WORDS, 0, Stop(6 + len(WORDS) - LOOKAHEAD, Mode.JOIN, separator=" ")),
        # Between two letters where the text has no space.
        (HANZI, 0, Stop(len(HANZI) - LOOKAHEAD, Mode.JOIN, separator="")),
        # Never inside a run of spaces (two show as one).
        ("x" * 250 + "  " + "y" * 150, 0, Stop(302, Mode.JOIN, separator="")),
        # Too short a line, or too little of it after the settled part.
        ("word " * (TAIL_LIMIT // 5 - 1), 0, None),
        (WORDS, len(WORDS) - TAIL_LIMIT + 10, None),
        # Not a paragraph.
        ("- " + WORDS, 0, None),
        ("```\n" + WORDS, 0, None),
        ("| " + WORDS, 0, None),
        # Punctuation on both sides, no space: nowhere to cut.
        ("." * 300, 0, None),
    ],
    ids=["spaces", "continuation", "chinese", "double-space", "short", "settled", "list", "code", "table", "dots"],
)
def test_a_stop_inside_a_long_last_line(text: str, settled: int, expected: Stop | None) -> None:
    scanner = BlockScanner()
    scanner.feed(text)
    assert scanner.stop_in_line(text, settled) == expected


@pytest.mark.parametrize(
    ("line", "marker", "top_level", "closes"),
    [
        ("```", "```", True, True),
        ("`````", "```", True, True),  # longer closes
        ("``", "```", True, False),  # shorter does not
        ("~~~", "```", True, False),  # another kind does not
        ("``` py", "```", True, False),  # a closing fence has no info string
        ("   ```  ", "```", True, True),
        ("    ```", "```", True, False),  # 4 columns: code
        ("    ```", "```", False, True),  # inside a list item its indentation is the item's
    ],
)
def test_closing_fences(line: str, marker: str, top_level: bool, closes: bool) -> None:
    assert closes_fence(line, marker, top_level) is closes


@pytest.mark.parametrize(
    ("line", "indent", "shown"),
    [
        ("    a", 2, "  a"),  # the fence's indentation is removed
        ("  b", 4, "b"),  # no more than there is
        ("\t x", 0, "     x"),  # a tab is indentation to the next multiple of 4
        ("x\ty  ", 0, "x\ty  "),  # the rest is verbatim
    ],
)
def test_code_lines_show_as_qt_shows_them(line: str, indent: int, shown: str) -> None:
    assert code_text(line, indent) == shown
