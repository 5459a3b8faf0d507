"""The one exception type for mistakes a user can make, so every front end can show it as a sentence.

Anything raised as :class:`UserError` is the user's to fix (a missing file, a corrupt image, a
projector that does not fit the model, a full disk).  Front ends print ``str(error)`` and nothing
else; every other exception is a bug and goes to the log file with its traceback.
"""

from __future__ import annotations

from pathlib import Path


class UserError(Exception):
    """A problem the user can fix; ``str()`` is one complete sentence meant for them."""


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
