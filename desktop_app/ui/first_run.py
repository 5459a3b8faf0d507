"""What the window shows before any model is chosen: how to get one.

Two ways, side by side: download the Gemma 3 recommended for this machine (with an honest
"fits / tight / will not fit" sentence and progress while it downloads), or open a GGUF the user
already has.
"""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QFont, QPalette
from PySide6.QtWidgets import QHBoxLayout, QLabel, QProgressBar, QPushButton, QVBoxLayout, QWidget

from desktop_app.models.download import DownloadProgress
from desktop_app.models.sizes import format_size
from desktop_app.ui.model_download import Recommendation

COLUMN_WIDTH = 560


class FirstRunPanel(QWidget):
    """The welcome page.

    Signals:
        openRequested(): the user wants to pick a model file.
        downloadRequested(): the user wants the recommended model downloaded (or resumed).
        cancelRequested(): the user wants the download paused.
    """

    openRequested = Signal()
    downloadRequested = Signal()
    cancelRequested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
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
        self.cancel_button.clicked.connect(self.cancelRequested)
        self.cancel_button.hide()
        buttons.addWidget(self.cancel_button)
        self.open_button = QPushButton(self.tr("Open a model file…"), self)
        self.open_button.setAccessibleName(self.tr("Open a model file"))
        self.open_button.setToolTip(
            self.tr("Choose a Gemma 3 .gguf file you already have (Ctrl+O); its projector is found beside it")
        )
        self.open_button.clicked.connect(self.openRequested)
        buttons.addWidget(self.open_button)
        buttons.addStretch(1)
        layout.addLayout(buttons)
        hint = self._paragraph(self.tr("You can also drop a .gguf file on this window."))
        hint.setForegroundRole(QPalette.ColorRole.PlaceholderText)
        layout.addWidget(hint)
        layout.addStretch(2)

    def _paragraph(self, text: str) -> QLabel:
        label = QLabel(text, self)
        label.setWordWrap(True)
        label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        return label

    def set_recommendation(self, recommendation: Recommendation) -> None:
        """Offer the download, saying how big it is and whether it fits this machine."""
        entry = recommendation.entry
        self.recommendation.setText(
            self.tr("Recommended for this computer: {name}, a {size} download. {verdict}").format(
                name=entry.name, size=format_size(entry.download_size), verdict=recommendation.verdict.sentence
            )
        )
        self.recommendation.show()
        self.download_button.setText(self.tr("Download {name}").format(name=entry.name))
        self.download_button.setDefault(True)
        self.download_button.show()

    def show_progress(self, progress: DownloadProgress) -> None:
        self.download_button.hide()
        self.cancel_button.show()
        self.progress.show()
        self.progress.setValue(int(progress.fraction * 1000))
        parts = [
            self.tr("Verifying {file}").format(file=progress.filename)
            if progress.phase == "verifying"
            else self.tr("Downloading {file}").format(file=progress.filename),
            self.tr("{done} of {total}").format(
                done=format_size(progress.done_bytes), total=format_size(progress.total_bytes)
            ),
        ]
        if progress.bytes_per_second:
            parts.append(self.tr("{speed}/s").format(speed=format_size(progress.bytes_per_second)))
        if progress.seconds_left is not None:
            minutes = int(progress.seconds_left // 60)
            parts.append(
                self.tr("about {n} min left").format(n=minutes) if minutes else self.tr("less than a minute left")
            )
        self.progress_label.setText(" · ".join(parts))
        self.progress_label.show()

    def show_stopped(self, message: str) -> None:
        """The download ended without a model (paused or failed): say why, offer to resume."""
        self.cancel_button.hide()
        self.progress_label.setText(message)
        self.progress_label.show()
        self.download_button.setText(self.tr("Resume download"))
        self.download_button.show()

    def show_downloaded(self, name: str) -> None:
        """The download is complete and the model ``name`` is being loaded."""
        self.cancel_button.hide()
        self.progress_label.setText(self.tr("Downloaded; loading {name}…").format(name=name))

    def show_started(self) -> None:
        self.download_button.hide()
        self.cancel_button.show()
        self.progress.show()
        self.progress_label.setText(self.tr("Asking Hugging Face for the files…"))
        self.progress_label.show()
