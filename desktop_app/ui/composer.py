"""Where a message is written: the text box, attached images as thumbnails, Send/Stop, and the
one-line explanation when something cannot be attached.

Images arrive by drop, paste or the file picker; each is prepared off the UI thread and shows
as a thumbnail with a remove button.  A file that is not a usable image is refused with a
sentence under the box; the text and the other images stay as they were.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QMimeData, QSize, Qt, Signal
from PySide6.QtGui import QKeyEvent, QPixmap, QTextCursor
from PySide6.QtWidgets import (
    QFileDialog,
    QFrame,
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QStyle,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from desktop_app.engine.images import SUPPORTED_EXTENSIONS, view_count
from desktop_app.ui.attachments import (
    ImageSource,
    PreparedAttachment,
    local_files,
    mime_has_images,
    prepare_attachment,
    sources_from_mime,
)
from desktop_app.ui.background import BackgroundWork
from desktop_app.ui.widgets import dismiss_button

THUMBNAIL_PX = 64
MODEL_SUFFIX = ".gguf"


class ComposerEdit(QPlainTextEdit):
    """The text box: Enter sends, Shift+Enter starts a new line; images pasted or dropped on it
    go to the attachments instead of becoming text.

    Signals:
        submitted(): Enter was pressed (without Shift).
        mimeOffered(QMimeData): a paste or drop carries images or files, not text to insert.
    """

    submitted = Signal()
    mimeOffered = Signal(QMimeData)

    def keyPressEvent(self, event: QKeyEvent) -> None:
        enter = event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter)
        if enter and not event.modifiers() & Qt.KeyboardModifier.ShiftModifier:
            self.submitted.emit()
            return
        super().keyPressEvent(event)

    def canInsertFromMimeData(self, source: QMimeData) -> bool:
        return _wants_attaching(source) or super().canInsertFromMimeData(source)

    def insertFromMimeData(self, source: QMimeData) -> None:
        if _wants_attaching(source):
            self.mimeOffered.emit(source)
        else:
            super().insertFromMimeData(source)


def _wants_attaching(mime: QMimeData) -> bool:
    """Files and image data attach; text (even with an image rendering of it) is typed in."""
    if local_files(mime):
        return True
    return mime_has_images(mime) and not mime.hasText()


class AttachmentChip(QFrame):
    """One attached image: its thumbnail (or "Reading…") and a remove button.

    Signals:
        removeRequested(): the user clicked the remove button.
    """

    removeRequested = Signal()

    def __init__(self, name: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.name = name
        self.attachment: PreparedAttachment | None = None
        self.setFrameShape(QFrame.Shape.StyledPanel)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.setSpacing(2)
        self.picture = QLabel(self.tr("Reading…"), self)
        self.picture.setFixedSize(THUMBNAIL_PX, THUMBNAIL_PX)
        self.picture.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.picture.setToolTip(name)
        self.picture.setAccessibleName(self.tr("Attached image {name}").format(name=name))
        column = QVBoxLayout()
        column.setSpacing(2)
        column.addWidget(self.picture)
        self.cost = QLabel(self)
        self.cost.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.cost.setAccessibleName(self.tr("Token cost of {name}").format(name=name))
        self.cost.hide()
        column.addWidget(self.cost)
        layout.addLayout(column)
        self.remove_button = QToolButton(self)
        self.remove_button.setIcon(self.style().standardIcon(QStyle.StandardPixmap.SP_TitleBarCloseButton))
        self.remove_button.setAutoRaise(True)
        self.remove_button.setToolTip(self.tr("Remove {name}").format(name=name))
        self.remove_button.setAccessibleName(self.tr("Remove image {name}").format(name=name))
        self.remove_button.clicked.connect(self.removeRequested)
        layout.addWidget(self.remove_button, 0, Qt.AlignmentFlag.AlignTop)

    def show_cost(self, views: int, tokens: int) -> None:
        """What this image will cost the context: one view, or the whole plus Pan & Scan crops."""
        if views == 1:
            self.cost.setText(self.tr("{tokens} tokens").format(tokens=f"{tokens:,}"))
            self.cost.setToolTip(self.tr("The model sees this image as {tokens} tokens.").format(tokens=f"{tokens:,}"))
        else:
            self.cost.setText(self.tr("{views} views · {tokens} tokens").format(views=views, tokens=f"{tokens:,}"))
            self.cost.setToolTip(
                self.tr(
                    "Pan & Scan: the model sees the whole image and {crops} crops of it, "
                    "{tokens} tokens in all. Change this in the chat settings."
                ).format(crops=views - 1, tokens=f"{tokens:,}")
            )
        self.cost.show()

    def set_attachment(self, attachment: PreparedAttachment) -> None:
        self.attachment = attachment
        pixmap = QPixmap.fromImage(attachment.thumbnail)
        ratio = self.devicePixelRatioF()
        pixmap = pixmap.scaled(
            QSize(THUMBNAIL_PX, THUMBNAIL_PX) * ratio,
            Qt.AspectRatioMode.KeepAspectRatio,
            Qt.TransformationMode.SmoothTransformation,
        )
        pixmap.setDevicePixelRatio(ratio)
        self.picture.setPixmap(pixmap)


class Composer(QWidget):
    """The message box with its attachments and the Send/Stop button.

    Sending waits for images still being read, then hands over the text and the prepared images;
    the window decides whether it can send now (a model is loaded, no reply is running).

    Signals:
        sendRequested(str, list): text and the list of PreparedAttachment to send.
        stopRequested(): Stop was clicked while a reply is being written.
        modelFileDropped(Path): a GGUF file was dropped or pasted: the user wants to load it.
        editCancelled(): the user gave up editing their last message.
        imageTokensChanged(int): what the attached images will cost the context changed.
    """

    sendRequested = Signal(str, list)
    stopRequested = Signal()
    modelFileDropped = Signal(Path)
    editCancelled = Signal()
    imageTokensChanged = Signal(int)

    def __init__(self, work: BackgroundWork, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._work = work
        self._tokens_per_view: int | None = None
        self._pan_scan: Callable[[], str] = lambda: "off"
        self._chips: list[AttachmentChip] = []
        self._tickets: dict[AttachmentChip, int] = {}
        self._busy = False
        self._send_when_ready = False
        self._images_refusal: str | None = None

        layout = QVBoxLayout(self)
        layout.setContentsMargins(12, 6, 12, 10)
        layout.setSpacing(6)

        self._edit_banner = QWidget(self)
        banner = QHBoxLayout(self._edit_banner)
        banner.setContentsMargins(0, 0, 0, 0)
        banner.addWidget(QLabel(self.tr("Editing your last message: sending replaces it and its reply."), self))
        banner.addStretch(1)
        cancel_edit = QToolButton(self)
        cancel_edit.setText(self.tr("Cancel editing"))
        cancel_edit.setAccessibleName(self.tr("Cancel editing"))
        cancel_edit.clicked.connect(self.cancel_edit)
        banner.addWidget(cancel_edit)
        self._edit_banner.hide()
        layout.addWidget(self._edit_banner)

        self._chip_row = QWidget(self)
        self._chip_layout = QHBoxLayout(self._chip_row)
        self._chip_layout.setContentsMargins(0, 0, 0, 0)
        self._chip_layout.addStretch(1)
        self._chip_row.hide()
        layout.addWidget(self._chip_row)

        self._notice = QWidget(self)
        notice = QHBoxLayout(self._notice)
        notice.setContentsMargins(0, 0, 0, 0)
        icon = QLabel(self._notice)
        size = self.style().pixelMetric(QStyle.PixelMetric.PM_SmallIconSize)
        icon.setPixmap(self.style().standardIcon(QStyle.StandardPixmap.SP_MessageBoxWarning).pixmap(size, size))
        notice.addWidget(icon, 0, Qt.AlignmentFlag.AlignTop)
        self.notice_label = QLabel(self._notice)
        self.notice_label.setWordWrap(True)
        self.notice_label.setAccessibleName(self.tr("Attachment problem"))
        notice.addWidget(self.notice_label, 1)
        dismiss = dismiss_button(self._notice, self.tr("Dismiss this message"))
        dismiss.clicked.connect(self.clear_notice)
        notice.addWidget(dismiss, 0, Qt.AlignmentFlag.AlignTop)
        self._notice.hide()
        layout.addWidget(self._notice)

        row = QHBoxLayout()
        row.setSpacing(6)
        self.attach_button = QToolButton(self)
        self.attach_button.setText(self.tr("Attach…"))
        self.attach_button.setIcon(self.style().standardIcon(QStyle.StandardPixmap.SP_DirOpenIcon))
        self.attach_button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        self.attach_button.setAccessibleName(self.tr("Attach images"))
        self.attach_button.clicked.connect(self.pick_files)
        row.addWidget(self.attach_button, 0, Qt.AlignmentFlag.AlignBottom)

        self.edit = ComposerEdit(self)
        self.edit.setPlaceholderText(self.tr("Message Gemma, or drop an image here"))
        self.edit.setToolTip(
            self.tr("Enter sends, Shift+Enter starts a new line. Drop or paste images to attach them.")
        )
        self.edit.setAccessibleName(self.tr("Message"))
        self.edit.setTabChangesFocus(True)
        line = self.edit.fontMetrics().lineSpacing()
        self.edit.setFixedHeight(line * 4 + 14)
        self.edit.submitted.connect(self.submit)
        self.edit.mimeOffered.connect(self.offer_mime)
        row.addWidget(self.edit, 1)

        self.send_button = QPushButton(self.tr("Send"), self)
        self.send_button.setAccessibleName(self.tr("Send message"))
        self.send_button.setDefault(False)
        self.send_button.clicked.connect(self._send_or_stop)
        row.addWidget(self.send_button, 0, Qt.AlignmentFlag.AlignBottom)
        layout.addLayout(row)
        self.set_busy(False)

    # ------------------------------------------------------------------------ state
    @property
    def attachments(self) -> list[PreparedAttachment]:
        return [chip.attachment for chip in self._chips if chip.attachment is not None]

    @property
    def pending(self) -> int:
        """Images still being read."""
        return sum(1 for chip in self._chips if chip.attachment is None)

    @property
    def editing(self) -> bool:
        """Whether the box holds a sent message being edited (see :meth:`begin_edit`)."""
        return not self._edit_banner.isHidden()

    def focus_message(self) -> None:
        """Put the keyboard focus in the message box."""
        self.edit.setFocus(Qt.FocusReason.ShortcutFocusReason)

    def set_busy(self, busy: bool) -> None:
        """While a reply is written the button stops it, and Enter does not send."""
        self._busy = busy
        if busy:
            self.send_button.setText(self.tr("Stop"))
            self.send_button.setToolTip(self.tr("Stop the reply, keeping what was written (Esc)"))
            self.send_button.setAccessibleName(self.tr("Stop the reply"))
        else:
            self.send_button.setText(self.tr("Send"))
            self.send_button.setToolTip(self.tr("Send the message (Enter)"))
            self.send_button.setAccessibleName(self.tr("Send message"))

    def set_images_allowed(self, reason: str | None) -> None:
        """None allows images; a sentence (why not) disables attaching and refuses drops."""
        self._images_refusal = reason
        self.attach_button.setEnabled(reason is None)
        self.attach_button.setToolTip(reason or self.tr("Attach images from files"))

    def show_notice(self, message: str) -> None:
        self.notice_label.setText(message)
        self._notice.show()

    def clear_notice(self) -> None:
        self.notice_label.clear()
        self._notice.hide()

    def clear(self) -> None:
        """Empty the box and drop every attachment (after sending, or a new conversation)."""
        self.edit.clear()
        for chip in list(self._chips):
            self._remove(chip)
        self._send_when_ready = False
        self._edit_banner.hide()

    def begin_edit(self, text: str, sources: list[ImageSource]) -> None:
        """Load a sent message back into the box for editing; sending replaces it."""
        self.clear()
        self.clear_notice()
        self.edit.setPlainText(text)
        self._edit_banner.show()
        self.add_sources(sources)
        self.edit.setFocus()
        self.edit.moveCursor(QTextCursor.MoveOperation.End)

    def cancel_edit(self) -> None:
        self.clear()
        self.editCancelled.emit()

    def set_image_cost(self, tokens_per_view: int | None, pan_scan: Callable[[], str]) -> None:
        """Price attachments: the projector's tokens per view, and the conversation's Pan & Scan
        mode (asked each time, since it changes with the conversation and its settings)."""
        self._tokens_per_view = tokens_per_view
        self._pan_scan = pan_scan
        self.refresh_costs()

    @property
    def image_tokens(self) -> int:
        """Tokens the attached images will take in the context when sent."""
        if not self._tokens_per_view:
            return 0
        mode = self._pan_scan()
        return sum(
            view_count(a.image.width, a.image.height, mode) * self._tokens_per_view
            for a in self.attachments
        )

    def refresh_costs(self) -> None:
        """Show each image's cost and tell the context meter the total."""
        if self._tokens_per_view:
            mode = self._pan_scan()
            for chip in self._chips:
                if chip.attachment is not None:
                    views = view_count(chip.attachment.image.width, chip.attachment.image.height, mode)
                    chip.show_cost(views, views * self._tokens_per_view)
        self.imageTokensChanged.emit(self.image_tokens)

    # ---------------------------------------------------------------------- images
    def pick_files(self) -> None:
        patterns = " ".join(f"*{ext}" for ext in SUPPORTED_EXTENSIONS)
        names, _ = QFileDialog.getOpenFileNames(
            self,
            self.tr("Attach images"),
            "",
            self.tr("Images ({patterns});;All files (*)").format(patterns=patterns),
        )
        self.add_sources([ImageSource(Path(name), Path(name).name) for name in names])

    def offer_mime(self, mime: QMimeData) -> None:
        """Take what a drop or paste carries: images attach, a GGUF file asks to be loaded."""
        models = [path for path in local_files(mime) if path.suffix.lower() == MODEL_SUFFIX]
        if models:
            self.modelFileDropped.emit(models[0])
            return
        sources, refusals = sources_from_mime(mime)
        if refusals:
            self.show_notice(" ".join(refusals))
        self.add_sources(sources)

    def add_sources(self, sources: list[ImageSource]) -> None:
        """Start reading images; each shows at once as a thumbnail placeholder."""
        if not sources:
            return
        if self._images_refusal is not None:
            self.show_notice(self._images_refusal)
            return
        self.clear_notice()
        for source in sources:
            chip = AttachmentChip(source.name, self._chip_row)
            chip.removeRequested.connect(functools.partial(self._remove, chip))
            self._chips.append(chip)
            self._chip_layout.insertWidget(self._chip_layout.count() - 1, chip)
            self._tickets[chip] = self._work.run(
                functools.partial(prepare_attachment, source),
                functools.partial(self._prepared, chip),
                functools.partial(self._refused, chip),
            )
        self._chip_row.show()

    def _prepared(self, chip: AttachmentChip, attachment: PreparedAttachment) -> None:
        self._tickets.pop(chip, None)
        chip.set_attachment(attachment)
        self.refresh_costs()
        if self._send_when_ready and not self.pending:
            self._send_when_ready = False
            self.submit()

    def _refused(self, chip: AttachmentChip, message: str) -> None:
        self._tickets.pop(chip, None)
        self._send_when_ready = False  # the user should see what is missing before it goes
        self._remove(chip)
        self.show_notice(message)

    def _remove(self, chip: AttachmentChip) -> None:
        ticket = self._tickets.pop(chip, None)
        if ticket is not None:
            self._work.forget(ticket)
        self._chips.remove(chip)
        self._chip_layout.removeWidget(chip)
        chip.deleteLater()
        self._chip_row.setVisible(bool(self._chips))
        self.imageTokensChanged.emit(self.image_tokens)

    # ------------------------------------------------------------------------ send
    def submit(self) -> None:
        """Send the text and images, once every image has been read."""
        if self._busy:
            return
        text = self.edit.toPlainText().strip()
        if not text and not self._chips:
            return
        if self.pending:
            self._send_when_ready = True
            return
        self.sendRequested.emit(text, self.attachments)

    def _send_or_stop(self) -> None:
        if self._busy:
            self.stopRequested.emit()
        else:
            self.submit()

