"""The open conversation: what is sent to the engine, what is kept in the store, what is shown.

A message with documents is counted by the engine first: one the context cannot hold is not
sent, and ``doesNotFit`` lets the window say so with the numbers and offer what would work; the
message stays in the composer.

Each conversation is its own engine thread (:func:`conversation_thread`): the engine keeps the
memory of the ones left behind and restores it when they come back.  While a message is being
written the engine reads ahead what is certain of it (the conversation just opened, then each
image attached, encoded the moment it arrives), so Send leaves only the words to read; a
conversation left idle is kept on disk.

Order matters for "nothing lost": the user's message (with its attachments) is committed before
the request goes out; the reply is written through a :class:`StreamingWriter` while it streams and
finished with its finish reason and metrics.  Streamed text reaches the screen at most ~30 times
a second (slower if painting takes long), re-rendering only the last blocks of that reply; the
finished reply is rendered once as a whole.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import QObject, QTimer, Signal, SignalInstance
from PySide6.QtGui import QImage

from desktop_app.engine.documents import PreparedDocument, fits_context, prepare_document
from desktop_app.engine.images import PreparedImage
from desktop_app.engine.protocol import (
    ChatMessage,
    Done,
    EngineError,
    FinishReason,
    Part,
    TokenCount,
    alternating_turns,
    conversation_thread,
)
from desktop_app.errors import Sentence, UserError
from desktop_app.settings import GenerationSettings
from desktop_app.store import (
    Attachment,
    Conversation,
    ConversationServer,
    ConversationStore,
    Message,
    StreamingWriter,
)
from desktop_app.thoughts import split_reply, unanswered
from desktop_app.ui import localized
from desktop_app.ui.attachments import (
    Attachment as NewAttachment,
)
from desktop_app.ui.attachments import (
    DocumentAttachment,
    ImageSource,
    PreparedAttachment,
    full_image,
    prepare_stored,
)
from desktop_app.ui.background import BackgroundWork
from desktop_app.ui.chat_view import ChatView, ImageRef, ImageViewer, MessageWidget
from desktop_app.ui.composer import Composer
from desktop_app.ui.engine_bridge import EngineBridge

PAINT_INTERVAL_MS = 33
"""At most ~30 repaints a second of the streaming reply."""

FLUSH_INTERVAL_MS = 1000
"""A reply that stalls mid-stream still reaches the disk within this."""

HARD_STOP_AFTER_MS = 1500
"""A soft stop not honoured by then (an image encode llama.cpp cannot interrupt) kills the engine."""

IDLE_SAVE_MS = 20_000
"""A conversation left this long after a reply is kept on disk (the engine writes it in the
background), so even a crash or a power cut leaves it warm for the next start."""


@dataclass
class _Reply:
    """The reply being written."""

    message_id: int
    writer: StreamingWriter
    widget: MessageWidget | None
    """None once the user has switched to another conversation (the reply still finishes)."""
    text: str = ""
    sent: bool = False
    """False while it waits for the conversation's images to be prepared."""


class ChatSession(QObject):
    """Holds the open conversation and runs its replies through the engine into the store.

    Signals:
        busyChanged(bool): a reply started (True) or ended (False).
        replyEnded(object): a reply finished with these metrics (a dict; empty after a failure).
        conversationChanged(object): this Conversation (None: a new, unsaved one) is now open, or
            its settings or title changed.
        listChanged(): titles or the order of activity changed; the list should be refreshed.
        notice(str): a sentence for the user that belongs to no single message.
        sent(): a message given to :meth:`request_send` was sent (the composer may be cleared).
        doesNotFit(object, list): a message given to :meth:`request_send` needs more than the
            context holds: its TokenCount and its attachments; it was not sent.
        aboutToAsk(object): the engine is about to be asked about the open conversation (a
            count or a reply) where it runs (a ConversationServer, None for this computer);
            connected directly, a slot can still queue work on the bridge ahead of it (checking
            the server).
    """

    busyChanged = Signal(bool)
    replyEnded = Signal(object)
    conversationChanged = Signal(object)
    listChanged = Signal()
    notice = Signal(str)
    sent = Signal()
    doesNotFit = Signal(object, list)
    aboutToAsk = Signal(object)

    def __init__(
        self,
        store: ConversationStore,
        bridge: EngineBridge,
        work: BackgroundWork,
        view: ChatView,
        composer: Composer,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self._store = store
        self._bridge = bridge
        self._work = work
        self._view = view
        self._composer = composer
        self.conversation: Conversation | None = None
        self.messages: list[Message] = []
        self._draft_settings = GenerationSettings()
        self._draft_prompt = ""
        self._model: tuple[Path, Path | None] | None = None
        self._images: dict[str, PreparedImage] = {}
        self._documents: dict[str, PreparedDocument] = {}
        self._vision = False
        self._counting: tuple[str, list[NewAttachment]] | None = None
        """The message waiting for its count before it is sent."""
        self._thumbnails: dict[str, QImage] = {}
        self._unavailable: dict[str, str] = {}
        self._preparing: set[str] = set()
        self._epoch = 0
        """Counts view resets, so a late image result for a conversation left behind is dropped."""
        self._reply: _Reply | None = None
        self._edit_index: int | None = None
        self._paint_interval = PAINT_INTERVAL_MS

        self._paint_timer = QTimer(self)
        self._paint_timer.setSingleShot(True)
        self._paint_timer.timeout.connect(self._paint)
        self._flush_timer = QTimer(self)
        self._flush_timer.setInterval(FLUSH_INTERVAL_MS)
        self._flush_timer.timeout.connect(self._flush)
        self._idle_timer = QTimer(self)
        self._idle_timer.setSingleShot(True)
        self._idle_timer.setInterval(IDLE_SAVE_MS)
        self._idle_timer.timeout.connect(self._save_when_idle)

        self._server: ConversationServer | None = None
        for signal, slot in self._bridge_slots():
            signal.connect(slot)
        view.editRequested.connect(self.begin_edit)
        view.regenerateRequested.connect(self.regenerate)
        view.imageClicked.connect(self.show_image)
        composer.editCancelled.connect(self._end_edit)
        composer.imageAttached.connect(self._image_attached)
        composer.imageRemoved.connect(self._image_removed)

    # ------------------------------------------------------------------------ state
    @property
    def busy(self) -> bool:
        return self._reply is not None

    @property
    def server(self) -> ConversationServer | None:
        """Where the open conversation's replies run: a server, or None for this computer."""
        return self._server

    @property
    def settings(self) -> GenerationSettings:
        return self.conversation.settings if self.conversation else self._draft_settings

    @property
    def system_prompt(self) -> str:
        return self.conversation.system_prompt if self.conversation else self._draft_prompt

    @property
    def engine_thread(self) -> str:
        """The engine thread of the open conversation ("" before its first message: the engine
        then carries what it read ahead over to the thread the conversation gets)."""
        return conversation_thread(self.conversation.id) if self.conversation else ""

    def set_model(self, model: Path, mmproj: Path | None) -> None:
        """The model that answers from now on; recorded on the conversation when it is used."""
        self._model = (model, mmproj)
        self._vision = mmproj is not None

    def run_on(self, server: ConversationServer | None, bridge: EngineBridge) -> None:
        """Where the open conversation's replies are computed from now on: ``server`` (None:
        this computer), through ``bridge``.  Saved on the conversation at once (a new one keeps
        it for its first message); a reply in progress finishes where it started."""
        self._server = server
        if bridge is not self._bridge and not self.busy:
            for signal, slot in self._bridge_slots():
                signal.disconnect(slot)
            self._bridge = bridge
            for signal, slot in self._bridge_slots():
                signal.connect(slot)
        if self.conversation is not None and self.conversation.server != server:
            try:
                self.conversation = self._store.update_conversation_settings(
                    self.conversation.id, server=server
                )
            except UserError as exc:
                self.notice.emit(localized.error(exc))
                return
            self.conversationChanged.emit(self.conversation)

    def _bridge_slots(self) -> list[tuple[SignalInstance, Callable[..., None]]]:
        return [
            (self._bridge.textArrived, self._on_text),
            (self._bridge.replyFinished, self._on_finished),
            (self._bridge.replyFailed, self._on_failed),
            (self._bridge.tokensCounted, self._on_counted),
            (self._bridge.countFailed, self._on_count_failed),
            (self._bridge.imageStatus, self._composer.set_image_state),
        ]

    # ---------------------------------------------------------------- conversations
    def new_conversation(self) -> None:
        """Show an empty conversation; it is saved with its first message."""
        self._detach_reply()
        self.conversation = None
        self.messages = []
        self._draft_settings = GenerationSettings()
        self._draft_prompt = ""
        self._reset_view()
        self.conversationChanged.emit(None)

    def open_conversation(self, conversation_id: int) -> None:
        """Show a stored conversation with its images (prepared in the background)."""
        if self.conversation is not None and self.conversation.id == conversation_id:
            return
        try:
            conversation = self._store.get_conversation(conversation_id)
            messages = self._store.messages(conversation_id)
        except UserError as exc:
            self.notice.emit(localized.error(exc))
            self.listChanged.emit()
            return
        self._detach_reply()
        self.conversation = conversation
        self.messages = messages
        self._reset_view()
        for message in messages:
            self._show_message(message)
        self._view.update_actions(busy=self.busy)
        self._show_context_start()
        self.conversationChanged.emit(conversation)
        self._read_ahead()  # warm while the next message is written

    def forget_conversation(self, conversation_id: int) -> None:
        """The conversation was deleted: if it is open, show a new one instead."""
        if self.conversation is not None and self.conversation.id == conversation_id:
            self.new_conversation()

    def update_settings(self, settings: GenerationSettings) -> None:
        if self.conversation is None:
            self._draft_settings = settings
            return
        self._save_conversation(settings, None)

    def update_system_prompt(self, text: str) -> None:
        if self.conversation is None:
            self._draft_prompt = text
            return
        self._save_conversation(None, text)

    def _save_conversation(self, settings: GenerationSettings | None, system_prompt: str | None) -> None:
        assert self.conversation is not None
        try:
            self.conversation = self._store.update_conversation_settings(
                self.conversation.id, settings, system_prompt=system_prompt
            )
        except UserError as exc:
            self.notice.emit(localized.error(exc))

    def _reset_view(self) -> None:
        self._epoch += 1
        self._view.clear()
        self._preparing.clear()
        self._images.clear()
        self._documents.clear()
        self._thumbnails.clear()
        self._unavailable.clear()
        # A message being typed stays for the next conversation; an edit of this one does not.
        if self._edit_index is not None:
            self._composer.cancel_edit()

    # ------------------------------------------------------------------------ sending
    def request_send(self, text: str, attachments: Sequence[NewAttachment]) -> None:
        """Send the message, after the engine has counted it when it carries documents;
        ``sent`` or ``doesNotFit`` (or a ``notice``) follows."""
        if self.busy or self._counting is not None:
            return
        if not any(isinstance(a, DocumentAttachment) for a in attachments):
            if self.send(text, attachments):
                self.sent.emit()
            return
        self._counting = (text, list(attachments))
        self.aboutToAsk.emit(self._server)
        kept = self.messages if self._edit_index is None else self.messages[: self._edit_index]
        messages = [*self._engine_messages(kept), ChatMessage.user(*_parts(attachments), text)]
        self._bridge.count(alternating_turns(messages), self.system_prompt, self.settings, self)

    def _on_counted(self, key: object, count: TokenCount) -> None:
        if key is not self or self._counting is None:
            return
        text, attachments = self._counting
        self._counting = None
        if not fits_context(count.prompt_tokens, count.n_ctx):
            self.doesNotFit.emit(count, attachments)
        elif self.send(text, attachments):
            self.sent.emit()

    def _on_count_failed(self, key: object, message: str) -> None:
        if key is self and self._counting is not None:
            self._counting = None
            self.notice.emit(message)

    def send(self, text: str, attachments: Sequence[NewAttachment]) -> bool:
        """Commit the user's message, show it and start the reply; False if nothing was sent
        (the composer then keeps its text and attachments)."""
        if self.busy:
            return False
        try:
            conversation = self._conversation_for_sending()
            if self._edit_index is not None:
                self._store.delete_messages_from(conversation.id, self.messages[self._edit_index].position)
                self._view.remove_from(self._edit_index)
                del self.messages[self._edit_index :]
            hashes = []
            for attachment in attachments:
                if isinstance(attachment, DocumentAttachment):
                    sha256 = self._store.add_document(
                        attachment.data, attachment.mime, attachment.document.plain_text
                    )
                    self._documents[sha256] = attachment.document
                else:
                    sha256 = self._store.add_attachment(
                        attachment.data, attachment.mime, attachment.width, attachment.height
                    )
                    self._images[sha256] = attachment.image
                    self._thumbnails[sha256] = attachment.thumbnail
                hashes.append(sha256)
            names = [attachment.name for attachment in attachments]
            cuts = [
                len(a.document.pages) if isinstance(a, DocumentAttachment) and a.document.is_cut else None
                for a in attachments
            ]
            views = [a.image.pan_scan if isinstance(a, PreparedAttachment) else None for a in attachments]
            message = self._store.add_user_message(conversation.id, text, hashes, names, cuts, views)
        except UserError as exc:
            self.notice.emit(localized.error(exc))
            return False
        self._end_edit()
        self.messages.append(message)
        self._show_message(message)
        self._start_reply()
        self.listChanged.emit()
        return True

    def regenerate(self) -> None:
        """Write the last reply again (also Retry after a failure); with no reply yet, write one."""
        if self.busy or self.conversation is None or not self.messages:
            return
        last = self.messages[-1]
        if last.role == "assistant":
            try:
                self._store.delete_messages_from(self.conversation.id, last.position)
            except UserError as exc:
                self.notice.emit(localized.error(exc))
                return
            self.messages.pop()
            self._view.remove_from(len(self.messages))
        self._start_reply()

    def begin_edit(self) -> None:
        """Put the last user message back in the composer; sending replaces it and what followed."""
        if self.busy:
            return
        index = max((i for i, m in enumerate(self.messages) if m.role == "user"), default=None)
        if index is None:
            return
        message = self.messages[index]
        sources = [
            ImageSource(attachment.path, _display_name(attachment, n, self.tr("image {n}")))
            for n, attachment in enumerate(message.attachments, start=1)
        ]
        self._composer.begin_edit(message.text, sources)
        self._edit_index = index

    def _end_edit(self) -> None:
        self._edit_index = None

    def stop(self) -> None:
        """Stop the reply, keeping what streamed; kill the engine if it cannot stop in time."""
        reply = self._reply
        if reply is None:
            return
        if not reply.sent:
            self._finish(reply, "cancelled", {}, None)
            return
        self._bridge.cancel()

        def insist() -> None:
            if self._reply is reply:
                self._bridge.cancel(hard=True)

        QTimer.singleShot(HARD_STOP_AFTER_MS, self, insist)

    def _conversation_for_sending(self) -> Conversation:
        model, mmproj = self._model if self._model else (None, None)
        if self.conversation is None:
            self.conversation = self._store.create_conversation(
                model_path=model if self._server is None else None,
                mmproj_path=mmproj if self._server is None else None,
                system_prompt=self._draft_prompt,
                settings=self._draft_settings,
                server=self._server,
            )
            self.conversationChanged.emit(self.conversation)
        elif self._server is None and model is not None and (
            self.conversation.model_path != str(model)
            or self.conversation.mmproj_path != (str(mmproj) if mmproj else None)
        ):
            self.conversation = self._store.update_conversation_settings(
                self.conversation.id, model_path=model, mmproj_path=mmproj
            )
        return self.conversation

    # ------------------------------------------------------------------------ replies
    def _start_reply(self) -> None:
        assert self.conversation is not None
        try:
            message_id = self._store.begin_assistant_message(self.conversation.id)
        except UserError as exc:
            self.notice.emit(localized.error(exc))
            return
        widget = self._view.add_message("assistant", "")
        widget.set_outcome(None, {})
        self._reply = _Reply(message_id, StreamingWriter(self._store, message_id), widget)
        self._paint_interval = PAINT_INTERVAL_MS
        self._flush_timer.start()
        self._view.update_actions(busy=True)
        self.busyChanged.emit(True)
        self._send_when_images_ready()

    def _send_when_images_ready(self) -> None:
        """Send the request once every image of the conversation has been prepared."""
        reply = self._reply
        if reply is None or reply.sent or self.conversation is None:
            return
        waiting = [
            a
            for m in self.messages
            for a in m.attachments
            if not self._has_prepared(a.sha256) and a.sha256 not in self._unavailable
        ]
        if waiting:
            return  # each arrival (see _prepare_stored) calls this again
        missing = {a.sha256 for m in self.messages for a in m.attachments} & set(self._unavailable)
        if missing:
            left_out = self.tr(
                "%n earlier attachment(s) of this conversation could not be read and were left out.", "", len(missing)
            )
            self.notice.emit(left_out)
        reply.sent = True
        self.aboutToAsk.emit(self._server)
        self._bridge.generate(
            self._engine_messages(), self.conversation.system_prompt, self.conversation.settings, self.engine_thread
        )

    # ------------------------------------------------------------------------ reading ahead
    def _read_ahead(self) -> None:
        """Have the engine read what is certain of the message being written: the conversation
        (once its stored attachments are prepared), then the images attached so far."""
        if self.busy or self._edit_index is not None or self._model is None or self._server is not None:
            return
        if any(not self._has_prepared(a.sha256) and a.sha256 not in self._unavailable
               for m in self.messages for a in m.attachments):
            return  # each arrival (see _prepare_stored) calls this again
        images = [a.image for a in self._composer.attachments if isinstance(a, PreparedAttachment)]
        messages = alternating_turns([*self._engine_messages(), ChatMessage.user(*images)])
        self._bridge.read_ahead(messages, self.system_prompt, self.settings, self.engine_thread)

    def _image_attached(self, image: PreparedImage) -> None:
        """Encode an image the moment it is attached, or its views again when its Pan & Scan
        choice changed (queued behind a reply in progress); a server reads it when it is sent."""
        if self._server is None:
            self._bridge.prefetch_image(image, self.settings.pan_scan)
            self._read_ahead()

    def _image_removed(self, sha256: str) -> None:
        self._bridge.drop_prefetch(sha256)
        self._read_ahead()

    def _save_when_idle(self) -> None:
        if not self.busy and self.conversation is not None and self._server is None:
            self._bridge.save_snapshot()

    def _engine_messages(self, messages: Sequence[Message] | None = None) -> list[ChatMessage]:
        """The conversation as the engine takes it: strictly alternating user/assistant turns.

        A user turn left without a reply (the app died before it began) is merged with the
        next one; images come before the text, as Gemma 3 is usually prompted.  A reply goes back
        as its answer: what the model thought stays out of the history, as Gemma 4's card asks.
        """
        turns: list[ChatMessage] = []
        for message in self.messages if messages is None else messages:
            if message.role == "user":
                parts: list[Part] = [
                    prepared
                    for a in message.attachments
                    if (prepared := self._images.get(a.sha256) or self._documents.get(a.sha256)) is not None
                ]
                if message.text:
                    parts.append(message.text)
                turns.append(ChatMessage.user(*parts))
            else:
                turns.append(ChatMessage.assistant(split_reply(message.text).answer))
        return alternating_turns(turns)

    def _has_prepared(self, sha256: str) -> bool:
        return sha256 in self._images or sha256 in self._documents

    def _on_text(self) -> None:
        if self._reply is not None and not self._paint_timer.isActive():
            self._paint_timer.start(self._paint_interval)

    def _paint(self) -> None:
        """Show what streamed since the last paint, re-rendering only the reply's last blocks."""
        reply = self._reply
        chunk = self._bridge.take_text()
        if reply is None or not chunk:
            return
        reply.text += chunk
        reply.writer.append(chunk)
        if reply.widget is not None:
            started = time.perf_counter()
            reply.widget.append_text(chunk)
            spent_ms = (time.perf_counter() - started) * 1000
            # A long unsettled tail (a big code block or table) takes longer to lay out: leave
            # the UI at least half its time.
            self._paint_interval = max(PAINT_INTERVAL_MS, int(spent_ms * 2))

    def _flush(self) -> None:
        if self._reply is not None:
            try:
                self._reply.writer.flush()
            except UserError as exc:
                self.notice.emit(localized.error(exc))

    def _on_finished(self, done: Done) -> None:
        reply = self._reply
        if reply is None:
            return
        self._bridge.take_text()  # the final text is in ``done``
        if done.notice:
            self.notice.emit(localized.sentence(done.notice))
        self._finish(reply, done.finish_reason, dataclasses.asdict(done.metrics), None, done.text)

    def _on_failed(self, error: EngineError) -> None:
        reply = self._reply
        if reply is None:
            return
        reason: FinishReason = "crashed" if error.kind == "crashed" else "error"
        # The English for exports and the command line, the sentence to show it translated later.
        metrics: dict[str, object] = {"error": error.message}
        if error.sentence is not None:
            metrics["error_sentence"] = error.sentence.to_json()
        self._finish(reply, reason, metrics, localized.engine_error(error))

    def _finish(
        self,
        reply: _Reply,
        finish_reason: FinishReason,
        metrics: Mapping[str, object],
        error: str | None,
        text: str | None = None,
    ) -> None:
        """End the reply: final text, reason and metrics to the store and the screen."""
        self._paint_timer.stop()
        self._flush_timer.stop()
        self._reply = None
        final = reply.text + self._bridge.take_text() if text is None else text
        try:
            self._store.finish_assistant_message(reply.message_id, final, finish_reason, metrics)
        except UserError as exc:
            self.notice.emit(localized.error(exc))
        if reply.widget is not None:
            reply.widget.set_text(final)
            reply.widget.set_outcome(finish_reason, metrics)
            reply.widget.set_error(error or self._unanswered(final, finish_reason))
            self._refresh_messages()
            self._show_context_start()
        self._view.update_actions(busy=False)
        self.busyChanged.emit(False)
        self.replyEnded.emit(metrics)
        self.listChanged.emit()
        self._idle_timer.start()
        self._read_ahead()  # words already typed, or images attached meanwhile

    def _detach_reply(self) -> None:
        """Leaving the conversation: stop its reply, which still finishes into the store."""
        if self._reply is not None:
            self._reply.widget = None
            self.stop()

    def _show_context_start(self) -> None:
        """Mark where what Gemma saw last begins (its last reply says how many messages after
        the first exchange it left out)."""
        replies = [m for m in self.messages if m.role == "assistant" and m.metrics]
        left_out = int(replies[-1].metrics.get("dropped_turns") or 0) if replies else 0
        self._view.show_context_start(2 + left_out if left_out else None, left_out)

    def _refresh_messages(self) -> None:
        if self.conversation is None:
            return
        try:
            self.messages = self._store.messages(self.conversation.id)
        except UserError as exc:
            self.notice.emit(localized.error(exc))

    # ------------------------------------------------------------------------ display
    def _show_message(self, message: Message) -> None:
        refs = []
        documents = []
        for n, attachment in enumerate(message.attachments, start=1):
            key = attachment.sha256
            name = _display_name(attachment, n, self.tr("image {n}"))
            if attachment.is_document:
                documents.append(name)
            else:
                refs.append(ImageRef(key, name, self._thumbnails.get(key)))
            if not self._has_prepared(key) and key not in self._unavailable and key not in self._preparing:
                self._prepare_stored(key, attachment, name)
        widget = self._view.add_message(message.role, message.text, refs, documents)
        if message.role == "assistant":
            finish = message.finish_reason or "interrupted"
            widget.set_outcome(finish, message.metrics)
            if message.finish_reason in ("crashed", "error"):
                widget.set_error(self._stored_error(message.metrics))
            else:
                widget.set_error(self._unanswered(message.text, finish))

    def _stored_error(self, metrics: Mapping[str, object]) -> str:
        """Why a stored reply failed, in the window's language when its sentence was kept."""
        said = Sentence.from_json(metrics.get("error_sentence"))
        if said is not None:
            return localized.sentence(said)
        return str(metrics.get("error") or self.tr("This reply was cut short by an error."))

    @staticmethod
    def _unanswered(text: str, finish_reason: str) -> str | None:
        """Why a reply that thought has no answer, in one sentence (None when it has one)."""
        problem = unanswered(split_reply(text), finish_reason)
        return localized.error(problem) if problem is not None else None

    def _prepare_stored(self, key: str, attachment: Attachment, name: str) -> None:
        self._preparing.add(key)
        epoch = self._epoch
        path, vision = attachment.path, self._vision

        def ready(result: tuple[PreparedImage, QImage]) -> None:
            if self._epoch != epoch:
                return
            self._preparing.discard(key)
            self._images[key], self._thumbnails[key] = result
            self._view.set_thumbnail(key, result[1])
            self._send_when_images_ready()
            self._read_ahead()

        def document_ready(document: PreparedDocument) -> None:
            if self._epoch != epoch:
                return
            self._preparing.discard(key)
            self._documents[key] = document
            self._send_when_images_ready()
            self._read_ahead()

        def failed(message: str) -> None:
            if self._epoch != epoch:
                return
            self._preparing.discard(key)
            self._unavailable[key] = message
            self._send_when_images_ready()

        if attachment.is_document:
            self._work.run(
                lambda: prepare_document(path, name=name, vision=vision).first_pages(attachment.first_pages),
                document_ready,
                failed,
            )
        else:
            self._work.run(lambda: prepare_stored(path, name, attachment.pan_scan), ready, failed)

    def show_image(self, key: str) -> None:
        """Open the larger view of an image of this conversation."""
        image = self._images.get(key)
        if image is None:
            if key in self._unavailable:
                self.notice.emit(self._unavailable[key])
            return
        viewer = ImageViewer(full_image(image), self.tr("Image"), self._view.window())
        viewer.show()

    # ------------------------------------------------------------------------ closing
    def shutdown(self) -> None:
        """Keep a reply still streaming as it is (marked cancelled) before the window goes."""
        reply = self._reply
        if reply is not None:
            reply.widget = None
            self._finish(reply, "cancelled", {}, None)


def _parts(attachments: Sequence[NewAttachment]) -> list[Part]:
    """What the engine reads of attachments being sent: pixels, or a document's text."""
    return [a.document if isinstance(a, DocumentAttachment) else a.image for a in attachments]


def _display_name(attachment: Attachment, number: int, image_template: str) -> str:
    """How a stored attachment is called: its file name, else "image N"."""
    return attachment.name or image_template.format(n=number)
