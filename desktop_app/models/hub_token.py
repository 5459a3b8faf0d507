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

import os
from dataclasses import dataclass, field
from typing import Literal

from huggingface_hub import get_token

from desktop_app.errors import Sentence
from desktop_app.keychain import Keychain

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
    return Keychain(KEYRING_SERVICE).get(KEYRING_USER)


class HubTokens:
    """The token entered in the app: the keyring when there is one, else this session's memory;
    else huggingface-hub's own.  Safe to call from any thread."""

    def __init__(self) -> None:
        self._keychain = Keychain(KEYRING_SERVICE)

    def keyring_problem(self) -> Sentence | None:
        """One sentence when a token cannot be kept in a keyring, None when it can."""
        if self._keychain.available():
            return None
        return Sentence(
            "No system keyring is available (on Linux, a Secret Service such as GNOME Keyring or "
            "KWallet), so the token is kept only until Gemma Desktop closes; to keep one, set "
            "HF_TOKEN or run 'hf auth login'."
        )

    def current(self) -> HubToken | None:
        """The token downloads use: the one entered here, else HF_TOKEN, else ``hf auth login``'s."""
        saved = self._keychain.get(KEYRING_USER)
        if saved:
            return HubToken(saved, "this session" if self._keychain.in_session(KEYRING_USER) else "keyring")
        found = get_token()
        if not found:
            return None
        from_environment = os.environ.get("HF_TOKEN", "").strip() == found
        return HubToken(found, "HF_TOKEN" if from_environment else "hf auth login")

    def save(self, token: str) -> TokenSource:
        """Keep ``token``: in the keyring ("keyring"), or in memory when there is none."""
        return "keyring" if self._keychain.put(KEYRING_USER, token) else "this session"

    def forget(self) -> None:
        """Forget the token entered here (huggingface-hub's own login is left alone)."""
        self._keychain.forget(KEYRING_USER)
