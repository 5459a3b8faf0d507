"""Every location on disk the app uses, from platformdirs, in one place.

Setting ``GEMMA_DESKTOP_HOME`` moves all of them under one folder: tests use it to stay out of
the user's data, and portable installs use it to keep everything beside the program.
"""

from __future__ import annotations

import os
from pathlib import Path

import platformdirs

HOME_ENV = "GEMMA_DESKTOP_HOME"
_APP_DIR_NAME = "gemma-desktop"


def _base(kind: str) -> Path:
    override = os.environ.get(HOME_ENV)
    if override:
        return Path(override).expanduser() / kind
    getter = {
        "data": platformdirs.user_data_dir,
        "config": platformdirs.user_config_dir,
        "cache": platformdirs.user_cache_dir,
        "log": platformdirs.user_log_dir,
    }[kind]
    return Path(getter(_APP_DIR_NAME, appauthor=False))


def _ensure(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    return path


def data_dir() -> Path:
    """Conversations database and attachments: what the user would lose if it went."""
    return _ensure(_base("data"))


def config_dir() -> Path:
    """Settings files."""
    return _ensure(_base("config"))


def cache_dir() -> Path:
    """Things that can be rebuilt (image embeddings, thumbnails)."""
    return _ensure(_base("cache"))


def log_dir() -> Path:
    """Log files with tracebacks of internal failures."""
    return _ensure(_base("log"))


def models_dir() -> Path:
    """Models the app downloads or is given, when not kept in the Hugging Face cache."""
    return _ensure(data_dir() / "models")


def database_path() -> Path:
    """The SQLite database of conversations."""
    return data_dir() / "conversations.sqlite3"


def attachments_dir() -> Path:
    """Content-addressed image files referenced by messages."""
    return _ensure(data_dir() / "attachments")


def log_file() -> Path:
    """The log file that holds tracebacks of bugs (never shown to the user directly)."""
    return log_dir() / "gemma-desktop.log"
