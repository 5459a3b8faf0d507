"""Runs slow plain-Python work (decoding an image, reading a GGUF header) off the UI thread.

One mechanism for all such work: a function runs on a private thread pool and its result or its
:class:`UserError` sentence comes back to a callback on the UI thread, in the window's language.
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Callable
from typing import Any, TypeVar

from PySide6.QtCore import QObject, QThreadPool, Signal

from desktop_app.errors import Sentence, UserError
from desktop_app.ui import localized

log = logging.getLogger(__name__)

T = TypeVar("T")


class BackgroundWork(QObject):
    """A small thread pool whose results are delivered on the thread that owns this object.

    Signals:
        succeeded(int, object): the job with this ticket returned this value (internal: routes
            the result to the job's callback on the owning thread).
        failed(int, Sentence): the job raised; the sentence is the UserError's, or a generic one
            for a bug (whose traceback goes to the log).  The callback gets it in the window's
            language.
    """

    succeeded = Signal(int, object)
    failed = Signal(int, object)

    def __init__(self, parent: QObject | None = None, max_threads: int = 2) -> None:
        super().__init__(parent)
        self._pool = QThreadPool(self)
        self._pool.setMaxThreadCount(max_threads)
        self._tickets = itertools.count(1)
        self._callbacks: dict[int, tuple[Callable[[Any], None], Callable[[str], None]]] = {}
        self.succeeded.connect(self._on_succeeded)
        self.failed.connect(self._on_failed)

    def run(
        self,
        function: Callable[[], T],
        on_result: Callable[[T], None],
        on_error: Callable[[str], None],
    ) -> int:
        """Run ``function`` on the pool; exactly one callback follows, on this object's thread."""
        ticket = next(self._tickets)
        self._callbacks[ticket] = (on_result, on_error)

        def job() -> None:
            try:
                result = function()
            except UserError as exc:
                self.failed.emit(ticket, exc.sentence)
            except Exception:
                log.exception("background job failed")
                self.failed.emit(ticket, Sentence("Something went wrong (details are in the log)."))
            else:
                self.succeeded.emit(ticket, result)

        self._pool.start(job)
        return ticket

    def forget(self, ticket: int) -> None:
        """Drop a job's callbacks: its result is no longer wanted (a removed attachment)."""
        self._callbacks.pop(ticket, None)

    def shutdown(self) -> None:
        """Wait for running jobs and drop queued ones, so none reports to a closed window."""
        self._callbacks.clear()
        self._pool.clear()
        self._pool.waitForDone()

    def _on_succeeded(self, ticket: int, result: object) -> None:
        callbacks = self._callbacks.pop(ticket, None)
        if callbacks is not None:
            callbacks[0](result)

    def _on_failed(self, ticket: int, said: Sentence) -> None:
        callbacks = self._callbacks.pop(ticket, None)
        if callbacks is not None:
            callbacks[1](localized.sentence(said))
