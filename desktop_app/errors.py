"""Sentences meant for the user, and the one exception type for mistakes a user can make.

Anything raised as :class:`UserError` is the user's to fix (a missing file, a corrupt image, a
projector that does not fit the model, a full disk).  Front ends print ``str(error)`` and nothing
else; every other exception is a bug and goes to the log file with its traceback.

A sentence for the user is an English template and its values,
``UserError("The image '{name}' is damaged.", name=label)`` or ``Sentence("...", n=3)``, not a
finished f-string: the window looks the template up in its translations and fills in the values
(``desktop_app/ui/sentences.py``), so a sentence born in the engine, the models or the store
reads in the window's language.  The command line prints the English.  ``pyside6-lupdate``
extracts the templates (``make translations`` tells it to read ``UserError(``, its subclasses and
``Sentence(`` like Qt's ``QT_TR_NOOP``), so a template must be a string literal at the call, with
plain ``{name}`` placeholders (no format specs: the window formats numbers its own way).

Values are names, paths and numbers, never English fragments of the sentence around them (those
would stay English in a translated sentence).  A value may itself be a :class:`Sentence` when it
stands on its own, such as a reason after a colon or in parentheses; it is translated too.
"""

from __future__ import annotations

import errno
from pathlib import Path
from typing import Any, Literal


class Sentence:
    """One sentence (or a self-contained reason) for the user: an English template and its values.

    ``str()`` is the English, numbers written with thousands separators; the window renders it
    in its own language instead.
    """

    def __init__(self, template: str, /, **values: Any) -> None:
        self.template = template
        self.values: dict[str, Any] = values

    def __str__(self) -> str:
        if not self.values:
            return self.template
        return self.template.format(**{name: _english(value) for name, value in self.values.items()})

    def __repr__(self) -> str:
        return f"Sentence({self.template!r}, **{self.values!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Sentence) and (self.template, self.values) == (other.template, other.values)

    def __hash__(self) -> int:
        return hash(self.template)

    def to_json(self) -> dict[str, Any]:
        """A JSON-safe form (a stored reply keeps its error this way, to be shown translated when
        the conversation is opened again); numbers stay numbers, a nested sentence stays one."""
        values: dict[str, Any] = {}
        for name, value in self.values.items():
            if isinstance(value, Sentence):
                values[name] = {"sentence": value.to_json()}
            elif isinstance(value, (int, float)) and not isinstance(value, bool):
                values[name] = value
            else:
                values[name] = str(value)
        return {"template": self.template, "values": values}

    @staticmethod
    def from_json(data: object) -> Sentence | None:
        """The sentence :meth:`to_json` wrote, or None for anything else."""
        if not isinstance(data, dict) or not isinstance(data.get("template"), str):
            return None
        raw = data.get("values")
        values: dict[str, Any] = {}
        for name, value in (raw if isinstance(raw, dict) else {}).items():
            nested = Sentence.from_json(value.get("sentence")) if isinstance(value, dict) else None
            values[str(name)] = nested if nested is not None else value
        return Sentence(data["template"], **values)


def _english(value: Any) -> str:
    # type() and not isinstance(): a subclass of int (models.sizes.ByteSize) writes itself.
    return f"{value:,}" if type(value) is int else str(value)


class UserError(Exception):
    """A problem the user can fix; ``str()`` is one complete sentence meant for them.

    ``sentence`` is the translatable form (``template`` and ``values`` are its parts).
    """

    def __init__(self, template: str, /, **values: Any) -> None:
        self.sentence = Sentence(template, **values)
        super().__init__(str(self.sentence))

    @classmethod
    def saying(cls, said: Sentence) -> UserError:
        """The error that says a sentence built earlier (a skipped file's reason, say)."""
        return cls(said.template, **said.values)

    @property
    def template(self) -> str:
        return self.sentence.template

    @property
    def values(self) -> dict[str, Any]:
        return self.sentence.values

    def __reduce__(self) -> tuple[Any, ...]:
        # Keep template and values across pickling (the engine process sends errors to the app).
        return (_rebuild, (type(self), self.template, self.values))


def _rebuild(cls: type[UserError], template: str, values: dict[str, Any]) -> UserError:
    return cls(template, **values)


def os_reason(exc: OSError) -> Sentence | str:
    """Why the operating system refused a file, as the end of a sentence: the common cases in
    words the window translates, any other in the system's own words."""
    if exc.errno in (errno.EACCES, errno.EPERM):
        return Sentence("permission denied")
    if exc.errno == errno.ENOENT:
        return Sentence("it does not exist")
    if exc.errno == errno.EISDIR:
        return Sentence("it is a folder")
    if exc.errno in (errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC)):
        return Sentence("the disk is full")
    if exc.errno == errno.EROFS:
        return Sentence("the disk is read-only")
    if exc.errno == errno.EIO:
        return Sentence("the disk could not be read")
    return (exc.strerror or type(exc).__name__).lower()


FileKind = Literal["image", "document", "gguf"]


def user_file_size(path: Path, kind: FileKind) -> int:
    """Size of a file the user named; UserError when it is missing, unreadable or a folder.

    Every kind of file has its own full sentences, so every front end words these alike and a
    translation never has to fit a noun into someone else's sentence.
    """
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        raise _not_found(path, kind) from None
    except OSError as exc:
        raise _unreadable(path, kind, os_reason(exc)) from None
    if path.is_dir():
        raise _folder(path, kind)
    return size


def _not_found(path: Path, kind: FileKind) -> UserError:
    if kind == "image":
        return UserError("The image file '{path}' was not found.", path=path)
    if kind == "document":
        return UserError("The document '{path}' was not found.", path=path)
    return UserError("The GGUF file '{path}' was not found.", path=path)


def _unreadable(path: Path, kind: FileKind, reason: Sentence | str) -> UserError:
    if kind == "image":
        return UserError("The image file '{path}' could not be read: {reason}.", path=path, reason=reason)
    if kind == "document":
        return UserError("The document '{path}' could not be read: {reason}.", path=path, reason=reason)
    return UserError("The GGUF file '{path}' could not be read: {reason}.", path=path, reason=reason)


def _folder(path: Path, kind: FileKind) -> UserError:
    if kind == "image":
        return UserError("'{path}' is a folder, not an image file.", path=path)
    if kind == "document":
        return UserError("'{path}' is a folder, not a document.", path=path)
    return UserError("'{path}' is a folder, not a GGUF file.", path=path)
