"""Where conversations can run besides this computer: the saved servers, their keys, and the engine
bridge that carries a conversation's replies to one.

The window asks :meth:`ServerController.prepare` right before a reply goes to a server, so the
app connects to a server only when a conversation on it sends (and only to its saved URL).  Keys
are read from the keyring on the bridge's sender thread, never on the UI thread.
"""

from __future__ import annotations

from PySide6.QtCore import QObject, Signal

from desktop_app.api_keys import ApiKeys
from desktop_app.engine.protocol import ModelLoaded, ServerLoadRequest
from desktop_app.engine.remote import RemoteEngine
from desktop_app.errors import UserError
from desktop_app.servers import SavedServer, load_servers, save_servers
from desktop_app.store import ConversationServer
from desktop_app.ui import localized
from desktop_app.ui.background import BackgroundWork
from desktop_app.ui.engine_bridge import EngineBridge
from desktop_app.ui.server_dialog import ServerChoice, unencrypted_warning


class ServerController(QObject):
    """Saved servers and the remote engine's bridge.

    Signals:
        serversChanged(): a server was added, changed or removed.
        modelLoaded(ModelLoaded): the server answered and has the model (``server`` names it).
        loadFailed(str): the server could not be used, in one sentence.
        notice(str): a sentence for the user about servers that belongs to no reply.
    """

    serversChanged = Signal()
    modelLoaded = Signal(object)
    loadFailed = Signal(str)
    notice = Signal(str)

    def __init__(
        self,
        work: BackgroundWork,
        keys: ApiKeys | None = None,
        bridge: EngineBridge | None = None,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self._work = work
        self.keys = keys or ApiKeys()
        self.bridge = bridge or EngineBridge(RemoteEngine(), self)
        """Carries the replies of conversations that run on a server."""
        self.servers: list[SavedServer] = load_servers()
        self.loaded: ModelLoaded | None = None
        """What the server in use reported; None until a conversation on it has sent."""
        self._target: ConversationServer | None = None
        self.bridge.modelLoaded.connect(self._loaded)
        self.bridge.loadFailed.connect(self._failed)

    # ------------------------------------------------------------------------ servers
    def saved(self, name: str) -> SavedServer | None:
        return next((s for s in self.servers if s.name == name), None)

    def add(self, choice: ServerChoice) -> ConversationServer:
        """Save the server (replacing one of the same name) and its key; where its conversations run."""
        servers = [s for s in self.servers if s.name != choice.server.name] + [choice.server]
        try:
            save_servers(servers)
        except UserError as exc:
            self.notice.emit(localized.error(exc))
        self.servers = servers
        name, key = choice.server.name, choice.api_key
        self._work.run(lambda: self.keys.put(name, key), self._key_kept, self.notice.emit)
        if self._target is not None and self._target.name == name:
            self._target = None  # its URL, CA file or key may have changed: check it again
        self.serversChanged.emit()
        return ConversationServer(name, choice.server.base_url, choice.model)

    def _key_kept(self, in_keyring: bool) -> None:
        if not in_keyring:
            reason = self.keys.unavailable_reason()
            if reason is not None:
                self.notice.emit(localized.sentence(reason))

    # ------------------------------------------------------------------------ sending
    def prepare(self, target: ConversationServer) -> None:
        """Make the bridge's engine use ``target`` for the reply about to be sent (a check of the
        server goes first, queued before the reply, when it is not the one in use)."""
        if target == self._target and self.loaded is not None:
            return
        self._target = target
        self.loaded = None
        saved = self.saved(target.name)
        url = saved.base_url if saved else target.url
        ca_file = saved.ca_file if saved else None
        keys = self.keys

        def request() -> ServerLoadRequest:
            return ServerLoadRequest(url, target.model, keys.get(target.name), ca_file, target.name)

        self.bridge.load(request)

    def warning(self, target: ConversationServer) -> str:
        """The unencrypted-traffic warning for a conversation on ``target`` ("" when none)."""
        saved = self.saved(target.name)
        return unencrypted_warning(saved.base_url if saved else target.url)

    def shutdown(self) -> None:
        self.bridge.shutdown()

    # ------------------------------------------------------------------------ private
    def _loaded(self, loaded: ModelLoaded) -> None:
        if self._target is not None and loaded.server == self._target.name:
            self.loaded = loaded
            self.modelLoaded.emit(loaded)

    def _failed(self, message: str) -> None:
        self.loaded = None
        self._target = None  # the next message checks the server again
        self.loadFailed.emit(message)
