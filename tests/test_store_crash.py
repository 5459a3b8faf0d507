"""Kill a process with SIGKILL while it streams a reply: the database must stay whole, and the
prompt and the streamed part of the reply must be there when the store opens again."""

from __future__ import annotations

import itertools
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

import desktop_app
from desktop_app import paths
from desktop_app.store import ConversationStore

CHILD = """
import time
from desktop_app.store import ConversationStore, StreamingWriter

store = ConversationStore()
conversation = store.create_conversation()
image = store.add_attachment(b"\\x89PNG fake image bytes", "image/png", 2, 2)
store.add_user_message(conversation.id, "Tell me a very long story", [image])
reply = store.begin_assistant_message(conversation.id)
writer = StreamingWriter(store, reply)
print("ready", conversation.id, flush=True)
n = 0
while True:
    committed = writer.append(f"t{n} ")
    print(len(writer.text), int(committed), time.monotonic(), flush=True)
    n += 1
    time.sleep(0.005)
"""

COMMITS_BEFORE_KILL = 4
KILL_AFTER_LAST_COMMIT_S = 0.3
"""Kill between two commits, so some streamed text really is uncommitted."""


def _stream(length: int) -> str:
    """The text the child has produced once it has written ``length`` characters."""
    text, n = "", 0
    while len(text) < length:
        text += f"t{n} "
        n += 1
    return text


def test_sigkill_mid_reply_keeps_the_prompt_and_the_streamed_text(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(paths.HOME_ENV, str(tmp_path))
    repo = str(Path(desktop_app.__file__).resolve().parents[1])
    pythonpath = os.pathsep.join(filter(None, [repo, os.environ.get("PYTHONPATH")]))
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": pythonpath},
    )
    appended: list[tuple[int, bool, float]] = []  # (text length, committed, child's clock)
    try:
        assert child.stdout is not None and child.stderr is not None
        first = child.stdout.readline().split()
        assert first[:1] == ["ready"], child.stderr.read()
        conversation_id = int(first[1])
        last_commit_seen = None
        while (
            last_commit_seen is None
            or time.monotonic() - last_commit_seen < KILL_AFTER_LAST_COMMIT_S
        ):
            line = child.stdout.readline()
            assert line, f"the child stopped early: {child.stderr.read()}"
            length, committed, at = line.split()
            appended.append((int(length), committed == "1", float(at)))
            if sum(c for _, c, _ in appended) == COMMITS_BEFORE_KILL and last_commit_seen is None:
                last_commit_seen = time.monotonic()
        child.kill()  # SIGKILL on POSIX: no atexit, no finally, no sqlite3 close
        child.wait(timeout=10)
        for line in child.stdout.read().splitlines():  # what it printed before it died
            length, committed, at = line.split()
            appended.append((int(length), committed == "1", float(at)))
    finally:
        child.kill()
        child.wait(timeout=10)
    if os.name == "posix":
        assert child.returncode == -9

    with ConversationStore() as store:
        assert store.connection.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert store.connection.execute("PRAGMA foreign_key_check").fetchall() == []
        user, reply = store.messages(conversation_id)
    assert user.text == "Tell me a very long story"
    assert user.attachments[0].path.read_bytes() == b"\x89PNG fake image bytes"
    assert (reply.state, reply.finish_reason) == ("complete", "interrupted")

    kept = len(reply.text)
    assert reply.text == _stream(kept)  # a clean prefix of what was streamed
    commits = [(length, at) for length, committed, at in appended if committed]
    assert kept >= commits[-1][0]  # every commit the child reported survived
    assert kept in {length for length, _ in commits}  # and nothing half-written
    kept_at = next(at for length, at in commits if length == kept)
    lost_s = appended[-1][2] - kept_at
    assert kept < appended[-1][0], "the kill should have caught some text uncommitted"
    assert lost_s <= 1.0, f"{lost_s:.2f} s of streamed text was lost"
    gaps = [b - a for (_, a), (_, b) in itertools.pairwise(commits)]
    assert all(0.5 <= gap <= 1.0 for gap in gaps), gaps
