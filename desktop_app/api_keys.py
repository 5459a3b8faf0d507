"""API keys of servers, kept in the operating system's keyring (the ``keyring`` package) and
nowhere else: never in a settings file, a log or an export.

Where there is no keyring (a headless Linux without a Secret Service, say), a key entered in the
window lives in memory until the app closes, :meth:`ApiKeys.unavailable_reason` says so in one
sentence, and the command line takes keys from an environment variable (``--api-key-env``).
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading

import keyring
from keyring.errors import KeyringError

from desktop_app.errors import UserError

log = logging.getLogger(__name__)

SERVICE = "gemma-desktop"
"""The keyring service name; each saved server's key is stored under the server's name."""


class ApiKeys:
    """Keys by server name: the keyring when there is one, else this session's memory.

    Keyring calls can block (a locked keyring asks to be unlocked), so the window calls these
    off the UI thread.
    """

    def __init__(self) -> None:
        self._session: dict[str, str] = {}
        self._lock = threading.Lock()

    def unavailable_reason(self) -> str | None:
        """One sentence when keys cannot be kept in a keyring, None when they can."""
        try:
            keyring.get_password(SERVICE, "\x00probe")
        except KeyringError as exc:
            log.info("no usable keyring: %s", type(exc).__name__)
            return str(UserError(
                "No system keyring is available (on Linux, a Secret Service such as GNOME Keyring "
                "or KWallet), so API keys are kept only until Gemma Desktop closes; the command "
                "line can read one from an environment variable (--api-key-env)."
            ))
        return None

    def get(self, server: str) -> str:
        """The key saved for ``server``, or "" when there is none."""
        with self._lock:
            if server in self._session:
                return self._session[server]
        try:
            return keyring.get_password(SERVICE, server) or ""
        except KeyringError:
            return ""

    def put(self, server: str, key: str) -> bool:
        """Keep ``key`` for ``server``; True when it went to the keyring, False when only this
        session holds it.  An empty key forgets the server's key."""
        if not key:
            self.forget(server)
            return True
        try:
            keyring.set_password(SERVICE, server, key)
        except KeyringError:
            with self._lock:
                self._session[server] = key
            return False
        with self._lock:
            self._session.pop(server, None)
        return True

    def forget(self, server: str) -> None:
        with self._lock:
            self._session.pop(server, None)
        # Nothing stored, or no keyring: nothing to forget there.
        with contextlib.suppress(KeyringError):
            keyring.delete_password(SERVICE, server)


def key_from_environment(variable: str) -> str:
    """The key in environment variable ``variable`` (``--api-key-env``); UserError when unset."""
    key = os.environ.get(variable, "").strip()
    if not key:
        raise UserError(
            "The environment variable {variable} is not set; it should hold the server's API key.",
            variable=variable,
        )
    return key
