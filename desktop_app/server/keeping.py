"""Keeps API conversations in the user's conversation list, only when the user asked for it
(``serve --keep-conversations``): otherwise the server never opens the store.

Each API conversation (as :mod:`desktop_app.server.conversations` recognises it) becomes one
conversation in the list; each finished reply adds the turns the store does not have yet.  A
request that goes back on its conversation (a regenerate, an edit) starts a new one rather than
rewriting what is kept.  Writes happen on one thread that owns the store (SQLite connections
belong to the thread that made them), so the server's event loop never waits for the disk.
"""

from __future__ import annotations

import io
import logging
import queue
import threading
from collections.abc import Callable
from dataclasses import asdict

from desktop_app.engine.images import PreparedImage
from desktop_app.engine.protocol import ChatMessage, ModelLoaded
from desktop_app.server.conversations import Route
from desktop_app.server.messages import EngineConversation
from desktop_app.server.replies import ReplyEnd
from desktop_app.settings import GenerationSettings
from desktop_app.store import ConversationStore

log = logging.getLogger(__name__)


class StoreKeeper:
    """A :class:`~desktop_app.server.app.ConversationKeeper` writing to a :class:`ConversationStore`."""

    def __init__(self, open_store: Callable[[], ConversationStore] = ConversationStore) -> None:
        self._jobs: queue.Queue[Callable[[ConversationStore], None] | None] = queue.Queue()
        self._kept: dict[str, tuple[int, int]] = {}
        """API conversation -> (store conversation id, how many messages it holds)."""
        self._ready = threading.Event()
        self._failure: BaseException | None = None
        self._thread = threading.Thread(target=self._run, args=(open_store,), name="api-keeper", daemon=True)
        self._thread.start()
        self._ready.wait()
        if self._failure is not None:
            raise self._failure

    def keep(
        self,
        route: Route,
        conversation: EngineConversation,
        reply: ReplyEnd,
        settings: GenerationSettings,
        model: ModelLoaded,
    ) -> None:
        """Queue the turns this reply finished for storing."""
        self._jobs.put(lambda store: self._store(store, route, conversation, reply, settings, model))

    def flush(self) -> None:
        """Wait until everything queued is written."""
        done = threading.Event()
        self._jobs.put(lambda _store: done.set())
        done.wait()

    def close(self) -> None:
        self._jobs.put(None)
        self._thread.join(timeout=10)

    def _run(self, open_store: Callable[[], ConversationStore]) -> None:
        try:
            store = open_store()
        except BaseException as exc:
            self._failure = exc
            self._ready.set()
            return
        self._ready.set()
        try:
            while (job := self._jobs.get()) is not None:
                try:
                    job(store)
                except Exception:
                    log.exception("keeping an API conversation failed")
        finally:
            store.close()

    def _store(
        self,
        store: ConversationStore,
        route: Route,
        conversation: EngineConversation,
        reply: ReplyEnd,
        settings: GenerationSettings,
        model: ModelLoaded,
    ) -> None:
        kept = self._kept.get(route.conversation)
        if kept is None or kept[1] != route.known_messages:
            created = store.create_conversation(
                model_path=model.model_path,
                mmproj_path=model.mmproj_path,
                system_prompt=conversation.system_prompt,
                settings=settings,
            )
            kept = (created.id, 0)
        conversation_id, stored = kept
        for message in conversation.messages[stored:]:
            _add(store, conversation_id, message)
        reply_id = store.begin_assistant_message(conversation_id)
        store.finish_assistant_message(reply_id, reply.text, reply.finish_reason, asdict(reply.metrics))
        self._kept[route.conversation] = (conversation_id, len(conversation.messages) + 1)


def _add(store: ConversationStore, conversation_id: int, message: ChatMessage) -> None:
    if message.role == "assistant":
        reply_id = store.begin_assistant_message(conversation_id)
        store.finish_assistant_message(reply_id, message.text, "stop")
        return
    shas = [_attachment(store, image) for image in message.images]
    store.add_user_message(conversation_id, message.text, shas)


def _attachment(store: ConversationStore, image: PreparedImage) -> str:
    """The image as the model saw it, as a PNG (API clients send no file to keep)."""
    buffer = io.BytesIO()
    image.to_pil().save(buffer, format="PNG")
    return store.add_attachment(buffer.getvalue(), "image/png", image.width, image.height)
