"""What the window remembers between runs: the last model and projector, the model new chats start
with, the runtime settings, the window's language and the download mirror.

A small JSON file in the config dir, written atomically (temporary file, then rename) so a crash
while saving leaves the previous version.  A missing or damaged file means defaults, not an error:
nothing in it is worth refusing to start over.
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from desktop_app import paths
from desktop_app.errors import UserError
from desktop_app.settings import RuntimeSettings, runtime_from_dict, to_dict
from desktop_app.ui.language import LANGUAGE_CHOICES

log = logging.getLogger(__name__)

FILE_NAME = "window.json"
SCHEMA_VERSION = 1


@dataclass(frozen=True)
class Preferences:
    last_model: str | None = None
    last_mmproj: str | None = None
    runtime: RuntimeSettings = field(default_factory=RuntimeSettings)
    default_model: str | None = None
    """The model a new chat starts with ("Use for new chats" on the Models page); None: the
    model in use carries on."""
    default_mmproj: str | None = None
    language: str = "system"
    """The Language setting: "system", "en" or "zh_CN" (:mod:`desktop_app.ui.language`)."""
    download_mirror: str | None = None
    """The base URL of a mirror of the Hugging Face hub that downloads go through (None: the hub
    itself), as :func:`~desktop_app.models.download.mirror_endpoint` checked it."""

    def with_model(self, model: Path, mmproj: Path | None) -> Preferences:
        return replace(self, last_model=str(model), last_mmproj=str(mmproj) if mmproj else None)

    def with_default(self, model: Path, mmproj: Path | None) -> Preferences:
        return replace(self, default_model=str(model), default_mmproj=str(mmproj) if mmproj else None)


def preferences_path() -> Path:
    return paths.config_dir() / FILE_NAME


def load_preferences(path: Path | None = None) -> Preferences:
    """The saved preferences, or defaults when there are none or they cannot be read."""
    path = path or preferences_path()
    try:
        data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
        runtime = runtime_from_dict(data.get("runtime") or {})
        try:
            runtime.validate()
        except UserError:
            runtime = RuntimeSettings()
        return Preferences(
            last_model=data.get("last_model") or None,
            last_mmproj=data.get("last_mmproj") or None,
            runtime=runtime,
            default_model=data.get("default_model") or None,
            default_mmproj=data.get("default_mmproj") or None,
            language=str(data.get("language")) if data.get("language") in LANGUAGE_CHOICES else "system",
            download_mirror=data.get("download_mirror") or None,
        )
    except FileNotFoundError:
        return Preferences()
    except (OSError, ValueError, TypeError, AttributeError) as exc:
        log.warning("ignoring unreadable preferences %s: %s", path, exc)
        return Preferences()


def save_preferences(preferences: Preferences, path: Path | None = None) -> None:
    """Write them atomically; a failure is logged, since losing a preference is no disaster."""
    path = path or preferences_path()
    data = {
        "schema_version": SCHEMA_VERSION,
        "last_model": preferences.last_model,
        "last_mmproj": preferences.last_mmproj,
        "default_model": preferences.default_model,
        "default_mmproj": preferences.default_mmproj,
        "language": preferences.language,
        "download_mirror": preferences.download_mirror,
        "runtime": to_dict(preferences.runtime),
    }
    temporary = path.with_name(path.name + ".tmp")
    try:
        temporary.write_text(json.dumps(data, indent=2), encoding="utf-8")
        os.replace(temporary, path)
    except OSError as exc:
        log.warning("could not save preferences to %s: %s", path, exc)
