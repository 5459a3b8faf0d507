"""The "Runs on" box of the toolbar: where the open conversation's replies are computed, this
computer or one of the saved servers, and the way to add a server.

Choosing a saved server asks for the model on it (the server dialog, whose "List models" is the
only network access); the box itself never connects anywhere.
"""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QComboBox, QWidget

from desktop_app.servers import SavedServer
from desktop_app.store import ConversationServer

_HERE = "here"
_ADD = "add"


class RunsOnBox(QComboBox):
    """This computer, each saved server, and "Add a server…".

    Signals:
        hereChosen(): the user chose this computer.
        serverRequested(str): the user chose a saved server (its name), or "Add a server…" (""):
            the window asks which model (and, for a new one, where).
    """

    hereChosen = Signal()
    serverRequested = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setAccessibleName(self.tr("Where this conversation runs"))
        self.setToolTip(self.tr("Where this conversation's replies are computed"))
        self.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
        self._place: ConversationServer | None = None
        self._servers: list[SavedServer] = []
        self.activated.connect(self._activated)
        self._fill()

    def set_servers(self, servers: list[SavedServer]) -> None:
        self._servers = list(servers)
        self._fill()

    def show_place(self, place: ConversationServer | None) -> None:
        """Show where the open conversation runs (None: this computer)."""
        self._place = place
        self._fill()

    def _fill(self) -> None:
        self.blockSignals(True)
        self.clear()
        self.addItem(self.tr("This computer"), (_HERE, ""))
        names = [s.name for s in self._servers]
        if self._place is not None and self._place.name not in names:
            names.append(self._place.name)  # a conversation on a server no longer saved
        for name in names:
            shown = (
                self.tr("{model} on {server}").format(model=self._place.model, server=name)
                if self._place is not None and self._place.name == name
                else name
            )
            self.addItem(shown, ("server", name))
        self.insertSeparator(self.count())
        self.addItem(self.tr("Add a server…"), (_ADD, ""))
        current = 0 if self._place is None else 1 + names.index(self._place.name)
        self.setCurrentIndex(current)
        self.blockSignals(False)

    def _activated(self, index: int) -> None:
        kind, name = self.itemData(index)
        if kind == _HERE:
            if self._place is not None:
                self.hereChosen.emit()
        elif kind == _ADD:
            self._fill()  # show the current place until the dialog says otherwise
            self.serverRequested.emit("")
        else:  # a server: (again) which model on it
            self._fill()
            self.serverRequested.emit(name)
