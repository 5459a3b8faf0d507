"""Image files on disk, named by the sha256 of their bytes (``ab/cdef...``) under one folder.

Naming by content means the same image attached twice is stored once, a file's name proves what
it holds, and the database only needs the hash.  Files are written to a temporary name, synced
and renamed, so a crash leaves either the whole file or none; a file whose database row never got
committed is a stray that :meth:`AttachmentFiles.strays` finds later.
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Iterator
from pathlib import Path

_HEX = re.compile(r"[0-9a-f]+")
_TEMP_MARK = ".tmp-"


def relative_path(sha256: str) -> str:
    """Where the file for ``sha256`` lives, relative to the attachments folder (``ab/cdef...``)."""
    return f"{sha256[:2]}/{sha256[2:]}"


class AttachmentFiles:
    """The content-addressed folder; knows nothing of the database."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def path(self, relative: str) -> Path:
        return self.root / relative

    def write(self, sha256: str, data: bytes) -> bool:
        """Store ``data`` under its hash; True if the file is new, False if it was already there.

        An existing file gets a fresh modification time, so a stray sweep running in another
        process does not take it while this one is about to reference it.
        """
        target = self.path(relative_path(sha256))
        if target.is_file() and target.stat().st_size == len(data):
            os.utime(target)
            return False
        target.parent.mkdir(parents=True, exist_ok=True)
        temp = target.with_name(f"{target.name}{_TEMP_MARK}{os.getpid()}")
        try:
            with open(temp, "wb") as file:
                file.write(data)
                file.flush()
                os.fsync(file.fileno())
            os.replace(temp, target)
        except BaseException:
            temp.unlink(missing_ok=True)
            raise
        return True

    def remove(self, relative: str) -> None:
        self.path(relative).unlink(missing_ok=True)

    def strays(self, known: set[str], older_than_s: float) -> Iterator[Path]:
        """Files here that no row in ``known`` (sha256 set) names, untouched for ``older_than_s``.

        Leftover temporary files of a crashed write count as strays too.  The age limit leaves
        alone a file another process has just written and is about to commit a row for.
        """
        if not self.root.is_dir():
            return
        cutoff = time.time() - older_than_s
        for folder in self.root.iterdir():
            if not (folder.is_dir() and len(folder.name) == 2 and _HEX.fullmatch(folder.name)):
                continue
            for file in folder.iterdir():
                name = file.name.split(_TEMP_MARK, 1)[0]
                is_temp = _TEMP_MARK in file.name
                if not (len(name) == 62 and _HEX.fullmatch(name)):
                    continue
                if not is_temp and folder.name + name in known:
                    continue
                try:
                    stale = file.stat().st_mtime < cutoff
                except FileNotFoundError:  # removed meanwhile by another process's sweep
                    continue
                if stale:
                    yield file
