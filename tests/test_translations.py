"""The translations: every string the window can show has its Simplified Chinese, finished, with
the same placeholders; the committed ``.qm`` files are what ``lrelease`` makes of the ``.ts``;
sentence templates are literals; and Qt's own Chinese ships with PySide6.

A string in the code without its translation, or a translation whose string is gone, fails: a
feature's new words are translated (``make translations``, then the ``.ts``) before it lands.
"""

from __future__ import annotations

import re
import shutil
import string
import sys
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

import pytest

from desktop_app.ui import language

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "packaging"))
import translations

_PLACEHOLDER = re.compile(r"\{[A-Za-z_][A-Za-z0-9_]*\}")
_QT_ARGUMENT = re.compile(r"%L?\d")
_COUNT = re.compile(r"%L?n")
_MNEMONIC = re.compile(r"&(?!&)\w")


@dataclass(frozen=True)
class Message:
    context: str
    source: str
    numerus: bool
    state: str | None
    """The translation's ``type``: None when finished; "unfinished", "obsolete", "vanished"."""
    forms: tuple[str, ...]


def _messages(path: Path) -> list[Message]:
    found = []
    for context in ET.parse(path).getroot().iter("context"):
        name = context.findtext("name") or ""
        for message in context.iter("message"):
            translation = message.find("translation")
            assert translation is not None
            numerus = message.get("numerus") == "yes"
            forms = (
                tuple(form.text or "" for form in translation.iter("numerusform"))
                if numerus
                else (translation.text or "",)
            )
            found.append(Message(name, message.findtext("source") or "", numerus, translation.get("type"), forms))
    return found


def _keys(messages: list[Message]) -> set[tuple[str, str]]:
    return {(m.context, m.source) for m in messages}


@pytest.fixture(scope="module")
def extracted(tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[Message]]:
    """What ``make translations`` would write from the code as it is, for each catalog."""
    folder = tmp_path_factory.mktemp("ts")
    copies = []
    for code in translations.LANGUAGES:
        copy = folder / translations.ts_path(code).name
        shutil.copy(translations.ts_path(code), copy)
        copies.append((code, copy))
    translations.lupdate(copies)
    return {code: _messages(copy) for code, copy in copies}


def _pending(extracted: list[Message], committed: list[Message]) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    new = sorted(_keys(extracted) - _keys(committed))
    gone = sorted(_keys(committed) - _keys(extracted))
    return new, gone


@pytest.mark.parametrize("code", translations.LANGUAGES)
def test_every_string_of_the_code_has_its_translation(code: str, extracted: dict[str, list[Message]]) -> None:
    new, gone = _pending(extracted[code], _messages(translations.ts_path(code)))
    assert not new, f"strings without a translation in {code} (run make translations, then translate): {new}"
    assert not gone, f"translations of strings no longer in the code (run make translations): {gone}"


@pytest.mark.parametrize("code", translations.LANGUAGES)
def test_every_translation_is_finished_and_keeps_its_placeholders(code: str) -> None:
    problems = []
    for message in _messages(translations.ts_path(code)):
        where = f"{message.context or '(sentences)'}: {message.source!r}"
        if message.state is not None:
            problems.append(f"{where} is {message.state}")
            continue
        if not all(message.forms):
            problems.append(f"{where} has an empty translation")
            continue
        wanted = {
            "placeholders": sorted(_PLACEHOLDER.findall(message.source)),
            "Qt arguments": sorted(_QT_ARGUMENT.findall(message.source)),
        }
        for form in message.forms:
            for kind, expected in wanted.items():
                got = sorted((_PLACEHOLDER if kind == "placeholders" else _QT_ARGUMENT).findall(form))
                if got != expected:
                    problems.append(f"{where}: {form!r} has {kind} {got}, the source {expected}")
            if _MNEMONIC.search(message.source) and not _MNEMONIC.search(form):
                problems.append(f"{where}: {form!r} lost its keyboard mnemonic (&)")
        # The count may be left out of a singular ("Send the first page"), never of the general form.
        if _COUNT.search(message.source) and not _COUNT.search(message.forms[-1]):
            problems.append(f"{where}: {message.forms[-1]!r} lost its count (%n)")
    assert not problems, "\n".join(problems)


def test_the_chinese_catalog_holds_every_string_the_english_one_does() -> None:
    chinese = _keys(_messages(translations.ts_path("zh_CN")))
    assert _keys(_messages(translations.ts_path("en"))) <= chinese


def test_lupdate_and_the_syntax_tree_find_the_same_strings(extracted: dict[str, list[Message]]) -> None:
    """lupdate's Python reader skips some calls without a word; a second reading catches that,
    and a template that is not a literal (which no translation could match)."""
    found, problems = translations.code_strings()
    assert not problems, "\n".join(problems)
    assert found == _keys(extracted["zh_CN"])


def test_sentence_templates_have_plain_placeholders() -> None:
    """The window fills templates itself (numbers in its locale): no format specs or conversions."""
    found, _ = translations.code_strings()
    bad = []
    for context, text in found:
        if context:
            continue
        try:
            fields = [parsed for parsed in string.Formatter().parse(text) if parsed[1] is not None]
        except ValueError as exc:
            bad.append(f"{text!r}: {exc}")
            continue
        bad.extend(f"{text!r}: {{{name}}}" for _, name, spec, conversion in fields if spec or conversion or not name)
    assert not bad, "\n".join(bad)


@pytest.mark.parametrize("code", translations.LANGUAGES)
def test_the_shipped_qm_is_compiled_from_its_ts(code: str, tmp_path: Path) -> None:
    compiled = tmp_path / "fresh.qm"
    translations.lrelease(translations.ts_path(code), compiled)
    assert translations.qm_path(code).read_bytes() == compiled.read_bytes(), "run make translations"


def test_the_qm_files_are_package_data() -> None:
    """Wheels and frozen builds carry the .qm beside the package (pyproject and the PyInstaller hook)."""
    root = Path(translations.ROOT)
    assert '"translations/*.qm"' in (root / "pyproject.toml").read_text("utf-8")
    assert '"translations/*.qm"' in (root / "packaging" / "hooks" / "hook-desktop_app.py").read_text("utf-8")
    assert language.TRANSLATIONS_DIR == translations.TRANSLATIONS


def test_qt_ships_its_own_chinese_for_the_standard_dialogs() -> None:
    folder = language.qt_translations_dir()
    assert (folder / "qtbase_zh_CN.qm").is_file()
    assert (folder / "qt_zh_CN.qm").is_file()
