"""The window with a conversation on a server: the real llama-server (270M, generated projector),
the real window, a test keyring.  Where a conversation runs is per conversation and kept; the
status bar says where; a plain-http server outside this computer is flagged; the server dialog
lists the server's models only when asked."""

from __future__ import annotations

from typing import Any

import pytest
from pytestqt.qtbot import QtBot

from desktop_app.api_keys import ApiKeys
from desktop_app.engine.protocol import ServerLoadRequest
from desktop_app.engine.remote_probe import list_models
from desktop_app.servers import SavedServer, save_servers
from desktop_app.store import ConversationServer
from desktop_app.ui.main_window import MainWindow
from desktop_app.ui.server_dialog import ServerDialog
from tests.support.data import PHOTO
from tests.support.memory_keyring import MemoryKeyring
from tests.support.remote import SERVER_KEY
from tests.support.window import send, wait_done

pytestmark = [pytest.mark.slow, pytest.mark.qt_log_ignore("propagateSizeHints")]


@pytest.fixture
def gpu_box(gemma_server: Any, test_keyring: MemoryKeyring) -> ConversationServer:
    """A saved server (the test llama-server) with its key in the (test) keyring."""
    save_servers([SavedServer("GPU box", gemma_server.base_url)])
    ApiKeys().put("GPU box", SERVER_KEY)
    model = list_models(ServerLoadRequest(gemma_server.base_url, "", SERVER_KEY))[0]
    return ConversationServer("GPU box", gemma_server.base_url, model)


def test_a_conversation_runs_on_the_server_and_remembers_it(
    qtbot: QtBot, window: MainWindow, gpu_box: ConversationServer
) -> None:
    window.run_on(gpu_box)
    assert window.status_model.text() == f"{gpu_box.model} on GPU box"
    assert window.runs_on.currentText() == f"{gpu_box.model} on GPU box"
    assert not window.status_unencrypted.isVisible()  # loopback
    send(qtbot, window, "Name a colour.", images=(PHOTO,), max_tokens=8)
    wait_done(qtbot, window)
    conversation = window.session.conversation
    assert conversation is not None and conversation.server == gpu_box
    messages = window.store.messages(conversation.id)
    assert messages[-1].role == "assistant" and messages[-1].finish_reason in ("stop", "length")
    assert messages[-1].metrics["prompt_tokens"] > 0 and messages[-1].text
    assert window.status_backend.text() == "llama.cpp server"
    assert window.model_controller.loaded is None  # nothing was loaded on this computer

    # A new conversation starts where the last one ran; moved here, then back to the server's
    # one: each keeps where it runs.
    window.new_chat()
    assert window.session.server == gpu_box
    window.run_on(None)
    assert window.session.server is None and window.runs_on.currentText() == "This computer"
    window.open_conversation(conversation.id)
    assert window.session.server == gpu_box
    assert window.runs_on.currentText() == f"{gpu_box.model} on GPU box"


def test_a_failing_server_is_one_sentence_and_the_message_is_kept(
    qtbot: QtBot, window: MainWindow, gpu_box: ConversationServer, test_keyring: MemoryKeyring
) -> None:
    test_keyring.secrets.clear()  # the key is gone: the server refuses
    window.run_on(gpu_box)
    send(qtbot, window, "Hello?", max_tokens=8)
    wait_done(qtbot, window)
    qtbot.waitUntil(lambda: window.notice.isVisible(), timeout=10_000)
    assert "needs an API key" in window.notice.label.text()
    conversation = window.session.conversation
    assert conversation is not None
    messages = window.store.messages(conversation.id)
    assert [m.role for m in messages] == ["user", "assistant"] and messages[0].text == "Hello?"
    assert messages[1].finish_reason == "error"


def test_plain_http_to_another_computer_is_flagged_before_anything_is_sent(
    qtbot: QtBot, window: MainWindow
) -> None:
    save_servers([SavedServer("lab", "http://gpu.lab.example:8080/v1")])
    window.servers.servers = [SavedServer("lab", "http://gpu.lab.example:8080/v1")]
    window.run_on(ConversationServer("lab", "http://gpu.lab.example:8080/v1", "gemma-3-27b-it"))
    assert window.status_unencrypted.isVisible()
    assert "unencrypted" in window.status_unencrypted.toolTip()
    assert window.notice.isVisible() and "travel unencrypted" in window.notice.label.text()
    assert window.servers.loaded is None  # nothing connected: nothing was sent


def test_the_dialog_lists_the_servers_models_and_warns_about_plain_http(
    qtbot: QtBot, window: MainWindow, gemma_server: Any
) -> None:
    dialog = ServerDialog(window.work, window.servers.keys, parent=window)
    dialog.name.setText("GPU box")
    dialog.url.setText("http://gpu.lab.example:8080/v1")
    assert dialog.warning.isVisibleTo(dialog) and "unencrypted" in dialog.warning.text()
    dialog.url.setText(gemma_server.base_url)
    assert not dialog.warning.isVisibleTo(dialog)
    dialog.key.setText("wrong")
    dialog.list_models()
    qtbot.waitUntil(lambda: dialog.list_button.isEnabled(), timeout=30_000)
    assert "refused the API key" in dialog.error.text() and dialog.model.count() == 0
    dialog.key.setText(SERVER_KEY)
    dialog.list_models()
    qtbot.waitUntil(lambda: dialog.model.count() == 1, timeout=30_000)
    dialog.buttons.accepted.emit()
    assert dialog.choice is not None and dialog.choice.api_key == SERVER_KEY
    assert dialog.choice.model == dialog.model.itemText(0)
    place = window.servers.add(dialog.choice)
    qtbot.waitUntil(lambda: ApiKeys().get("GPU box") == SERVER_KEY, timeout=10_000)
    assert place.url == gemma_server.base_url
    dialog.deleteLater()


@pytest.mark.usefixtures("no_keyring")
def test_without_a_keyring_the_dialog_says_so_in_one_sentence(qtbot: QtBot, window: MainWindow) -> None:
    dialog = ServerDialog(window.work, ApiKeys(), parent=window)
    qtbot.waitUntil(lambda: dialog.keyring_note.isVisibleTo(dialog), timeout=10_000)
    assert dialog.keyring_note.text().startswith("No system keyring is available")
    dialog.deleteLater()
