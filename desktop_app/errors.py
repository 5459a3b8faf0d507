"""The one exception type for mistakes a user can make, so every front end can show it as a sentence.

Anything raised as :class:`UserError` is the user's to fix (a missing file, a corrupt image, a
projector that does not fit the model, a full disk).  Front ends print ``str(error)`` and nothing
else; every other exception is a bug and goes to the log file with its traceback.

A user error is raised as an English template and its values,
``UserError("The image '{name}' is damaged.", name=label)``, not as a finished f-string: the
window looks the template up in its translations and fills in the values, so a sentence born in
the engine, the models or the store reads in the window's language.  The command line prints the
English.  ``pyside6-lupdate`` extracts the templates (it is told to read ``UserError(`` like Qt's
``QT_TR_NOOP``), so a template must be a string literal at the call.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any


class UserError(Exception):
    """A problem the user can fix; ``str()`` is one complete sentence meant for them.

    ``template`` is the English sentence with ``{name}`` placeholders and ``values`` fills them;
    values are names, paths and numbers, never English fragments (those would stay English in a
    translated sentence).
    """

    def __init__(self, template: str, /, **values: Any) -> None:
        self.template = template
        self.values: dict[str, Any] = values
        super().__init__(template.format(**values) if values else template)

    def __reduce__(self) -> tuple[Any, ...]:
        # Keep template and values across pickling (the engine process sends errors to the app).
        return (_rebuild, (type(self), self.template, self.values))


def _rebuild(cls: type[UserError], template: str, values: dict[str, Any]) -> UserError:
    return cls(template, **values)


def os_reason(exc: OSError) -> str:
    """The operating system's own words for a file error, as the end of a sentence."""
    return (exc.strerror or type(exc).__name__).lower()


def user_file_size(path: Path, what: str, a_what: str) -> int:
    """Size of a file the user named; UserError when it is missing, unreadable or a folder.

    ``what`` names the kind in "The image file '...' was not found." and ``a_what`` in
    "'...' is a folder, not an image file.", so every front end words these alike.
    """
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        raise UserError(f"The {what} '{path}' was not found.") from None
    except OSError as exc:
        raise UserError(f"The {what} '{path}' could not be read: {os_reason(exc)}.") from None
    if path.is_dir():
        raise UserError(f"'{path}' is a folder, not {a_what}.")
    return size
