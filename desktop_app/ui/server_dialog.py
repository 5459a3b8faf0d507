"""The dialog that adds (or edits) a server a conversation can run on: a name, a base URL, an API
key, an optional CA file, and the model, picked from what the server lists at ``/v1/models``.

Listing the models is the only thing here that touches the network, and only when the user asks
(the "List models" button); it and the keyring both run off the UI thread.  A plain ``http://``
URL to another computer gets a red warning that the conversation and the key travel unencrypted.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import QCoreApplication, Qt
from PySide6.QtGui import QPalette
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from desktop_app.api_keys import ApiKeys
from desktop_app.engine.protocol import ServerLoadRequest
from desktop_app.engine.remote_probe import check_url, list_models
from desktop_app.errors import Sentence, UserError
from desktop_app.servers import SavedServer, travels_unencrypted
from desktop_app.ui import localized
from desktop_app.ui.background import BackgroundWork


@dataclass(frozen=True)
class ServerChoice:
    """What the dialog was filled in with: the server to save, its key (for the keyring, never a
    file) and the model picked on it."""

    server: SavedServer
    api_key: str
    model: str


def _red(label: QLabel) -> QLabel:
    palette = label.palette()
    palette.setColor(QPalette.ColorRole.WindowText, Qt.GlobalColor.red)
    label.setPalette(palette)
    label.setWordWrap(True)
    return label


def unencrypted_warning(url: str) -> str:
    """The sentence the window shows for a plain-http server outside this computer ("" if none)."""
    if not travels_unencrypted(url):
        return ""
    return QCoreApplication.translate(
        "ServerDialog",
        "This address uses plain http to another computer: the conversation and the API key "
        "travel unencrypted; use https or an SSH tunnel if the network is not yours."
    )


class ServerDialog(QDialog):
    """Add or edit a server and pick its model.

    Signals: none of its own (QDialog's ``accepted``/``rejected``); :attr:`choice` holds the
    result once accepted.
    """

    def __init__(
        self,
        work: BackgroundWork,
        keys: ApiKeys,
        server: SavedServer | None = None,
        model: str = "",
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle(self.tr("Edit server") if server else self.tr("Add a server"))
        self.setMinimumWidth(560)
        self._work = work
        self._keys = keys
        self._listing: int | None = None
        self.choice: ServerChoice | None = None

        self.name = QLineEdit(server.name if server else "")
        self.name.setPlaceholderText(self.tr("GPU box"))
        self.url = QLineEdit(server.base_url if server else "")
        self.url.setPlaceholderText("http://gpu-box:8080/v1")
        self.key = QLineEdit()
        self.key.setEchoMode(QLineEdit.EchoMode.Password)
        self.key.setPlaceholderText(self.tr("none"))
        self.ca_file = QLineEdit(server.ca_file or "" if server else "")
        self.ca_file.setPlaceholderText(self.tr("only for a server with its own certificate authority"))
        browse = QPushButton(self.tr("Browse…"))
        browse.clicked.connect(self._browse)
        ca_row = QHBoxLayout()
        ca_row.addWidget(self.ca_file, 1)
        ca_row.addWidget(browse)
        self.model = QComboBox()
        self.model.setEditable(True)
        self.model.setMinimumContentsLength(24)
        if model:
            self.model.addItem(model)
        self.list_button = QPushButton(self.tr("List models"))
        self.list_button.clicked.connect(self.list_models)
        model_row = QHBoxLayout()
        model_row.addWidget(self.model, 1)
        model_row.addWidget(self.list_button)

        form = QFormLayout()
        form.addRow(self.tr("Name"), self.name)
        form.addRow(self.tr("Base URL"), self.url)
        form.addRow(self.tr("API key"), self.key)
        form.addRow(self.tr("CA file"), ca_row)
        form.addRow(self.tr("Model"), model_row)

        self.warning = _red(QLabel())
        self.keyring_note = QLabel()
        self.keyring_note.setWordWrap(True)
        self.keyring_note.hide()
        self.error = _red(QLabel())
        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        self.buttons.accepted.connect(self._accept)
        self.buttons.rejected.connect(self.reject)

        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.warning)
        layout.addWidget(self.keyring_note)
        layout.addWidget(self.error)
        layout.addWidget(self.buttons)

        self.url.textChanged.connect(self._url_changed)
        self._url_changed(self.url.text())
        self._work.run(keys.unavailable_reason, self._keyring_checked, lambda _message: None)
        if server is not None:
            self._work.run(lambda: keys.get(server.name), self.key.setText, lambda _message: None)

    # -------------------------------------------------------------------------- actions
    def list_models(self) -> None:
        """Ask the server for its models, off the UI thread; the list fills the model box."""
        try:
            request = self._request("")
        except UserError as exc:
            self._show_error(localized.error(exc))
            return
        self._show_error("")
        self.list_button.setEnabled(False)
        self.list_button.setText(self.tr("Listing…"))
        self._listing = self._work.run(lambda: list_models(request), self._listed, self._list_failed)

    # -------------------------------------------------------------------------- private
    def _request(self, model: str) -> ServerLoadRequest:
        ca_file = self.ca_file.text().strip() or None
        if ca_file is not None and not Path(ca_file).is_file():
            raise UserError("The certificate authority file '{path}' was not found.", path=ca_file)
        return ServerLoadRequest(check_url(self.url.text()), model, self.key.text().strip(), ca_file,
                                 self.name.text().strip())

    def _listed(self, models: list[str]) -> None:
        self._listing = None
        self.list_button.setEnabled(True)
        self.list_button.setText(self.tr("List models"))
        current = self.model.currentText()
        self.model.clear()
        self.model.addItems(models)
        if current in models:
            self.model.setCurrentText(current)
        if not models:
            self._show_error(self.tr("The server lists no models."))

    def _list_failed(self, message: str) -> None:
        self._listing = None
        self.list_button.setEnabled(True)
        self.list_button.setText(self.tr("List models"))
        self._show_error(message)

    def _keyring_checked(self, reason: Sentence | None) -> None:
        self.keyring_note.setText(localized.sentence(reason) if reason is not None else "")
        self.keyring_note.setVisible(bool(reason))

    def _url_changed(self, url: str) -> None:
        text = unencrypted_warning(url)
        self.warning.setText(text)
        self.warning.setVisible(bool(text))

    def _browse(self) -> None:
        path, _ = QFileDialog.getOpenFileName(
            self, self.tr("Certificate authority"), "", self.tr("PEM certificates (*.pem *.crt);;All files (*)")
        )
        if path:
            self.ca_file.setText(path)

    def _show_error(self, message: str) -> None:
        self.error.setText(message)
        self.error.setVisible(bool(message))

    def _accept(self) -> None:
        name, model = self.name.text().strip(), self.model.currentText().strip()
        if not name:
            self._show_error(self.tr("Give the server a name."))
            return
        if not model:
            self._show_error(self.tr("Choose the model (List models asks the server)."))
            return
        try:
            request = self._request(model)
        except UserError as exc:
            self._show_error(localized.error(exc))
            return
        self.choice = ServerChoice(SavedServer(name, request.base_url, request.ca_file),
                                   request.api_key, model)
        self.accept()
