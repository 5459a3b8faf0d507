"""The headless CLI contract: ``ask``, ``ask --json``, ``chat --jsonl`` and the exit codes.

Run as real subprocesses (``python -m desktop_app``), the way scripts and later checks use it.
"""

from __future__ import annotations

import json
import signal
import sqlite3
import subprocess
import sys
import time
from contextlib import closing
from pathlib import Path

import pytest

from desktop_app.store import ConversationStore
from tests.support.cli import METRIC_KEYS, assert_one_clear_line, run_cli
from tests.support.data import LONG_SEED, PHOTO, STORY, Models


def test_ask_json_answers_about_an_image(models: Models) -> None:
    result = run_cli(
        "ask", "--model", models.tiny, "--mmproj", models.mmproj, "--image", PHOTO,
        "--max-tokens", "12", "--seed", "3", "--ctx", "1024", "--json", "What is in the photo?",
    )
    assert result.returncode == 0, result.stderr
    reply = json.loads(result.stdout)
    assert set(reply) == {"text", "finish_reason", "metrics"}
    assert set(reply["metrics"]) >= METRIC_KEYS
    assert reply["finish_reason"] == "length" and reply["text"]
    assert reply["metrics"]["image_tokens"] == models.tokens_per_image
    assert reply["metrics"]["decode_tokens"] == 12


@pytest.mark.slow
def test_ask_json_with_the_real_270m_and_a_fitting_projector(gemma270m: Path, models: Models) -> None:
    result = run_cli(
        "ask", "--model", gemma270m, "--mmproj", models.mmproj_270m, "--image", PHOTO,
        "--max-tokens", "8", "--temperature", "0", "--ctx", "2048", "--json", "Describe the photo.",
    )
    assert result.returncode == 0, result.stderr
    reply = json.loads(result.stdout)
    assert reply["metrics"]["image_tokens"] == models.tokens_per_image
    assert reply["metrics"]["prompt_tokens"] > reply["metrics"]["image_tokens"]


def test_ask_streams_plain_text(models: Models) -> None:
    result = run_cli("ask", "--model", models.tiny, "--max-tokens", "6", "--ctx", "512", "hello")
    assert result.returncode == 0, result.stderr
    assert result.stdout.endswith("\n") and result.stdout.strip()


def test_same_seed_same_answer_across_runs(models: Models) -> None:
    args = ("ask", "--model", models.tiny, "--max-tokens", "10", "--seed", "42", "--ctx", "512", "--json", "hi")
    first, second = run_cli(*args), run_cli(*args)
    assert json.loads(first.stdout)["text"] == json.loads(second.stdout)["text"]


def test_chat_jsonl_keeps_one_conversation_and_survives_a_bad_line(models: Models, image_file: Path) -> None:
    lines = [
        json.dumps({"text": "Look at this.", "images": [str(image_file)]}),
        "this is not json",
        json.dumps({"text": "And this?", "images": [str(image_file.with_name("missing.png"))]}),
        json.dumps({"text": "Tell me more."}),
    ]
    result = run_cli(
        "chat", "--model", models.tiny, "--mmproj", models.mmproj, "--jsonl",
        "--max-tokens", "8", "--ctx", "1024", stdin="\n".join(lines) + "\n",
    )
    assert result.returncode == 0, result.stderr
    out = [json.loads(line) for line in result.stdout.splitlines()]
    assert isinstance(out.pop(0)["conversation_id"], int)
    replies = [o for o in out if "text" in o]
    errors = [o for o in out if "error" in o]
    assert len(replies) == 2 and len(errors) == 2
    assert "JSON object" in errors[0]["error"] and "missing.png" in errors[1]["error"]
    assert replies[0]["metrics"]["image_tokens"] == models.tokens_per_image
    # The second turn builds on the first: its prompt holds the image and the earlier reply,
    # and all of the first turn's prompt comes from the KV cache.
    assert replies[1]["metrics"]["image_tokens"] == models.tokens_per_image
    assert replies[1]["metrics"]["cached_tokens"] >= replies[0]["metrics"]["prompt_tokens"]


def test_chat_jsonl_threads_are_conversations_kept_warm_in_one_engine(models: Models) -> None:
    from desktop_app.store import ConversationStore

    lines = [
        {"thread": "north", "text": "Tell me about mountains."},
        {"thread": "south", "text": "Tell me about beaches."},
        {"thread": "north", "text": "Which is the highest?"},
        {"text": "A line without a thread."},
        {"thread": "", "text": "An empty thread name is refused."},
    ]
    result = run_cli(
        "chat", "--model", models.tiny, "--jsonl", "--max-tokens", "6", "--seed", "2", "--ctx", "1024",
        stdin="".join(json.dumps(line) + "\n" for line in lines),
    )
    assert result.returncode == 0, result.stderr
    first, *out = [json.loads(line) for line in result.stdout.splitlines()]
    assert [o.get("thread") for o in out] == ["north", "south", "north", None, ""]
    north, south, north_again, default, refused = out
    assert "thread" in refused["error"] and set(refused) == {"error", "thread"}
    for reply in (north, south, north_again, default):
        assert set(reply) == {"text", "finish_reason", "metrics", "thread", "conversation_id"}
        assert set(reply["metrics"]) >= METRIC_KEYS and reply["metrics"]["dropped_turns"] == 0
    assert default["conversation_id"] == first["conversation_id"]
    assert len({north["conversation_id"], south["conversation_id"], default["conversation_id"]}) == 3
    assert north_again["conversation_id"] == north["conversation_id"]
    # Back to "north" after "south": its memory came back from RAM instead of being read again.
    assert north["metrics"]["restored"] is None and south["metrics"]["restored"] is None
    assert north_again["metrics"]["restored"] == "ram"
    assert north_again["metrics"]["cached_tokens"] >= north["metrics"]["prompt_tokens"]
    with ConversationStore() as store:
        assert [m.text for m in store.messages(north["conversation_id"])][::2] == [
            "Tell me about mountains.", "Which is the highest?"
        ]


def test_chat_jsonl_continue_picks_up_a_saved_conversation_warm(models: Models) -> None:
    args = ("chat", "--model", models.tiny, "--jsonl", "--max-tokens", "6", "--seed", "4", "--ctx", "1024")
    first = run_cli(*args, "--system", "Be brief.", stdin=json.dumps({"text": "Name a colour."}) + "\n")
    assert first.returncode == 0, first.stderr
    opened, reply = [json.loads(line) for line in first.stdout.splitlines()]
    conversation_id = opened["conversation_id"]
    assert reply["conversation_id"] == conversation_id and reply["thread"] is None

    again = run_cli(*args, "--continue", str(conversation_id), stdin=json.dumps({"text": "Another?"}) + "\n")
    assert again.returncode == 0, again.stderr
    reopened, follow = [json.loads(line) for line in again.stdout.splitlines()]
    assert reopened == {"conversation_id": conversation_id}
    assert follow["conversation_id"] == conversation_id
    # A new engine process: the first run stored the conversation's memory at the end of its
    # input, so nothing of the earlier turn (system prompt included) is read again.
    assert follow["metrics"]["restored"] == "disk"
    assert follow["metrics"]["cached_tokens"] >= reply["metrics"]["prompt_tokens"]

    from desktop_app.store import ConversationStore

    with ConversationStore() as store:
        assert store.get_conversation(conversation_id).system_prompt == "Be brief."
        assert [m.text for m in store.messages(conversation_id)][::2] == ["Name a colour.", "Another?"]
        assert len(store.list_conversations()) == 1

    missing = run_cli(*args, "--continue", "999", stdin="")
    assert_one_clear_line(missing, 2, "999")


@pytest.mark.parametrize(
    ("make_args", "words"),
    [
        (lambda m, tmp: ["--model", tmp / "nope.gguf", "hi"], ["nope.gguf", "not found"]),
        (lambda m, tmp: ["--model", m.not_gguf, "hi"], ["not-a-model.gguf", "GGUF"]),
        (lambda m, tmp: ["--model", m.truncated, "hi"], ["truncated.gguf"]),
        (lambda m, tmp: ["--model", m.mmproj, "hi"], ["mmproj-tiny.gguf"]),
        (lambda m, tmp: ["--model", m.tiny, "--mmproj", m.mmproj_mismatch, "hi"], ["mmproj-48.gguf"]),
        (lambda m, tmp: ["--model", m.tiny, "--mmproj", m.tiny, "hi"], ["tiny-gemma3.gguf"]),
        (lambda m, tmp: ["--model", m.tiny, "--image", PHOTO, "hi"], ["mmproj"]),
        (lambda m, tmp: ["--model", m.tiny, "--mmproj", m.mmproj, "--image", m.not_gguf, "hi"], ["not-a-model.gguf"]),
        (lambda m, tmp: ["--model", m.tiny, "--mmproj", m.mmproj, "--image", tmp / "gone.png", "hi"], ["gone.png"]),
        (lambda m, tmp: ["--model", m.tiny, "--top-p", "1.5", "hi"], ["top-p"]),
        (lambda m, tmp: ["--model", m.tiny, "--max-tokens", "9000", "hi"], ["8192"]),
        (lambda m, tmp: ["--model", m.tiny, "--ctx", "100", "hi"], ["context size"]),
        (lambda m, tmp: ["--model", m.tiny, "--bogus", "hi"], ["--bogus"]),
        (lambda m, tmp: ["--model", m.tiny, "--max-tokens", "many", "hi"], ["many"]),
    ],
    ids=[
        "missing-model", "not-a-gguf", "truncated-model", "projector-as-model", "mismatched-projector",
        "model-as-projector", "text-only-with-image", "bad-image", "missing-image", "bad-top-p",
        "too-many-tokens", "tiny-context", "unknown-option", "non-number",
    ],
)
def test_bad_input_exits_2_with_one_clear_line(models: Models, tmp_path: Path, make_args, words) -> None:
    result = run_cli("ask", *make_args(models, tmp_path), timeout=60)
    assert_one_clear_line(result, 2, *words)
    assert result.stdout == ""


def test_unknown_command_exits_2() -> None:
    assert_one_clear_line(run_cli("frobnicate"), 2, "frobnicate")


def test_engine_crash_mid_reply_exits_1_with_one_line(app_home: Path, models: Models) -> None:
    # Kill the engine child at its first streamed token, from a wrapper around the real CLI.
    script = (
        "import os, signal, sys\n"
        "from desktop_app.engine import client as c\n"
        "from desktop_app.engine.protocol import Token\n"
        "orig = c.EngineClient._track\n"
        "def track(self, event):\n"
        "    if isinstance(event, Token) and self.running:\n"
        "        os.kill(self._proc.pid, signal.SIGKILL)\n"
        "        self._proc.join()\n"
        "    return orig(self, event)\n"
        "c.EngineClient._track = track\n"
        "from desktop_app.cli import main\n"
        "if __name__ == '__main__':\n"
        "    sys.exit(main(sys.argv[1:]))\n"
    )
    wrapper = app_home.parent / "wrapper.py"
    wrapper.write_text(script)
    result = subprocess.run(
        # A seed whose reply is long: an unseeded one may end at its first token, before any is streamed.
        [sys.executable, str(wrapper), "ask", "--model", str(models.tiny), "--max-tokens", "8192",
         "--ctx", "8192", "--seed", str(LONG_SEED), STORY],
        capture_output=True, text=True, timeout=120,
    )
    assert_one_clear_line(result, 1, "engine stopped unexpectedly", "SIGKILL")
    assert "engine process died" in (app_home / "log" / "gemma-desktop.log").read_text()


def test_internal_bug_exits_1_and_the_traceback_goes_to_the_log(
    app_home: Path, models: Models, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from desktop_app import cli
    from desktop_app.cli import chat as commands

    def broken(args: object) -> int:
        raise RuntimeError("a bug")

    monkeypatch.setattr(commands, "run_ask", broken)
    assert cli.main(["ask", "--model", str(models.tiny), "hi"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err and "gemma-desktop.log" in err
    log = (app_home / "log" / "gemma-desktop.log").read_text()
    assert "Traceback" in log and "RuntimeError: a bug" in log


def test_chat_jsonl_saves_the_conversation_unless_told_not_to(models: Models, image_file: Path) -> None:
    turns = json.dumps({"text": "What is this?", "images": [str(image_file)]}) + "\n"
    turns += json.dumps({"text": "Thanks."}) + "\n"
    args = ("chat", "--model", models.tiny, "--mmproj", models.mmproj, "--jsonl", "--max-tokens", "5",
            "--ctx", "1024", "--system", "Be brief.")
    result = run_cli(*args, stdin=turns)
    assert result.returncode == 0, result.stderr
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    conversation_id = lines[0]["conversation_id"]
    with ConversationStore() as store:
        conversation = store.get_conversation(conversation_id)
        messages = store.messages(conversation_id)
    assert conversation.system_prompt == "Be brief." and conversation.mmproj_path
    assert [m.role for m in messages] == ["user", "assistant", "user", "assistant"]
    assert messages[0].text == "What is this?" and len(messages[0].attachments) == 1
    assert messages[0].attachments[0].path.read_bytes() == image_file.read_bytes()
    assert messages[1].text == lines[1]["text"] and messages[1].finish_reason == "length"
    assert messages[1].metrics["decode_tokens"] == 5
    assert run_cli("list").stdout.count("What is this?") == 1

    unsaved = run_cli(*args, "--no-save", stdin=turns)
    assert unsaved.returncode == 0, unsaved.stderr
    replies = [json.loads(line) for line in unsaved.stdout.splitlines()]
    assert len(replies) == 2 and all(r["conversation_id"] is None and "text" in r for r in replies)
    with ConversationStore() as store:
        assert len(store.list_conversations()) == 1


def test_sigkill_mid_reply_keeps_the_prompt_and_the_streamed_part(models: Models, app_home: Path) -> None:
    """The app process (here ``chat --jsonl``, which saves like the window) dies mid-reply."""
    database = app_home / "data" / "conversations.sqlite3"
    streamed = ""
    with subprocess.Popen(
        [sys.executable, "-m", "desktop_app", "chat", "--model", str(models.tiny), "--jsonl",
         "--max-tokens", "8192", "--ctx", "8192", "--seed", str(LONG_SEED)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    ) as proc:
        try:
            assert proc.stdin is not None and proc.stdout is not None
            conversation_id = json.loads(proc.stdout.readline())["conversation_id"]
            proc.stdin.write(json.dumps({"text": STORY}) + "\n")
            proc.stdin.flush()
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline and not streamed:
                with closing(sqlite3.connect(f"file:{database}?mode=ro", uri=True)) as conn:
                    row = conn.execute(
                        "SELECT text FROM messages WHERE role = 'assistant' AND state = 'streaming'"
                    ).fetchone()
                streamed = row[0] if row else ""
                time.sleep(0.05)
        finally:
            proc.send_signal(signal.SIGKILL)
            proc.wait(timeout=30)
    assert streamed, "no part of the reply was flushed while it streamed"
    with closing(sqlite3.connect(database)) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    with ConversationStore() as store:  # reopening marks the cut reply
        messages = store.messages(conversation_id)
    assert [m.role for m in messages] == ["user", "assistant"]
    assert messages[0].text == STORY
    assert messages[1].text.startswith(streamed) and messages[1].finish_reason == "interrupted"
