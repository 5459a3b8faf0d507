"""The headless contract against a server: ``ask --server URL --server-model NAME
[--api-key-env VAR]`` with the same flags and the same ``--json`` output as a local model, and
``chat --jsonl`` with the same options.  Real subprocesses, a real llama-server."""

from __future__ import annotations

import dataclasses
import json
import os
from pathlib import Path
from typing import Any

import pytest

from desktop_app.engine.protocol import Metrics, ServerLoadRequest
from desktop_app.engine.remote_probe import list_models
from desktop_app.store import ConversationStore
from tests.support.cli import METRIC_KEYS, assert_one_clear_line, run_cli
from tests.support.data import PHOTO, Models
from tests.support.openai_stub import GOOD_WORDS, MODEL, stub_server
from tests.support.remote import SERVER_KEY

pytestmark = pytest.mark.slow

KEY_VARIABLE = "GEMMA_TEST_SERVER_KEY"


@pytest.fixture
def server_args(gemma_server: Any, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    monkeypatch.setenv(KEY_VARIABLE, SERVER_KEY)
    model = list_models(ServerLoadRequest(gemma_server.base_url, "", SERVER_KEY))[0]
    return ["--server", gemma_server.base_url, "--server-model", model, "--api-key-env", KEY_VARIABLE]


def test_ask_json_about_an_image_on_a_server(server_args: list[str], models: Models) -> None:
    result = run_cli("ask", *server_args, "--image", PHOTO, "--max-tokens", "8", "--temperature", "0",
                     "--json", "What is in the photo?")
    assert result.returncode == 0, result.stderr
    reply = json.loads(result.stdout)
    assert set(reply) == {"text", "finish_reason", "metrics"}
    # The same object as from a local model: every field of Metrics, nothing else.
    assert set(reply["metrics"]) == {f.name for f in dataclasses.fields(Metrics)} >= METRIC_KEYS
    assert reply["text"] and reply["finish_reason"] in ("stop", "length")
    assert reply["metrics"]["prompt_tokens"] > models.tokens_per_image
    assert 0 < reply["metrics"]["decode_tokens"] <= 8


def test_ask_streams_plain_text_from_a_server(server_args: list[str]) -> None:
    result = run_cli("ask", *server_args, "--max-tokens", "6", "hello")
    assert result.returncode == 0, result.stderr
    assert result.stdout.endswith("\n") and result.stdout.strip()


def test_chat_jsonl_keeps_the_conversation_and_where_it_ran(server_args: list[str], gemma_server: Any) -> None:
    lines = "\n".join([
        json.dumps({"text": "Name a fruit.", "images": [str(PHOTO)]}),
        "not json",
        json.dumps({"text": "And a colour?"}),
    ])
    result = run_cli("chat", "--jsonl", *server_args, "--max-tokens", "6", "--temperature", "0", stdin=lines)
    assert result.returncode == 0, result.stderr
    out = [json.loads(line) for line in result.stdout.splitlines()]
    conversation_id = out[0]["conversation_id"]
    assert out[1]["text"] and set(out[1]) == {"text", "finish_reason", "metrics", "thread", "conversation_id"}
    assert out[1]["thread"] is None and out[1]["conversation_id"] == conversation_id
    assert "error" in out[2]
    assert out[3]["metrics"]["prompt_tokens"] > out[1]["metrics"]["prompt_tokens"]
    with ConversationStore() as store:
        conversation = store.get_conversation(conversation_id)
        assert conversation.server is not None and conversation.model_path is None
        assert conversation.server.url == gemma_server.base_url
        assert [m.role for m in store.messages(conversation_id)] == ["user", "assistant"] * 2


def test_a_missing_key_variable_is_one_sentence(server_args: list[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(KEY_VARIABLE)
    result = run_cli("ask", *server_args, "hello")
    assert_one_clear_line(result, 2, f"The environment variable {KEY_VARIABLE} is not set")


def test_a_wrong_key_and_an_unknown_model_exit_2(server_args: list[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(KEY_VARIABLE, "not-the-key")
    assert_one_clear_line(run_cli("ask", *server_args, "hello"), 2, "refused the API key")
    monkeypatch.setenv(KEY_VARIABLE, SERVER_KEY)
    args = [*server_args]
    args[args.index("--server-model") + 1] = "gemma-3-27b-it"
    assert_one_clear_line(run_cli("ask", *args, "hello"), 2, "has no model 'gemma-3-27b-it'")


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["--server", "http://127.0.0.1:9/v1"], "--server needs --server-model"),
        (["--server", "http://127.0.0.1:9/v1", "--server-model", "m", "--model", "x.gguf"], "not both"),
        (["--server-model", "m"], "Give a model"),
        (["--model", "x.gguf", "--server-model", "m"], "go with --server"),
    ],
)
def test_contradictory_options_are_one_sentence(args: list[str], words: str) -> None:
    assert_one_clear_line(run_cli("ask", *args, "hello"), 2, words)


def test_a_reply_cut_short_keeps_its_text_in_the_json(tmp_path: Path) -> None:
    with stub_server("malformed") as stub:
        result = run_cli("ask", "--server", stub.url, "--server-model", MODEL, "--json", "hi")
    assert_one_clear_line(result, 2, "not a chat reply")
    reply = json.loads(result.stdout)
    assert reply["text"] == "".join(GOOD_WORDS) and reply["finish_reason"] == "error"
    assert "not a chat reply" in reply["error"]


def test_the_key_never_reaches_the_apps_files(server_args: list[str], app_home: Path) -> None:
    """Settings, logs, the database and exports: the key is in none of them, even after a
    failure that logs (a wrong model) and an export of a server conversation."""
    assert run_cli("ask", *server_args, "--max-tokens", "4", "hi").returncode == 0
    args = [*server_args]
    args[args.index("--server-model") + 1] = "no-such-model"
    assert run_cli("ask", *args, "hi").returncode == 2
    chat = run_cli("chat", "--jsonl", *server_args, "--max-tokens", "4", stdin='{"text": "hi"}\n')
    conversation_id = json.loads(chat.stdout.splitlines()[0])["conversation_id"]
    for fmt in ("json", "md"):
        exported = run_cli("export", str(conversation_id), "--format", fmt, "--out", str(app_home / f"c.{fmt}"))
        assert exported.returncode == 0, exported.stderr
    files = [p for p in app_home.rglob("*") if p.is_file()]
    assert any(p.suffix == ".sqlite3" for p in files) and any(p.suffix == ".log" for p in files)
    for path in files:
        assert SERVER_KEY.encode() not in path.read_bytes(), path
    assert os.environ[KEY_VARIABLE] == SERVER_KEY
