"""The conversation as a column of message widgets, one per message.

One widget per message is what lets a streaming reply re-render alone: appending text lays out
that message's document, never the whole conversation.  Colours come from the palette (with
shades blended from its roles), so the view follows the system's light or dark theme.  A reply
whose model thought first shows the thought in a collapsed "Thinking" section above the answer
(:mod:`desktop_app.thoughts` tells them apart); it streams there while the model thinks.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from PySide6.QtCore import QRectF, QSize, Qt, Signal
from PySide6.QtGui import QFont, QGuiApplication, QIcon, QImage, QPainter, QPaintEvent, QPalette, QPixmap, QResizeEvent
from PySide6.QtWidgets import (
    QDialog,
    QFrame,
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QScrollArea,
    QSizePolicy,
    QStyle,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from desktop_app.thoughts import SplitReply, split_reply
from desktop_app.ui import localized
from desktop_app.ui.markdown_view import MarkdownView, blend

MESSAGE_WIDTH = 860
"""Widest a message gets: longer lines are hard to read on a wide window."""

THUMBNAIL_SHOWN_PX = 96

THOUGHT_LINES_SHOWN = 10
"""An opened thought shows about this many lines and scrolls within itself beyond them."""


def metric_count(metrics: Mapping[str, Any], key: str) -> int:
    """A count from stored metrics (numbers in JSON); anything else counts as none."""
    value = metrics.get(key)
    return int(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else 0


def _decimal(metrics: Mapping[str, Any], key: str, places: int) -> str:
    """A measurement from stored metrics with this many decimals, the locale's way."""
    value = metrics.get(key)
    number = float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else 0.0
    return localized.decimal(number, places)


@dataclass(frozen=True)
class ImageRef:
    """An image of a user message: ``key`` finds its full pixels, ``thumbnail`` may come later."""

    key: str
    name: str
    thumbnail: QImage | None = None


class MessageWidget(QFrame):
    """One message: who wrote it, its images, its text, its state and its actions.

    Signals:
        editRequested(): the user wants to edit this (the last) prompt and resend it.
        regenerateRequested(): the user wants this (the last) reply written again.
        imageClicked(str): an image thumbnail was clicked; the argument is its key.
    """

    editRequested = Signal()
    regenerateRequested = Signal()
    imageClicked = Signal(str)

    def __init__(
        self,
        role: str,
        text: str,
        images: Sequence[ImageRef] = (),
        parent: QWidget | None = None,
        documents: Sequence[str] = (),
    ) -> None:
        super().__init__(parent)
        self.role = role
        layout = QVBoxLayout(self)
        layout.setContentsMargins(14, 10, 14, 10)
        layout.setSpacing(6)

        header = QHBoxLayout()
        header.setSpacing(2)
        self._author = QLabel(self.tr("You") if role == "user" else self.tr("Gemma"), self)
        bold = QFont(self._author.font())
        bold.setBold(True)
        self._author.setFont(bold)
        header.addWidget(self._author)
        header.addStretch(1)
        self._edit = self._action(self.tr("Edit"), self.tr("Edit this message and send it again"))
        self._edit.clicked.connect(self.editRequested)
        self._regenerate = self._action(self.tr("Regenerate"), self.tr("Write this reply again"))
        self._regenerate.clicked.connect(self.regenerateRequested)
        self._copy = self._action(self.tr("Copy"), self.tr("Copy this message's text"))
        self._copy.clicked.connect(self._copy_text)
        for button in (self._edit, self._regenerate, self._copy):
            header.addWidget(button)
        layout.addLayout(header)

        self._thumbnails: dict[str, list[QToolButton]] = {}
        if images:
            row = QHBoxLayout()
            row.setSpacing(6)
            for ref in images:
                row.addWidget(self._thumbnail_button(ref))
            row.addStretch(1)
            layout.addLayout(row)
        if documents:
            size = self.style().pixelMetric(QStyle.PixelMetric.PM_SmallIconSize)
            file_icon = self.style().standardIcon(QStyle.StandardPixmap.SP_FileIcon).pixmap(size, size)
            for name in documents:
                row = QHBoxLayout()
                row.setSpacing(4)
                picture = QLabel(self)
                picture.setPixmap(file_icon)
                row.addWidget(picture)
                label = QLabel(name, self)
                label.setTextFormat(Qt.TextFormat.PlainText)
                label.setAccessibleName(self.tr("Attached document {name}").format(name=name))
                row.addWidget(label, 1)
                layout.addLayout(row)

        self._text = text
        self._shown = SplitReply("", "", False)
        """What of a reply's thought and answer is on screen (replies only)."""
        self._body: MarkdownView | QLabel
        if role == "assistant":
            self.thinking_toggle = QToolButton(self)
            self.thinking_toggle.setCheckable(True)
            self.thinking_toggle.setAutoRaise(True)
            self.thinking_toggle.setArrowType(Qt.ArrowType.RightArrow)
            self.thinking_toggle.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
            self.thinking_toggle.setToolTip(self.tr("Show or hide what the model thought before answering"))
            self.thinking_toggle.toggled.connect(self._show_thought)
            self.thought_view = QPlainTextEdit(self)
            self.thought_view.setReadOnly(True)
            self.thought_view.setAccessibleName(self.tr("What the model thought"))
            self.thought_view.setForegroundRole(QPalette.ColorRole.PlaceholderText)
            self.thought_view.setFrameShape(QFrame.Shape.NoFrame)
            lines = self.thought_view.fontMetrics().lineSpacing() * THOUGHT_LINES_SHOWN
            self.thought_view.setMaximumHeight(lines + 12)
            self.thinking_toggle.hide()
            self.thought_view.hide()
            layout.addWidget(self.thinking_toggle)
            layout.addWidget(self.thought_view)
            self._body = MarkdownView(self)
            self._body.setAccessibleName(self.tr("Reply text"))
            self._show_reply(text, whole=True)
        else:
            self._body = QLabel(text, self)
            self._body.setTextFormat(Qt.TextFormat.PlainText)
            self._body.setWordWrap(True)
            self._body.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            self._body.setAccessibleName(self.tr("Your message"))
            self._body.setVisible(bool(text))
        layout.addWidget(self._body)

        self._error_row = QWidget(self)
        error_layout = QHBoxLayout(self._error_row)
        error_layout.setContentsMargins(0, 4, 0, 0)
        icon = QLabel(self._error_row)
        size = self.style().pixelMetric(QStyle.PixelMetric.PM_SmallIconSize)
        icon.setPixmap(self.style().standardIcon(QStyle.StandardPixmap.SP_MessageBoxWarning).pixmap(size, size))
        error_layout.addWidget(icon, 0, Qt.AlignmentFlag.AlignTop)
        self.error_label = QLabel(self._error_row)
        self.error_label.setWordWrap(True)
        self.error_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        error_layout.addWidget(self.error_label, 1)
        self.retry_button = QToolButton(self._error_row)
        self.retry_button.setText(self.tr("Retry"))
        self.retry_button.setAccessibleName(self.tr("Retry this reply"))
        self.retry_button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)
        self.retry_button.clicked.connect(self.regenerateRequested)
        error_layout.addWidget(self.retry_button, 0, Qt.AlignmentFlag.AlignTop)
        self._error_row.hide()
        layout.addWidget(self._error_row)

        self.footer = QLabel(self)
        self.footer.setForegroundRole(QPalette.ColorRole.PlaceholderText)
        small = QFont(self.footer.font())
        small.setPointSizeF(small.pointSizeF() * 0.88)
        self.footer.setFont(small)
        self.footer.hide()
        layout.addWidget(self.footer)

        self.set_actions(edit=False, regenerate=False)

    # --------------------------------------------------------------------------- content
    @property
    def text(self) -> str:
        """The message as stored (a reply's thought included)."""
        return self._text

    @property
    def answer(self) -> str:
        """What the message says: a reply's answer without its thought."""
        return self._shown.answer if self.role == "assistant" else self._text

    def set_text(self, text: str) -> None:
        """Show ``text`` instead of what was shown, rendered as a whole (a finished reply)."""
        self._text = text
        if isinstance(self._body, MarkdownView):
            self._show_reply(text, whole=True)
        else:
            self._body.setText(text)
            self._body.setVisible(bool(text))

    def append_text(self, chunk: str) -> None:
        """Show ``chunk`` after the text (a reply streaming); a reply re-renders only its last
        blocks, so this costs the same however long the reply already is."""
        self._text += chunk
        if isinstance(self._body, MarkdownView):
            self._show_reply(self._text, whole=False)
        else:
            self._body.setText(self._text)
            self._body.setVisible(bool(self._text))

    def _show_reply(self, text: str, *, whole: bool) -> None:
        """Put a reply's thought in the Thinking section and its answer in the body; streaming,
        add only what is new to each."""
        assert isinstance(self._body, MarkdownView)
        reply = split_reply(text)
        shown = self._shown
        if whole or not reply.answer.startswith(shown.answer):
            self._body.set_markdown(reply.answer)
        elif len(reply.answer) > len(shown.answer):
            self._body.append_markdown(reply.answer[len(shown.answer) :])
        if whole or not reply.thought.startswith(shown.thought):
            self.thought_view.setPlainText(reply.thought)
        elif len(reply.thought) > len(shown.thought):
            cursor = self.thought_view.textCursor()
            cursor.movePosition(cursor.MoveOperation.End)
            cursor.insertText(reply.thought[len(shown.thought) :])
        self._shown = reply
        thought = bool(reply.thought) or reply.thinking
        self.thinking_toggle.setVisible(thought)
        self.thinking_toggle.setText(self.tr("Thinking…") if reply.thinking else self.tr("Thinking"))
        self._body.setVisible(bool(reply.answer) or not thought)

    def _show_thought(self, shown: bool) -> None:
        self.thinking_toggle.setArrowType(Qt.ArrowType.DownArrow if shown else Qt.ArrowType.RightArrow)
        self.thought_view.setVisible(shown)

    def set_thumbnail(self, key: str, image: QImage) -> None:
        """Show a thumbnail that was still being prepared when the message appeared."""
        for button in self._thumbnails.get(key, []):
            self._show_thumbnail(button, image)

    def set_outcome(self, finish_reason: str | None, metrics: Mapping[str, Any]) -> None:
        """The small line under a reply: how fast it came and why it ended; details on hover.

        ``finish_reason`` None means the reply is still being written.
        """
        parts = []
        if finish_reason is None:
            parts.append(self.tr("Writing…"))
        if metrics.get("decode_tokens"):
            parts.append(self.tr("first token {s} s").format(s=_decimal(metrics, "ttft_s", 2)))
            parts.append(self.tr("{rate} tokens/s").format(rate=_decimal(metrics, "decode_tok_s", 1)))
            parts.append(self.tr("%Ln token(s)", "", metric_count(metrics, "decode_tokens")))
        if metrics.get("thought_tokens"):
            thought = localized.number(metric_count(metrics, "thought_tokens"))
            parts.append(self.tr("{n} of them thinking").format(n=thought))
        ending = self._ending(finish_reason)
        if ending:
            parts.append(ending)
        self.footer.setText(" · ".join(parts))
        self.footer.setToolTip(self._details(metrics))
        self.footer.setVisible(bool(parts))

    def _ending(self, finish_reason: str | None) -> str:
        return {
            "length": self.tr("stopped at the token limit"),
            "context": self.tr("stopped: the context window is full"),
            "cancelled": self.tr("stopped by you"),
            "crashed": self.tr("cut short: the engine stopped"),
            "error": self.tr("cut short by an error"),
            "interrupted": self.tr("cut short: the app closed while writing"),
        }.get(finish_reason or "", "")

    def _details(self, metrics: Mapping[str, Any]) -> str:
        if not metrics:
            return ""
        lines = [
            self.tr("Time to first token: {s} s").format(s=_decimal(metrics, "ttft_s", 3)),
            self.tr("Speed: {rate} tokens/s").format(rate=_decimal(metrics, "decode_tok_s", 1)),
            self.tr("Reply tokens: {n}").format(n=localized.number(metric_count(metrics, "decode_tokens"))),
            self.tr("Prompt tokens: {n} ({cached} reused from cache)").format(
                n=localized.number(metric_count(metrics, "prompt_tokens")),
                cached=localized.number(metric_count(metrics, "cached_tokens")),
            ),
        ]
        if metrics.get("image_tokens"):
            lines.append(
                self.tr("Image tokens: {n}, encoded in {s} s").format(
                    n=localized.number(metric_count(metrics, "image_tokens")), s=_decimal(metrics, "image_encode_s", 2)
                )
            )
        if metrics.get("load_s"):
            lines.append(self.tr("Model load: {s} s").format(s=_decimal(metrics, "load_s", 2)))
        return "\n".join(lines)

    def set_error(self, message: str | None) -> None:
        """Show (or clear) a failure under the text, with Retry; the partial text stays."""
        self.error_label.setText(message or "")
        self._error_row.setVisible(bool(message))

    def set_actions(self, *, edit: bool, regenerate: bool) -> None:
        """Which of Edit and Regenerate this message offers (only the last ones do)."""
        self._edit.setVisible(edit and self.role == "user")
        self._regenerate.setVisible(regenerate and self.role == "assistant")
        self.retry_button.setEnabled(regenerate)

    # ---------------------------------------------------------------------------- look
    def paintEvent(self, event: QPaintEvent) -> None:
        """User messages sit on a rounded, faint tint of the palette's highlight colour (so it
        follows light and dark themes); replies sit on the chat's own background."""
        if self.role == "user":
            palette = self.palette()
            base = palette.color(QPalette.ColorRole.Base)
            painter = QPainter(self)
            painter.setRenderHint(QPainter.RenderHint.Antialiasing)
            painter.setPen(Qt.PenStyle.NoPen)
            painter.setBrush(blend(base, palette.color(QPalette.ColorRole.Highlight), 0.12))
            painter.drawRoundedRect(QRectF(self.rect()), 10, 10)
            painter.end()
        super().paintEvent(event)

    def _action(self, text: str, tooltip: str) -> QToolButton:
        button = QToolButton(self)
        button.setText(text)
        button.setToolTip(tooltip)
        button.setAccessibleName(tooltip)
        button.setAutoRaise(True)
        button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)
        return button

    def _thumbnail_button(self, ref: ImageRef) -> QToolButton:
        button = QToolButton(self)
        button.setAutoRaise(True)
        button.setIconSize(QSize(THUMBNAIL_SHOWN_PX, THUMBNAIL_SHOWN_PX))
        button.setToolTip(self.tr("{name}: click to view it larger").format(name=ref.name))
        button.setAccessibleName(self.tr("Image {name}").format(name=ref.name))
        button.setCursor(Qt.CursorShape.PointingHandCursor)
        button.clicked.connect(lambda: self.imageClicked.emit(ref.key))
        self._thumbnails.setdefault(ref.key, []).append(button)
        if ref.thumbnail is not None:
            self._show_thumbnail(button, ref.thumbnail)
        else:
            button.setText(self.tr("Loading…"))
            button.setEnabled(False)
            button.setFixedSize(THUMBNAIL_SHOWN_PX, THUMBNAIL_SHOWN_PX)
        return button

    def _show_thumbnail(self, button: QToolButton, image: QImage) -> None:
        pixmap = QPixmap.fromImage(image)
        pixmap.setDevicePixelRatio(max(1.0, max(image.width(), image.height()) / THUMBNAIL_SHOWN_PX))
        button.setIcon(QIcon(pixmap))
        button.setText("")
        button.setEnabled(True)
        button.setMinimumSize(0, 0)
        button.setMaximumSize(16777215, 16777215)

    def _copy_text(self) -> None:
        QGuiApplication.clipboard().setText(self.answer)


class ChatView(QScrollArea):
    """The messages of one conversation, newest at the bottom, following the stream.

    The view keeps following new text while the user is at the bottom and stays put once they
    scroll up to read.  It holds no conversation state of its own beyond its widgets.

    Signals:
        editRequested(): Edit on the last user message was clicked.
        regenerateRequested(): Regenerate or Retry on the last reply was clicked.
        imageClicked(str): a thumbnail was clicked; the argument is the image's key.
    """

    editRequested = Signal()
    regenerateRequested = Signal()
    imageClicked = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWidgetResizable(True)
        self.setFrameShape(QFrame.Shape.NoFrame)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setAccessibleName(self.tr("Conversation"))
        self._content = QWidget(self)
        self._content.setBackgroundRole(QPalette.ColorRole.Base)
        self._content.setAutoFillBackground(True)
        self._column = QVBoxLayout(self._content)
        self._column.setSpacing(10)
        self._column.addStretch(1)
        self.setWidget(self._content)
        self.viewport().setBackgroundRole(QPalette.ColorRole.Base)
        self._messages: list[MessageWidget] = []
        self._follow = True
        self.context_start = QLabel(self._content)
        """The divider where what Gemma sees begins, when a long conversation left turns out."""
        self.context_start.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.context_start.setWordWrap(True)
        self.context_start.setForegroundRole(QPalette.ColorRole.PlaceholderText)
        self.context_start.hide()
        bar = self.verticalScrollBar()
        bar.valueChanged.connect(self._on_scrolled)
        bar.rangeChanged.connect(self._on_range_changed)
        self._update_margins()

    @property
    def messages(self) -> list[MessageWidget]:
        return list(self._messages)

    def clear(self) -> None:
        for widget in self._messages:
            self._column.removeWidget(widget)
            widget.hide()  # out of the layout but still a child until deleted: never paint it
            widget.deleteLater()
        self._messages.clear()
        self.show_context_start(None, 0)
        self._follow = True

    def show_context_start(self, index: int | None, left_out: int) -> None:
        """A divider before message ``index``: the ``left_out`` messages above it (after the
        first exchange) no longer fit Gemma's context, which holds the first exchange and
        everything from the divider on.  None removes it."""
        self._column.removeWidget(self.context_start)
        if index is None or not 0 <= index < len(self._messages):
            self.context_start.hide()
            return
        self.context_start.setText(
            self.tr(
                "Gemma sees the first exchange and what follows this line; the %n message(s) "
                "between them no longer fit its context.",
                "",
                left_out,
            )
        )
        self._column.insertWidget(self._column.indexOf(self._messages[index]), self.context_start)
        self.context_start.show()

    def add_message(
        self, role: str, text: str, images: Sequence[ImageRef] = (), documents: Sequence[str] = ()
    ) -> MessageWidget:
        """Show a message with its images' thumbnails and its documents' names."""
        widget = MessageWidget(role, text, images, self._content, documents)
        widget.editRequested.connect(self.editRequested)
        widget.regenerateRequested.connect(self.regenerateRequested)
        widget.imageClicked.connect(self.imageClicked)
        self._column.insertWidget(self._column.count() - 1, widget)
        self._messages.append(widget)
        self._follow = True
        return widget

    def remove_from(self, index: int) -> None:
        """Remove the message at ``index`` and every one after it."""
        for widget in self._messages[index:]:
            self._column.removeWidget(widget)
            widget.hide()
            widget.deleteLater()
        del self._messages[index:]

    def set_thumbnail(self, key: str, image: QImage) -> None:
        for widget in self._messages:
            widget.set_thumbnail(key, image)

    def update_actions(self, *, busy: bool) -> None:
        """Offer Edit on the last prompt and Regenerate/Retry on the last reply, when idle."""
        last_user = max((i for i, w in enumerate(self._messages) if w.role == "user"), default=-1)
        last = len(self._messages) - 1
        for index, widget in enumerate(self._messages):
            widget.set_actions(
                edit=not busy and index == last_user,
                regenerate=not busy and index == last and widget.role == "assistant",
            )

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        self._update_margins()

    def _update_margins(self) -> None:
        side = max(12, (self.viewport().width() - MESSAGE_WIDTH) // 2)
        self._column.setContentsMargins(side, 12, side, 12)

    def _on_scrolled(self, value: int) -> None:
        self._follow = value >= self.verticalScrollBar().maximum() - 8

    def _on_range_changed(self, _minimum: int, maximum: int) -> None:
        if self._follow:
            self.verticalScrollBar().setValue(maximum)


class ImageViewer(QDialog):
    """A larger view of one image, scaled to fit the screen; Esc closes it.

    No signals of its own.
    """

    def __init__(self, image: QImage, title: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle(title)
        self.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        self._pixmap = QPixmap.fromImage(image)
        self._label = QLabel(self)
        self._label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self._label.setAccessibleName(title)
        self._label.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Ignored)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self._label)
        screen = (parent.screen() if parent else QGuiApplication.primaryScreen()).availableSize()
        fitted = image.size().scaled(screen * 0.85, Qt.AspectRatioMode.KeepAspectRatio)
        self.resize(fitted.boundedTo(image.size()).expandedTo(QSize(200, 150)))

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        ratio = self.devicePixelRatioF()
        scaled = self._pixmap.scaled(
            self._label.size() * ratio,
            Qt.AspectRatioMode.KeepAspectRatio,
            Qt.TransformationMode.SmoothTransformation,
        )
        scaled.setDevicePixelRatio(ratio)
        self._label.setPixmap(scaled)
