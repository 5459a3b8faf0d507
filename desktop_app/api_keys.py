"""API keys of servers, kept in the operating system's keyring (:mod:`desktop_app.keychain`) and
nowhere else.  Where there is no keyring, :meth:`ApiKeys.unavailable_reason` says so in one
sentence, and the command line takes keys from an environment variable (``--api-key-env``).
"""

from __future__ import annotations

import os

from desktop_app.errors import Sentence, UserError
from desktop_app.keychain import Keychain

SERVICE = "gemma-desktop"
"""The keyring service name; each saved server's key is stored under the server's name."""


class ApiKeys:
    """Keys by server name (see :class:`~desktop_app.keychain.Keychain`)."""

    def __init__(self) -> None:
        self._keys = Keychain(SERVICE)

    def unavailable_reason(self) -> Sentence | None:
        """One sentence when keys cannot be kept in a keyring, None when they can."""
        if self._keys.available():
            return None
        return Sentence(
            "No system keyring is available (on Linux, a Secret Service such as GNOME Keyring "
            "or KWallet), so API keys are kept only until Gemma Desktop closes; the command "
            "line can read one from an environment variable (--api-key-env)."
        )

    def get(self, server: str) -> str:
        """The key saved for ``server``, or "" when there is none."""
        return self._keys.get(server) or ""

    def put(self, server: str, key: str) -> bool:
        """Keep ``key`` for ``server``; True when it went to the keyring, False when only this
        session holds it.  An empty key forgets the server's key."""
        if not key:
            self._keys.forget(server)
            return True
        return self._keys.put(server, key)

    def forget(self, server: str) -> None:
        self._keys.forget(server)


def key_from_environment(variable: str) -> str:
    """The key in environment variable ``variable`` (``--api-key-env``); UserError when unset."""
    key = os.environ.get(variable, "").strip()
    if not key:
        raise UserError(
            "The environment variable {variable} is not set; it should hold the server's API key.",
            variable=variable,
        )
    return key
