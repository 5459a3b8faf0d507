"""The one exception type for mistakes a user can make, so every front end can show it as a sentence.

Anything raised as :class:`UserError` is the user's to fix (a missing file, a corrupt image, a
projector that does not fit the model, a full disk).  Front ends print ``str(error)`` and nothing
else; every other exception is a bug and goes to the log file with its traceback.
"""


class UserError(Exception):
    """A problem the user can fix; ``str()`` is one complete sentence meant for them."""
