"""Which conversation a request continues, recognised from its messages alone.

The chat completions API is stateless: every request resends the whole conversation.  As
llama-server's prompt cache does, a request is matched to the conversation whose messages it
starts with: each known conversation is remembered as a chain of digests (system prompt, then one
per message, images by content hash), and the request's longest prefix found in that index names
the conversation.  A client that says which requests belong together (OpenAI's
``prompt_cache_key``) is believed instead.

Only digests are kept, never text or pixels, and only for the most recent conversations.
"""

from __future__ import annotations

import hashlib
import secrets
import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass

from desktop_app.engine.documents import PreparedDocument
from desktop_app.engine.images import PreparedImage
from desktop_app.engine.protocol import ChatMessage

MAX_CONVERSATIONS = 256


@dataclass(frozen=True)
class Route:
    """The conversation a request belongs to."""

    conversation: str
    """A stable id for the conversation (new for a request that continues none)."""
    known_messages: int
    """How many of the request's messages the conversation already had (0 for a new one)."""


def message_digests(system_prompt: str, messages: Sequence[ChatMessage]) -> list[str]:
    """One digest per prefix: ``[0]`` covers the system prompt, ``[i]`` the first ``i`` messages."""
    digest = hashlib.sha256(b"system\0" + system_prompt.encode("utf-8"))
    out = [digest.hexdigest()]
    for message in messages:
        digest = digest.copy()
        digest.update(b"\0role\0" + message.role.encode())
        for part in message.parts:
            if isinstance(part, PreparedImage):
                digest.update(b"\0image\0" + part.sha256.encode())
            elif isinstance(part, PreparedDocument):
                digest.update(b"\0document\0" + part.sha256.encode())
            else:
                digest.update(b"\0text\0" + part.encode("utf-8"))
        out.append(digest.hexdigest())
    return out


class ConversationRouter:
    """Remembers recent API conversations by their message digests; thread-safe."""

    def __init__(self, capacity: int = MAX_CONVERSATIONS) -> None:
        self._capacity = capacity
        self._by_prefix: dict[str, str] = {}
        self._chains: OrderedDict[str, list[str]] = OrderedDict()
        self._lock = threading.Lock()

    def route(self, system_prompt: str, messages: Sequence[ChatMessage], key: str | None = None) -> Route:
        """The conversation these messages continue (``key``: the client's own name for it)."""
        digests = message_digests(system_prompt, messages)
        with self._lock:
            if key is not None:
                conversation = "key-" + hashlib.sha256(key.encode("utf-8")).hexdigest()[:24]
                chain = self._chains.get(conversation, [])
                shared = sum(1 for a, b in zip(chain[1:], digests[1:], strict=False) if a == b)
                return Route(conversation, shared)
            # The longest known prefix that holds at least one message; the last message is new.
            for length in range(len(digests) - 1, 0, -1):
                continued = self._by_prefix.get(digests[length])
                if continued is not None:
                    return Route(continued, length)
        return Route("api-" + secrets.token_hex(12), 0)

    def remember(self, conversation: str, system_prompt: str, messages: Sequence[ChatMessage]) -> None:
        """Record what ``conversation`` holds now (its messages and the reply to them)."""
        digests = message_digests(system_prompt, messages)
        with self._lock:
            old = self._chains.pop(conversation, [])
            for digest in old:
                if self._by_prefix.get(digest) == conversation:
                    del self._by_prefix[digest]
            self._chains[conversation] = digests
            for digest in digests[1:]:
                self._by_prefix[digest] = conversation
            while len(self._chains) > self._capacity:
                dropped, chain = self._chains.popitem(last=False)
                for digest in chain:
                    if self._by_prefix.get(digest) == dropped:
                        del self._by_prefix[digest]
