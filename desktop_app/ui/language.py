"""The window's language: English or Simplified Chinese, following the system unless the user chose.

The translations are Qt's own: ``desktop_app/translations/gemma-desktop_zh_CN.qm``, compiled by
``pyside6-lrelease`` from the ``.ts`` source beside it (``make translations``), and Qt's
``qtbase_zh_CN.qm`` shipped with PySide6 for the standard dialogs' buttons (Yes, Cancel, Open).
The language is chosen once, before the window is built: the Language setting applies at the
next start (the settings panel says so).  Numbers, sizes and dates follow the language too
(``QLocale.setDefault``), so a window in English writes "1,024" whatever the system's region.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Literal

from PySide6.QtCore import QCoreApplication, QLibraryInfo, QLocale, QTranslator

log = logging.getLogger(__name__)

LanguageChoice = Literal["system", "en", "zh_CN"]
"""The Language setting: follow the system, or one of the window's languages."""

Language = Literal["en", "zh_CN"]
"""A language the window is written in."""

LANGUAGE_CHOICES: tuple[LanguageChoice, ...] = ("system", "en", "zh_CN")

TRANSLATIONS_DIR = Path(__file__).resolve().parent.parent / "translations"
"""Package data: the ``.qm`` files ship with the package (and PyInstaller's hook collects them)."""

CATALOG = "gemma-desktop"
"""``gemma-desktop_zh_CN.qm``: the app's catalog for a language."""

_LOCALES: dict[Language, QLocale] = {
    "en": QLocale(QLocale.Language.English, QLocale.Country.UnitedStates),
    "zh_CN": QLocale(QLocale.Language.Chinese, QLocale.Script.SimplifiedHanScript, QLocale.Country.China),
}

_installed: list[QTranslator] = []
_current: list[Language] = ["en"]


def system_language(locale: QLocale | None = None) -> Language:
    """Simplified Chinese for zh_CN, zh_SG and zh_Hans (the user's first UI language); English
    for any other, Traditional Chinese included (the window has no translation for it yet)."""
    locale = locale or QLocale.system()
    languages = locale.uiLanguages() or [locale.name()]
    first = QLocale(languages[0])
    if first.language() == QLocale.Language.Chinese and first.script() == QLocale.Script.SimplifiedHanScript:
        return "zh_CN"
    return "en"


def resolve(choice: str, locale: QLocale | None = None) -> Language:
    """The language a Language setting means on this system (an unknown setting: the system's)."""
    if choice == "en":
        return "en"
    if choice == "zh_CN":
        return "zh_CN"
    return system_language(locale)


def install(choice: str, locale: QLocale | None = None) -> Language:
    """Put the window in the language the setting means, before any widget is built; replaces
    the translations installed before.  Returns the language in use."""
    app = QCoreApplication.instance()
    if app is None:
        raise RuntimeError("install() needs the QApplication first")
    for translator in _installed:
        app.removeTranslator(translator)
    _installed.clear()
    language = resolve(choice, locale)
    QLocale.setDefault(_LOCALES[language])
    _current[0] = language
    # English needs its catalog too: it holds the plural forms ("1 page", "2 pages") of the
    # window's "%n page(s)" strings.  Qt's own dialogs are written in English.
    catalogs = [(CATALOG, TRANSLATIONS_DIR)]
    if language != "en":
        catalogs.append(("qtbase", qt_translations_dir()))
    for name, folder in catalogs:
        translator = QTranslator(app)
        if translator.load(f"{name}_{language}", str(folder)):
            app.installTranslator(translator)
            _installed.append(translator)
        else:
            log.warning("no %s translation for %s in %s", name, language, folder)
    return language


def current() -> Language:
    """The language the window is in (English until :func:`install` chose another)."""
    return _current[0]


def qt_translations_dir() -> Path:
    """Where PySide6 keeps Qt's own ``.qm`` files (``PySide6/Qt/translations``, frozen or not)."""
    return Path(QLibraryInfo.path(QLibraryInfo.LibraryPath.TranslationsPath))


def language_name(language: Language) -> str:
    """What a language calls itself, for the Language setting (never translated)."""
    return {"en": "English", "zh_CN": "简体中文"}[language]
