"""Getting the recommended Gemma 3 from the window: which one suits this machine, and its download.

The choice, the fit verdict and the transfer come from :mod:`desktop_app.models` (the same code
as ``python -m desktop_app models download``); this module only runs them off the UI thread and
reports progress as signals, at most a few times a second.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass

from PySide6.QtCore import QObject, Signal

from desktop_app.errors import UserError
from desktop_app.models.catalog import CatalogEntry, load_catalog
from desktop_app.models.download import DownloadCancelled, DownloadProgress
from desktop_app.models.fit import FitVerdict, machine_memory
from desktop_app.models.registry import LocalModel, ModelRegistry, download_entry
from desktop_app.settings import DEFAULT_CONTEXT

log = logging.getLogger(__name__)

PROGRESS_INTERVAL_S = 0.2


@dataclass(frozen=True)
class Recommendation:
    """The download to offer, and whether it fits this machine at the default context."""

    entry: CatalogEntry
    verdict: FitVerdict


def recommend_for_this_machine(n_ctx: int = DEFAULT_CONTEXT) -> Recommendation:
    """Slow (it may ask nvidia-smi about the GPU): call off the UI thread."""
    machine = machine_memory()
    entry = load_catalog().recommend(machine)
    return Recommendation(entry, entry.check_fit(machine, n_ctx))


def first_available_model() -> LocalModel | None:
    """A model downloaded or imported earlier (by the window or the command line), if any."""
    return next((model for model in ModelRegistry().models() if model.available), None)


class ModelDownload(QObject):
    """Downloads one catalog model (and its projector) on its own thread; resumable, cancellable.

    Signals:
        started(): a download (or its resumption) began.
        progressed(DownloadProgress): bytes so far, speed and time left (a few times a second).
        finished(LocalModel): the verified files, recorded in the registry.
        failed(str): one sentence: cancelled (the partial file is kept for resuming), no network,
            no disk space, a gated repository...
    """

    started = Signal()
    progressed = Signal(object)
    finished = Signal(object)
    failed = Signal(str)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.endpoint: str | None = None
        """The hub to use; None means huggingface_hub's own (which honours HF_ENDPOINT)."""
        self._cancel = threading.Event()
        self._thread: threading.Thread | None = None
        self._last_report = 0.0

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self, entry: CatalogEntry) -> None:
        if self.running:
            return
        self._cancel.clear()
        self._thread = threading.Thread(target=self._run, args=(entry,), name="model-download", daemon=True)
        self._thread.start()
        self.started.emit()

    def cancel(self) -> None:
        """Stop at the next chunk; what arrived stays on disk and the next start resumes it."""
        self._cancel.set()

    def shutdown(self) -> None:
        self.cancel()
        if self._thread is not None:
            self._thread.join(timeout=10)

    def _run(self, entry: CatalogEntry) -> None:
        try:
            model = download_entry(
                entry, ModelRegistry(), on_progress=self._report, cancel=self._cancel, endpoint=self.endpoint
            )
        except DownloadCancelled:
            self.failed.emit(self.tr("Download paused; start it again to resume where it stopped."))
        except UserError as exc:
            self.failed.emit(str(exc))
        except Exception:
            log.exception("downloading %s failed", entry.id)
            self.failed.emit(self.tr("The download failed (details are in the log)."))
        else:
            self.finished.emit(model)

    def _report(self, progress: DownloadProgress) -> None:
        now = time.monotonic()
        last = progress.done_bytes >= progress.total_bytes
        if last or now - self._last_report >= PROGRESS_INTERVAL_S:
            self._last_report = now
            self.progressed.emit(progress)
