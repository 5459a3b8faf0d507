"""The window's translations, Qt's way: extract with ``pyside6-lupdate``, compile with ``pyside6-lrelease``.

    python packaging/translations.py update    # make translations: refresh the .ts, compile the .qm

The ``.ts`` sources and the compiled ``.qm`` files live in ``desktop_app/translations/``; the
``.qm`` are committed (package data, so a wheel, an editable install and a frozen build carry
them without a build step that would need PySide6 at build time), and ``tests/test_translations.py``
checks that they are what ``lrelease`` makes of the ``.ts`` and that the ``.ts`` hold every
string of the code.

What is extracted: the window's ``self.tr(...)`` and ``QCoreApplication.translate(...)`` strings,
and the English templates of every ``UserError(...)`` (and its subclasses) and ``Sentence(...)``
in the modules whose sentences reach the window, read like Qt's ``QT_TR_NOOP`` into the empty
context, where :mod:`desktop_app.ui.localized` looks them up.  The command line (``cli/``) stays
English and is not scanned.

Two catalogs: ``gemma-desktop_zh_CN.ts`` (every string) and ``gemma-desktop_en.ts``, only the
plural forms of the English (``-pluralonly``: "%n page(s)" is "1 page", "2 pages").  Locations
are left out of the ``.ts`` (``-locations none``) so that editing code does not rewrite them.
"""

from __future__ import annotations

import ast
import shutil
import subprocess
import sys
from collections.abc import Iterable, Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "desktop_app"
TRANSLATIONS = PACKAGE / "translations"
CATALOG = "gemma-desktop"
LANGUAGES = ("zh_CN", "en")
PLURALS_ONLY = ("en",)
"""Catalogs that hold only plural forms: the source language itself."""

NOT_SCANNED = ("cli", "gguf_fixtures.py", "__main__.py")
"""What is not read for strings, under ``desktop_app/``: the command line (English) and the test
models' generator.  Everything else can put words in the window."""

SENTENCE_TYPES = ("UserError", "Sentence")
"""Calls whose first argument is an English template (subclasses of UserError are found)."""

MECHANISM = ("errors.py", "ui/localized.py")
"""The modules that build and look up sentences from templates they are given (not literals)."""


def ts_path(language: str) -> Path:
    return TRANSLATIONS / f"{CATALOG}_{language}.ts"


def qm_path(language: str) -> Path:
    return TRANSLATIONS / f"{CATALOG}_{language}.qm"


def source_files() -> list[Path]:
    """The Python files lupdate reads, in a fixed order."""
    return [
        path
        for path in sorted(PACKAGE.rglob("*.py"))
        if path.relative_to(PACKAGE).parts[0] not in NOT_SCANNED
    ]


def sentence_types(files: Iterable[Path] | None = None) -> list[str]:
    """``UserError``, ``Sentence`` and every class derived from them in the scanned code."""
    parents: dict[str, set[str]] = {}
    for path in files or source_files():
        for node in ast.walk(ast.parse(path.read_text("utf-8"))):
            if isinstance(node, ast.ClassDef):
                parents[node.name] = {base.id for base in node.bases if isinstance(base, ast.Name)}
    found = list(SENTENCE_TYPES)
    grew = True
    while grew:
        grew = False
        for name, bases in sorted(parents.items()):
            if name not in found and bases & set(found):
                found.append(name)
                grew = True
    return found


def code_strings(files: Iterable[Path] | None = None) -> tuple[set[tuple[str, str]], list[str]]:
    """Every (context, source text) the code asks to translate, read from its syntax tree, and
    the calls it cannot read (not a literal, or ``tr`` on another object than ``self``).

    A second reading besides lupdate's: lupdate's Python parser silently skips some calls (a
    ``QCoreApplication.translate`` whose count argument is itself a call), and the translation
    test compares the two.
    """
    files = list(files or source_files())
    sentences = set(sentence_types(files))
    found: set[tuple[str, str]] = set()
    problems: list[str] = []

    def literal(node: ast.expr | None) -> str | None:
        return node.value if isinstance(node, ast.Constant) and isinstance(node.value, str) else None

    def visit(node: ast.AST, path: Path, context: str) -> None:
        if isinstance(node, ast.ClassDef):
            context = node.name
        if isinstance(node, ast.Call):
            where = f"{path.relative_to(ROOT)}:{node.lineno}"
            func = node.func
            name = func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else ""
            args = node.args
            mechanism = path.relative_to(PACKAGE).as_posix() in MECHANISM
            if name in sentences and args:
                text = literal(args[0])
                if text is None and mechanism:
                    pass
                elif text is None:
                    problems.append(f"{where}: {name}() needs a string literal as its template")
                else:
                    found.add(("", text))
            elif name == "tr" and isinstance(func, ast.Attribute):
                text = literal(args[0]) if args else None
                if not (isinstance(func.value, ast.Name) and func.value.id == "self"):
                    problems.append(f"{where}: tr() on another object than self gets the wrong context")
                elif text is None:
                    problems.append(f"{where}: tr() needs a string literal")
                else:
                    found.add((context, text))
            elif name == "translate" and isinstance(func, ast.Attribute) and len(args) >= 2:
                ctx, text = literal(args[0]), literal(args[1])
                if (ctx is None or text is None) and mechanism:
                    pass
                elif ctx is None or text is None:
                    problems.append(f"{where}: translate() needs a literal context and text")
                else:
                    found.add((ctx, text))
        for child in ast.iter_child_nodes(node):
            visit(child, path, context)

    for path in files:
        visit(ast.parse(path.read_text("utf-8")), path, "")
    return found, problems


def tool(name: str) -> str:
    """A PySide6 tool installed beside this Python (``pyside6-lupdate``, ``pyside6-lrelease``)."""
    found = shutil.which(name, path=str(Path(sys.executable).parent)) or shutil.which(name)
    if found is None:
        raise SystemExit(f"{name} not found: install PySide6-Essentials (make install-test)")
    return found


def lupdate(targets: Sequence[tuple[str, Path]]) -> None:
    """Refresh these ``.ts`` files (language, path) from the code, dropping vanished strings."""
    files = [str(path) for path in source_files()]
    aliases = ",".join(f"QT_TR_NOOP+={name}" for name in sentence_types())
    for language, target in targets:
        command = [
            tool("pyside6-lupdate"),
            "-silent",
            "-no-obsolete",
            "-locations",
            "none",
            "-tr-function-alias",
            aliases,
            "-target-language",
            language,
        ]
        if language in PLURALS_ONLY:
            command.append("-pluralonly")
        subprocess.run([*command, *files, "-ts", str(target)], check=True, cwd=ROOT)


def lrelease(source: Path, out: Path) -> None:
    """Compile one ``.ts`` into a ``.qm``."""
    subprocess.run([tool("pyside6-lrelease"), "-silent", str(source), "-qm", str(out)], check=True, cwd=ROOT)


def update() -> None:
    """``make translations``: every ``.ts`` refreshed from the code, every ``.qm`` compiled."""
    lupdate([(language, ts_path(language)) for language in LANGUAGES])
    for language in LANGUAGES:
        lrelease(ts_path(language), qm_path(language))
        print(f"{ts_path(language).relative_to(ROOT)} -> {qm_path(language).relative_to(ROOT)}")


def main(argv: Sequence[str]) -> int:
    if list(argv) != ["update"]:
        print(__doc__.split("\n\n")[1], file=sys.stderr)
        return 2
    update()
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
