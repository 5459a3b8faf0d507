"""Saved servers (a name, a base URL, optionally a CA file) and what the app warns about them.

They live in ``servers.json`` in the config dir, written atomically.  The file never holds an API
key: keys are in the keyring (:mod:`desktop_app.api_keys`), under the server's name.
"""

from __future__ import annotations

import ipaddress
import json
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from desktop_app import paths
from desktop_app.errors import UserError, os_reason

log = logging.getLogger(__name__)

FILE_NAME = "servers.json"
SCHEMA_VERSION = 1


@dataclass(frozen=True)
class SavedServer:
    """A server the user added: what the window offers under "where a conversation runs"."""

    name: str
    base_url: str
    ca_file: str | None = None


def servers_path() -> Path:
    return paths.config_dir() / FILE_NAME


def load_servers(path: Path | None = None) -> list[SavedServer]:
    """The saved servers, or none when the file is missing or unreadable (logged)."""
    path = path or servers_path()
    try:
        data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
        return [
            SavedServer(str(item["name"]), str(item["base_url"]), item.get("ca_file") or None)
            for item in data.get("servers", [])
            if isinstance(item, dict) and item.get("name") and item.get("base_url")
        ]
    except FileNotFoundError:
        return []
    except (OSError, ValueError, TypeError, AttributeError, KeyError) as exc:
        log.warning("ignoring unreadable server list %s: %s", path, exc)
        return []


def save_servers(servers: list[SavedServer], path: Path | None = None) -> None:
    """Write the list atomically; UserError when the disk refuses (the user just asked for it)."""
    path = path or servers_path()
    data = {
        "schema_version": SCHEMA_VERSION,
        "servers": [
            {"name": s.name, "base_url": s.base_url, "ca_file": s.ca_file} for s in servers
        ],
    }
    temporary = path.with_name(path.name + ".tmp")
    try:
        temporary.write_text(json.dumps(data, indent=2), encoding="utf-8")
        os.replace(temporary, path)
    except OSError as exc:
        raise UserError(
            "The server list could not be saved to {path}: {reason}.",
            path=path,
            reason=os_reason(exc),
        ) from None


def travels_unencrypted(url: str) -> bool:
    """True for a plain ``http://`` URL to a host outside this computer's loopback range: what
    is sent there (prompts, images, the API key) can be read on the way."""
    parts = urlsplit(url.strip())
    if parts.scheme.lower() != "http":
        return False
    host = (parts.hostname or "").lower()
    if host == "localhost" or host.endswith(".localhost"):
        return False
    try:
        return not ipaddress.ip_address(host).is_loopback
    except ValueError:
        return True  # a name: it may resolve anywhere
