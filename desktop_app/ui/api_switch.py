"""The window's switch that serves its model to other programs through the OpenAI API.

Off by default and not remembered: a port opens only when the user turns it on in this run.  The
server shares the window's engine (one model in memory; window and API replies take turns) and
follows whatever model the window has loaded.  Starting and stopping (binding a socket, waiting
for uvicorn, importing the server stack) happen off the UI thread.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QLabel

from desktop_app.engine.shared import SharedEngine
from desktop_app.server.config import ServerConfig
from desktop_app.ui.background import BackgroundWork

if TYPE_CHECKING:
    from desktop_app.server.runner import ApiServer


class ApiServerSwitch(QObject):
    """Starts and stops an :class:`ApiServer` over the window's shared engine; ``action`` is the
    checkable menu item, ``label`` the status-bar text with the address while it serves.

    Signals:
        started(str): the server listens; the base URL clients use.
        stopped(): the server stopped (after :meth:`set_serving` with False).
        failed(str): it could not start (a port in use); one sentence.
    """

    started = Signal(str)
    stopped = Signal()
    failed = Signal(str)

    def __init__(self, engine: SharedEngine, config: ServerConfig | None = None,
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._engine = engine
        self.config = config or ServerConfig()
        """Used at the next start (the default: 127.0.0.1, the default port)."""
        self._work = BackgroundWork(self, max_threads=1)  # one thread: starts and stops in order
        self._server: ApiServer | None = None
        self._wanted = False
        self.action = QAction(self.tr("&Serve the model to other programs"), self)
        self.action.setCheckable(True)
        self.action.setStatusTip(
            self.tr("Editors and scripts on this computer can use the loaded model through the OpenAI API.")
        )
        self.action.toggled.connect(self.set_serving)
        self.label = QLabel()
        self.label.setAccessibleName(self.tr("API server"))
        self.label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.label.hide()
        self.started.connect(self._show_address)
        self.stopped.connect(self.label.hide)
        self.failed.connect(self._show_off)

    @property
    def url(self) -> str | None:
        return self._server.url if self._server is not None else None

    def set_serving(self, on: bool) -> None:
        """Start or stop serving; ``started``/``stopped`` or ``failed`` follows."""
        if on == self._wanted:
            return
        self._wanted = on
        if on:
            self._work.run(self._start, self._on_started, self._on_failed)
        else:
            server, self._server = self._server, None
            self._work.run(lambda: server.stop() if server is not None else None,
                           lambda _none: self.stopped.emit(), self._on_failed)

    def _start(self) -> ApiServer | None:
        # Imported here, on the worker thread: the server stack costs the window's start ~0.3 s.
        from desktop_app.server.runner import ApiServer

        server = ApiServer(self._engine, self.config)
        server.start()
        if not self._wanted:  # switched off, or the window closed, while it started
            server.stop()
            return None
        return server

    def _on_started(self, server: ApiServer | None) -> None:
        if server is None:
            return
        if not self._wanted:  # switched off again just now
            self._work.run(server.stop, lambda _none: None, self._on_failed)
            return
        self._server = server
        self.started.emit(server.url)

    def _on_failed(self, message: str) -> None:
        self._wanted = False
        self._server = None
        self.failed.emit(message)

    def _show_address(self, url: str) -> None:
        self.label.setText(self.tr("API: {url}").format(url=url))
        self.label.show()

    def _show_off(self, _message: str) -> None:
        self.label.hide()
        blocked = self.action.blockSignals(True)
        self.action.setChecked(False)
        self.action.blockSignals(blocked)

    def shutdown(self) -> None:
        """Stop serving now (the window is closing)."""
        self._wanted = False
        self._work.shutdown()
        server, self._server = self._server, None
        if server is not None:
            server.stop()
