"""A reply's thinking told apart from its answer: the one place that knows how a model writes it.

Gemma 4, asked to think (``<|think|>`` in its system turn), opens its reply with a thought channel:
``<|channel>thought`` + a newline + the reasoning + ``<channel|>``, then the answer.  The markers
are tokens llama.cpp renders as text (the converter makes them user-defined for exactly this), so
the reply arrives as one string and is stored as one, markers included: a reply cut off while
thinking keeps what was thought.  Everything that shows, sends back or exports a reply splits it
here: the window (a collapsed "Thinking" section above the answer), the command line (the thought
on stderr), the history given back to the model (the answer only, as the model card asks) and
the exports (the thought beside the answer).

Kept apart from the engine and the store so both sides of the pipe (and the store's export) use
the same few lines.
"""

from __future__ import annotations

from dataclasses import dataclass

from desktop_app.errors import UserError

THOUGHT_OPEN = "<|channel>"
THOUGHT_CLOSE = "<channel|>"
THOUGHT_LABEL = "thought\n"
"""The channel's name, written after the opening marker."""


@dataclass(frozen=True)
class SplitReply:
    """A reply as a person reads it."""

    thought: str
    answer: str
    thinking: bool
    """The thought is still open: no answer has begun (a streaming reply, or one cut off)."""


def split_reply(text: str) -> SplitReply:
    """Split a reply into its thought and its answer; a reply without a thought is all answer.

    Only a thought channel at the very start counts, so an answer that quotes the markers stays
    as written.  A marker is one token, so a streamed piece never ends half way through one.
    """
    body = text.lstrip()
    if not body.startswith(THOUGHT_OPEN):
        return SplitReply("", text, False)
    body = body[len(THOUGHT_OPEN) :].removeprefix(THOUGHT_LABEL)
    thought, closed, answer = body.partition(THOUGHT_CLOSE)
    if not closed:
        return SplitReply(thought.strip(), "", True)
    return SplitReply(thought.strip(), answer.lstrip(), False)


def join_reply(thought: str, answer: str) -> str:
    """The stored form of a reply with this thought (the inverse of :func:`split_reply`)."""
    if not thought:
        return answer
    return f"{THOUGHT_OPEN}{THOUGHT_LABEL}{thought}{THOUGHT_CLOSE}{answer}"


def unanswered(reply: SplitReply, finish_reason: str) -> UserError | None:
    """The sentence for a reply that thought but wrote no answer (None when it answered, or
    when the user stopped it): a long thought must never leave an empty reply unexplained."""
    if not reply.thought or reply.answer.strip() or finish_reason == "cancelled":
        return None
    if finish_reason == "context":
        return UserError(
            "The model was still thinking when the context filled up, so it wrote no answer; "
            "start a new chat or choose a larger context size."
        )
    return UserError(
        "The model ended its reply after thinking without writing an answer; ask again, or turn "
        "thinking off."
    )
