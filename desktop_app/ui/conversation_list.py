"""The left column: search, "New chat", and the conversations, most recent activity first.

It only shows what it is given and reports what the user asks for; the window talks to the
store.  Renaming happens in place (double-click or F2); deleting asks the window, which confirms.
"""

from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtCore import QPoint, QSize, Qt, QTimer, Signal
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (
    QAbstractItemView,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QMenu,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from desktop_app.store import Conversation
from desktop_app.ui import localized

_ID = Qt.ItemDataRole.UserRole
_SEARCH_DELAY_MS = 200


class ConversationList(QWidget):
    """Lists conversations and turns clicks and keys into requests.

    Signals:
        conversationSelected(int): the user picked this conversation.
        newRequested(): the user wants a new, empty conversation.
        renameRequested(int, str): the user typed a new title for this conversation.
        deleteRequested(int): the user wants this conversation deleted (not yet confirmed).
        searchChanged(str): the search text settled on this (empty: show all).
    """

    conversationSelected = Signal(int)
    newRequested = Signal()
    renameRequested = Signal(int, str)
    deleteRequested = Signal(int)
    searchChanged = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(8, 8, 4, 8)
        layout.setSpacing(6)

        self.new_button = QPushButton(self.tr("New chat"), self)
        self.new_button.setToolTip(self.tr("Start a new conversation (Ctrl+N)"))
        self.new_button.setAccessibleName(self.tr("New chat"))
        self.new_button.clicked.connect(self.newRequested)
        layout.addWidget(self.new_button)

        self.search = QLineEdit(self)
        self.search.setPlaceholderText(self.tr("Search conversations"))
        self.search.setClearButtonEnabled(True)
        self.search.setAccessibleName(self.tr("Search conversations"))
        self._search_timer = QTimer(self)
        self._search_timer.setSingleShot(True)
        self._search_timer.setInterval(_SEARCH_DELAY_MS)
        self._search_timer.timeout.connect(lambda: self.searchChanged.emit(self.query()))
        self.search.textChanged.connect(self._search_timer.start)
        layout.addWidget(self.search)

        self.list = QListWidget(self)
        self.list.setAccessibleName(self.tr("Conversations"))
        self.list.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.list.setTextElideMode(Qt.TextElideMode.ElideRight)
        self.list.setUniformItemSizes(True)
        self.list.setEditTriggers(
            QAbstractItemView.EditTrigger.DoubleClicked | QAbstractItemView.EditTrigger.EditKeyPressed
        )
        self.list.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.list.customContextMenuRequested.connect(self._show_menu)
        self.list.currentItemChanged.connect(self._on_current_changed)
        self.list.itemChanged.connect(self._on_item_changed)
        layout.addWidget(self.list, 1)

        self.rename_action = QAction(self.tr("Rename"), self)
        self.rename_action.setShortcut(QKeySequence(Qt.Key.Key_F2))
        self.rename_action.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
        self.rename_action.triggered.connect(self._rename_current)
        self.delete_action = QAction(self.tr("Delete…"), self)
        self.delete_action.setShortcut(QKeySequence(QKeySequence.StandardKey.Delete))
        self.delete_action.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
        self.delete_action.triggered.connect(self._delete_current)
        self.list.addAction(self.rename_action)
        self.list.addAction(self.delete_action)

    def set_conversations(self, conversations: Sequence[Conversation], current: int | None) -> None:
        """Show these (already in order), keeping ``current`` selected without re-announcing it."""
        row_height = round(self.list.fontMetrics().height() * 1.9)
        self.list.blockSignals(True)
        try:
            self.list.clear()
            for conversation in conversations:
                item = QListWidgetItem(self.title_of(conversation))
                item.setData(_ID, conversation.id)
                item.setSizeHint(QSize(0, row_height))
                item.setFlags(item.flags() | Qt.ItemFlag.ItemIsEditable)
                when = localized.date_time(conversation.updated_at)
                item.setToolTip(self.tr("Last activity {when}").format(when=when))
                self.list.addItem(item)
                if conversation.id == current:
                    self.list.setCurrentItem(item)
        finally:
            self.list.blockSignals(False)

    def query(self) -> str:
        """The search text (empty: show all)."""
        return self.search.text().strip()

    def clear_selection(self) -> None:
        """Select no conversation (a new one, not yet saved, is open)."""
        self.list.clearSelection()
        self.list.setCurrentRow(-1)

    def title_of(self, conversation: Conversation) -> str:
        return conversation.title or self.tr("New conversation")

    def current_id(self) -> int | None:
        item = self.list.currentItem()
        return None if item is None else int(item.data(_ID))

    def _on_current_changed(self, current: QListWidgetItem | None, _previous: object) -> None:
        if current is not None:
            self.conversationSelected.emit(int(current.data(_ID)))

    def _on_item_changed(self, item: QListWidgetItem) -> None:
        self.renameRequested.emit(int(item.data(_ID)), item.text().strip())

    def _show_menu(self, position: QPoint) -> None:
        if self.list.itemAt(position) is None:
            return
        menu = QMenu(self)
        menu.addAction(self.rename_action)
        menu.addAction(self.delete_action)
        menu.exec(self.list.viewport().mapToGlobal(position))

    def _rename_current(self) -> None:
        item = self.list.currentItem()
        if item is not None:
            self.list.editItem(item)

    def _delete_current(self) -> None:
        conversation_id = self.current_id()
        if conversation_id is not None:
            self.deleteRequested.emit(conversation_id)
