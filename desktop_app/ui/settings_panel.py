"""The settings panel: how the open conversation is answered, how the model is run, and the
window's language.

Every field is a spin box or check box whose range is the one ``GenerationSettings.validate`` and
``RuntimeSettings.validate`` accept (a test holds the two together), so an invalid value cannot
be entered.  Sampling settings and the system prompt belong to the conversation; runtime settings
apply to every conversation and reload the model; the language applies at the next start.
"""

from __future__ import annotations

import dataclasses

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QPalette
from PySide6.QtWidgets import (
    QAbstractSpinBox,
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QScrollArea,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from desktop_app.settings import AUTO_CONTEXT, MAX_OUTPUT_TOKENS, GenerationSettings, RuntimeSettings
from desktop_app.ui import language, localized

MAX_CONTEXT = 131072
MIN_CONTEXT = 256
MAX_THREADS = 512
MAX_GPU_LAYERS = 999
MAX_SNAPSHOT_MIB = 1 << 20
_PROMPT_SAVE_DELAY_MS = 500


def _double(minimum: float, maximum: float, step: float, decimals: int = 2) -> QDoubleSpinBox:
    box = QDoubleSpinBox()
    box.setRange(minimum, maximum)
    box.setSingleStep(step)
    box.setDecimals(decimals)
    box.setCorrectionMode(QAbstractSpinBox.CorrectionMode.CorrectToNearestValue)
    return box


def _integer(minimum: int, maximum: int, step: int = 1) -> QSpinBox:
    box = QSpinBox()
    box.setRange(minimum, maximum)
    box.setSingleStep(step)
    box.setCorrectionMode(QAbstractSpinBox.CorrectionMode.CorrectToNearestValue)
    return box


class SettingsPanel(QScrollArea):
    """Edits the open conversation's sampling settings and system prompt, and the runtime.

    Signals:
        generationChanged(GenerationSettings): the user changed a sampling setting.
        systemPromptChanged(str): the system prompt settled on this text.
        runtimeApplied(RuntimeSettings): the user asked to reload the model with these.
        languageChosen(str): the user chose this Language setting ("system", "en" or "zh_CN").
        clearSnapshotsRequested(): the user asked to forget the conversation memory kept on disk.
    """

    generationChanged = Signal(object)
    systemPromptChanged = Signal(str)
    runtimeApplied = Signal(object)
    languageChosen = Signal(str)
    clearSnapshotsRequested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._loaded_context: int | None = None
        self.setWidgetResizable(True)
        # A panel in a dock scrolls up and down, never sideways: its rows fit the dock's width.
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        content = QWidget(self)
        column = QVBoxLayout(content)

        chat = QGroupBox(self.tr("This conversation"), content)
        form = QFormLayout(chat)
        self.system_prompt = QPlainTextEdit(chat)
        self.system_prompt.setPlaceholderText(self.tr("Optional instructions, e.g. “Answer briefly.”"))
        self.system_prompt.setTabChangesFocus(True)
        self.system_prompt.setFixedHeight(self.system_prompt.fontMetrics().lineSpacing() * 4 + 12)
        form.addRow(self.tr("System prompt"), self.system_prompt)
        self.temperature = _double(0.0, 5.0, 0.05)
        self.top_k = _integer(0, 1000)
        self.top_k.setSpecialValueText(self.tr("Off"))
        self.top_p = _double(0.01, 1.0, 0.01)
        self.min_p = _double(0.0, 0.99, 0.01)
        self.repeat_penalty = _double(0.5, 2.0, 0.05)
        # A double spin box with no decimals: QSpinBox stops at 2**31 - 1, seeds go to 2**32 - 1.
        self.seed = _double(-1, 2**32 - 1, 1, decimals=0)
        self.seed.setSpecialValueText(self.tr("Random"))
        self.max_tokens = _integer(1, MAX_OUTPUT_TOKENS, 256)
        self.pan_scan = QComboBox(chat)
        for mode, label in (
            ("default", self.tr("Default (off on a CPU, wide or tall images on a GPU)")),
            ("off", self.tr("Off")),
            ("auto", self.tr("Wide or tall images")),
            ("on", self.tr("Every large image")),
        ):
            self.pan_scan.addItem(label, mode)
        # The longest choice would widen the whole panel past its dock (in English and Chinese):
        # the box keeps a modest width and its list opens as wide as the choices need.
        self.pan_scan.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.pan_scan.setMinimumContentsLength(16)
        self.pan_scan.view().setMinimumWidth(self.pan_scan.view().sizeHintForColumn(0) + 24)
        self.pan_scan.setToolTip(
            self.tr(
                "Pan & Scan also shows the model crops of an image, for detail; each crop costs "
                "as many tokens as the image, and on a CPU as long an encode (a minute or more)."
            )
        )
        self.pan_scan.setAccessibleName(self.tr("Pan and scan"))
        self.pan_scan.currentIndexChanged.connect(self._emit_generation)
        self.think = QCheckBox(self.tr("Think before answering"), chat)
        self.think.setToolTip(
            self.tr(
                "The model reasons first; the thought shows, collapsed, above the answer, and Max "
                "tokens bounds the answer alone."
            )
        )
        self.think.setAccessibleName(self.tr("Think before answering"))
        self.think.toggled.connect(self._emit_generation)
        self.stop_when_full = QCheckBox(self.tr("Stop when the context is full"), chat)
        self.stop_when_full.setToolTip(
            self.tr(
                "Otherwise a long conversation goes on: Gemma keeps the first exchange and the "
                "newest messages that fit, and a line in the chat shows where what it sees begins."
            )
        )
        self.stop_when_full.setAccessibleName(self.tr("Stop when the context is full"))
        self.stop_when_full.toggled.connect(self._emit_generation)
        rows: list[tuple[str, QSpinBox | QDoubleSpinBox, str]] = [
            (
                self.tr("Temperature"),
                self.temperature,
                self.tr("Higher is more varied; 0 always picks the likeliest word."),
            ),
            (self.tr("Top-k"), self.top_k, self.tr("Sample from this many likeliest tokens (Off: all).")),
            (self.tr("Top-p"), self.top_p, self.tr("Sample from the likeliest tokens that make up this share.")),
            (self.tr("Min-p"), self.min_p, self.tr("Drop tokens less likely than this share of the likeliest.")),
            (self.tr("Repeat penalty"), self.repeat_penalty, self.tr("Above 1 discourages repeating words.")),
            (self.tr("Seed"), self.seed, self.tr("Random: a new seed every reply; a number makes replies repeatable.")),
            (self.tr("Max tokens"), self.max_tokens, self.tr("The longest a reply may get.")),
        ]
        for label, box, tip in rows:
            box.setToolTip(tip)
            box.setAccessibleName(label)
            box.valueChanged.connect(self._emit_generation)
            form.addRow(label, box)
        form.addRow(self.tr("Pan && Scan"), self.pan_scan)
        form.addRow("", self.think)
        form.addRow("", self.stop_when_full)
        self._form = form
        self.system_prompt.setAccessibleName(self.tr("System prompt"))
        self.reset_button = QPushButton(self.tr("Gemma defaults"), chat)
        self.reset_button.setToolTip(self.tr("Put the recommended Gemma 3 sampling settings back"))
        self.reset_button.setAccessibleName(self.tr("Reset to Gemma defaults"))
        self.reset_button.clicked.connect(self._reset_generation)
        form.addRow("", self.reset_button)
        column.addWidget(chat)

        runtime = QGroupBox(self.tr("Model runtime (all conversations)"), content)
        runtime_form = QFormLayout(runtime)
        self.context = _integer(MIN_CONTEXT, MAX_CONTEXT, 1024)
        self.context.setSuffix(self.tr(" tokens"))
        self.context.setToolTip(self.tr("How much of the conversation the model can see; more uses more memory."))
        self.context_auto = QCheckBox(self.tr("Size the context to this computer"), runtime)
        self.context_auto.setToolTip(
            self.tr("The largest of 8K to 128K tokens (up to the model's own) that its memory holds comfortably.")
        )
        self.context_auto.toggled.connect(self._show_context_auto)
        self.threads = _integer(1, MAX_THREADS)
        self.threads.setToolTip(self.tr("CPU threads; the number of physical cores is usually fastest."))
        self.gpu_layers = _integer(-1, MAX_GPU_LAYERS)
        self.gpu_layers.setSpecialValueText(self.tr("All"))
        self.gpu_layers.setToolTip(self.tr("Layers to run on the GPU (0: none); ignored without a GPU."))
        self.flash_attention = QCheckBox(self.tr("Flash attention"), runtime)
        self.flash_attention.setToolTip(self.tr("Faster and leaner attention where the backend supports it."))
        self.disk_cache = QCheckBox(self.tr("Keep image encodings and conversation memory on disk"), runtime)
        self.disk_cache.setToolTip(
            self.tr("After a restart, an image already seen is not encoded again and a conversation is not read again.")
        )
        self.snapshot_cache = _integer(0, MAX_SNAPSHOT_MIB, 512)
        self.snapshot_cache.setSuffix(self.tr(" MiB"))
        self.snapshot_cache.setToolTip(
            self.tr(
                "Disk kept for the memory of recent conversations, so returning to one after a restart "
                "continues at once; the least recently used go first."
            )
        )
        for label, box in (
            (self.tr("Context size"), self.context),
            (self.tr("Threads"), self.threads),
            (self.tr("GPU layers"), self.gpu_layers),
        ):
            box.setAccessibleName(label)
            box.valueChanged.connect(self._runtime_edited)
            runtime_form.addRow(label, box)
            if box is self.context:
                runtime_form.addRow("", self.context_auto)
        for check in (self.context_auto, self.flash_attention, self.disk_cache):
            check.setAccessibleName(check.text())
            check.toggled.connect(self._runtime_edited)
        runtime_form.addRow("", self.flash_attention)
        # The longest option spans the form: under the fields it would widen the panel past its dock.
        runtime_form.addRow(self.disk_cache)
        self.snapshot_cache.setAccessibleName(self.tr("Conversation memory on disk"))
        self.snapshot_cache.valueChanged.connect(self._runtime_edited)
        runtime_form.addRow(self.tr("Conversation memory"), self.snapshot_cache)
        memory_row = QHBoxLayout()
        self.snapshot_usage = QLabel(runtime)
        self.snapshot_usage.setForegroundRole(QPalette.ColorRole.PlaceholderText)
        memory_row.addWidget(self.snapshot_usage, 1)
        self.clear_snapshots_button = QPushButton(self.tr("Clear"), runtime)
        self.clear_snapshots_button.setToolTip(self.tr("Forget the conversation memory kept on disk and in RAM"))
        self.clear_snapshots_button.setAccessibleName(self.tr("Clear the conversation memory"))
        self.clear_snapshots_button.clicked.connect(self.clearSnapshotsRequested)
        memory_row.addWidget(self.clear_snapshots_button)
        runtime_form.addRow("", memory_row)
        buttons = QHBoxLayout()
        self.apply_button = QPushButton(self.tr("Apply and reload"), runtime)
        self.apply_button.setAccessibleName(self.tr("Apply runtime settings and reload the model"))
        self.apply_button.clicked.connect(lambda: self.runtimeApplied.emit(self.runtime()))
        buttons.addStretch(1)
        buttons.addWidget(self.apply_button)
        runtime_form.addRow(buttons)
        self.context_note = QLabel(runtime)
        self.context_note.setWordWrap(True)
        self.context_note.setForegroundRole(QPalette.ColorRole.PlaceholderText)
        runtime_form.addRow(self.context_note)
        column.addWidget(runtime)

        window = QGroupBox(self.tr("Window"), content)
        window_form = QFormLayout(window)
        self.language = QComboBox(window)
        system = language.language_name(language.resolve("system"))
        self.language.addItem(self.tr("As the system ({language})").format(language=system), "system")
        for choice in ("en", "zh_CN"):
            self.language.addItem(language.language_name(choice), choice)
        self.language.setAccessibleName(self.tr("Language"))
        self.language.setToolTip(self.tr("The language of the window; it changes at the next start."))
        self.language.currentIndexChanged.connect(self._language_chosen)
        window_form.addRow(self.tr("Language"), self.language)
        self.language_note = QLabel(window)
        self.language_note.setWordWrap(True)
        self.language_note.setForegroundRole(QPalette.ColorRole.PlaceholderText)
        self.language_note.hide()
        window_form.addRow(self.language_note)
        column.addWidget(window)
        column.addStretch(1)
        self.setWidget(content)

        self._prompt_timer = QTimer(self)
        self._prompt_timer.setSingleShot(True)
        self._prompt_timer.setInterval(_PROMPT_SAVE_DELAY_MS)
        self._prompt_timer.timeout.connect(self._emit_prompt)
        self.system_prompt.textChanged.connect(self._prompt_timer.start)
        self._applied_runtime = RuntimeSettings()
        self._shown_generation = GenerationSettings()
        self._can_apply = False
        self.set_generation(GenerationSettings(), "")
        self.set_runtime(self._applied_runtime)

    # ------------------------------------------------------------------ conversation
    def generation(self) -> GenerationSettings:
        """The settings shown; always valid, since the widgets cannot hold anything else.

        Fields this panel does not edit keep the values of the settings it was given.
        """
        return dataclasses.replace(
            self._shown_generation,
            temperature=round(self.temperature.value(), 2),
            top_k=self.top_k.value(),
            top_p=round(self.top_p.value(), 2),
            min_p=round(self.min_p.value(), 2),
            repeat_penalty=round(self.repeat_penalty.value(), 2),
            seed=int(self.seed.value()),
            max_tokens=self.max_tokens.value(),
            pan_scan=self.pan_scan.currentData(),
            think=self.think.isChecked(),
            stop_when_full=self.stop_when_full.isChecked(),
        ).validate()

    def set_generation(self, settings: GenerationSettings, system_prompt: str) -> None:
        """Show a conversation's settings without announcing them as changes."""
        self._prompt_timer.stop()
        self._shown_generation = settings
        boxes = (
            self.temperature,
            self.top_k,
            self.top_p,
            self.min_p,
            self.repeat_penalty,
            self.seed,
            self.max_tokens,
            self.pan_scan,
            self.think,
            self.stop_when_full,
        )
        for box in (*boxes, self.system_prompt):
            box.blockSignals(True)
        try:
            self.temperature.setValue(settings.temperature)
            self.top_k.setValue(settings.top_k)
            self.top_p.setValue(settings.top_p)
            self.min_p.setValue(settings.min_p)
            self.repeat_penalty.setValue(settings.repeat_penalty)
            self.seed.setValue(settings.seed)
            self.max_tokens.setValue(settings.max_tokens)
            self.pan_scan.setCurrentIndex(max(0, self.pan_scan.findData(settings.pan_scan)))
            self.think.setChecked(settings.think)
            self.stop_when_full.setChecked(settings.stop_when_full)
            if self.system_prompt.toPlainText() != system_prompt:
                self.system_prompt.setPlainText(system_prompt)
        finally:
            for box in (*boxes, self.system_prompt):
                box.blockSignals(False)

    def set_model_features(self, *, pan_scan: bool, thinking: bool) -> None:
        """Offer only what the loaded model does: Pan & Scan is Gemma 3's, thinking Gemma 4's.
        The conversation's values stay as they are, for a model that has the feature."""
        self._form.setRowVisible(self.pan_scan, pan_scan)
        self._form.setRowVisible(self.think, thinking)

    def flush(self) -> None:
        """Announce a system prompt edit still waiting for its typing pause (before a switch)."""
        if self._prompt_timer.isActive():
            self._prompt_timer.stop()
            self._emit_prompt()

    def _emit_prompt(self) -> None:
        self.systemPromptChanged.emit(self.system_prompt.toPlainText())

    def _emit_generation(self) -> None:
        self.generationChanged.emit(self.generation())

    def _reset_generation(self) -> None:
        self.set_generation(GenerationSettings(), self.system_prompt.toPlainText())
        self._emit_generation()

    # ----------------------------------------------------------------------- runtime
    def runtime(self) -> RuntimeSettings:
        """The runtime shown; fields this panel does not edit keep their applied values."""
        return dataclasses.replace(
            self._applied_runtime,
            n_ctx=AUTO_CONTEXT if self.context_auto.isChecked() else self.context.value(),
            n_threads=self.threads.value(),
            n_gpu_layers=self.gpu_layers.value(),
            flash_attn=self.flash_attention.isChecked(),
            disk_cache=self.disk_cache.isChecked(),
            snapshot_disk_mib=self.snapshot_cache.value(),
        ).validate()

    def set_runtime(self, runtime: RuntimeSettings) -> None:
        """Show the runtime the model was (or will be) loaded with."""
        self._applied_runtime = runtime
        widgets = (
            self.context,
            self.context_auto,
            self.threads,
            self.gpu_layers,
            self.flash_attention,
            self.disk_cache,
            self.snapshot_cache,
        )
        for widget in widgets:
            widget.blockSignals(True)
        try:
            if runtime.n_ctx != AUTO_CONTEXT:
                self.context.setValue(runtime.n_ctx)
            self.context_auto.setChecked(runtime.n_ctx == AUTO_CONTEXT)
            self._show_context_auto(runtime.n_ctx == AUTO_CONTEXT)
            self.threads.setValue(runtime.n_threads)
            self.gpu_layers.setValue(runtime.n_gpu_layers)
            self.flash_attention.setChecked(runtime.flash_attn)
            self.disk_cache.setChecked(runtime.disk_cache)
            self.snapshot_cache.setValue(runtime.snapshot_disk_mib)
        finally:
            for widget in widgets:
                widget.blockSignals(False)
        self._runtime_edited()

    def _show_context_auto(self, auto: bool) -> None:
        """A context sized to this computer is only a number once a model is loaded: until then
        the box reads "Automatic" (its lowest value stands for it) rather than a size never chosen."""
        self.context.setEnabled(not auto)
        self.context.setSpecialValueText(self.tr("Automatic") if auto else "")
        if auto and self._loaded_context is None:
            self.context.blockSignals(True)
            self.context.setValue(self.context.minimum())
            self.context.blockSignals(False)

    def set_loaded_context(self, n_ctx: int) -> None:
        """Show the context the engine holds (what "sized to this computer" came to)."""
        self._loaded_context = n_ctx
        if self.context_auto.isChecked():
            self.context.blockSignals(True)
            self.context.setValue(n_ctx)
            self.context.blockSignals(False)

    def set_snapshot_usage(self, used: int) -> None:
        """How much disk the conversation memory takes now."""
        self.snapshot_usage.setText(self.tr("{size} in use").format(size=localized.size(used)))

    def set_context_limit(self, n_ctx_train: int | None) -> None:
        """Let the context go up to what the model was trained for (128K for Gemma 3 4B+)."""
        limit = min(MAX_CONTEXT, n_ctx_train) if n_ctx_train else MAX_CONTEXT
        self.context.setMaximum(max(MIN_CONTEXT, limit))
        self.context_note.setText(
            self.tr("This model handles up to {n} tokens of context.").format(n=localized.number(limit))
            if n_ctx_train
            else ""
        )
        self._runtime_edited()

    def set_runtime_enabled(self, enabled: bool) -> None:
        """Reloading is only possible with a model chosen and no reply running."""
        self._can_apply = enabled
        self._runtime_edited()

    # ---------------------------------------------------------------------- language
    def set_language(self, choice: str) -> None:
        """Show the Language setting as saved, without announcing it as a change."""
        self.language.blockSignals(True)
        self.language.setCurrentIndex(max(0, self.language.findData(choice)))
        self.language.blockSignals(False)
        self._show_language_note()

    def _language_chosen(self) -> None:
        self._show_language_note()
        self.languageChosen.emit(self.language.currentData())

    def _show_language_note(self) -> None:
        """Say when the chosen language differs from the one the window is in."""
        chosen = language.resolve(self.language.currentData())
        self.language_note.setText(
            self.tr("The window changes to {language} when Gemma Desktop starts again.").format(
                language=language.language_name(chosen)
            )
        )
        self.language_note.setVisible(chosen != language.current())

    def _runtime_edited(self) -> None:
        changed = self.runtime() != self._applied_runtime
        self.apply_button.setEnabled(changed and self._can_apply)

