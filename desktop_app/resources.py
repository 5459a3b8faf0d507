"""Files shipped beside the code (the app icon, the desktop entry), found frozen or not.

From a source checkout they live in ``resources/`` at the repository root; in a PyInstaller
build the spec copies that folder into the bundle, which ``sys._MEIPASS`` points at (on macOS
``Contents/Frameworks``, where PyInstaller links the data it moved to ``Contents/Resources``).
"""

from __future__ import annotations

import sys
from pathlib import Path

ICON_NAME = "gemma-desktop.png"
"""The 512 px app icon (``gemma-desktop.svg`` is its source)."""


def resources_dir() -> Path | None:
    """The folder holding the shipped resources, or None when this install has none."""
    if getattr(sys, "frozen", False):
        base = Path(getattr(sys, "_MEIPASS", Path(sys.executable).resolve().parent))
    else:
        base = Path(__file__).resolve().parent.parent
    folder = base / "resources"
    return folder if folder.is_dir() else None


def resource_path(name: str) -> Path | None:
    """A shipped file by name, or None when it is missing (a wheel install without resources)."""
    folder = resources_dir()
    if folder is None:
        return None
    path = folder / name
    return path if path.is_file() else None


def app_icon_path() -> Path | None:
    """The window icon: ``QIcon(str(app_icon_path()))`` when it is not None."""
    return resource_path(ICON_NAME)
