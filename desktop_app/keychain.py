"""Secrets (servers' API keys, the Hugging Face token) in the operating system's keyring, and
nowhere else: never in a settings file, a log or an export.

Where there is no keyring (a headless Linux without a Secret Service, say), a secret entered in
the app lives in this process's memory until it closes; :meth:`Keychain.available` tells the
front ends, which say so in their own words.  Keyring calls can block (a locked keyring asks to be
unlocked), so the window calls these off the UI thread.
"""

from __future__ import annotations

import contextlib
import logging
import threading

import keyring
from keyring.errors import KeyringError

log = logging.getLogger(__name__)

_PROBE = "\x00probe"


class Keychain:
    """Secrets by name under one keyring service: the keyring when there is one, else this
    session's memory.  Safe to call from any thread."""

    def __init__(self, service: str) -> None:
        self.service = service
        self._session: dict[str, str] = {}
        self._lock = threading.Lock()

    def available(self) -> bool:
        """Whether secrets put here outlive the app (a usable keyring answers)."""
        try:
            keyring.get_password(self.service, _PROBE)
        except KeyringError as exc:
            log.info("no usable keyring: %s", type(exc).__name__)
            return False
        return True

    def get(self, name: str) -> str | None:
        """The secret kept under ``name`` this session or in the keyring, or None."""
        with self._lock:
            if name in self._session:
                return self._session[name]
        try:
            return keyring.get_password(self.service, name) or None
        except KeyringError:
            return None

    def in_session(self, name: str) -> bool:
        """Whether ``name``'s secret is held only in this session's memory."""
        with self._lock:
            return name in self._session

    def put(self, name: str, secret: str) -> bool:
        """Keep ``secret``; True when it went to the keyring, False when only this session holds it."""
        try:
            keyring.set_password(self.service, name, secret)
        except KeyringError:
            with self._lock:
                self._session[name] = secret
            return False
        with self._lock:
            self._session.pop(name, None)
        return True

    def forget(self, name: str) -> None:
        with self._lock:
            self._session.pop(name, None)
        # Nothing stored, or no keyring: nothing to forget there.
        with contextlib.suppress(KeyringError):
            keyring.delete_password(self.service, name)
