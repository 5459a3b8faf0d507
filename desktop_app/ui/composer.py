"""Where a message is written: the text box, attached images and documents as chips, Send/Stop,
and the one-line explanation when something cannot be attached.

Images and documents arrive by drop, paste (of copied files, or image data) or the file picker;
each is prepared off the UI thread and shows as a chip with a remove button: an image as its
thumbnail, a document as its name, its pages and its exact token count.  Removing a document's
chip while it is read stops the reading.  An image is handed to the engine the moment it is
attached (``imageAttached``); its chip says when the engine is reading it and when it is ready,
so Send does not wait for it.  Where the model has Pan & Scan, an image it would crop has its own
switch between one view and several for small text, each with its cost.  A file that cannot be
used is refused with a sentence
under the box; the text and the other attachments stay as they were.
"""

from __future__ import annotations

import dataclasses
import functools
import threading
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

from desktop_app.engine import documents, images
from desktop_app.engine.documents import PreparedDocument
from desktop_app.engine.images import view_count
from desktop_app.ui import localized
from desktop_app.ui.attachments import (
    Attachment,
    DocumentAttachment,
    ImageSource,
    PreparedAttachment,
    local_files,
    mime_has_images,
    prepare_file,
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
    """One attachment: an image's thumbnail or a document's name and cost (or "Reading…"), and
    a remove button.

    Signals:
        removeRequested(): the user clicked the remove button.
        viewsToggled(bool): the user chose several views of this image (True) or one (False).
    """

    removeRequested = Signal()
    viewsToggled = Signal(bool)

    def __init__(self, name: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.name = name
        self.attachment: Attachment | None = None
        self.tokens: int | None = None
        """A document's text tokens by the loaded model's tokenizer, once counted."""
        self.setFrameShape(QFrame.Shape.StyledPanel)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.setSpacing(2)
        self.picture = QLabel(self.tr("Reading…"), self)
        self.picture.setFixedSize(THUMBNAIL_PX, THUMBNAIL_PX)
        self.picture.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.picture.setToolTip(name)
        self.picture.setAccessibleName(self.tr("Attachment {name}").format(name=name))
        column = QVBoxLayout()
        column.setSpacing(2)
        column.addWidget(self.picture)
        self.title = QLabel(self)
        self.title.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.title.hide()
        column.addWidget(self.title)
        self.cost = QLabel(self)
        self.cost.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.cost.setAccessibleName(self.tr("Token cost of {name}").format(name=name))
        self.cost.hide()
        column.addWidget(self.cost)
        self.state = QLabel(self)
        self.state.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.state.setAccessibleName(self.tr("Reading state of {name}").format(name=name))
        self.state.hide()
        column.addWidget(self.state)
        self.views = QToolButton(self)
        """One view of the image, or several for small text (shown where Pan & Scan would crop it)."""
        self.views.setCheckable(True)
        self.views.setAutoRaise(True)
        self.views.setAccessibleName(self.tr("Views of {name}").format(name=name))
        self.views.hide()
        self.views.toggled.connect(self.viewsToggled)
        column.addWidget(self.views)
        layout.addLayout(column)
        self.remove_button = QToolButton(self)
        self.remove_button.setIcon(self.style().standardIcon(QStyle.StandardPixmap.SP_TitleBarCloseButton))
        self.remove_button.setAutoRaise(True)
        self.remove_button.setToolTip(self.tr("Remove {name}").format(name=name))
        self.remove_button.setAccessibleName(self.tr("Remove {name}").format(name=name))
        self.remove_button.clicked.connect(self.removeRequested)
        layout.addWidget(self.remove_button, 0, Qt.AlignmentFlag.AlignTop)

    def show_cost(self, views: int, tokens: int) -> None:
        """What this image will cost the context: one view, or the whole plus Pan & Scan crops."""
        if views == 1:
            self.cost.setText(self.tr("%Ln token(s)", "", tokens))
            self.cost.setToolTip(self.tr("The model sees this image as %Ln token(s).", "", tokens))
        else:
            self.cost.setText(" · ".join((self.tr("%Ln view(s)", "", views), self.tr("%Ln token(s)", "", tokens))))
            self.cost.setToolTip(
                self.tr(
                    "Pan & Scan: the model sees the whole image and %n crop(s) of it, "
                    "{tokens} tokens in all. The switch below reads it as one view.",
                    "",
                    views - 1,
                ).format(tokens=localized.number(tokens))
            )
        self.cost.show()

    def show_views_choice(self, many: bool, views: int, tokens_per_view: int) -> None:
        """The switch between one view (``many`` False) and ``views`` views for small text."""
        self.views.blockSignals(True)
        self.views.setChecked(many)
        self.views.blockSignals(False)
        self.views.setText(self.tr("%n view(s), for small text", "", views) if many else self.tr("One view"))
        self.views.setToolTip(
            self.tr(
                "One view: {one} tokens and one encode. %n views (the whole image and crops of it, "
                "for small text): {many} tokens and %n encodes. Click to switch.",
                "",
                views,
            ).format(one=localized.number(tokens_per_view), many=localized.number(views * tokens_per_view))
        )
        self.views.show()

    def show_state(self, state: str) -> None:
        """Where the engine is with this image: "reading" it ahead (or waiting to), "ready" (Send
        will not wait for it), or "failed" (it is read when sent, as before)."""
        text, tip = {
            "reading": (self.tr("reading…"), self.tr("Gemma is reading this image while you write.")),
            "ready": (self.tr("ready"), self.tr("Gemma has read this image; sending will not wait for it.")),
            "failed": ("", ""),
        }.get(state, ("", ""))
        self.state.setText(text)
        self.state.setToolTip(tip)
        self.state.setVisible(bool(text))

    def set_document(self, attachment: DocumentAttachment) -> None:
        """Show a document: a file icon, its name and (until counted) its pages."""
        self.attachment = attachment
        size = THUMBNAIL_PX // 2
        icon = self.style().standardIcon(QStyle.StandardPixmap.SP_FileIcon)
        self.picture.setPixmap(icon.pixmap(size, size))
        self.picture.setFixedSize(THUMBNAIL_PX * 2, size + 4)
        metrics = self.title.fontMetrics()
        self.title.setText(metrics.elidedText(self.name, Qt.TextElideMode.ElideMiddle, THUMBNAIL_PX * 2))
        self.title.setToolTip(self.name)
        self.title.show()
        self.show_document_cost(None, 0)

    def show_document_cost(self, tokens: int | None, scan_tokens: int) -> None:
        """Pages where there are pages, and the exact token count once the engine has counted."""
        assert isinstance(self.attachment, DocumentAttachment)
        document = self.attachment.document
        parts = []
        if document.paged:
            parts.append(self.tr("%Ln page(s)", "", document.page_count))
        if tokens is None:
            parts.append(self.tr("counting…"))
            tip = self.tr("The model's tokenizer is counting this document.")
        else:
            parts.append(self.tr("%Ln token(s)", "", tokens + scan_tokens))
            tip = self.tr("The model reads this document as %Ln token(s).", "", tokens + scan_tokens)
        self.cost.setText(" · ".join(parts))
        if document.scans:
            tip += " " + self.tr("%Ln scanned page(s) are read as images.", "", len(document.scans))
        self.cost.setToolTip(tip)
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
        attachedTokensChanged(int): what the attachments will cost the context changed.
        countRequested(object, object): this chip's document (a PreparedDocument) needs its
            tokens counted by the loaded model; answer with :meth:`set_document_tokens`.
        imageAttached(object): this PreparedImage was attached (the engine may read it ahead).
        imageRemoved(str): the image with this sha256 was taken out before sending.
    """

    sendRequested = Signal(str, list)
    stopRequested = Signal()
    modelFileDropped = Signal(Path)
    editCancelled = Signal()
    attachedTokensChanged = Signal(int)
    countRequested = Signal(object, object)
    imageAttached = Signal(object)
    imageRemoved = Signal(str)

    def __init__(self, work: BackgroundWork, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._work = work
        self._price: Callable[[int, int], int] | None = None
        self._pan_scan: Callable[[], str] = lambda: "off"
        self._views_choice = False
        self._chips: list[AttachmentChip] = []
        self._tickets: dict[AttachmentChip, int] = {}
        self._stops: dict[AttachmentChip, threading.Event] = {}
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
        self.offer_buttons = [QPushButton(self._notice) for _ in range(2)]
        """What would work, when a message does not fit (see :meth:`show_offers`)."""
        self._offers: list[Callable[[], None]] = []
        for index, button in enumerate(self.offer_buttons):
            button.clicked.connect(functools.partial(self._take_offer, index))
            button.hide()
            notice.addWidget(button, 0, Qt.AlignmentFlag.AlignTop)
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
        self.attach_button.setAccessibleName(self.tr("Attach images or documents"))
        self.attach_button.clicked.connect(self.pick_files)
        row.addWidget(self.attach_button, 0, Qt.AlignmentFlag.AlignBottom)

        self.edit = ComposerEdit(self)
        self.edit.setPlaceholderText(self.tr("Message Gemma, or drop an image or a document here"))
        self.edit.setToolTip(
            self.tr(
                "Enter sends, Shift+Enter starts a new line. Drop or paste images and documents "
                "(PDF, Word, text, code) to attach them."
            )
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
    def attachments(self) -> list[Attachment]:
        return [chip.attachment for chip in self._chips if chip.attachment is not None]

    @property
    def pending(self) -> int:
        """Attachments still being read."""
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
        """None allows images (and scanned pages read as images); a sentence (why not) refuses
        images when they are attached.  Documents are always allowed."""
        self._images_refusal = reason
        self.attach_button.setToolTip(
            self.tr("Attach images or documents from files")
            if reason is None
            else self.tr("Attach documents from files (images need a vision projector)")
        )

    def show_notice(self, message: str) -> None:
        self.show_offers(message, [])

    def show_offers(self, message: str, offers: list[tuple[str, Callable[[], None]]]) -> None:
        """A sentence under the box with up to two buttons (label, what it does)."""
        self.notice_label.setText(message)
        self._offers = [action for _, action in offers[: len(self.offer_buttons)]]
        for index, button in enumerate(self.offer_buttons):
            button.setVisible(index < len(self._offers))
            if index < len(self._offers):
                button.setText(offers[index][0])
                button.setAccessibleName(offers[index][0])
        self._notice.show()

    def _take_offer(self, index: int) -> None:
        action = self._offers[index]
        self.clear_notice()
        action()

    def clear_notice(self) -> None:
        self.notice_label.clear()
        self._offers = []
        for button in self.offer_buttons:
            button.hide()
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

    def set_image_cost(
        self, price: Callable[[int, int], int] | None, pan_scan: Callable[[], str], *, views_choice: bool = False
    ) -> None:
        """Price attachments for a newly loaded model: the projector's tokens for a view of a
        width x height image (a constant for Gemma 3 and 3n, by size for Gemma 4), and the
        conversation's Pan & Scan mode (asked each time, since it changes with the conversation
        and its settings; "off" for a model without Pan & Scan).  ``views_choice``: the model has
        Pan & Scan, so each image it would crop gets its own switch.  Documents are counted
        again: the tokenizer may have changed."""
        self._price = price
        self._pan_scan = pan_scan
        self._views_choice = views_choice
        for chip in self._chips:
            if isinstance(chip.attachment, DocumentAttachment):
                chip.tokens = None
                self.countRequested.emit(chip, chip.attachment.document)
        self.refresh_costs()

    def set_image_state(self, sha256: str, state: str) -> None:
        """The engine's word on an attached image (see :meth:`AttachmentChip.show_state`)."""
        for chip in self._chips:
            if isinstance(chip.attachment, PreparedAttachment) and chip.attachment.image.sha256 == sha256:
                chip.show_state(state)

    def set_document_tokens(self, chip: object, tokens: int) -> None:
        """The engine's count for a chip's document (ignored if the chip is gone)."""
        if isinstance(chip, AttachmentChip) and chip in self._chips:
            chip.tokens = tokens
            self.refresh_costs()

    def _image_cost(self, image: images.PreparedImage) -> tuple[int, int]:
        """Views and tokens of one image in the context (0 tokens without a projector)."""
        mode = image.pan_scan if self._views_choice and image.pan_scan else self._pan_scan()
        views = view_count(image.width, image.height, mode)
        return views, views * (self._price(image.width, image.height) if self._price else 0)

    def _many_views(self) -> str:
        """The mode of an image's "several views": the conversation's, where it crops more."""
        return "on" if self._pan_scan() == "on" else "auto"

    def _choose_views(self, chip: AttachmentChip, many: bool) -> None:
        """The image's own choice; the engine reads its views again (``imageAttached``)."""
        attachment = chip.attachment
        if not isinstance(attachment, PreparedAttachment):
            return
        image = dataclasses.replace(attachment.image, pan_scan=self._many_views() if many else "off")
        chip.attachment = dataclasses.replace(attachment, image=image)
        self.refresh_costs()
        self.imageAttached.emit(image)

    def _chip_tokens(self, chip: AttachmentChip) -> int:
        attachment = chip.attachment
        if isinstance(attachment, PreparedAttachment):
            return self._image_cost(attachment.image)[1]
        if isinstance(attachment, DocumentAttachment):
            scans = sum(self._image_cost(scan)[1] for scan in attachment.document.scans)
            return (chip.tokens or 0) + scans
        return 0

    @property
    def attached_tokens(self) -> int:
        """Tokens the attachments will take in the context when sent (documents once counted)."""
        return sum(self._chip_tokens(chip) for chip in self._chips)

    def refresh_costs(self) -> None:
        """Show each attachment's cost and tell the context meter the total."""
        for chip in self._chips:
            attachment = chip.attachment
            if isinstance(attachment, DocumentAttachment):
                scans = sum(self._image_cost(scan)[1] for scan in attachment.document.scans)
                chip.show_document_cost(chip.tokens, scans)
            elif attachment is not None and self._price is not None:
                views, tokens = self._image_cost(attachment.image)
                chip.show_cost(views, tokens)
                image = attachment.image
                many = view_count(image.width, image.height, self._many_views())
                if self._views_choice and many > 1:
                    chip.show_views_choice(views > 1, many, self._price(image.width, image.height))
                else:
                    chip.views.hide()
        self.attachedTokensChanged.emit(self.attached_tokens)

    # ---------------------------------------------------------------------- images
    def pick_files(self) -> None:
        image_patterns = " ".join(f"*{ext}" for ext in images.SUPPORTED_EXTENSIONS)
        document_patterns = " ".join(f"*{ext}" for ext in documents.SUPPORTED_EXTENSIONS)
        names, _ = QFileDialog.getOpenFileNames(
            self,
            self.tr("Attach images or documents"),
            "",
            self.tr(
                "Images and documents ({all});;Documents ({documents});;Images ({images});;All files (*)"
            ).format(
                all=f"{image_patterns} {document_patterns}", documents=document_patterns, images=image_patterns
            ),
        )
        self.add_sources([ImageSource(Path(name), Path(name).name) for name in names])

    def offer_mime(self, mime: QMimeData) -> None:
        """Take what a drop or paste carries: files and images attach, a GGUF file asks to be
        loaded."""
        models = [path for path in local_files(mime) if path.suffix.lower() == MODEL_SUFFIX]
        if models:
            self.modelFileDropped.emit(models[0])
            return
        sources, refusals = sources_from_mime(mime)
        if refusals:
            self.show_notice(" ".join(refusals))
        self.add_sources(sources)

    def add_sources(self, sources: list[ImageSource]) -> None:
        """Start reading images and documents; each shows at once as a placeholder chip."""
        if not sources:
            return
        self.clear_notice()
        vision = self._images_refusal is None
        for source in sources:
            chip = AttachmentChip(source.name, self._chip_row)
            chip.removeRequested.connect(functools.partial(self._remove, chip))
            self._chips.append(chip)
            self._chip_layout.insertWidget(self._chip_layout.count() - 1, chip)
            stop = self._stops[chip] = threading.Event()
            self._tickets[chip] = self._work.run(
                functools.partial(prepare_file, source, vision, stop.is_set),
                functools.partial(self._prepared, chip),
                functools.partial(self._refused, chip),
            )
        self._chip_row.show()

    def _prepared(self, chip: AttachmentChip, attachment: Attachment) -> None:
        self._tickets.pop(chip, None)
        self._stops.pop(chip, None)
        if isinstance(attachment, DocumentAttachment):
            chip.set_document(attachment)
            self.countRequested.emit(chip, attachment.document)
            self._tell_unread_scans(attachment.document)
        elif self._images_refusal is not None:
            self._refused(chip, self._images_refusal)
            return
        else:
            chip.set_attachment(attachment)
            chip.viewsToggled.connect(functools.partial(self._choose_views, chip))
            self.imageAttached.emit(attachment.image)
        self.refresh_costs()
        if self._send_when_ready and not self.pending:
            self._send_when_ready = False
            self.submit()

    def _tell_unread_scans(self, document: PreparedDocument) -> None:
        """The one sentence for scanned pages that need a vision model to be read."""
        unread = document.scanned_unread
        if unread:
            numbers = ", ".join(map(str, unread[:10])) + ("…" if len(unread) > 10 else "")
            self.show_notice(
                self.tr(
                    "Pages {numbers} of '{name}' are scans without text; load a model with a vision "
                    "projector to read them. The model gets the other pages."
                ).format(numbers=numbers, name=document.name)
            )

    def _refused(self, chip: AttachmentChip, message: str) -> None:
        self._tickets.pop(chip, None)
        self._stops.pop(chip, None)
        self._send_when_ready = False  # the user should see what is missing before it goes
        self._remove(chip)
        self.show_notice(message)

    def _remove(self, chip: AttachmentChip) -> None:
        ticket = self._tickets.pop(chip, None)
        if ticket is not None:
            self._work.forget(ticket)
        stop = self._stops.pop(chip, None)
        if stop is not None:
            stop.set()  # a document being read stops at its next page
        self._chips.remove(chip)
        self._chip_layout.removeWidget(chip)
        chip.deleteLater()
        if isinstance(chip.attachment, PreparedAttachment):
            self.imageRemoved.emit(chip.attachment.image.sha256)
        self._chip_row.setVisible(bool(self._chips))
        self.attachedTokensChanged.emit(self.attached_tokens)

    def replace_document(self, old: DocumentAttachment, new: DocumentAttachment) -> None:
        """Put a cut version of an attached document in its chip (the first pages that fit)."""
        for chip in self._chips:
            if chip.attachment is old:
                chip.set_document(new)
                chip.tokens = None
                self.countRequested.emit(chip, new.document)
        self.refresh_costs()

    # ------------------------------------------------------------------------ send
    def submit(self) -> None:
        """Send the text and attachments, once every one has been read."""
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

