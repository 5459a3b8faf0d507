"""The Models page's catalog: every Gemma build the app offers, how it would do here, and its download.

Each entry is a card: size, memory it needs, whether it fits this machine and how fast it would
write here (the same estimates as ``models list``), a badge for Google's gated builds, and its
download's progress, speed and time left with Pause, Resume and Cancel.  Downloads run one after
another in the :class:`DownloadQueue`; the model and its projector always come as a pair.  Above
the cards, where downloads come from (Hugging Face or a mirror of it, :class:`DownloadSource`);
above the gated builds, the Hugging Face sign-in they need (:class:`HubSignIn`).
"""

from __future__ import annotations

from dataclasses import dataclass
from html import escape

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QFont, QPalette, QShowEvent
from PySide6.QtWidgets import (
    QFrame,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QProgressBar,
    QPushButton,
    QScrollArea,
    QVBoxLayout,
    QWidget,
)

from desktop_app.errors import Sentence
from desktop_app.models.catalog import CatalogEntry, load_catalog
from desktop_app.models.download import TOKENS_PAGE, TokenCheck, check_token
from desktop_app.models.fit import FitVerdict, machine_memory
from desktop_app.models.hub_token import HubToken, HubTokens, TokenSource
from desktop_app.models.speed import SpeedEstimate, measure_machine_speed
from desktop_app.settings import DEFAULT_CONTEXT
from desktop_app.ui import localized
from desktop_app.ui.background import BackgroundWork
from desktop_app.ui.download_queue import DownloadItem, DownloadQueue, DownloadStatus, describe_download
from desktop_app.ui.widgets import ability_words


@dataclass(frozen=True)
class HereAndNow:
    """How one catalog entry would do on this machine."""

    verdict: FitVerdict
    speed: SpeedEstimate


def judge_catalog(n_ctx: int = DEFAULT_CONTEXT) -> dict[str, HereAndNow]:
    """Fit and expected speed of every catalog entry here (asks nvidia-smi and measures memory
    bandwidth for a fraction of a second: off the UI thread)."""
    machine = machine_memory()
    speed = measure_machine_speed(machine)
    judged = {}
    for entry in load_catalog():
        judged[entry.id] = HereAndNow(entry.check_fit(machine, n_ctx), entry.expected_speed(machine, speed, n_ctx))
    return judged


def _badge(text: str, tooltip: str, parent: QWidget) -> QLabel:
    """A small rounded tag beside a name, in the palette's colours (so dark themes get dark tags)."""
    badge = QLabel(text, parent)
    badge.setToolTip(tooltip)
    badge.setStyleSheet(
        "QLabel { background: palette(midlight); color: palette(window-text); border-radius: 4px; padding: 0 6px; }"
    )
    return badge


class CatalogCard(QFrame):
    """One catalog entry and its download.

    Signals:
        downloadRequested(CatalogEntry): download it (or resume it).
        pauseRequested(str): pause the download of the entry with this id.
        cancelRequested(str): cancel it and delete what arrived.
        showRequested(str): show the downloaded model's page.
    """

    downloadRequested = Signal(object)
    pauseRequested = Signal(str)
    cancelRequested = Signal(str)
    showRequested = Signal(str)

    def __init__(self, entry: CatalogEntry, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.entry = entry
        self.downloaded = False
        self.item: DownloadItem | None = None
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.setAccessibleName(entry.name)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(12, 8, 12, 8)
        text = QVBoxLayout()
        text.setSpacing(3)
        heading = QHBoxLayout()
        heading.setSpacing(6)
        name = QLabel(entry.name, self)
        font = QFont(name.font())
        font.setBold(True)
        name.setFont(font)
        heading.addWidget(name)
        heading.addWidget(_badge(entry.family.label, self.tr("The model family of this build"), self))
        heading.addWidget(
            _badge(
                ability_words(entry.abilities),
                self.tr("Comes with its vision projector") if entry.has_vision else self.tr("No vision projector"),
                self,
            )
        )
        if entry.gated:
            heading.addWidget(
                _badge(
                    self.tr("gated"),
                    self.tr("Google's own build: accept the Gemma licence on Hugging Face and sign in above"),
                    self,
                )
            )
        self.here_badge = _badge(self.tr("on this computer"), self.tr("Downloaded already"), self)
        self.here_badge.hide()
        heading.addWidget(self.here_badge)
        heading.addStretch(1)
        text.addLayout(heading)
        self.facts = QLabel(self)
        self.facts.setWordWrap(True)
        self.facts.setForegroundRole(QPalette.ColorRole.PlaceholderText)
        text.addWidget(self.facts)
        self.progress = QProgressBar(self)
        self.progress.setRange(0, 1000)
        self.progress.setTextVisible(False)
        self.progress.setMaximumHeight(8)
        self.progress.setAccessibleName(self.tr("Download progress of {name}").format(name=entry.name))
        self.progress.hide()
        text.addWidget(self.progress)
        self.status = QLabel(self)
        self.status.setWordWrap(True)
        self.status.hide()
        text.addWidget(self.status)
        layout.addLayout(text, 1)

        self.download_button = QPushButton(self.tr("Download"), self)
        self.download_button.clicked.connect(lambda: self.downloadRequested.emit(self.entry))
        self.pause_button = QPushButton(self.tr("Pause"), self)
        self.pause_button.clicked.connect(lambda: self.pauseRequested.emit(self.entry.id))
        self.cancel_button = QPushButton(self.tr("Cancel"), self)
        self.cancel_button.setToolTip(self.tr("Stop and delete what was downloaded"))
        self.cancel_button.clicked.connect(lambda: self.cancelRequested.emit(self.entry.id))
        self.show_button = QPushButton(self.tr("Show"), self)
        self.show_button.clicked.connect(lambda: self.showRequested.emit(self.entry.id))
        for button in (self.download_button, self.pause_button, self.cancel_button, self.show_button):
            layout.addWidget(button, 0, Qt.AlignmentFlag.AlignVCenter)
        self.set_here(None)
        self._update()

    def set_here(self, here: HereAndNow | None) -> None:
        """Show the size, the memory it needs and (once judged) how it would do here."""
        facts = [
            self.tr("{size} download").format(size=localized.size(self.entry.download_size)),
            self.tr("needs {n} GB of memory").format(n=self.entry.min_ram_gb),
        ]
        if here is not None:
            how = {
                "fits": self.tr("fits here, about {rate} tokens/s"),
                "tight": self.tr("tight here, about {rate} tokens/s"),
                "will not fit": self.tr("will not fit here, about {rate} tokens/s"),
            }[here.verdict.level]
            facts.append(how.format(rate=here.speed.rounded))
            self.facts.setToolTip(localized.sentence(here.verdict.said))
        self.facts.setText(" · ".join(facts))

    def set_downloaded(self, downloaded: bool) -> None:
        self.downloaded = downloaded
        self._update()

    def show_item(self, item: DownloadItem | None) -> None:
        """Its download's state (None: not downloading)."""
        self.item = item
        self._update()

    def _update(self) -> None:
        item = self.item
        running = item is not None and item.status in (DownloadStatus.QUEUED, DownloadStatus.DOWNLOADING)
        stopped = item is not None and not running
        self.here_badge.setVisible(self.downloaded and item is None)
        self.download_button.setVisible((item is None and not self.downloaded) or stopped)
        self.download_button.setText(self.tr("Resume") if stopped else self.tr("Download"))
        self.download_button.setAccessibleName(
            (self.tr("Resume {name}") if stopped else self.tr("Download {name}")).format(name=self.entry.name)
        )
        self.pause_button.setVisible(running)
        self.cancel_button.setVisible(item is not None)
        self.show_button.setVisible(self.downloaded and item is None)
        self.progress.setVisible(item is not None)
        self.status.setVisible(item is not None)
        if item is not None:
            self.progress.setValue(int(item.fraction * 1000))
            self.status.setText(describe_download(item))


class DownloadSource(QGroupBox):
    """Where downloads come from: Hugging Face, or a mirror of it that the user names.

    Signals:
        mirrorChosen(str): the user wants downloads to come from this address (empty: from
            Hugging Face itself); answer with :meth:`show_source` or :meth:`show_problem`.
    """

    mirrorChosen = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(self.tr("Download source"), parent)
        layout = QVBoxLayout(self)
        self.status = QLabel(self)
        self.status.setWordWrap(True)
        self.status.setAccessibleName(self.tr("Download source"))
        layout.addWidget(self.status)
        row = QHBoxLayout()
        self.address = QLineEdit(self)
        self.address.setPlaceholderText("https://hf-mirror.com")
        self.address.setAccessibleName(self.tr("Mirror address"))
        self.address.returnPressed.connect(self._use_mirror)
        row.addWidget(self.address, 1)
        self.mirror_button = QPushButton(self.tr("Use this mirror"), self)
        self.mirror_button.clicked.connect(self._use_mirror)
        row.addWidget(self.mirror_button)
        self.hub_button = QPushButton(self.tr("Use Hugging Face"), self)
        self.hub_button.clicked.connect(lambda: self.mirrorChosen.emit(""))
        row.addWidget(self.hub_button)
        layout.addLayout(row)
        note = QLabel(
            self.tr(
                "Where Hugging Face is slow or out of reach, downloads can come from a mirror that "
                "serves its files, such as https://hf-mirror.com. Sizes and checksums are checked the "
                "same way, and a paused download resumes from either."
            ),
            self,
        )
        note.setWordWrap(True)
        note.setForegroundRole(QPalette.ColorRole.PlaceholderText)
        layout.addWidget(note)

    def show_source(self, mirror: str | None) -> None:
        """Say where downloads come from now."""
        if mirror:
            self.status.setText(self.tr("Downloads come from the mirror {address}.").format(address=mirror))
            self.address.setText(mirror)
        else:
            self.status.setText(self.tr("Downloads come from Hugging Face."))
            self.address.clear()
        self.hub_button.setVisible(bool(mirror))

    def show_problem(self, message: str) -> None:
        """The address was refused: say why; what was typed stays."""
        self.status.setText(message)

    def _use_mirror(self) -> None:
        self.mirrorChosen.emit(self.address.text())


class HubSignIn(QGroupBox):
    """The Hugging Face token for gated builds: entered, checked against the hub, kept in the
    system keyring (or only for this session where there is none); or huggingface-hub's own.

    No signals: what it changes is where downloads find their token (:class:`HubTokens`).
    """

    def __init__(
        self, tokens: HubTokens, queue: DownloadQueue, work: BackgroundWork, parent: QWidget | None = None
    ) -> None:
        super().__init__(self.tr("Hugging Face sign-in, for Google's gated builds"), parent)
        self._tokens = tokens
        self._queue = queue
        self._work = work
        layout = QVBoxLayout(self)
        self.status = QLabel(self)
        self.status.setWordWrap(True)
        self.status.setTextFormat(Qt.TextFormat.RichText)
        self.status.setOpenExternalLinks(True)
        self.status.setTextInteractionFlags(Qt.TextInteractionFlag.TextBrowserInteraction)
        self.status.setAccessibleName(self.tr("Sign-in status"))
        layout.addWidget(self.status)
        row = QHBoxLayout()
        self.token_edit = QLineEdit(self)
        self.token_edit.setEchoMode(QLineEdit.EchoMode.Password)
        self.token_edit.setPlaceholderText(self.tr("Paste a Hugging Face access token (hf_…)"))
        self.token_edit.setAccessibleName(self.tr("Hugging Face token"))
        self.token_edit.returnPressed.connect(self.sign_in)
        row.addWidget(self.token_edit, 1)
        self.sign_in_button = QPushButton(self.tr("Check and save"), self)
        self.sign_in_button.clicked.connect(self.sign_in)
        row.addWidget(self.sign_in_button)
        self.sign_out_button = QPushButton(self.tr("Forget token"), self)
        self.sign_out_button.clicked.connect(self.sign_out)
        self.sign_out_button.hide()
        row.addWidget(self.sign_out_button)
        layout.addLayout(row)
        self.keyring_note = QLabel(self)
        self.keyring_note.setWordWrap(True)
        self.keyring_note.setForegroundRole(QPalette.ColorRole.PlaceholderText)
        self.keyring_note.hide()
        layout.addWidget(self.keyring_note)

    def refresh(self) -> None:
        """Say which token downloads use now, and whether a keyring can keep one (off the UI thread)."""

        def look() -> tuple[HubToken | None, Sentence | None]:
            return self._tokens.current(), self._tokens.keyring_problem()

        self._work.run(look, lambda found: self._show_current(*found), self._show_error)

    def sign_in(self) -> None:
        """Check the token with the hub; keep it only when the hub accepts it."""
        token = self.token_edit.text().strip()
        gated = [entry for entry in load_catalog() if entry.gated]
        endpoint = self._queue.endpoint

        def check() -> tuple[TokenCheck, TokenSource]:
            result = check_token(token, gated, endpoint=endpoint)
            return result, self._tokens.save(token)

        self.sign_in_button.setEnabled(False)
        self.status.setText(self.tr("Checking the token with Hugging Face…"))
        self._work.run(check, lambda done: self._signed_in(*done), self._show_error)

    def sign_out(self) -> None:
        self._work.run(self._tokens.forget, lambda _none: self.refresh(), self._show_error)

    def _show_current(self, token: HubToken | None, keyring_problem: Sentence | None) -> None:
        self.keyring_note.setText(localized.sentence(keyring_problem) if keyring_problem else "")
        self.keyring_note.setVisible(keyring_problem is not None)
        self.sign_out_button.setVisible(token is not None and token.source in ("keyring", "this session"))
        if token is None:
            self.status.setText(
                self.tr(
                    "Not signed in. The builds from ggml-org need no account. Google's own (gated) "
                    'builds need a free Hugging Face account: accept the Gemma licence on the '
                    'model\'s page, create a "Read" token at <a href="{page}">{page}</a> and paste it here.'
                ).format(page=TOKENS_PAGE)
            )
            return
        self.status.setText(
            {
                "keyring": self.tr(
                    "Gated downloads use the token saved in the system keyring; paste another token to replace it."
                ),
                "this session": self.tr(
                    "Gated downloads use the token entered in this session (no keyring keeps it); paste another "
                    "token to replace it."
                ),
                "HF_TOKEN": self.tr("Gated downloads use the token in HF_TOKEN; paste another token to replace it."),
                "hf auth login": self.tr(
                    "Gated downloads use huggingface-hub's own login ('hf auth login'); paste another token to "
                    "replace it."
                ),
            }[token.source]
        )

    def _signed_in(self, check: TokenCheck, where: TokenSource) -> None:
        self.sign_in_button.setEnabled(True)
        self.token_edit.clear()
        if where == "keyring":
            text = self.tr("Signed in as {user}; the token is kept in the system keyring.")
        else:
            text = self.tr(
                "Signed in as {user}; the token is kept only until Gemma Desktop closes, as there is no system keyring."
            )
        text = text.format(user=escape(check.user))
        if check.not_accepted:
            links = ", ".join(
                f'<a href="{TokenCheck.licence_page(repo)}">{escape(repo)}</a>' for repo in check.not_accepted
            )
            text += " " + self.tr(
                "This account has not accepted Google's Gemma licence yet for {links}: accept it there "
                "with the same account, then download."
            ).format(links=links)
        else:
            text += " " + self.tr("Every gated build in the catalog is open to this account.")
        self.status.setText(text)
        self.sign_out_button.show()

    def _show_error(self, message: str) -> None:
        """The hub refused the token, or could not be asked: what was typed stays in the field."""
        self.sign_in_button.setEnabled(True)
        self.status.setText(escape(message))


class CatalogTab(QWidget):
    """The catalog as cards, with the sign-in above them.

    Signals:
        showLocal(str): show the page of the downloaded model of the catalog entry with this id.
    """

    showLocal = Signal(str)

    def __init__(
        self, queue: DownloadQueue, tokens: HubTokens, work: BackgroundWork, parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self._queue = queue
        self._work = work
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        scroll = QScrollArea(self)
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QFrame.Shape.NoFrame)
        layout.addWidget(scroll)
        body = QWidget(scroll)
        column = QVBoxLayout(body)
        column.setContentsMargins(14, 10, 14, 14)
        column.setSpacing(6)
        self.refused = QLabel(body)
        self.refused.setWordWrap(True)
        self.refused.hide()
        column.addWidget(self.refused)
        self.source = DownloadSource(body)
        self.source.show_source(queue.mirror)
        column.addWidget(self.source)
        self.cards: dict[str, CatalogCard] = {}
        entries = list(load_catalog())
        for gated, heading in (
            (False, self.tr("Ready to download (ggml-org builds, no account needed)")),
            (True, self.tr("Google's own builds (gated: accept the licence and sign in)")),
        ):
            label = QLabel(heading, body)
            font = QFont(label.font())
            font.setBold(True)
            label.setFont(font)
            label.setContentsMargins(0, 8, 0, 2)
            column.addWidget(label)
            if gated:
                self.sign_in = HubSignIn(tokens, queue, work, body)
                column.addWidget(self.sign_in)
            for entry in (e for e in entries if e.gated == gated):
                card = CatalogCard(entry, body)
                card.downloadRequested.connect(self._download)
                card.pauseRequested.connect(queue.pause)
                card.cancelRequested.connect(queue.cancel)
                card.showRequested.connect(self.showLocal)
                self.cards[entry.id] = card
                column.addWidget(card)
        column.addStretch(1)
        scroll.setWidget(body)
        queue.changed.connect(self._show_item)
        queue.removed.connect(lambda entry_id: self._card_item(entry_id, None))
        queue.refused.connect(self._show_refused)
        for item in queue.items():
            self._show_item(item)
        self._judging = False
        self.judged = False
        """True once every card says how it would do on this machine."""

    def showEvent(self, event: QShowEvent) -> None:
        """Judge the catalog for this machine the first time it is shown (it takes a moment)."""
        super().showEvent(event)
        if not self._judging:
            self._judging = True
            self.sign_in.refresh()
            self._work.run(judge_catalog, self._show_judged, lambda _message: None)

    def set_downloaded(self, catalog_ids: set[str]) -> None:
        for entry_id, card in self.cards.items():
            card.set_downloaded(entry_id in catalog_ids)

    def _download(self, entry: CatalogEntry) -> None:
        self.refused.hide()
        self._queue.add(entry)

    def _show_judged(self, judged: dict[str, HereAndNow]) -> None:
        for entry_id, here in judged.items():
            if entry_id in self.cards:
                self.cards[entry_id].set_here(here)
        self.judged = True

    def _show_item(self, item: DownloadItem) -> None:
        self._card_item(item.entry.id, item)

    def _card_item(self, entry_id: str, item: DownloadItem | None) -> None:
        card = self.cards.get(entry_id)
        if card is not None:
            card.show_item(item)

    def _show_refused(self, _entry_id: str, message: str) -> None:
        self.refused.setText(message)
        self.refused.show()
