"""Downloads from the catalog, one at a time in the order asked for: queued, paused, resumed, cancelled.

The transfer, its verification and the pairing of model and projector are
:func:`registry.download_entry`'s (the same code as ``models download``); this module runs it on
a thread of its own, one entry after another, and keeps what the window shows about each.  A pause
stops the transfer and keeps the partial file, which the next start resumes with a ranged request,
in this run or after a restart (:meth:`DownloadQueue.restore` finds the partial files a previous
run left).  A cancel deletes them.  Free space is checked for everything queued before an entry
joins the queue, and again with the hub's exact sizes when it starts.
"""

from __future__ import annotations

import enum
import logging
import threading
import time
from dataclasses import dataclass, replace
from pathlib import Path

from PySide6.QtCore import QCoreApplication, QObject, Signal

from desktop_app.errors import Sentence, UserError
from desktop_app.models.catalog import CatalogEntry, load_catalog
from desktop_app.models.download import (
    HUB_NAME,
    DownloadCancelled,
    DownloadProgress,
    check_room,
    entry_destinations,
    source_name,
)
from desktop_app.models.hub_token import HubTokens
from desktop_app.models.registry import LocalModel, ModelRegistry, download_entry, unfinished_downloads
from desktop_app.ui import localized
from desktop_app.ui.background import BackgroundWork

log = logging.getLogger(__name__)

PROGRESS_INTERVAL_S = 0.2
"""Progress reaches the window at most five times a second: smooth, and cheap to paint."""


class DownloadStatus(enum.Enum):
    QUEUED = "queued"
    DOWNLOADING = "downloading"
    PAUSED = "paused"
    """Stopped by the user, by closing the app, or found half-done at start; resumable."""
    FAILED = "failed"
    """Stopped by a problem (network, disk, a refused token); resumable once it is solved."""


@dataclass(frozen=True)
class DownloadItem:
    """What the window shows about one download."""

    entry: CatalogEntry
    status: DownloadStatus
    done_bytes: int
    total_bytes: int
    progress: DownloadProgress | None = None
    """The last report while it runs (speed, time left, file, phase)."""
    message: str | None = None
    """Why it stopped, in one sentence (paused or failed)."""
    source: str = HUB_NAME
    """Where it comes from: "Hugging Face" or the mirror's host (:func:`source_name`)."""

    @property
    def fraction(self) -> float:
        return min(1.0, self.done_bytes / self.total_bytes) if self.total_bytes else 0.0


def describe_download(item: DownloadItem) -> str:
    """One line about a download for the window: what it does now, where from, how far, how fast,
    how long."""
    sizes = QCoreApplication.translate("Downloads", "{done} of {total}").format(
        done=localized.size(item.done_bytes), total=localized.size(item.total_bytes)
    )
    if item.status is DownloadStatus.QUEUED:
        queued = QCoreApplication.translate("Downloads", "Queued behind the download in progress")
        return f"{queued} · {sizes}" if item.done_bytes else queued
    if item.status is not DownloadStatus.DOWNLOADING:
        if item.message:
            return f"{item.message} ({sizes})"
        return QCoreApplication.translate("Downloads", "Paused") + " · " + sizes
    progress = item.progress
    if progress is None:
        return QCoreApplication.translate("Downloads", "Asking {source} for the files…").format(source=item.source)
    if progress.phase == "verifying":
        doing = QCoreApplication.translate("Downloads", "Verifying {file}").format(file=progress.filename)
    else:
        doing = QCoreApplication.translate("Downloads", "Downloading {file} from {source}").format(
            file=progress.filename, source=item.source
        )
    parts = [doing, sizes]
    if progress.bytes_per_second:
        parts.append(
            QCoreApplication.translate("Downloads", "{speed}/s").format(speed=localized.size(progress.bytes_per_second))
        )
    if progress.seconds_left is not None:
        minutes = int(progress.seconds_left // 60)
        parts.append(
            QCoreApplication.translate("Downloads", "about %n min left", "", minutes)
            if minutes
            else QCoreApplication.translate("Downloads", "less than a minute left")
        )
    return " · ".join(parts)


class DownloadQueue(QObject):
    """The catalog downloads of this window.  Every method is called on the UI thread.

    Signals:
        changed(DownloadItem): an entry was queued, or its status or progress changed.
        removed(str): the entry with this id left the queue: cancelled (its partial files
            deleted) or finished.
        finished(LocalModel): a download is complete, verified and in the list of local models.
        refused(str, str): the entry with this id was not queued, and why (no room on the disk).
        _reported(str, object): internal: a progress report from the download thread.
        _ended(str, object): internal: the download thread ended with a LocalModel, a
            DownloadCancelled or a Sentence saying why it failed.
    """

    changed = Signal(object)
    removed = Signal(str)
    finished = Signal(object)
    refused = Signal(str, str)
    _reported = Signal(str, object)
    _ended = Signal(str, object)

    def __init__(self, work: BackgroundWork, tokens: HubTokens, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.endpoint: str | None = None
        """The hub to use; None means huggingface_hub's own (which honours HF_ENDPOINT)."""
        self.mirror: str | None = None
        """A mirror of the hub that downloads (and only downloads) go through instead of
        ``endpoint``: the Models page's Download source setting."""
        self._work = work
        self._tokens = tokens
        self._items: dict[str, DownloadItem] = {}
        self._cancel = threading.Event()
        self._thread: threading.Thread | None = None
        self._active: str | None = None
        self._stop_reason: dict[str, str] = {}  # entry id -> "pause" | "cancel"
        self._last_report = 0.0
        self._reported.connect(self._on_report)
        self._ended.connect(self._on_end)

    # ------------------------------------------------------------------------- reading
    def items(self) -> list[DownloadItem]:
        return list(self._items.values())

    def item(self, entry_id: str) -> DownloadItem | None:
        return self._items.get(entry_id)

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    # ------------------------------------------------------------------------ changing
    def restore(self) -> None:
        """Show downloads a previous run left half-done as paused (reads the disk off this thread)."""

        def find() -> list[tuple[CatalogEntry, int]]:
            return unfinished_downloads(load_catalog(), ModelRegistry())

        def show(found: list[tuple[CatalogEntry, int]]) -> None:
            for entry, done in found:
                if entry.id not in self._items:
                    # The catalog's size is approximate until the hub is asked again.
                    total = max(entry.download_size, done)
                    self._set(DownloadItem(entry, DownloadStatus.PAUSED, done, total))

        self._work.run(find, show, lambda message: log.warning("finding unfinished downloads: %s", message))

    def add(self, entry: CatalogEntry) -> None:
        """Queue a download (or resume a paused one) once the disk has room for all that is queued."""
        current = self._items.get(entry.id)
        if current is not None and current.status in (DownloadStatus.QUEUED, DownloadStatus.DOWNLOADING):
            return
        ahead = [
            i.entry
            for i in self._items.values()
            if i.entry.id != entry.id and i.status in (DownloadStatus.QUEUED, DownloadStatus.DOWNLOADING)
        ]
        self._work.run(
            lambda: check_room([*ahead, entry]),
            lambda _none: self._queue(entry),
            lambda message: self.refused.emit(entry.id, message),
        )

    def pause(self, entry_id: str) -> None:
        """Stop it, keeping what arrived; :meth:`add` resumes it."""
        item = self._items.get(entry_id)
        if item is None:
            return
        if entry_id == self._active:
            self._stop_reason[entry_id] = "pause"
            self._cancel.set()
        elif item.status is DownloadStatus.QUEUED:
            self._set(replace(item, status=DownloadStatus.PAUSED, message=None))

    def cancel(self, entry_id: str) -> None:
        """Stop it and delete what it downloaded (files other queued downloads share stay)."""
        if entry_id not in self._items:
            return
        if entry_id == self._active:
            self._stop_reason[entry_id] = "cancel"
            self._cancel.set()
        else:
            self._discard(entry_id)

    def shutdown(self) -> None:
        """Stop the transfer (what arrived is kept, and the next start resumes it)."""
        self._cancel.set()
        if self._thread is not None:
            self._thread.join(timeout=10)

    # ------------------------------------------------------------------------- private
    def _set(self, item: DownloadItem) -> None:
        self._items[item.entry.id] = item
        self.changed.emit(item)

    def _queue(self, entry: CatalogEntry) -> None:
        current = self._items.get(entry.id)
        done = current.done_bytes if current else 0
        self._set(DownloadItem(entry, DownloadStatus.QUEUED, done, max(entry.download_size, done)))
        self._next()

    def _next(self) -> None:
        if self._active is not None:
            return
        waiting = next((i for i in self._items.values() if i.status is DownloadStatus.QUEUED), None)
        if waiting is None:
            return
        entry = waiting.entry
        self._active = entry.id
        self._cancel.clear()
        endpoint = self.mirror or self.endpoint
        self._set(replace(waiting, status=DownloadStatus.DOWNLOADING, message=None, source=source_name(endpoint)))
        self._thread = threading.Thread(
            target=self._run, args=(entry, endpoint), name="model-download", daemon=True
        )
        self._thread.start()

    def _run(self, entry: CatalogEntry, endpoint: str | None) -> None:
        """The download thread: every outcome goes back to the UI thread through ``_ended``."""
        outcome: object
        try:
            token = self._tokens.current()
            outcome = download_entry(
                entry,
                ModelRegistry(),
                token=token.value if token else None,
                on_progress=lambda progress: self._report(entry.id, progress),
                cancel=self._cancel,
                endpoint=endpoint,
            )
        except DownloadCancelled as exc:
            outcome = exc
        except UserError as exc:
            outcome = exc.sentence
        except Exception:
            log.exception("downloading %s failed", entry.id)
            outcome = Sentence("The download failed (details are in the log).")
        self._ended.emit(entry.id, outcome)

    def _report(self, entry_id: str, progress: DownloadProgress) -> None:
        now = time.monotonic()
        if progress.done_bytes >= progress.total_bytes or now - self._last_report >= PROGRESS_INTERVAL_S:
            self._last_report = now
            self._reported.emit(entry_id, progress)

    def _on_report(self, entry_id: str, progress: DownloadProgress) -> None:
        item = self._items.get(entry_id)
        if item is not None and item.status is DownloadStatus.DOWNLOADING:
            self._set(
                replace(item, done_bytes=progress.done_bytes, total_bytes=progress.total_bytes, progress=progress)
            )

    def _on_end(self, entry_id: str, outcome: object) -> None:
        self._active = None
        reason = self._stop_reason.pop(entry_id, None)
        item = self._items.get(entry_id)
        if isinstance(outcome, LocalModel):
            self._items.pop(entry_id, None)
            self.removed.emit(entry_id)
            self.finished.emit(outcome)
        elif reason == "cancel":
            self._discard(entry_id)
        elif item is not None:
            paused = isinstance(outcome, DownloadCancelled)
            if paused:
                message = self.tr("Download paused; resume it to continue where it stopped.")
            else:
                message = localized.sentence(outcome) if isinstance(outcome, Sentence) else str(outcome)
            status = DownloadStatus.PAUSED if paused else DownloadStatus.FAILED
            self._set(replace(item, status=status, progress=None, message=message))
        self._next()

    def _discard(self, entry_id: str) -> None:
        item = self._items.pop(entry_id, None)
        if item is None:
            return
        others = [other.entry for other in self._items.values()]

        def discard() -> tuple[Path, ...]:
            keep = {path for other in others for path in entry_destinations(other)}
            return ModelRegistry().discard_download(item.entry, keep)

        def failed(message: str) -> None:
            log.warning("discarding the download of %s: %s", entry_id, message)
            self.removed.emit(entry_id)

        self._work.run(discard, lambda _deleted: self.removed.emit(entry_id), failed)
