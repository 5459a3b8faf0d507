"""Conversation storage: SQLite for conversations and messages, content-addressed image files.

Must not import Qt or llama_cpp: the CLI and tests use it without either.
"""

from desktop_app.store.store import (
    FINISH_REASONS,
    KEEP,
    Attachment,
    Conversation,
    ConversationNotFound,
    ConversationServer,
    ConversationStore,
    FinishReason,
    Message,
    StreamingWriter,
    title_from_prompt,
)

__all__ = [
    "FINISH_REASONS",
    "KEEP",
    "Attachment",
    "Conversation",
    "ConversationNotFound",
    "ConversationServer",
    "ConversationStore",
    "FinishReason",
    "Message",
    "StreamingWriter",
    "title_from_prompt",
]
