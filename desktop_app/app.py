"""Composition root: builds the window and its parts, wires them, and shuts them down."""

from __future__ import annotations

import sys


def run_gui() -> int:
    """Open the main window and run the event loop until it closes."""
    from PySide6.QtWidgets import QApplication, QLabel, QMainWindow

    from desktop_app import APP_NAME

    app = QApplication.instance() or QApplication(sys.argv)
    app.setApplicationName(APP_NAME)
    window = QMainWindow()
    window.setWindowTitle(APP_NAME)
    window.setCentralWidget(QLabel(window.tr("Gemma Desktop: the chat window is coming.")))
    window.resize(900, 640)
    window.show()
    return app.exec()
