"""The Models page: the models on this computer, each with its page, and the catalog to download from.

"On this computer" lists what was downloaded or imported (``ModelRegistry``); choosing one shows
its page, read from its GGUF metadata without loading it (:func:`model_page.describe_local`):
what it is, what it can do, the memory it needs here at the chosen context and the decode speed
to expect.  From there it is loaded for this chat or for new chats, given another projector,
shown in the file manager or removed.  "Download" is the catalog (:mod:`catalog_view`).

Every read of the disk, the registry or the machine runs on :class:`BackgroundWork`; this module
only paints and asks.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import Qt, QUrl, Signal, SignalInstance
from PySide6.QtGui import QDesktopServices, QFont, QPalette
from PySide6.QtWidgets import (
    QFileDialog,
    QFormLayout,
    QFrame,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QMessageBox,
    QProgressBar,
    QPushButton,
    QScrollArea,
    QSplitter,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from desktop_app.errors import UserError
from desktop_app.models.fit import machine_memory
from desktop_app.models.gemma_files import abilities, inspect_model, projector_beside
from desktop_app.models.model_page import ModelPage, describe_local
from desktop_app.models.registry import ImportResult, LocalModel, ModelRegistry, Removal
from desktop_app.models.sizes import format_parameters
from desktop_app.models.speed import measure_machine_speed
from desktop_app.ui import localized
from desktop_app.ui.background import BackgroundWork
from desktop_app.ui.catalog_view import CatalogTab
from desktop_app.ui.model_controller import ModelChoice, ModelController, ModelState
from desktop_app.ui.widgets import NoticeBar, ability_words

MODEL_ID_ROLE = Qt.ItemDataRole.UserRole


@dataclass(frozen=True)
class Listed:
    """A local model as the list shows it: its record, and the size of its files (None: the
    model file is gone)."""

    model: LocalModel
    size: int | None
    projector_missing: bool = False
    """Its projector file was moved or deleted (the model itself is there)."""


def list_local_models() -> list[Listed]:
    """The registry's models with their file sizes (reads the disk: off the UI thread)."""
    listed = []
    for model in ModelRegistry().models():
        if not model.model_path.is_file():
            listed.append(Listed(model, None))
            continue
        size = model.model_path.stat().st_size
        projector = model.mmproj_path
        if projector is not None and projector.is_file():
            size += projector.stat().st_size
        listed.append(Listed(model, size, projector is not None and not projector.is_file()))
    return listed


def _bold(label: QLabel, scale: float = 1.0) -> QLabel:
    font = QFont(label.font())
    font.setBold(True)
    if scale != 1.0:
        font.setPointSizeF(font.pointSizeF() * scale)
    label.setFont(font)
    return label


class ModelDetails(QWidget):
    """One model's page: what it is, what it needs here, and what can be done with it.

    Signals:
        useForChat(ModelChoice): load it for the open conversation.
        useForNewChats(ModelChoice): make it the model new chats start with.
        projectorRequested(str): choose another projector for the model with this id.
        removeRequested(str): remove the model with this id (after the page confirmed it).
        cancelLoadRequested(): stop loading it.
    """

    useForChat = Signal(object)
    useForNewChats = Signal(object)
    projectorRequested = Signal(str)
    removeRequested = Signal(str)
    cancelLoadRequested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.model: LocalModel | None = None
        self.page: ModelPage | None = None
        self.available = False
        layout = QVBoxLayout(self)
        layout.setContentsMargins(18, 14, 18, 14)
        layout.setSpacing(10)
        self.title = _bold(QLabel(self), 1.4)
        self.title.setWordWrap(True)
        self.title.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        layout.addWidget(self.title)
        self.where = QLabel(self)
        self.where.setWordWrap(True)
        self.where.setForegroundRole(QPalette.ColorRole.PlaceholderText)
        self.where.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        layout.addWidget(self.where)
        self.state = QLabel(self)
        self.state.setWordWrap(True)
        layout.addWidget(self.state)
        self.load_progress = QProgressBar(self)
        self.load_progress.setRange(0, 100)
        self.load_progress.setAccessibleName(self.tr("Loading progress"))
        self.load_progress.hide()
        layout.addWidget(self.load_progress)

        buttons = QHBoxLayout()
        self.use_button = QPushButton(self.tr("Use for this chat"), self)
        self.use_button.setToolTip(self.tr("Load this model now; the open conversation goes on with it"))
        self.use_button.clicked.connect(lambda: self._choose(for_new_chats=False))
        self.default_button = QPushButton(self.tr("Use for new chats"), self)
        self.default_button.setToolTip(
            self.tr("New chats start with this model; conversations held with another keep theirs")
        )
        self.default_button.clicked.connect(lambda: self._choose(for_new_chats=True))
        self.cancel_button = QPushButton(self.tr("Cancel loading"), self)
        self.cancel_button.clicked.connect(self.cancelLoadRequested)
        self.cancel_button.hide()
        self.projector_button = QPushButton(self.tr("Choose projector…"), self)
        self.projector_button.setToolTip(self.tr("Pair another vision projector (mmproj) with this model"))
        self.projector_button.clicked.connect(lambda: self._emit_id(self.projectorRequested))
        self.folder_button = QPushButton(self.tr("Show in folder"), self)
        self.folder_button.clicked.connect(self._show_folder)
        self.remove_button = QPushButton(self.tr("Remove…"), self)
        self.remove_button.clicked.connect(lambda: self._emit_id(self.removeRequested))
        for button in (
            self.use_button,
            self.default_button,
            self.cancel_button,
            self.projector_button,
            self.folder_button,
        ):
            buttons.addWidget(button)
        buttons.addStretch(1)
        buttons.addWidget(self.remove_button)
        layout.addLayout(buttons)

        line = QFrame(self)
        line.setFrameShape(QFrame.Shape.HLine)
        line.setFrameShadow(QFrame.Shadow.Sunken)
        layout.addWidget(line)
        self.problem = QLabel(self)
        self.problem.setWordWrap(True)
        self.problem.hide()
        layout.addWidget(self.problem)
        self.form = QFormLayout()
        self.form.setLabelAlignment(Qt.AlignmentFlag.AlignRight)
        self.form.setHorizontalSpacing(16)
        self.form.setVerticalSpacing(7)
        self.values: dict[str, QLabel] = {}
        for key, label in (
            ("architecture", self.tr("Architecture")),
            ("parameters", self.tr("Parameters")),
            ("quantization", self.tr("Quantisation")),
            ("file_size", self.tr("File size")),
            ("context", self.tr("Trained context")),
            ("layers", self.tr("Layers")),
            ("template", self.tr("Chat template")),
            ("license", self.tr("Licence")),
            ("abilities", self.tr("Can do")),
            ("projector", self.tr("Vision projector")),
            ("memory", self.tr("Memory here")),
            ("speed", self.tr("Expected speed")),
        ):
            value = QLabel(self)
            value.setWordWrap(True)
            value.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            value.setAccessibleName(label)
            self.values[key] = value
            self.form.addRow(self.tr("{field}:").format(field=label), value)
        layout.addLayout(self.form)
        layout.addStretch(1)
        self.show_nothing()

    # ------------------------------------------------------------------------ showing
    def show_nothing(self) -> None:
        self.model = self.page = None
        self.available = False
        self.title.setText(self.tr("No model chosen"))
        self.where.setText(
            self.tr("Choose a model on the left, download one from the catalog, or add a GGUF file you have.")
        )
        self.state.clear()
        self.problem.hide()
        self._show_form(False)
        for button in (self.use_button, self.default_button, self.projector_button, self.folder_button):
            button.setEnabled(False)
        self.remove_button.setEnabled(False)

    def show_reading(self, model: LocalModel, available: bool) -> None:
        """The model is chosen (``available``: its files were there when the list was read); its
        page is being read."""
        self.model, self.page = model, None
        self.available = available
        self.title.setText(model.name)
        self.where.setText(self._where(model))
        self.problem.hide()
        self._show_form(False)
        for button in (self.use_button, self.default_button, self.projector_button):
            button.setEnabled(False)
        self.remove_button.setEnabled(True)
        self.folder_button.setEnabled(available)

    def show_page(self, page: ModelPage) -> None:
        self.page = page
        model, projector = page.model, page.projector
        value = self.values
        value["architecture"].setText(model.architecture)
        value["parameters"].setText(
            f"{format_parameters(model.parameter_count)} ({localized.number(model.parameter_count)})"
        )
        value["quantization"].setText(model.quantization or self.tr("unknown"))
        value["file_size"].setText(localized.size(model.file_size))
        value["context"].setText(
            self.tr("%Ln token(s)", "", model.context_length) if model.context_length else self.tr("unknown")
        )
        layers = localized.number(model.block_count) if model.block_count else self.tr("unknown")
        if model.sliding_window:
            layers = self.tr("{layers}, with a sliding window of {window} tokens").format(
                layers=layers, window=localized.number(model.sliding_window)
            )
        value["layers"].setText(layers)
        value["template"].setText(
            self.tr("its own") if model.chat_template else self.tr("none; the built-in Gemma 3 template is used")
        )
        value["license"].setText(model.license or self.tr("not stated in the file"))
        value["abilities"].setText(ability_words(abilities(model.family, page.vision)))
        if projector is None:
            value["projector"].setText(self.tr("none, so it cannot see images"))
        else:
            low, high = projector.image_token_range
            if low == high:
                text = self.tr(
                    "{name}: {size} px images, {tokens} tokens each; encoder of {params} parameters, {bytes}"
                )
            else:
                text = self.tr(
                    "{name}: images at their own size, {low} to {high} tokens each; encoder of {params} "
                    "parameters, {bytes}"
                )
            value["projector"].setText(
                text.format(
                    name=projector.display_name,
                    size=projector.image_size,
                    tokens=localized.number(low),
                    low=localized.number(low),
                    high=localized.number(high),
                    params=format_parameters(projector.parameter_count),
                    bytes=localized.size(projector.file_size),
                )
            )
        value["memory"].setText(localized.sentence(page.verdict.said))  # it names the memory and the context
        if page.speed.device == "CPU":
            speed = self.tr("about {rate} tokens a second on the CPU, at the start of a conversation")
        else:
            speed = self.tr("about {rate} tokens a second on the GPU ({device}), at the start of a conversation")
        value["speed"].setText(speed.format(rate=page.speed.rounded, device=page.speed.device))
        self.problem.hide()
        self._show_form(True)
        for button in (self.use_button, self.default_button, self.projector_button):
            button.setEnabled(True)

    def show_problem(self, message: str) -> None:
        """The page could not be read (the file is gone or damaged): say why; only Remove helps."""
        self.problem.setText(message)
        self.problem.show()
        self._show_form(False)
        for button in (self.use_button, self.default_button):
            button.setEnabled(False)
        self.projector_button.setEnabled(self.available)  # a projector that went missing

    def show_state(self, text: str, loading: float | None) -> None:
        """Whether this model is in use; ``loading`` is the load's progress (None: not loading)."""
        self.state.setText(text)
        self.load_progress.setVisible(loading is not None)
        self.cancel_button.setVisible(loading is not None)
        self.load_progress.setValue(int((loading or 0.0) * 100))

    # ------------------------------------------------------------------------ private
    def _where(self, model: LocalModel) -> str:
        if model.source == "downloaded" and model.downloaded_from:
            return self.tr("Downloaded by Gemma Desktop from {source} into {folder}").format(
                source=model.downloaded_from, folder=model.model_path.parent
            )
        if model.source == "downloaded":
            return self.tr("Downloaded by Gemma Desktop into {folder}").format(folder=model.model_path.parent)
        return self.tr("Imported; the file stays at {path}").format(path=model.model_path)

    def _show_form(self, visible: bool) -> None:
        for index in range(self.form.rowCount()):
            self.form.setRowVisible(index, visible)

    def _choose(self, *, for_new_chats: bool) -> None:
        if self.page is not None:
            projector = self.page.projector.path if self.page.projector else None
            choice = ModelChoice(self.page.model.path, projector)
            (self.useForNewChats if for_new_chats else self.useForChat).emit(choice)

    def _emit_id(self, signal: SignalInstance) -> None:
        if self.model is not None:
            signal.emit(self.model.id)

    def _show_folder(self) -> None:
        if self.model is not None:
            QDesktopServices.openUrl(QUrl.fromLocalFile(str(self.model.model_path.parent)))


class ModelsPage(QWidget):
    """The Models page of the window.

    Signals:
        backRequested(): the user wants the chat back.
    """

    backRequested = Signal()

    def __init__(self, controller: ModelController, work: BackgroundWork, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._controller = controller
        self._work = work
        self._listed: list[Listed] = []
        self.listed_once = False
        """True once the list of local models was read (or given) the first time."""
        self._page_ticket: int | None = None
        self._loading: float | None = None

        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        header = QHBoxLayout()
        header.setContentsMargins(14, 10, 14, 6)
        title = _bold(QLabel(self.tr("Models"), self), 1.5)
        header.addWidget(title)
        header.addStretch(1)
        self.back_button = QPushButton(self.tr("Back to chat"), self)
        self.back_button.setToolTip(self.tr("Back to the conversation (Esc)"))
        self.back_button.clicked.connect(self.backRequested)
        header.addWidget(self.back_button)
        layout.addLayout(header)
        self.notice = NoticeBar(self)
        layout.addWidget(self.notice)

        self.tabs = QTabWidget(self)
        self.tabs.setDocumentMode(True)
        layout.addWidget(self.tabs, 1)

        local = QSplitter(Qt.Orientation.Horizontal, self)
        column = QWidget(local)
        column_layout = QVBoxLayout(column)
        column_layout.setContentsMargins(10, 8, 4, 10)
        self.model_list = QListWidget(column)
        self.model_list.setAccessibleName(self.tr("Models on this computer"))
        self.model_list.setSpacing(2)
        self.model_list.setWordWrap(True)  # long file names wrap instead of hiding behind a scroll bar
        self.model_list.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.model_list.currentItemChanged.connect(lambda _item, _previous: self._show_selected())
        column_layout.addWidget(self.model_list, 1)
        self.import_button = QPushButton(self.tr("Add a GGUF file…"), column)
        self.import_button.setToolTip(
            self.tr("Use a Gemma 3 GGUF (and its projector) where it is; nothing is copied")
        )
        self.import_button.clicked.connect(self.import_dialog)
        column_layout.addWidget(self.import_button)
        local.addWidget(column)
        self.details = ModelDetails(local)
        scroll = QScrollArea(local)
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QFrame.Shape.NoFrame)
        scroll.setWidget(self.details)
        local.addWidget(scroll)
        local.setStretchFactor(1, 1)
        local.setSizes([340, 700])
        local.setChildrenCollapsible(False)
        self.local_tab = local
        self.tabs.addTab(local, self.tr("On this computer"))

        self.catalog = CatalogTab(controller.download, controller.tokens, work, self)
        self.tabs.addTab(self.catalog, self.tr("Download"))

        self.details.useForChat.connect(self._use_for_chat)
        self.details.useForNewChats.connect(self._use_for_new_chats)
        self.details.projectorRequested.connect(self.projector_dialog)
        self.details.removeRequested.connect(self.remove)
        self.details.cancelLoadRequested.connect(controller.cancel_load)
        self.catalog.showLocal.connect(self.show_catalog_model)
        self.catalog.source.mirrorChosen.connect(self._use_mirror)
        controller.stateChanged.connect(lambda _state: self._show_state())
        controller.modelLoaded.connect(lambda _loaded: self._on_loaded())
        controller.loadProgress.connect(self._on_progress)
        controller.download.finished.connect(lambda _model: self.refresh())

    # ---------------------------------------------------------------------- listing
    def refresh(self, select: str | None = None) -> None:
        """Read the list of local models again (off the UI thread) and keep or make a selection."""
        # The selection to keep is read when the list arrives: the user may have chosen meanwhile.
        self._work.run(
            list_local_models,
            lambda listed: self._fill(listed, select or self.selected_id()),
            self.notice.show_message,
        )

    def selected_id(self) -> str | None:
        item = self.model_list.currentItem()
        return str(item.data(MODEL_ID_ROLE)) if item is not None else None

    def select(self, model_id: str) -> None:
        for row in range(self.model_list.count()):
            if self.model_list.item(row).data(MODEL_ID_ROLE) == model_id:
                self.model_list.setCurrentRow(row)
                return

    def show_catalog_model(self, catalog_id: str) -> None:
        """Show the page of the downloaded model of this catalog entry."""
        self.tabs.setCurrentWidget(self.local_tab)
        listed = next((entry for entry in self._listed if entry.model.catalog_id == catalog_id), None)
        if listed is not None:
            self.select(listed.model.id)

    def present(self, listed: list[Listed], page: ModelPage) -> None:
        """Show these models and this model's page as given, without reading any file: for
        ``make screenshot``, which has sample numbers and no model files."""
        self._fill(listed, page.model_id)
        self.tabs.setCurrentWidget(self.local_tab)
        if self._page_ticket is not None:
            self._work.forget(self._page_ticket)
            self._page_ticket = None
        self.details.show_page(page)
        self._show_state()

    def _fill(self, listed: list[Listed], keep: str | None) -> None:
        self._listed = listed
        self.listed_once = True
        self.catalog.set_downloaded({e.model.catalog_id for e in listed if e.model.catalog_id})
        self.tabs.setTabText(0, self.tr("On this computer ({n})").format(n=len(listed)))
        self.model_list.blockSignals(True)
        self.model_list.clear()
        for entry in listed:
            item = QListWidgetItem(self._item_text(entry))
            item.setData(MODEL_ID_ROLE, entry.model.id)
            item.setToolTip(str(entry.model.model_path))
            self.model_list.addItem(item)
        self.model_list.blockSignals(False)
        ids = [e.model.id for e in listed]
        if keep in ids:
            self.model_list.setCurrentRow(ids.index(keep))
        elif ids:
            in_use = self._in_use_id()
            self.model_list.setCurrentRow(ids.index(in_use) if in_use in ids else 0)
        else:
            self.details.show_nothing()
            self.tabs.setCurrentWidget(self.catalog)

    def _item_text(self, entry: Listed) -> str:
        model = entry.model
        if entry.size is None:
            second = self.tr("missing: the file was moved or deleted")
        elif entry.projector_missing:
            second = self.tr("{file} · its projector is missing").format(file=model.model_path.name)
        else:
            second = " · ".join(
                (
                    model.model_path.name,  # two builds may share a name; their files do not
                    localized.size(entry.size),
                    self.tr("text and images") if model.has_vision else self.tr("text only"),
                    self.tr("downloaded") if model.source == "downloaded" else self.tr("imported"),
                )
            )
        first = model.name
        if model.id == self._in_use_id():
            first = self.tr("{name} (in use)").format(name=model.name)
        return f"{first}\n{second}"

    def _in_use_id(self) -> str | None:
        setup = self._controller.setup
        if setup is None:
            return None
        return next((e.model.id for e in self._listed if e.model.model_path == setup.model.path), None)

    # ------------------------------------------------------------------------- a page
    def _show_selected(self) -> None:
        model_id = self.selected_id()
        listed = next((e for e in self._listed if e.model.id == model_id), None)
        if self._page_ticket is not None:
            self._work.forget(self._page_ticket)
            self._page_ticket = None
        if listed is None:
            self.details.show_nothing()
            return
        model = listed.model
        self.details.show_reading(model, listed.size is not None)
        self._show_state()
        n_ctx = self._controller.preferences.runtime.n_ctx

        def read() -> ModelPage:
            machine = machine_memory()
            return describe_local(model, n_ctx=n_ctx, machine=machine, speed=measure_machine_speed(machine))

        self._page_ticket = self._work.run(read, self._show_page, self._show_problem)

    def _show_page(self, page: ModelPage) -> None:
        self._page_ticket = None
        if self.details.model is not None and page.model_id == self.details.model.id:
            self.details.show_page(page)
            self._show_state()

    def _show_problem(self, message: str) -> None:
        self._page_ticket = None
        self.details.show_problem(message)

    def _show_state(self) -> None:
        """Say whether the model shown is the one in use, loading (with progress) or neither."""
        model = self.details.model
        setup, state = self._controller.setup, self._controller.state
        ours = model is not None and setup is not None and setup.model.path == model.model_path
        loading = ours and state is ModelState.LOADING
        if loading:
            text = self.tr("Loading…")
        elif ours and state is ModelState.READY:
            text = self.tr("In use now")
            if setup is not None and model is not None and setup.projector is None and model.has_vision:
                text = self.tr("In use now, without its projector")
        elif ours and state is ModelState.ERROR:
            text = self.tr("It could not be loaded (see the notice in the chat).")
        else:
            text = self.tr("Not loaded")
        default = self._controller.preferences.default_model
        if model is not None and default == str(model.model_path):
            text += " · " + self.tr("new chats start with it")
        self.details.show_state(text, (self._loading or 0.0) if loading else None)
        in_use = ours and state is ModelState.READY
        usable = self.details.page is not None and state is not ModelState.LOADING and not in_use
        self.details.use_button.setEnabled(usable)
        if state is not ModelState.LOADING:
            self._loading = None

    def _on_progress(self, fraction: float) -> None:
        self._loading = fraction
        self._show_state()

    def _on_loaded(self) -> None:
        self._loading = None
        self.refresh()

    # ------------------------------------------------------------------------ actions
    def _use_for_chat(self, choice: ModelChoice) -> None:
        self._controller.open(choice)

    def _use_for_new_chats(self, choice: ModelChoice) -> None:
        self._controller.use_for_new_chats(choice)
        name = self.details.model.name if self.details.model else choice.model.name
        self.notice.show_message(self.tr("New chats start with {name} from now on.").format(name=name))
        self._show_state()

    def _use_mirror(self, address: str) -> None:
        try:
            self._controller.use_mirror(address)
        except UserError as exc:
            self.catalog.source.show_problem(localized.error(exc))
            return
        self.catalog.source.show_source(self._controller.download.mirror)

    def import_dialog(self) -> None:
        name, _ = QFileDialog.getOpenFileName(
            self, self.tr("Add a Gemma 3 model"), "", self.tr("GGUF models (*.gguf);;All files (*)")
        )
        if name:
            self.import_path(Path(name))

    def import_path(self, path: Path) -> None:
        """Add a GGUF (and a projector beside it that fits) to the list, where it is."""

        def imported(result: ImportResult) -> None:
            names = ", ".join(m.name for m in result.models)
            text = self.tr("Added {names}; the files stay where they are.").format(names=names)
            if result.skipped:
                text += " " + " ".join(localized.sentence(reason) for reason in result.skipped)
            self.notice.show_message(text)
            self.refresh(select=result.models[0].id if result.models else None)

        def import_with_projector() -> ImportResult:
            registry = ModelRegistry()
            result = registry.import_path(path)
            models = []
            for model in result.models:  # a projector beside it joins it, as opening the file does
                projector = None if model.has_vision else projector_beside(inspect_model(model.model_path))
                models.append(registry.set_projector(model.id, projector.path) if projector else model)
            return ImportResult(tuple(models), result.skipped)

        self._work.run(import_with_projector, imported, self.notice.show_message)

    def projector_dialog(self, model_id: str) -> None:
        listed = next((e for e in self._listed if e.model.id == model_id), None)
        if listed is None:
            return
        model = listed.model
        name, _ = QFileDialog.getOpenFileName(
            self,
            self.tr("Choose the vision projector (mmproj) for {name}").format(name=model.name),
            str(model.model_path.parent),
            self.tr("GGUF projectors (*.gguf);;All files (*)"),
        )
        if name:
            self.set_projector(model_id, Path(name))

    def set_projector(self, model_id: str, projector: Path) -> None:
        """Pair ``projector`` with the model (checked off the UI thread); reload it if in use."""

        def paired(model: LocalModel) -> None:
            self.notice.show_message(
                self.tr("{name} now sees images through {projector}.").format(
                    name=model.name, projector=projector.name
                )
            )
            setup = self._controller.setup
            if setup is not None and setup.model.path == model.model_path:
                self._controller.open(ModelChoice(model.model_path, model.mmproj_path))
            self.refresh(select=model.id)

        self._work.run(lambda: ModelRegistry().set_projector(model_id, projector), paired, self.notice.show_message)

    def remove(self, model_id: str) -> None:
        """Ask, then remove: a download's files are deleted, an imported file only leaves the list."""
        listed = next((e for e in self._listed if e.model.id == model_id), None)
        if listed is None:
            return
        model = listed.model
        setup = self._controller.setup
        if setup is not None and setup.model.path == model.model_path and model.available:
            self.notice.show_message(
                self.tr("{name} is the model in use; use another one before removing it.").format(name=model.name)
            )
            return
        if model.source == "downloaded":
            question = self.tr(
                "Delete {name}? Its files ({size}) are deleted from Gemma Desktop's models folder; "
                "downloading it again takes as long as the first time."
            ).format(name=model.name, size=localized.size(listed.size or 0))
        else:
            question = self.tr(
                "Remove {name} from the list? The file is not deleted; it stays at {path}."
            ).format(name=model.name, path=model.model_path)
        answer = QMessageBox.question(
            self,
            self.tr("Remove model"),
            question,
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.Cancel,
            QMessageBox.StandardButton.Cancel,
        )
        if answer != QMessageBox.StandardButton.Yes:
            return
        self._work.run(lambda: ModelRegistry().remove(model_id), self._removed, self.notice.show_message)

    def _removed(self, removal: Removal) -> None:
        model = removal.model
        if removal.deleted:
            text = self.tr("Removed {name} and deleted its files: {files}.").format(
                name=model.name, files=", ".join(path.name for path in removal.deleted)
            )
        elif model.source == "downloaded":
            text = self.tr("Removed {name}; its files were already gone.").format(name=model.name)
        else:
            text = self.tr("Removed {name} from the list; its file was left at {path}.").format(
                name=model.name, path=model.model_path
            )
        self.notice.show_message(text)
        self.refresh()
