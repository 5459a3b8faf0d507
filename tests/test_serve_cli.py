"""``python -m desktop_app serve`` as a user runs it, and the pieces of the server that need no engine:
which model ``--model`` names, conversations recognised from their messages, stop strings.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import openai
import pytest

from desktop_app.cli.serve import resolve_files
from desktop_app.engine.images import prepare_image
from desktop_app.engine.protocol import ChatMessage
from desktop_app.errors import UserError
from desktop_app.models.registry import ModelRegistry
from desktop_app.server.conversations import ConversationRouter
from desktop_app.server.replies import StopScanner
from tests.support.cli import assert_one_clear_line, run_cli
from tests.support.data import Models


def _start_serve(*args: str | Path) -> tuple[subprocess.Popen[str], str]:
    """A ``serve`` process and the base URL it announced on stderr."""
    process = subprocess.Popen(
        [sys.executable, "-m", "desktop_app", "serve", "--port", "0", *map(str, args)],
        stderr=subprocess.PIPE,
        text=True,
        env=os.environ.copy(),
    )
    assert process.stderr is not None
    line = process.stderr.readline()
    found = re.search(r"at (http://127\.0\.0\.1:\d+/v1)", line)
    if found is None:
        process.kill()
        raise AssertionError(line + process.stderr.read())
    return process, found.group(1)


@pytest.mark.parametrize("stop_signal", [signal.SIGINT, signal.SIGTERM])
def test_serve_answers_the_openai_client_and_stops_cleanly(models: Models, stop_signal: signal.Signals) -> None:
    process, url = _start_serve("--model", models.tiny, "--mmproj", models.mmproj, "--ctx", "1024",
                                "--threads", "2")
    with process:  # closes the stderr pipe at the end
        try:
            client = openai.OpenAI(base_url=url, api_key="unused", max_retries=0, timeout=120)
            assert [m.id for m in client.models.list().data] == ["tiny-gemma3"]
            reply = client.chat.completions.create(
                model="tiny-gemma3", messages=[{"role": "user", "content": "hello"}], max_tokens=3
            )
            assert reply.choices[0].message.content and reply.usage and reply.usage.completion_tokens == 3
        finally:
            process.send_signal(stop_signal)
            assert process.wait(timeout=60) == 0
        assert process.stderr is not None and "Traceback" not in process.stderr.read()


def test_serve_by_registry_id_pairs_the_registered_projector(models: Models, tmp_path: Path) -> None:
    registry = ModelRegistry(tmp_path / "models.json")
    folder = tmp_path / "gguf"
    folder.mkdir()
    for source in (models.tiny, models.mmproj):
        (folder / source.name).symlink_to(source)
    registry.import_path(folder)
    files = resolve_files("tiny-gemma3", None, registry)
    assert files.model == folder / models.tiny.name and files.mmproj == folder / models.mmproj.name
    assert files.alias == "tiny-gemma3"
    # Without --model, the only model there is; a path finds its projector beside it.
    assert resolve_files(None, None, registry) == files
    by_path = resolve_files(str(folder / models.tiny.name), None, registry)
    assert by_path.mmproj == folder / models.mmproj.name and by_path.alias is None


@pytest.mark.parametrize(
    ("spec", "words"),
    [("no-such-model", ["no local model called 'no-such-model'"]), (None, ["Choose a model", "none yet"])],
)
def test_a_model_that_is_not_there_is_one_sentence(tmp_path: Path, spec: str | None, words: list[str]) -> None:
    with pytest.raises(UserError) as caught:
        resolve_files(spec, None, ModelRegistry(tmp_path / "models.json"))
    for word in words:
        assert word in str(caught.value)


def test_bad_serve_options_exit_2_with_one_line(models: Models) -> None:
    network = run_cli("serve", "--host", "0.0.0.0", "--model", models.tiny)
    assert_one_clear_line(network, 2, "GEMMA_DESKTOP_API_KEY")
    mismatch = run_cli("serve", "--model", models.tiny, "--mmproj", models.mmproj_mismatch)
    assert_one_clear_line(mismatch, 2, "choose the projector made for this model")
    missing = run_cli("serve", "--model", "/nowhere/model.gguf")
    assert_one_clear_line(missing, 2, "not found")


def test_a_port_in_use_exits_2_before_the_model_loads(models: Models) -> None:
    process, url = _start_serve("--model", models.tiny, "--ctx", "1024", "--threads", "2")
    with process:
        try:
            port = url.rsplit(":", 1)[1].split("/")[0]
            busy = run_cli("serve", "--port", port, "--model", models.tiny)
            assert_one_clear_line(busy, 2, f"Port {port} is already in use")
        finally:
            process.send_signal(signal.SIGINT)
            assert process.wait(timeout=60) == 0


# ---------------------------------------------------------------- conversations and stops
def test_a_conversation_is_recognised_by_the_messages_it_starts_with(image_file: Path) -> None:
    router = ConversationRouter()
    picture = prepare_image(image_file)
    turn1 = [ChatMessage.user(picture, "what is it?")]
    first = router.route("be brief", turn1)
    assert first.known_messages == 0
    router.remember(first.conversation, "be brief", [*turn1, ChatMessage.assistant("a gradient")])
    turn2 = [*turn1, ChatMessage.assistant("a gradient"), ChatMessage.user("darker?")]
    assert router.route("be brief", turn2) == type(first)(first.conversation, 2)
    # A regenerate (the same conversation minus its last reply) is the same conversation.
    assert router.route("be brief", turn1).conversation == first.conversation
    # Another system prompt, another first message or another picture: another conversation.
    assert router.route("be long", turn2).conversation != first.conversation
    assert router.route("be brief", [ChatMessage.user("what is it?")]).known_messages == 0
    # A client's own key wins over the messages.
    keyed = router.route("be brief", turn2, key="editor-session-1")
    assert keyed.conversation != first.conversation
    assert router.route("", [ChatMessage.user("x")], key="editor-session-1").conversation == keyed.conversation


def test_old_conversations_are_forgotten() -> None:
    router = ConversationRouter(capacity=2)
    names = []
    for word in ("one", "two", "three"):
        messages = [ChatMessage.user(word)]
        route = router.route("", messages)
        router.remember(route.conversation, "", [*messages, ChatMessage.assistant("ok")])
        names.append(route.conversation)
    follow_up = [ChatMessage.user("one"), ChatMessage.assistant("ok"), ChatMessage.user("more")]
    assert router.route("", follow_up).known_messages == 0
    follow_up[0] = ChatMessage.user("three")
    assert router.route("", follow_up).conversation == names[2]


@pytest.mark.parametrize(
    ("pieces", "stops", "shown", "stopped"),
    [
        (["Hello wor", "ld. Bye"], ["world"], "Hello ", True),
        (["Hello", " there"], ["<end>"], "Hello there", False),
        (["a<e", "nd>b"], ["<end>"], "a", True),
        (["a<e", "x"], ["<end>"], "a<ex", False),
        (["one two", " three"], ["three", "two"], "one ", True),
    ],
)
def test_stop_strings_cut_the_text_even_across_pieces(
    pieces: list[str], stops: list[str], shown: str, stopped: bool
) -> None:
    scanner = StopScanner(stops)
    out = "".join(scanner.feed(piece) for piece in pieces)
    if not scanner.stopped:
        out += scanner.finish()
    assert out == shown == scanner.text and scanner.stopped == stopped
