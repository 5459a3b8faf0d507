"""Kill a process with SIGKILL while it streams a reply: the database must stay whole, and the
prompt and the streamed part of the reply must be there when the store opens again.

The child streams on a clock of its own (one token every ``TICK_S`` of stream time), so where its
commits fall does not depend on how fast a loaded machine runs it.  It stops half-way between two
commits and waits to be killed, so the kill always finds text streamed but not yet committed.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import desktop_app
from desktop_app.store import ConversationStore
from desktop_app.store.store import FLUSH_INTERVAL_S

TICK_S = 1 / 64
"""Stream time per token (exact in binary, so commits fall on whole tokens)."""
COMMITS_BEFORE_KILL = 4
APPENDS = round((COMMITS_BEFORE_KILL + 0.5) * FLUSH_INTERVAL_S / TICK_S)
"""Half an interval past the last commit: some streamed text really is uncommitted."""

CHILD = """
import sys
from desktop_app.store import ConversationStore, StreamingWriter

TICK_S = float(sys.argv[1])
store = ConversationStore()
conversation = store.create_conversation()
image = store.add_attachment(b"\\x89PNG fake image bytes", "image/png", 2, 2)
store.add_user_message(conversation.id, "Tell me a very long story", [image])
reply = store.begin_assistant_message(conversation.id)
now = 0.0
writer = StreamingWriter(store, reply, clock=lambda: now)
print("ready", conversation.id, flush=True)
for n in range(int(sys.argv[2])):
    now = (n + 1) * TICK_S
    committed = writer.append(f"t{n} ")
    print(len(writer.text), int(committed), now, flush=True)
print("waiting", flush=True)
sys.stdin.read()  # until killed (or the test's end closes the pipe)
"""


def _stream(length: int) -> str:
    """The text the child has produced once it has written ``length`` characters."""
    text, n = "", 0
    while len(text) < length:
        text += f"t{n} "
        n += 1
    return text


def test_sigkill_mid_reply_keeps_the_prompt_and_the_streamed_text() -> None:
    repo = str(Path(desktop_app.__file__).resolve().parents[1])
    pythonpath = os.pathsep.join(filter(None, [repo, os.environ.get("PYTHONPATH")]))
    appended: list[tuple[int, bool, float]] = []  # (text length, committed, stream time)
    with subprocess.Popen(
        [sys.executable, "-c", CHILD, repr(TICK_S), str(APPENDS)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": pythonpath},
    ) as child:
        try:
            assert child.stdout is not None and child.stderr is not None
            first = child.stdout.readline().split()
            assert first[:1] == ["ready"], child.stderr.read()
            conversation_id = int(first[1])
            while (line := child.stdout.readline()) != "waiting\n":
                assert line, f"the child stopped early: {child.stderr.read()}"
                length, committed, at = line.split()
                appended.append((int(length), committed == "1", float(at)))
        finally:
            child.kill()  # SIGKILL on POSIX: no atexit, no finally, no sqlite3 close
            child.wait(timeout=30)
    if os.name == "posix":
        assert child.returncode == -9

    with ConversationStore() as store:
        assert store.connection.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert store.connection.execute("PRAGMA foreign_key_check").fetchall() == []
        user, reply = store.messages(conversation_id)
    assert user.text == "Tell me a very long story"
    assert user.attachments[0].path.read_bytes() == b"\x89PNG fake image bytes"
    assert (reply.state, reply.finish_reason) == ("complete", "interrupted")

    commits = [(length, at) for length, committed, at in appended if committed]
    assert len(commits) == COMMITS_BEFORE_KILL
    kept = len(reply.text)
    assert reply.text == _stream(kept)  # a clean prefix of what was streamed
    assert kept == commits[-1][0]  # every commit survived, and nothing uncommitted was written
    streamed, streamed_at = appended[-1][0], appended[-1][2]
    assert kept < streamed, "the kill should have caught some text uncommitted"
    assert streamed_at - commits[-1][1] < FLUSH_INTERVAL_S  # what was lost: under one interval
