"""Composition root: builds the window and its parts, wires them, and shuts them down."""

from __future__ import annotations

import signal
import sys


def run_gui() -> int:
    """Open the main window and run the event loop until it closes.

    Raises UserError, before Qt is touched, when Qt's platform could not start (a missing
    system library, no desktop session): Qt itself would abort without naming a package.
    """
    from desktop_app.ui.platform_check import check_qt_can_start, qt_import_error

    check_qt_can_start()
    try:
        from PySide6.QtCore import QTimer
        from PySide6.QtWidgets import QApplication, QMessageBox
    except ImportError as exc:
        raise qt_import_error(exc) from None

    from desktop_app import APP_NAME
    from desktop_app.engine.client import EngineClient
    from desktop_app.engine.shared import SharedEngine
    from desktop_app.errors import UserError
    from desktop_app.store import ConversationStore
    from desktop_app.ui import language, localized
    from desktop_app.ui.engine_bridge import EngineBridge
    from desktop_app.ui.main_window import MainWindow
    from desktop_app.ui.preferences import load_preferences

    app = QApplication.instance() or QApplication(sys.argv)
    app.setApplicationName(APP_NAME)
    QApplication.setApplicationDisplayName(APP_NAME)
    preferences = load_preferences()
    # Before the first widget: every string is translated as it is built.
    language.install(preferences.language)
    try:
        store = ConversationStore()
    except UserError as exc:
        # A damaged or unwritable database: say so in a window, since there may be no terminal.
        QMessageBox.critical(None, APP_NAME, localized.error(exc))
        return 2
    # One engine for the window and, when switched on, the API server (one model in memory).
    bridge = EngineBridge(shared=SharedEngine(EngineClient()))
    window = MainWindow(store, bridge, preferences)
    # The window owns the store and the engine; closing it (or quitting) shuts both down.
    app.aboutToQuit.connect(window.shutdown)
    # Ctrl+C in the terminal or a logout's SIGTERM quits like the menu does, so a reply still
    # streaming is kept.  Python runs signal handlers only between bytecodes, hence the ticker
    # that wakes it while Qt's loop waits.
    for number in (signal.SIGINT, signal.SIGTERM):
        signal.signal(number, lambda *_: app.quit())
    ticker = QTimer()
    ticker.timeout.connect(lambda: None)
    ticker.start(250)
    window.show()
    return app.exec()
