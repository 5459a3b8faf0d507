"""Text in the window's language: the domain's sentences, and numbers, sizes and dates.

The one place a :class:`~desktop_app.errors.Sentence` (a UserError's, an engine error's, a reply's
progress step, a fit verdict) becomes words in the window: its English template is looked up in
the translations, in the empty context where ``pyside6-lupdate`` files the templates, and its
values are written the window's way: numbers and sizes by the locale of the window's language
(:mod:`desktop_app.ui.language`), a nested sentence translated too.  Widgets write their own
numbers with :func:`number`, :func:`decimal`, :func:`size` and :func:`date_time`, so a count in
a sentence and the same count on a label agree.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from PySide6.QtCore import QCoreApplication, QDateTime, QLocale

from desktop_app.engine.protocol import EngineError
from desktop_app.errors import Sentence, UserError
from desktop_app.models.sizes import ByteSize, size_parts

log = logging.getLogger(__name__)

SENTENCE_CONTEXT = ""
"""Where lupdate files ``UserError("...")`` and ``Sentence("...")`` templates (QT_TR_NOOP
outside a class has no context)."""


def sentence(said: Sentence) -> str:
    """The sentence in the window's language, its values filled in."""
    template = QCoreApplication.translate(SENTENCE_CONTEXT, said.template)
    if not said.values:
        return template
    values = {name: _value(value) for name, value in said.values.items()}
    try:
        return template.format(**values)
    except (KeyError, IndexError, ValueError):
        # A translation that lost or renamed a placeholder (the translation test forbids it):
        # the English is better than nothing.
        log.warning("the translation of %r does not fit its values", said.template)
        return said.template.format(**values)


def error(problem: UserError) -> str:
    """A user error's sentence in the window's language."""
    return sentence(problem.sentence)


def engine_error(event: EngineError) -> str:
    """What an engine error says, in the window's language when the engine sent its sentence
    (an engine that sends only English text is shown as it is)."""
    return sentence(event.sentence) if event.sentence is not None else event.message


def number(value: int) -> str:
    """A whole number with the locale's separators: "131,072"."""
    return QLocale().toString(int(value))


def decimal(value: float, places: int) -> str:
    """A number with this many decimals, the locale's way: "12.5"."""
    return QLocale().toString(float(value), "f", places)


def size(n_bytes: float) -> str:
    """A byte count as file managers show it: "3.4 GB", "850 MB", "300 bytes"."""
    value, places, unit = size_parts(n_bytes)
    if unit == "bytes":
        return QCoreApplication.translate("Sizes", "{n} bytes").format(n=number(int(value)))
    return f"{decimal(value, places)} {unit}"


def date_time(moment: datetime) -> str:
    """A moment in local time, in the locale's short form: "2026/12/7 04:11", "12/7/26 4:11 AM"."""
    shown = QDateTime.fromSecsSinceEpoch(int(moment.timestamp()))
    return QLocale().toString(shown, QLocale.FormatType.ShortFormat)


def _value(value: Any) -> str:
    if isinstance(value, Sentence):
        return sentence(value)
    if isinstance(value, ByteSize):
        return size(value)
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, int):
        return number(value)
    if isinstance(value, float):
        return QLocale().toString(value)
    return str(value)
