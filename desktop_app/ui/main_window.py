"""The main window: conversation list, chat, composer, settings and status bar, wired together,
and the Models page in place of the chat when asked for (toolbar, View menu, Ctrl+Shift+M, or
the model's name in the status bar).

The window builds the widgets, connects them and shows state; the model choice and its loading
are the :class:`ModelController`'s business, the open conversation's replies the
:class:`ChatSession`'s, the servers a conversation can run on the :class:`ServerController`'s.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QMimeData, Qt, Signal
from PySide6.QtGui import QAction, QCloseEvent, QDragEnterEvent, QDropEvent, QKeySequence, QPalette
from PySide6.QtWidgets import (
    QDockWidget,
    QFileDialog,
    QFrame,
    QLabel,
    QMainWindow,
    QMessageBox,
    QProgressBar,
    QSplitter,
    QStackedWidget,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from desktop_app import APP_NAME
from desktop_app.engine.documents import REPLY_ROOM, PreparedDocument, shortfall_of
from desktop_app.engine.images import pan_scan_for_backend
from desktop_app.engine.protocol import ChatMessage, LoadRequest, ModelLoaded, Progress, TokenCount
from desktop_app.engine.snapshots import snapshot_disk_usage
from desktop_app.errors import UserError
from desktop_app.models.fit import context_that_holds, machine_memory
from desktop_app.models.gemma_files import ModelSetup
from desktop_app.models.registry import LocalModel
from desktop_app.store import Conversation, ConversationServer, ConversationStore
from desktop_app.ui import localized
from desktop_app.ui.api_switch import ApiServerSwitch
from desktop_app.ui.attachments import Attachment, DocumentAttachment, PreparedAttachment, mime_has_images
from desktop_app.ui.background import BackgroundWork
from desktop_app.ui.chat_session import ChatSession
from desktop_app.ui.chat_view import ChatView, metric_count
from desktop_app.ui.composer import Composer
from desktop_app.ui.conversation_list import ConversationList
from desktop_app.ui.engine_bridge import EngineBridge
from desktop_app.ui.first_run import FirstRunPanel
from desktop_app.ui.model_controller import ModelChoice, ModelController, ModelState
from desktop_app.ui.models_page import ModelsPage
from desktop_app.ui.preferences import Preferences, save_preferences
from desktop_app.ui.runs_on import RunsOnBox
from desktop_app.ui.server_controller import ServerController
from desktop_app.ui.server_dialog import ServerDialog
from desktop_app.ui.settings_panel import SettingsPanel
from desktop_app.ui.widgets import NoticeBar, dismiss_button


def _without_mnemonic(text: str) -> str:
    """An action's text for its tooltip: no "&" mnemonic (nor a translation's "(&F)"), no "…"."""
    return re.sub(r"\s*\(&\w\)", "", text).replace("&", "").rstrip("…").strip()


class ChatPane(QWidget):
    """The middle column; images (or a GGUF) dropped anywhere on it go to the composer.

    Signals:
        mimeDropped(QMimeData): something droppable was dropped on the chat.
    """

    mimeDropped = Signal(QMimeData)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setAcceptDrops(True)

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        if mime_has_images(event.mimeData()):
            event.acceptProposedAction()

    def dropEvent(self, event: QDropEvent) -> None:
        self.mimeDropped.emit(event.mimeData())
        event.acceptProposedAction()


class MainWindow(QMainWindow):
    """The app's window.  It takes ownership of ``store`` and ``bridge``: closing it ends the
    running reply (kept, marked cancelled), stops the API server if it runs, stops the engine and
    closes the store.

    It defines no signals of its own.
    """

    def __init__(
        self,
        store: ConversationStore,
        bridge: EngineBridge,
        preferences: Preferences,
        parent: QWidget | None = None,
        servers: ServerController | None = None,
    ) -> None:
        super().__init__(parent)
        self.store = store
        self.bridge = bridge
        self.work = BackgroundWork(self)
        self.model_controller = ModelController(bridge, self.work, preferences, self)
        self.servers = servers or ServerController(self.work, parent=self)
        """Saved servers and the bridge of conversations that run on one."""
        self._closed = False
        self.setWindowTitle(APP_NAME)
        self.resize(1180, 780)

        # ---- widgets
        self.conversations = ConversationList(self)
        self.chat_view = ChatView(self)
        self.composer = Composer(self.work, self)
        self.first_run = FirstRunPanel(self)
        self.notice = NoticeBar(self)
        self.settings_panel = SettingsPanel(self)
        self.settings_panel.set_runtime(preferences.runtime)
        self.settings_panel.set_runtime_enabled(True)
        self.settings_panel.set_language(preferences.language)

        self.chat_pane = ChatPane(self)
        pane = QVBoxLayout(self.chat_pane)
        pane.setContentsMargins(0, 0, 0, 0)
        pane.setSpacing(0)
        pane.addWidget(self.notice)
        self.pages = QStackedWidget(self.chat_pane)
        self.pages.addWidget(self.first_run)
        self.pages.addWidget(self.chat_view)
        pane.addWidget(self.pages, 1)
        line = QFrame(self.chat_pane)
        line.setFrameShape(QFrame.Shape.HLine)
        line.setFrameShadow(QFrame.Shadow.Sunken)
        pane.addWidget(line)
        pane.addWidget(self.composer)

        splitter = QSplitter(Qt.Orientation.Horizontal, self)
        splitter.addWidget(self.conversations)
        splitter.addWidget(self.chat_pane)
        splitter.setStretchFactor(1, 1)
        splitter.setSizes([250, 930])
        splitter.setChildrenCollapsible(False)
        self.chat_splitter = splitter

        self.settings_dock = QDockWidget(self.tr("Settings"), self)
        self.settings_dock.setObjectName("settings")
        self.settings_dock.setWidget(self.settings_panel)
        self.settings_dock.setAllowedAreas(Qt.DockWidgetArea.RightDockWidgetArea | Qt.DockWidgetArea.LeftDockWidgetArea)
        self.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, self.settings_dock)
        self.settings_dock.hide()

        self.models_page = ModelsPage(self.model_controller, self.work, self)
        self.views = QStackedWidget(self)
        self.views.addWidget(splitter)
        self.views.addWidget(self.models_page)
        self.setCentralWidget(self.views)

        self.session = ChatSession(store, bridge, self.work, self.chat_view, self.composer, self)
        self._build_status_bar()
        self._build_actions()
        self.api_switch = self._build_api_switch()
        self._wire()

        self._refresh_list()
        self.session.new_conversation()
        self._model_state_changed(ModelState.NONE)
        self.model_controller.restore()

    # ---------------------------------------------------------------------- building
    def _build_status_bar(self) -> None:
        bar = self.statusBar()
        # A flat button that reads like a label: the model's name opens the Models page.
        self.status_model = QToolButton(self)
        self.status_model.setText(self.tr("No model"))
        self.status_model.setAutoRaise(True)
        self.status_model.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)
        self.status_model.setAccessibleName(self.tr("Model (opens the Models page)"))
        self.status_model.clicked.connect(self.show_models)
        self.status_backend = QLabel(self)
        self.status_backend.setAccessibleName(self.tr("Backend"))
        self.status_state = QLabel(self)
        self.status_state.setAccessibleName(self.tr("State"))
        self.status_speed = QLabel(self)
        self.status_speed.setAccessibleName(self.tr("Speed of the last reply"))
        self.status_context = QLabel(self)
        self.status_context.setAccessibleName(self.tr("Context used"))
        self.status_unencrypted = QLabel(self.tr("Unencrypted"), self)
        self.status_unencrypted.setAccessibleName(self.tr("Connection warning"))
        palette = self.status_unencrypted.palette()
        palette.setColor(QPalette.ColorRole.WindowText, Qt.GlobalColor.red)
        self.status_unencrypted.setPalette(palette)
        self.status_unencrypted.hide()
        self.status_progress = QProgressBar(self)
        self.status_progress.setRange(0, 0)  # busy until llama.cpp reports how far it has read
        self.status_progress.setMaximumWidth(120)
        self.status_progress.setAccessibleName(self.tr("Loading"))
        self.status_progress.hide()
        self.status_cancel_load = dismiss_button(self, self.tr("Cancel loading the model"))
        self.status_cancel_load.setToolTip(self.tr("Cancel loading"))
        self.status_cancel_load.clicked.connect(self.model_controller.cancel_load)
        self.status_cancel_load.hide()
        bar.addWidget(self.status_model, 1)
        for widget in (
            self.status_unencrypted,
            self.status_progress,
            self.status_cancel_load,
            self.status_backend,
            self.status_state,
            self.status_speed,
            self.status_context,
        ):
            bar.addPermanentWidget(widget)

    def _build_actions(self) -> None:
        file_menu = self.menuBar().addMenu(self.tr("&File"))
        self.new_action = self._action(self.tr("&New chat"), QKeySequence.StandardKey.New, self.new_chat)
        self.open_action = self._action(self.tr("&Open model…"), QKeySequence.StandardKey.Open, self.open_model_dialog)
        self.projector_action = self._action(self.tr("Choose vision &projector…"), None, self.choose_projector_dialog)
        self.projector_action.setEnabled(False)
        quit_action = self._action(self.tr("&Quit"), QKeySequence.StandardKey.Quit, self.close)
        for action in (self.new_action, self.open_action, self.projector_action):
            file_menu.addAction(action)
        file_menu.addSeparator()
        file_menu.addAction(quit_action)

        chat_menu = self.menuBar().addMenu(self.tr("&Chat"))
        self.stop_action = self._action(self.tr("&Stop reply"), QKeySequence(Qt.Key.Key_Escape), self.session.stop)
        # Enabled only while a reply runs, so Esc keeps its usual meaning everywhere else.
        self.stop_action.setEnabled(False)
        self.focus_action = self._action(self.tr("&Focus message box"), QKeySequence("Ctrl+L"), self.focus_input)
        self.regenerate_action = self._action(
            self.tr("&Regenerate last reply"), QKeySequence("Ctrl+R"), self.session.regenerate
        )
        self.edit_action = self._action(self.tr("&Edit last message"), QKeySequence("Ctrl+E"), self.session.begin_edit)
        for action in (self.stop_action, self.focus_action, self.regenerate_action, self.edit_action):
            chat_menu.addAction(action)

        view_menu = self.menuBar().addMenu(self.tr("&View"))
        self.models_action = self._action(self.tr("&Models"), QKeySequence("Ctrl+Shift+M"), self.toggle_models)
        self.models_action.setCheckable(True)
        view_menu.addAction(self.models_action)
        self.settings_action = self.settings_dock.toggleViewAction()
        self.settings_action.setText(self.tr("&Settings"))
        self.settings_action.setShortcut(QKeySequence("Ctrl+,"))
        view_menu.addAction(self.settings_action)

        toolbar = self.addToolBar(self.tr("Main"))
        toolbar.setObjectName("main-toolbar")
        toolbar.setMovable(False)
        toolbar.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)
        for action in (self.new_action, self.open_action, self.models_action, self.settings_action):
            # Qt drops the "&" of a button's text but would keep a translation's "(&N)" as "(N)".
            action.setIconText(_without_mnemonic(action.text()))
            toolbar.addAction(action)
            self.addAction(action)
        toolbar.addSeparator()
        runs_on = QLabel(self.tr("Runs on"), self)
        self.runs_on = RunsOnBox(self)
        runs_on.setBuddy(self.runs_on)
        toolbar.addWidget(runs_on)
        toolbar.addWidget(self.runs_on)

    def _build_api_switch(self) -> ApiServerSwitch | None:
        """The Server menu's switch, when the engine can be shared with the API server."""
        if self.bridge.shared is None:
            return None
        switch = ApiServerSwitch(self.bridge.shared, parent=self)
        self.menuBar().addMenu(self.tr("&Server")).addAction(switch.action)
        self.statusBar().addPermanentWidget(switch.label)
        switch.failed.connect(self.show_notice)
        return switch

    def _action(
        self, text: str, shortcut: QKeySequence | QKeySequence.StandardKey | None, slot: Callable[[], object]
    ) -> QAction:
        action = QAction(text, self)
        if shortcut is not None:
            action.setShortcut(QKeySequence(shortcut))
            tip = action.shortcut().toString(QKeySequence.SequenceFormat.NativeText)
            action.setToolTip(f"{_without_mnemonic(text)} ({tip})")
        action.triggered.connect(slot)
        self.addAction(action)
        return action

    def _wire(self) -> None:
        self.conversations.conversationSelected.connect(self.open_conversation)
        self.conversations.newRequested.connect(self.new_chat)
        self.conversations.renameRequested.connect(self._rename)
        self.conversations.deleteRequested.connect(self._delete)
        self.conversations.searchChanged.connect(lambda _text: self._refresh_list())
        self.composer.sendRequested.connect(self._send)
        self.composer.stopRequested.connect(self.session.stop)
        self.composer.modelFileDropped.connect(lambda path: self.model_controller.open(ModelChoice(path)))
        self.chat_pane.mimeDropped.connect(self.composer.offer_mime)
        self.first_run.openRequested.connect(self.open_model_dialog)
        self.first_run.libraryRequested.connect(self.show_models)
        self.models_page.backRequested.connect(self.show_chat)
        self.settings_panel.generationChanged.connect(self.session.update_settings)
        self.settings_panel.generationChanged.connect(lambda _settings: self.composer.refresh_costs())
        self.composer.attachedTokensChanged.connect(lambda _tokens: self._update_context_label(None))
        self.composer.countRequested.connect(self._count_document)
        self.bridge.tokensCounted.connect(
            lambda key, count: self.composer.set_document_tokens(key, count.document_tokens)
        )
        self.session.sent.connect(self._sent)
        self.session.doesNotFit.connect(self._offer_what_fits)
        self.settings_panel.systemPromptChanged.connect(self.session.update_system_prompt)
        self.settings_panel.languageChosen.connect(self._choose_language)
        self.settings_panel.clearSnapshotsRequested.connect(self._clear_snapshots)
        self.session.busyChanged.connect(self.model_controller.set_busy)
        self.session.busyChanged.connect(self._busy_changed)
        self.session.replyEnded.connect(self._reply_ended)
        self.session.conversationChanged.connect(self._conversation_changed)
        self.session.listChanged.connect(self._refresh_list)
        self.session.notice.connect(self.show_notice)
        self.bridge.progress.connect(self._progress)
        self._wire_model()
        self._wire_servers()

    def _wire_model(self) -> None:
        models = self.model_controller
        self.settings_panel.runtimeApplied.connect(models.apply_runtime)
        models.stateChanged.connect(self._model_state_changed)
        models.checking.connect(self._checking)
        models.refused.connect(self._refused)
        models.setupChosen.connect(lambda setup: self.settings_panel.set_context_limit(setup.model.context_length))
        models.runtimeChanged.connect(self.settings_panel.set_runtime)
        models.loadStarted.connect(self._load_started)
        models.loadProgress.connect(self._load_progress)
        models.loadCancelled.connect(self.show_notice)
        models.modelLoaded.connect(self._model_loaded)
        models.loadFailed.connect(self._load_failed)
        models.projectorNotFound.connect(self._projector_not_found)
        models.notice.connect(self.show_notice)
        models.modelMissing.connect(self._model_missing)
        models.downloadOffered.connect(self.first_run.set_recommendation)
        self.first_run.downloadRequested.connect(models.start_download)
        self.first_run.pauseRequested.connect(models.download.pause)
        models.download.changed.connect(self.first_run.show_download)
        models.download.refused.connect(self.first_run.show_refused)
        models.download.finished.connect(self.first_run.show_downloaded)

    def _wire_servers(self) -> None:
        servers = self.servers
        self.runs_on.set_servers(servers.servers)
        servers.serversChanged.connect(lambda: self.runs_on.set_servers(servers.servers))
        self.runs_on.hereChosen.connect(lambda: self.run_on(None))
        self.runs_on.serverRequested.connect(self.choose_server)
        self.session.aboutToAsk.connect(self._about_to_ask)
        servers.bridge.progress.connect(self._progress)
        servers.modelLoaded.connect(self._server_loaded)
        servers.loadFailed.connect(self._server_failed)
        servers.notice.connect(self.show_notice)

    # ---------------------------------------------------------------------- servers
    def choose_server(self, name: str) -> None:
        """Ask which model on the saved server ``name`` (or, for "", a new server) the open
        conversation runs on; the dialog lists the server's models only when asked to."""
        saved = self.servers.saved(name)
        place = self.session.server
        model = place.model if place is not None and place.name == name else ""
        dialog = ServerDialog(self.work, self.servers.keys, saved, model, self)
        if dialog.exec() and dialog.choice is not None:
            self.run_on(self.servers.add(dialog.choice))

    def run_on(self, place: ConversationServer | None) -> None:
        """Run the open conversation (and new ones) here (None) or on a server."""
        if self.session.busy:
            self.show_notice(self.tr("Stop the reply before moving the conversation."))
            self.runs_on.show_place(self.session.server)
            return
        self.session.run_on(place, self.bridge if place is None else self.servers.bridge)
        self._show_place()
        warning = self.servers.warning(place) if place is not None else ""
        if warning:
            self.notice.show_message(warning)

    def _about_to_ask(self, place: ConversationServer | None) -> None:
        if place is not None:
            self.servers.prepare(place)

    def _server_loaded(self, loaded: ModelLoaded) -> None:
        if self.session.server is not None:
            self.settings_panel.set_context_limit(loaded.n_ctx_train or None)
        self._show_place()

    def _server_failed(self, message: str) -> None:
        if self.session.server is not None:
            self.show_notice(message)
        self._show_place()

    def _show_place(self) -> None:
        """The toolbar box, the status bar and what may be attached, for where the open
        conversation runs."""
        place = self.session.server
        self.runs_on.show_place(place)
        warning = self.servers.warning(place) if place is not None else ""
        self.status_unencrypted.setVisible(bool(warning))
        self.status_unencrypted.setToolTip(warning)
        if place is None:
            self.composer.set_images_allowed(self.model_controller.images_refusal())
            self._show_model_label()
        else:
            loaded = self.servers.loaded
            if loaded is not None and loaded.server != place.name:
                loaded = None
            # Until the server has been asked (when this conversation sends), images may be
            # attached; its engine refuses them before sending if the model cannot see.
            self.composer.set_images_allowed(None if loaded is None or loaded.has_vision else self.tr(
                "{model} on {server} cannot see images; choose a model that can (Runs on)."
            ).format(model=place.model, server=place.name))
            self.status_model.setText(self.tr("{model} on {server}").format(model=place.model, server=place.name))
            self.status_model.setToolTip(place.url)
            self.status_backend.setText(loaded.backend if loaded is not None else "")
        self._show_state()
        self._update_context_label(None)
        self._update_page()

    # ---------------------------------------------------------------- conversations
    def new_chat(self) -> None:
        self.settings_panel.flush()
        self.session.new_conversation()
        self.conversations.clear_selection()
        self.model_controller.for_new_chat()
        self.show_chat()
        self.focus_input()

    def open_conversation(self, conversation_id: int) -> None:
        self.settings_panel.flush()  # a system prompt still being typed belongs to the old one
        self.session.open_conversation(conversation_id)

    def focus_input(self) -> None:
        self.composer.focus_message()

    def _refresh_list(self) -> None:
        try:
            found = self.store.list_conversations(self.conversations.query() or None)
        except UserError as exc:
            self.show_notice(localized.error(exc))
            return
        current = self.session.conversation.id if self.session.conversation else None
        self.conversations.set_conversations(found, current)
        shown = next((c for c in found if c.id == current), None)
        title = shown.title if shown else None
        self.setWindowTitle(f"{title} — {APP_NAME}" if title else APP_NAME)

    def _rename(self, conversation_id: int, title: str) -> None:
        try:
            self.store.rename(conversation_id, title)
        except UserError as exc:
            self.show_notice(localized.error(exc))
        self._refresh_list()

    def _delete(self, conversation_id: int) -> None:
        conversation = self.store.get_conversation(conversation_id)
        title = conversation.title or self.tr("New conversation")
        answer = QMessageBox.question(
            self,
            self.tr("Delete conversation"),
            self.tr("Delete “{title}” and its images? This cannot be undone.").format(title=title),
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.Cancel,
            QMessageBox.StandardButton.Cancel,
        )
        if answer != QMessageBox.StandardButton.Yes:
            return
        self.settings_panel.flush()
        self.session.forget_conversation(conversation_id)
        try:
            self.store.delete_conversation(conversation_id)
        except UserError as exc:
            self.show_notice(localized.error(exc))
        self._refresh_list()

    def _conversation_changed(self, conversation: Conversation | None) -> None:
        self.settings_panel.set_generation(self.session.settings, self.session.system_prompt)
        self.composer.refresh_costs()  # the Pan & Scan mode is the conversation's own
        self._refresh_list()
        self._update_page()
        self._update_context_label(None)
        if conversation is not None and conversation.server != self.session.server:
            self.run_on(conversation.server)
        if conversation is not None and conversation.server is None:
            self.model_controller.follow(conversation.model_path, conversation.mmproj_path)

    def _choose_language(self, choice: str) -> None:
        """Keep the Language setting; the window takes it at the next start (the panel says so)."""
        controller = self.model_controller
        controller.preferences = dataclasses.replace(controller.preferences, language=choice)
        save_preferences(controller.preferences)

    # --------------------------------------------------------------------- sending
    def _send(self, text: str, attachments: list[Attachment]) -> None:
        with_images = any(isinstance(a, PreparedAttachment) for a in attachments)
        if self.session.server is not None:  # the server's engine checks it, before sending
            self.session.request_send(text, attachments)
            return
        refusal = self.model_controller.send_refusal(with_images=with_images)
        if refusal is not None:
            self.composer.show_notice(refusal)
            return
        self.session.request_send(text, attachments)

    def _sent(self) -> None:
        self.composer.clear()
        self.composer.clear_notice()

    def _count_document(self, chip: object, document: PreparedDocument) -> None:
        """Price a document's chip by the loaded model's tokenizer (again when a model loads)."""
        if self.model_controller.loaded is not None:
            self.bridge.count([ChatMessage.user(document)], "", self.session.settings, chip)

    def _offer_what_fits(self, count: TokenCount, attachments: list[Attachment]) -> None:
        """A message the context cannot hold: say it with the numbers, and offer a larger context
        (when the memory estimate allows one) or the first pages that fit."""
        files, loaded = self.model_controller.setup, self.model_controller.loaded
        documents = [a for a in attachments if isinstance(a, DocumentAttachment)]
        if self.session.server is not None and documents:  # no larger context to offer there
            shortfall = shortfall_of([d.document for d in documents], needed=count.prompt_tokens,
                                     document_tokens=count.document_tokens, n_ctx=count.n_ctx,
                                     n_ctx_train=count.n_ctx, larger_context=None)
            self.composer.show_offers(" ".join(localized.error(s) for s in shortfall.sentences()), [])
            return
        if files is None or loaded is None or not documents:
            return

        def larger() -> int | None:  # reads the GPU's memory: not on the UI thread
            return context_that_holds(files.model, files.projector, count.prompt_tokens + REPLY_ROOM, machine_memory())

        def offer(larger_context: int | None) -> None:
            shortfall = shortfall_of(
                [d.document for d in documents],
                needed=count.prompt_tokens,
                document_tokens=count.document_tokens,
                n_ctx=count.n_ctx,
                n_ctx_train=loaded.n_ctx_train,
                larger_context=larger_context if larger_context and larger_context > count.n_ctx else None,
            )
            offers: list[tuple[str, Callable[[], None]]] = []
            if shortfall.larger_context is not None:
                size = shortfall.larger_context
                offers.append((
                    self.tr("Use a context of {n} tokens").format(n=localized.number(size)),
                    lambda: self.model_controller.apply_runtime(
                        dataclasses.replace(self.model_controller.preferences.runtime, n_ctx=size)
                    ),
                ))
            cut = next((d for d in documents if d.document.name == shortfall.document), None)
            if shortfall.first_pages and cut is not None:
                pages = shortfall.first_pages
                offers.append((
                    self.tr("Send the first %n page(s)", "", pages),
                    lambda: self._send_first_pages(cut, pages),
                ))
            self.composer.show_offers(" ".join(localized.error(s) for s in shortfall.sentences()), offers)

        self.work.run(larger, offer, lambda _message: offer(None))

    def _send_first_pages(self, attachment: DocumentAttachment, pages: int) -> None:
        cut = DocumentAttachment(attachment.document.first_pages(pages), attachment.data, attachment.name)
        self.composer.replace_document(attachment, cut)
        self.composer.submit()

    def _busy_changed(self, busy: bool) -> None:
        self.composer.set_busy(busy)
        self.stop_action.setEnabled(busy)
        self.settings_panel.set_runtime_enabled(not busy)
        self.open_action.setEnabled(not busy)
        self.projector_action.setEnabled(not busy and self.model_controller.setup is not None)
        self._show_state()

    def _progress(self, progress: Progress) -> None:
        """A long step of the reply (reading the prompt, encoding an image) is under way."""
        if self.session.busy:
            phase = localized.sentence(progress.sentence) if progress.sentence is not None else progress.phase
            self.status_state.setText(self.tr("Generating… ({phase})").format(phase=phase))

    def _reply_ended(self, metrics: dict[str, object]) -> None:
        rate = metrics.get("decode_tok_s")
        if isinstance(rate, (int, float)) and rate:
            self.show_speed(rate)
        self._update_context_label(metrics)
        self._show_snapshot_usage()

    def _show_snapshot_usage(self) -> None:
        self.work.run(snapshot_disk_usage, self.settings_panel.set_snapshot_usage, lambda _message: None)

    def _clear_snapshots(self) -> None:
        self.bridge.clear_snapshots()
        self.settings_panel.set_snapshot_usage(0)

    def show_speed(self, rate: float) -> None:
        """The decode speed of the last reply, in the status bar."""
        self.status_speed.setText(self.tr("{rate} tok/s").format(rate=localized.decimal(rate, 1)))

    def show_context(self, used: int | None, size: int) -> None:
        """The context in use after the last reply, of its size, and what the attachments add."""
        shown = localized.number(used) if used is not None else "–"
        attached = self.composer.attached_tokens
        if attached:
            text = self.tr("Context {used} / {size} (+{attached} attached)").format(
                used=shown, size=localized.number(size), attached=localized.number(attached)
            )
        else:
            text = self.tr("Context {used} / {size}").format(used=shown, size=localized.number(size))
        self.status_context.setText(text)
        self.status_context.setToolTip(self.tr("Tokens of this conversation the model holds, of its context size"))

    def _update_context_label(self, metrics: dict[str, object] | None) -> None:
        """Context in use after the last reply: its prompt plus what it wrote."""
        loaded = self.model_controller.loaded if self.session.server is None else self.servers.loaded
        if loaded is not None and not loaded.n_ctx:  # a server that does not say
            loaded = None
        if loaded is None:
            self.status_context.setText("")
            return
        used = None
        if metrics is None:
            replies = (m for m in reversed(self.session.messages) if m.role == "assistant")
            last = next((m for m in replies if m.metrics.get("prompt_tokens")), None)
            metrics = dict(last.metrics) if last else None
        if metrics and metrics.get("prompt_tokens"):
            used = metric_count(metrics, "prompt_tokens") + metric_count(metrics, "decode_tokens")
        self.show_context(used, loaded.n_ctx)

    # ---------------------------------------------------------------------- models
    def open_model_dialog(self) -> None:
        last = self.model_controller.preferences.last_model
        start = str(Path(last).parent) if last else ""
        name, _ = QFileDialog.getOpenFileName(
            self, self.tr("Open a Gemma model"), start, self.tr("GGUF models (*.gguf);;All files (*)")
        )
        if name:
            self.model_controller.open(ModelChoice(Path(name)))

    def choose_projector_dialog(self) -> None:
        setup = self.model_controller.setup
        if setup is None:
            return
        name, _ = QFileDialog.getOpenFileName(
            self,
            self.tr("Choose the vision projector (mmproj) for {name}").format(name=setup.model.display_name),
            str(setup.model.path.parent),
            self.tr("GGUF projectors (*.gguf);;All files (*)"),
        )
        if name:
            self.model_controller.open(ModelChoice(setup.model.path, Path(name)))

    def show_models(self) -> None:
        """The Models page in place of the chat."""
        self.models_page.refresh()
        self.views.setCurrentWidget(self.models_page)
        self.models_action.setChecked(True)

    def show_chat(self) -> None:
        self.views.setCurrentWidget(self.chat_splitter)
        self.models_action.setChecked(False)

    def toggle_models(self) -> None:
        if self.views.currentWidget() is self.models_page:
            self.show_chat()
        else:
            self.show_models()

    def _model_missing(self, sentence: str, present: list[LocalModel]) -> None:
        """A conversation's model file is gone: say so, name the models here, offer the page."""
        if present:
            names = ", ".join(model.name for model in present)
            sentence += " " + self.tr("Models on this computer: {names}.").format(names=names)
        else:
            sentence += " " + self.tr("There is no other model on this computer yet.")
        self.notice.show_message(sentence, self.tr("Choose a model…"), self.show_models)

    def _checking(self, choice: ModelChoice) -> None:
        self.notice.hide()
        self.status_model.setText(self.tr("Checking {name}…").format(name=choice.model.name))

    def _refused(self, _choice: ModelChoice, message: str) -> None:
        self.show_notice(message)
        self._show_model_label()

    def _load_started(self, request: LoadRequest) -> None:
        self.status_progress.setRange(0, 0)
        self._show_model_label()
        if self.session.server is None:
            self.composer.set_images_allowed(self.model_controller.images_refusal())
        self.session.set_model(Path(request.model_path), Path(request.mmproj_path) if request.mmproj_path else None)
        self._update_page()

    def _model_loaded(self, loaded: ModelLoaded) -> None:
        self._show_model_label()
        self.settings_panel.set_context_limit(loaded.n_ctx_train)
        self.settings_panel.set_loaded_context(loaded.n_ctx)
        self._show_snapshot_usage()
        self.projector_action.setEnabled(not self.session.busy)
        if self.session.server is None:
            self.composer.set_images_allowed(self.model_controller.images_refusal())
        setup = self.model_controller.setup
        projector = setup.projector if setup else None
        pan_scan = setup is not None and setup.model.family.pan_scan
        self.settings_panel.set_model_features(pan_scan=pan_scan, thinking=loaded.thinks)
        self.composer.set_image_cost(
            projector.image_tokens if projector and loaded.has_vision else None,
            lambda: pan_scan_for_backend(self.session.settings.pan_scan, loaded.backend) if pan_scan else "off",
            views_choice=pan_scan and loaded.has_vision,
        )
        self._update_context_label(None)
        if loaded.notice:  # the model's chat template was set aside for the built-in one
            self.show_notice(localized.sentence(loaded.notice))

    def _load_progress(self, fraction: float) -> None:
        self.status_progress.setRange(0, 100)
        self.status_progress.setValue(int(fraction * 100))

    def _projector_not_found(self, setup: ModelSetup) -> None:
        loaded = self.model_controller.loaded
        if loaded is not None and loaded.notice:
            return  # one notice at a time: the chat template's sentence is showing
        self.notice.show_message(
            self.tr(
                "No vision projector that fits {name} was found in its folder, so images are off. "
                "Choose its mmproj file to ask about images."
            ).format(name=setup.model.display_name),
            self.tr("Choose projector…"),
            self.choose_projector_dialog,
        )

    def _load_failed(self, message: str) -> None:
        self._show_model_label()
        self.notice.show_message(message, self.tr("Try again"), self.model_controller.retry)

    # ------------------------------------------------------------------------ status
    def _model_state_changed(self, state: ModelState) -> None:
        self.status_progress.setVisible(state is ModelState.LOADING)
        self.status_cancel_load.setVisible(state is ModelState.LOADING)
        self._show_state()
        self._update_page()

    def _show_state(self) -> None:
        if self.session.busy:
            text = self.tr("Generating…")
        elif self.session.server is not None:
            text = self.tr("Ready") if self.servers.loaded is not None else ""
        else:
            text = {
                ModelState.NONE: "",
                ModelState.LOADING: self.tr("Loading…"),
                ModelState.READY: self.tr("Ready"),
                ModelState.ERROR: self.tr("Error"),
            }[self.model_controller.state]
        self.status_state.setText(text)

    def _show_model_label(self) -> None:
        if self.session.server is not None:
            return  # the status bar shows the server (see _show_place)
        files, loaded = self.model_controller.setup, self.model_controller.loaded
        if files is None:
            self.status_model.setText(self.tr("No model"))
            self.status_model.setToolTip("")
            self.status_backend.setText("")
            return
        name = files.model.display_name
        if files.projector is not None:
            text = self.tr("{model} + {mmproj}").format(model=name, mmproj=files.projector.display_name)
            self.status_model.setText(text)
        else:
            self.status_model.setText(self.tr("{model} (text only)").format(model=name))
        self.status_model.setToolTip(
            "\n".join(str(f.path) for f in (files.model, files.projector) if f is not None)
        )
        self.status_backend.setText(loaded.backend if loaded else "")

    def _update_page(self) -> None:
        """The welcome page until a model is chosen, unless a stored conversation is open."""
        welcome = (
            self.model_controller.setup is None
            and self.session.conversation is None
            and self.session.server is None
        )
        self.pages.setCurrentWidget(self.first_run if welcome else self.chat_view)

    def show_notice(self, message: str) -> None:
        self.notice.show_message(message)

    # ----------------------------------------------------------------------- closing
    def closeEvent(self, event: QCloseEvent) -> None:
        self.shutdown()
        super().closeEvent(event)

    def shutdown(self) -> None:
        """Keep the running reply, stop the engine and background work, close the store."""
        if self._closed:
            return
        self._closed = True
        self.settings_panel.flush()
        self.session.shutdown()
        self.model_controller.shutdown()
        self.work.shutdown()
        if self.api_switch is not None:
            self.api_switch.shutdown()
        self.bridge.shutdown()
        self.servers.shutdown()
        self.store.close()
