"""Which model the window uses and how far loading it has got: the model-loading state machine.

A load starts from a :class:`ModelChoice` (a model file and, if the user picked one, its
projector).  The controller reads the files' headers off the UI thread (``resolve_setup``, which
pairs a fitting projector from the model's folder when none was picked), sends the load to the
engine through the :class:`EngineBridge`, and announces every step as a signal; it remembers the
model and the runtime settings between runs (:class:`Preferences`).  At start-up it brings back
the model chosen for new chats, else the last model, else one downloaded or imported before, else
offers the download recommended for this machine, and it loads that download when it finishes.
A load reports its progress and can be cancelled (the model loaded before comes back); the
catalog's downloads are its :class:`DownloadQueue`'s.

Widgets are the window's business: nothing here shows anything.  The sentences it emits are for
the user (translatable); which widget shows them is the window's choice.
"""

from __future__ import annotations

import dataclasses
import enum
from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import QObject, Signal

from desktop_app.engine.protocol import LoadRequest, ModelLoaded
from desktop_app.models.download import mirror_endpoint
from desktop_app.models.fit import default_context_for_files, machine_memory
from desktop_app.models.gemma_files import ModelSetup, resolve_setup
from desktop_app.models.hub_token import HubTokens
from desktop_app.models.registry import LocalModel
from desktop_app.settings import AUTO_CONTEXT, RuntimeSettings
from desktop_app.ui.background import BackgroundWork
from desktop_app.ui.download_queue import DownloadQueue
from desktop_app.ui.engine_bridge import EngineBridge
from desktop_app.ui.model_download import (
    Recommendation,
    available_models,
    first_available_model,
    recommend_for_this_machine,
)
from desktop_app.ui.preferences import Preferences, save_preferences


class ModelState(enum.Enum):
    """How far the model in use has got."""

    NONE = "none"
    """No model: none chosen yet, or the last choice was refused before one loaded."""
    LOADING = "loading"
    """Files being checked, or the engine loading them."""
    READY = "ready"
    ERROR = "error"
    """The engine could not load the chosen files."""


@dataclass(frozen=True)
class ModelChoice:
    """A model to load: its GGUF, and its projector (None: use a fitting one found beside the
    model, else load it text only)."""

    model: Path
    projector: Path | None = None


class ModelController(QObject):
    """Chooses, loads and reloads the model the window's conversations are answered with.

    Signals:
        stateChanged(ModelState): the state of the model in use changed.
        checking(ModelChoice): the files of this choice are being read (a load follows, or
            ``refused``).
        refused(ModelChoice, str): the files of this choice cannot be used, in one sentence; the
            model in use stays.
        setupChosen(ModelSetup): these files were checked and will be loaded.
        runtimeChanged(RuntimeSettings): the runtime settings the model is (or will be) loaded
            with changed: applied by the user, or the context cut to what the chosen model handles.
        loadStarted(LoadRequest): the engine was asked to load this (after a choice, a runtime
            change, a retry or a cancelled load of another model).
        loadProgress(float): how far the engine has read the model's weights (0..1).
        loadCancelled(str): the load was cancelled (:meth:`cancel_load`), in one sentence; the
            model loaded before it is loaded again, if there was one.
        modelLoaded(ModelLoaded): the engine holds the chosen model now (again, after the engine
            restarted).
        loadFailed(str): the engine could not load it, in one sentence; :meth:`retry` tries again.
        projectorNotFound(ModelSetup): this model loaded text only: no projector beside it fits.
        notice(str): a sentence for the user about models that belongs to no load.
        modelMissing(str, list): a conversation's model file is gone: the sentence, and the
            models on this computer that could answer instead (LocalModel, maybe none).
        downloadOffered(Recommendation): no model yet; this download suits this machine
            (:meth:`start_download`).
    """

    stateChanged = Signal(object)
    checking = Signal(object)
    refused = Signal(object, str)
    setupChosen = Signal(object)
    runtimeChanged = Signal(object)
    loadStarted = Signal(object)
    loadProgress = Signal(float)
    loadCancelled = Signal(str)
    modelLoaded = Signal(object)
    loadFailed = Signal(str)
    projectorNotFound = Signal(object)
    notice = Signal(str)
    modelMissing = Signal(str, object)
    downloadOffered = Signal(object)

    def __init__(
        self,
        bridge: EngineBridge,
        work: BackgroundWork,
        preferences: Preferences,
        parent: QObject | None = None,
        tokens: HubTokens | None = None,
    ) -> None:
        super().__init__(parent)
        self._bridge = bridge
        self._work = work
        self.preferences = preferences
        """The model last loaded and the runtime settings, saved as they change."""
        self.state = ModelState.NONE
        self.setup: ModelSetup | None = None
        """The files chosen (and checked) last; None until a choice was accepted."""
        self.loaded: ModelLoaded | None = None
        """What the engine holds of ``setup``; None while it loads, after a failure, or before."""
        self.tokens = tokens or HubTokens()
        """The Hugging Face token gated downloads use (the Models page signs in with it)."""
        self.download = DownloadQueue(work, self.tokens, self)
        """The catalog's downloads (the recommended one on first run among them)."""
        self.download.mirror = preferences.download_mirror
        self._recommendation: Recommendation | None = None
        self._busy = False
        self._previous: ModelSetup | None = None
        """The model loaded before the load in progress, brought back if that load is cancelled."""
        self._cancel_wanted = False
        bridge.modelLoaded.connect(self._loaded)
        bridge.loadFailed.connect(self._failed)
        bridge.loadProgress.connect(self._progress)
        bridge.loadCancelled.connect(self._cancelled)
        self.download.finished.connect(self._downloaded)

    # ---------------------------------------------------------------------- choosing
    def open(self, choice: ModelChoice) -> None:
        """Check the files (and find a projector when none is given) off the UI thread, then load."""
        if self._busy:
            self.notice.emit(self.tr("Stop the reply before loading another model."))
            return
        previous = self.state
        if self.loaded is not None:
            self._previous = self.setup
        self._cancel_wanted = False
        self._set_state(ModelState.LOADING)
        self.checking.emit(choice)
        self._work.run(
            lambda: resolve_setup(choice.model, choice.projector, find_projector=choice.projector is None),
            self._use,
            lambda message: self._refuse(choice, message, previous),
        )

    def follow(self, model_path: str | None, mmproj_path: str | None) -> None:
        """Reopen a conversation with the model it was held with, when that file is still there."""
        if model_path is None or self._busy:
            return
        model = Path(model_path)
        if self.setup is not None and self.setup.model.path == model:
            return
        if not model.is_file():
            if self.setup is not None:
                sentence = self.tr(
                    "This conversation was held with {name}, which is no longer at {path}; "
                    "the current model answers instead."
                )
            else:
                sentence = self.tr(
                    "This conversation was held with {name}, which is no longer at {path}; "
                    "choose another model to go on."
                )
            sentence = sentence.format(name=model.name, path=model.parent)
            self._work.run(
                available_models,
                lambda present: self.modelMissing.emit(sentence, present),
                lambda _message: self.modelMissing.emit(sentence, []),
            )
            return
        mmproj = Path(mmproj_path) if mmproj_path and Path(mmproj_path).is_file() else None
        self.open(ModelChoice(model, mmproj))

    def restore(self) -> None:
        """Load the model chosen for new chats, else that of the last session; else one
        downloaded or imported before; else offer the download recommended for this machine
        (``downloadOffered``).  Downloads a previous run left half-done show as paused."""
        self.download.restore()
        for model, mmproj in (
            (self.preferences.default_model, self.preferences.default_mmproj),
            (self.preferences.last_model, self.preferences.last_mmproj),
        ):
            if model and Path(model).is_file():
                self.open(ModelChoice(Path(model), Path(mmproj) if mmproj and Path(mmproj).is_file() else None))
                return
        self._work.run(first_available_model, self._use_registered, self.notice.emit)

    def start_download(self) -> None:
        """Download the offered model (or resume its download); it loads when it is complete."""
        if self._recommendation is not None:
            self.download.add(self._recommendation.entry)

    def use_for_new_chats(self, choice: ModelChoice) -> None:
        """New chats (and the next start) begin with this model from now on; the chat open now
        and conversations held with another model keep theirs."""
        self.preferences = self.preferences.with_default(choice.model, choice.projector)
        save_preferences(self.preferences)

    def use_mirror(self, address: str) -> None:
        """Download through this mirror of the Hugging Face hub from now on (an empty address:
        from the hub itself), and remember it; UserError for an address that is not one.  A
        download under way carries on from where it started."""
        mirror = mirror_endpoint(address)
        self.preferences = dataclasses.replace(self.preferences, download_mirror=mirror)
        save_preferences(self.preferences)
        self.download.mirror = mirror

    def for_new_chat(self) -> None:
        """A new chat begins: switch to the model chosen for new chats, if another is in use."""
        default = self.preferences.default_model
        if not default or self._busy or (self.setup is not None and str(self.setup.model.path) == default):
            return
        if Path(default).is_file():
            mmproj = self.preferences.default_mmproj
            self.open(ModelChoice(Path(default), Path(mmproj) if mmproj and Path(mmproj).is_file() else None))

    def cancel_load(self) -> None:
        """Stop the load in progress; the model loaded before it comes back (``loadCancelled``)."""
        if self.state is not ModelState.LOADING or self._cancel_wanted:
            return
        self._cancel_wanted = True
        if self.setup is not None and self.loaded is None:
            self._bridge.cancel_load()
        # Else the files are still being checked: ``_use`` sees the flag and goes no further.

    # ---------------------------------------------------------------------- loading
    def apply_runtime(self, runtime: RuntimeSettings) -> None:
        """Keep these runtime settings, and reload the model with them (unless a reply runs)."""
        self.preferences = dataclasses.replace(self.preferences, runtime=runtime)
        save_preferences(self.preferences)
        if self.setup is not None and not self._busy:
            self._load(runtime)
        else:
            self.runtimeChanged.emit(runtime)

    def retry(self) -> None:
        """Load the chosen files again, after ``loadFailed``."""
        if self.setup is not None:
            self._load(self.preferences.runtime)

    def set_busy(self, busy: bool) -> None:
        """A reply is being written (True) or none is: while one is, no other model is loaded."""
        self._busy = busy

    # ------------------------------------------------------------------------- asking
    def send_refusal(self, with_images: bool) -> str | None:
        """Why a message cannot be sent to the model now (one sentence), or None when it can."""
        if self.setup is None or self.state is ModelState.NONE:
            return self.tr("Open a model first (Ctrl+O); your message is kept.")
        if self.state is ModelState.ERROR:
            return self.tr("The model is not loaded (see the notice above); your message is kept.")
        if with_images and self.setup.projector is None:
            return self.no_vision_reason()
        return None

    def images_refusal(self) -> str | None:
        """Why images cannot be attached for the model in use (one sentence), or None: it sees
        them (as loaded, or, while it loads, with the projector chosen)."""
        if self.loaded is not None:
            return None if self.loaded.has_vision else self.no_vision_reason()
        if self.setup is not None and self.setup.projector is None:
            return self.no_vision_reason()
        return None

    def no_vision_reason(self) -> str:
        name = self.setup.model.display_name if self.setup else ""
        return self.tr(
            "{name} is loaded without a vision projector, so it cannot see images; "
            "use File ▸ Choose vision projector… to add its mmproj file."
        ).format(name=name)

    def shutdown(self) -> None:
        """Stop the download (what arrived is kept for resuming)."""
        self.download.shutdown()

    # ------------------------------------------------------------------------ private
    def _set_state(self, state: ModelState) -> None:
        if state is not self.state:
            self.state = state
            self.stateChanged.emit(state)

    def _refuse(self, choice: ModelChoice, message: str, previous: ModelState) -> None:
        self._set_state(previous if self.loaded is not None else ModelState.NONE)
        self.refused.emit(choice, message)

    def _use(self, setup: ModelSetup) -> None:
        if self._cancel_wanted:  # cancelled while the files were checked: the engine kept its model
            self._cancel_wanted = False
            self._previous = None
            self._set_state(ModelState.READY if self.loaded is not None else ModelState.NONE)
            self.loadCancelled.emit(self.tr("Loading {name} was cancelled.").format(name=setup.model.display_name))
            return
        self.setup = setup
        self.setupChosen.emit(setup)
        limit = setup.model.context_length
        runtime = self.preferences.runtime
        if limit and runtime.n_ctx > limit:
            runtime = dataclasses.replace(runtime, n_ctx=limit)
        self._load(runtime)

    def _load(self, runtime: RuntimeSettings) -> None:
        assert self.setup is not None
        self.loaded = None
        self.preferences = dataclasses.replace(self.preferences, runtime=runtime)
        self._set_state(ModelState.LOADING)
        self.runtimeChanged.emit(runtime)
        setup = self.setup
        if runtime.n_ctx != AUTO_CONTEXT:
            self._send_load(setup, runtime)
            return

        def sized() -> RuntimeSettings:
            """The context this machine holds comfortably (reads its memory: off the UI thread)."""
            machine = machine_memory()
            n_ctx = default_context_for_files(setup.model, setup.projector, machine, flash_attn=runtime.flash_attn)
            return dataclasses.replace(runtime, n_ctx=n_ctx)

        def ready(concrete: RuntimeSettings) -> None:
            if self.setup is setup and self.state is ModelState.LOADING:
                self._send_load(setup, concrete)

        self._work.run(sized, ready, self._failed)

    def _send_load(self, setup: ModelSetup, runtime: RuntimeSettings) -> None:
        projector = setup.projector
        request = LoadRequest.of(setup.model.path, projector.path if projector else None, runtime)
        self._bridge.load(request)
        self.loadStarted.emit(request)

    def _loaded(self, loaded: ModelLoaded) -> None:
        setup = self.setup
        if setup is None or Path(loaded.model_path) != setup.model.path:
            return  # a load superseded by another choice
        first = self.loaded is None
        self.loaded = loaded
        self._previous = None
        self._cancel_wanted = False
        mmproj = Path(loaded.mmproj_path) if loaded.mmproj_path else None
        self.preferences = self.preferences.with_model(Path(loaded.model_path), mmproj)
        save_preferences(self.preferences)
        self._set_state(ModelState.READY)
        self.modelLoaded.emit(loaded)
        if first and setup.projector_searched and setup.projector is None:
            self.projectorNotFound.emit(setup)

    def _failed(self, message: str) -> None:
        self.loaded = None
        self._previous = None
        self._set_state(ModelState.ERROR)
        self.loadFailed.emit(message)

    def _progress(self, fraction: float) -> None:
        if self.state is ModelState.LOADING:
            self.loadProgress.emit(fraction)

    def _cancelled(self, message: str) -> None:
        self._cancel_wanted = False
        previous, self._previous = self._previous, None
        self.loaded = None
        self.setup = previous
        if previous is not None:
            self.setupChosen.emit(previous)
            self._load(self.preferences.runtime)
        else:
            self._set_state(ModelState.NONE)
        self.loadCancelled.emit(message)

    def _use_registered(self, model: LocalModel | None) -> None:
        if self.setup is not None or self.state is not ModelState.NONE:
            return  # the user chose one meanwhile
        if model is not None:
            self.open(ModelChoice(model.model_path, model.mmproj_path))
            return
        self._work.run(recommend_for_this_machine, self._offer, lambda _message: None)

    def _offer(self, recommendation: Recommendation) -> None:
        self._recommendation = recommendation
        self.downloadOffered.emit(recommendation)

    def _downloaded(self, model: LocalModel) -> None:
        """A finished download is loaded when no model is in use yet (the first run's)."""
        if self.setup is None and self.state is not ModelState.LOADING:
            self.open(ModelChoice(model.model_path, model.mmproj_path))
