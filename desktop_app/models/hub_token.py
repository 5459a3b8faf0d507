"""Where the Hugging Face token that opens Google's gated Gemma builds is kept.

A token entered in the app is kept in the operating system's keyring (the ``keyring`` package)
and nowhere else: never in a settings file, a log or an export.  Where there is no keyring (a
headless Linux without a Secret Service), it is kept in this process's memory until the app
closes, and :meth:`HubTokens.keyring_problem` says so in one sentence.  A token huggingface-hub
already has (``HF_TOKEN``, or the file ``hf auth login`` writes) is used when none was entered
here, and :meth:`HubTokens.current` says where the token in use came from.

Keyring calls can block (a locked keyring asks to be unlocked): the window calls everything here
off the UI thread.  What the hub says of a token is :func:`download.check_token`'s business.
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
from dataclasses import dataclass, field
from typing import Literal

import keyring
from huggingface_hub import get_token
from keyring.errors import KeyringError, PasswordDeleteError

from desktop_app.errors import UserError

log = logging.getLogger(__name__)

KEYRING_SERVICE = "gemma-desktop-huggingface"
"""Its own service name, so no saved server (issue 19's API keys) can ever be read as it."""
KEYRING_USER = "token"

TokenSource = Literal["keyring", "this session", "HF_TOKEN", "hf auth login"]


@dataclass(frozen=True)
class HubToken:
    """A token and where it came from (the value is never printed: ``repr`` leaves it out)."""

    value: str = field(repr=False)
    source: TokenSource


def keyring_token() -> str | None:
    """The token saved in the keyring, or None (none saved, or no keyring)."""
    try:
        return keyring.get_password(KEYRING_SERVICE, KEYRING_USER) or None
    except KeyringError:
        return None


class HubTokens:
    """The token entered in the app: the keyring when there is one, else this session's memory;
    else huggingface-hub's own.  Safe to call from any thread."""

    def __init__(self) -> None:
        self._session: str | None = None
        self._lock = threading.Lock()

    def keyring_problem(self) -> str | None:
        """One sentence when a token cannot be kept in a keyring, None when it can."""
        try:
            keyring.get_password(KEYRING_SERVICE, KEYRING_USER)
        except KeyringError as exc:
            log.info("no usable keyring: %s", type(exc).__name__)
            return str(
                UserError(
                    "No system keyring is available (on Linux, a Secret Service such as GNOME "
                    "Keyring or KWallet), so the token is kept only until Gemma Desktop closes; "
                    "to keep one, set HF_TOKEN or run 'hf auth login'."
                )
            )
        return None

    def current(self) -> HubToken | None:
        """The token downloads use: the one entered here, else HF_TOKEN, else ``hf auth login``'s."""
        with self._lock:
            if self._session:
                return HubToken(self._session, "this session")
        saved = keyring_token()
        if saved:
            return HubToken(saved, "keyring")
        found = get_token()
        if not found:
            return None
        from_environment = os.environ.get("HF_TOKEN", "").strip() == found
        return HubToken(found, "HF_TOKEN" if from_environment else "hf auth login")

    def save(self, token: str) -> TokenSource:
        """Keep ``token``: in the keyring ("keyring"), or in memory when there is none."""
        try:
            keyring.set_password(KEYRING_SERVICE, KEYRING_USER, token)
        except KeyringError:
            with self._lock:
                self._session = token
            return "this session"
        with self._lock:
            self._session = None
        return "keyring"

    def forget(self) -> None:
        """Forget the token entered here (huggingface-hub's own login is left alone)."""
        with self._lock:
            self._session = None
        # Nothing saved, or no keyring: nothing to forget there.
        with contextlib.suppress(PasswordDeleteError, KeyringError):
            keyring.delete_password(KEYRING_SERVICE, KEYRING_USER)
