"""The API server's settings: where it listens, who may call it, and how much one request may carry.

Safe by default: it listens on 127.0.0.1 only, and listening anywhere else needs a bearer token;
limits bound the body, the number of images and each image's size; remote image URLs are refused
unless the user allows fetching them; API conversations are not stored unless asked.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field

from desktop_app.errors import UserError
from desktop_app.settings import GenerationSettings

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8765
"""Not 8080 (llama-server's, and most development servers'), so both can run side by side."""

API_KEY_ENV = "GEMMA_DESKTOP_API_KEY"
"""The environment variable that holds the bearer token: a secret belongs neither on the command
line (other users can read it in the process list) nor in a settings file."""

MIB = 1024 * 1024


@dataclass(frozen=True)
class ServerLimits:
    """What one request may carry; past these it is refused with one sentence, before any work."""

    max_body_bytes: int = 64 * MIB
    """The whole JSON body.  A conversation resends its images every turn, base64 (4/3 larger)."""
    max_images: int = 16
    """Images in one request, across the whole conversation it sends."""
    max_image_bytes: int = 20 * MIB
    """One image's encoded file (after base64 decoding, or as fetched)."""


@dataclass(frozen=True)
class ServerConfig:
    """How the server listens and what it allows."""

    host: str = DEFAULT_HOST
    port: int = DEFAULT_PORT
    """0 picks a free port (the runner reports the one it got)."""
    api_key: str | None = field(default=None, repr=False)
    """Bearer token every ``/v1`` request must carry; required when not on loopback."""
    limits: ServerLimits = field(default_factory=ServerLimits)
    allow_remote_images: bool = False
    """Fetch ``http(s)`` image URLs; off, a request never makes the server reach the network."""
    pan_scan: str = field(default_factory=lambda: GenerationSettings().pan_scan)
    """Gemma 3 Pan & Scan for requests that do not say (the ``pan_scan`` request field); the
    app's own default unless the user chose."""
    model_alias: str | None = None
    """A name the served model answers to besides its file name (the registry id it came from)."""

    def validate(self) -> ServerConfig:
        """Return self, or raise UserError for a configuration that would be unsafe or invalid."""
        if not 0 <= self.port <= 65535:
            raise UserError("The port must be between 0 (any free port) and 65535.")
        if not is_loopback(self.host) and not self.api_key:
            raise UserError(
                "Listening on {host} lets other computers reach the model; set a bearer token in "
                "the {env} environment variable first.",
                host=self.host,
                env=API_KEY_ENV,
            )
        if self.api_key is not None and len(self.api_key) < 16:
            raise UserError("The bearer token must be at least 16 characters long.")
        limits = self.limits
        if limits.max_body_bytes < 1024 or limits.max_images < 0 or limits.max_image_bytes < 1024:
            raise UserError("The request limits must be positive (body and image at least 1 KiB).")
        return self


def is_loopback(host: str) -> bool:
    """Whether ``host`` is reachable from this computer only (127.0.0.0/8, ::1, localhost)."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False
