"""What the window shows before any model is chosen: how to get one.

Two ways, side by side: download the Gemma 3 recommended for this machine (with an honest
"fits / tight / will not fit" sentence and progress while it downloads), or open a GGUF the user
already has; and a way to the Models page for any other choice.
"""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QFont, QPalette
from PySide6.QtWidgets import QHBoxLayout, QLabel, QProgressBar, QPushButton, QVBoxLayout, QWidget

from desktop_app.models.download import HUB_NAME
from desktop_app.models.registry import LocalModel
from desktop_app.ui import localized
from desktop_app.ui.download_queue import DownloadItem, DownloadStatus, describe_download
from desktop_app.ui.model_download import Recommendation

COLUMN_WIDTH = 560


class FirstRunPanel(QWidget):
    """The welcome page.

    Signals:
        openRequested(): the user wants to pick a model file.
        downloadRequested(): the user wants the recommended model downloaded (or resumed).
        pauseRequested(str): the user wants the download of the catalog entry with this id paused.
        libraryRequested(): the user wants to choose from all models (the Models page).
    """

    openRequested = Signal()
    downloadRequested = Signal()
    pauseRequested = Signal(str)
    libraryRequested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.entry_id: str | None = None
        """The catalog id of the download offered, once there is one."""
        self.setBackgroundRole(QPalette.ColorRole.Base)
        self.setAutoFillBackground(True)
        # A centred column of fixed width: word-wrapped labels need a definite width to find
        # their height, which an aligned (shrink-to-fit) layout item would not give them.
        outer = QHBoxLayout(self)
        outer.setContentsMargins(40, 40, 40, 40)
        outer.addStretch(1)
        column = QWidget(self)
        column.setMaximumWidth(COLUMN_WIDTH)
        column.setMinimumWidth(min(COLUMN_WIDTH, 320))
        outer.addWidget(column, 4)
        outer.addStretch(1)
        layout = QVBoxLayout(column)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(12)
        layout.addStretch(1)
        title = QLabel(self.tr("Welcome to Gemma Desktop"), self)
        font = QFont(title.font())
        font.setPointSizeF(font.pointSizeF() * 1.6)
        font.setBold(True)
        title.setFont(font)
        title.setAlignment(Qt.AlignmentFlag.AlignCenter)
        layout.addWidget(title)
        intro = self._paragraph(
            self.tr(
                "Chat with Gemma 3 on this computer, offline, about text and images. "
                "It needs a Gemma 3 model file (GGUF) and, to see images, its vision projector."
            )
        )
        layout.addWidget(intro)

        self.recommendation = self._paragraph("")
        self.recommendation.hide()
        layout.addWidget(self.recommendation)
        self.progress = QProgressBar(self)
        self.progress.setRange(0, 1000)
        self.progress.setTextVisible(False)
        self.progress.setAccessibleName(self.tr("Download progress"))
        self.progress.hide()
        layout.addWidget(self.progress)
        self.progress_label = self._paragraph("")
        self.progress_label.setForegroundRole(QPalette.ColorRole.PlaceholderText)
        self.progress_label.hide()
        layout.addWidget(self.progress_label)

        buttons = QHBoxLayout()
        buttons.addStretch(1)
        self.download_button = QPushButton(self)
        self.download_button.setAccessibleName(self.tr("Download the recommended model"))
        self.download_button.clicked.connect(self.downloadRequested)
        self.download_button.hide()
        buttons.addWidget(self.download_button)
        self.cancel_button = QPushButton(self.tr("Pause download"), self)
        self.cancel_button.setAccessibleName(self.tr("Pause the download"))
        self.cancel_button.clicked.connect(self._pause)
        self.cancel_button.hide()
        buttons.addWidget(self.cancel_button)
        self.open_button = QPushButton(self.tr("Open a model file…"), self)
        self.open_button.setAccessibleName(self.tr("Open a model file"))
        self.open_button.setToolTip(
            self.tr(
                "Choose a Gemma .gguf file you already have (Gemma 3, 3n or 4; Ctrl+O); its projector "
                "is found beside it"
            )
        )
        self.open_button.clicked.connect(self.openRequested)
        buttons.addWidget(self.open_button)
        buttons.addStretch(1)
        layout.addLayout(buttons)
        hint = self._paragraph(self.tr("You can also drop a .gguf file on this window."))
        hint.setForegroundRole(QPalette.ColorRole.PlaceholderText)
        layout.addWidget(hint)
        library = QHBoxLayout()
        library.addStretch(1)
        self.library_button = QPushButton(self.tr("See all models…"), self)
        self.library_button.setFlat(True)
        self.library_button.setToolTip(self.tr("Every Gemma 3 build on offer, and the models on this computer"))
        self.library_button.clicked.connect(self.libraryRequested)
        library.addWidget(self.library_button)
        library.addStretch(1)
        layout.addLayout(library)
        layout.addStretch(2)

    def _pause(self) -> None:
        if self.entry_id is not None:
            self.pauseRequested.emit(self.entry_id)

    def _paragraph(self, text: str) -> QLabel:
        label = QLabel(text, self)
        label.setWordWrap(True)
        label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        return label

    def set_recommendation(self, recommendation: Recommendation) -> None:
        """Offer the download, saying how big it is, how fast it would write here and whether it
        fits this machine."""
        entry = recommendation.entry
        speed = recommendation.speed
        self.recommendation.setText(
            {
                "CPU": self.tr(
                    "Recommended for this computer: {name}, a {size} download, expected to write about "
                    "{speed} tokens a second here (on the CPU). {verdict}"
                ),
                "GPU": self.tr(
                    "Recommended for this computer: {name}, a {size} download, expected to write about "
                    "{speed} tokens a second here (on the GPU). {verdict}"
                ),
            }["CPU" if speed.device == "CPU" else "GPU"].format(
                name=entry.name,
                size=localized.size(entry.download_size),
                speed=speed.rounded,
                verdict=localized.sentence(recommendation.verdict.said),
            )
        )
        self.recommendation.show()
        self.download_button.setText(self.tr("Download {name}").format(name=entry.name))
        self.download_button.setDefault(True)
        self.download_button.show()
        self.entry_id = entry.id

    def show_download(self, item: DownloadItem) -> None:
        """The recommended download's state: running (with progress), queued, paused or failed."""
        if item.entry.id != self.entry_id:
            return
        running = item.status in (DownloadStatus.QUEUED, DownloadStatus.DOWNLOADING)
        self.download_button.setVisible(not running)
        if not running:
            self.download_button.setText(self.tr("Resume download"))
        self.cancel_button.setVisible(running)
        self.progress.show()
        self.progress.setValue(int(item.fraction * 1000))
        self.progress_label.setText(describe_download(item))
        self.progress_label.show()

    def show_downloaded(self, model: LocalModel) -> None:
        """The download is complete and the model is being loaded."""
        if model.catalog_id != self.entry_id:
            return
        self.cancel_button.hide()
        self.progress_label.setText(
            self.tr("Downloaded from {source}; loading {name}…").format(
                source=model.downloaded_from or HUB_NAME, name=model.name
            )
        )

    def show_refused(self, entry_id: str, message: str) -> None:
        """The download was not started (no room on the disk): say why."""
        if entry_id != self.entry_id:
            return
        self.progress_label.setText(message)
        self.progress_label.show()
