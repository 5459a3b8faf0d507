"""The window's switch that serves its model through the OpenAI API: off by default, sharing the
window's engine (replies take turns, never mix), following the loaded model, a port in use said in
one sentence, and a conversation that runs on a server kept apart from it (neither waits for the
other)."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator, Sequence
from typing import Any

import openai
import pytest
from pytestqt.qtbot import QtBot

from desktop_app.engine.client import EngineClient
from desktop_app.engine.protocol import ChatMessage
from desktop_app.engine.shared import SharedEngine
from desktop_app.server.config import ServerConfig
from desktop_app.settings import GenerationSettings
from desktop_app.store import ConversationServer, ConversationStore
from desktop_app.ui.engine_bridge import EngineBridge
from desktop_app.ui.main_window import MainWindow
from desktop_app.ui.model_controller import ModelChoice
from desktop_app.ui.preferences import Preferences
from tests.support.data import Models
from tests.support.openai_stub import GOOD_WORDS, MODEL, stub_server
from tests.support.window import REPLY_TIMEOUT_MS, WINDOW_RUNTIME, reply_widget, send, wait_done, wait_ready

pytestmark = pytest.mark.qt_log_ignore("propagateSizeHints")


class HeldEngine(EngineClient):
    """The local engine with the test's hand on its replies: each waits to start until ``go`` is
    set, as the engine is held by a long API reply."""

    def __init__(self) -> None:
        super().__init__()
        self.asked = threading.Event()
        self.go = threading.Event()

    def generate(
        self,
        messages: Sequence[ChatMessage],
        system_prompt: str = "",
        settings: GenerationSettings | None = None,
        *,
        thread: str = "",
    ) -> int:
        self.asked.set()
        self.go.wait(timeout=REPLY_TIMEOUT_MS / 1000)
        return super().generate(messages, system_prompt, settings, thread=thread)


def make_serving_window(qtbot: QtBot, engine: EngineClient) -> MainWindow:
    main = MainWindow(
        ConversationStore(), EngineBridge(shared=SharedEngine(engine)), Preferences(runtime=WINDOW_RUNTIME)
    )
    main.show()
    qtbot.waitExposed(main)
    assert main.api_switch is not None
    main.api_switch.config = ServerConfig(port=0, pan_scan="off")
    return main


@pytest.fixture
def window(qtbot: QtBot) -> Iterator[MainWindow]:
    main = make_serving_window(qtbot, EngineClient())
    yield main
    main.close()


def test_the_window_serves_its_model_only_when_switched_on(qtbot: QtBot, window: MainWindow, models: Models) -> None:
    switch = window.api_switch
    assert switch is not None
    assert not switch.action.isChecked() and switch.url is None and not switch.label.isVisible()
    window.model_controller.open(ModelChoice(models.tiny))
    wait_ready(qtbot, window)

    with qtbot.waitSignal(switch.started, timeout=30_000) as started:
        switch.action.setChecked(True)
    url = started.args[0]
    assert switch.url == url and switch.label.isVisible() and url in switch.label.text()

    client = openai.OpenAI(base_url=url, api_key="unused", max_retries=0, timeout=120)
    request: dict[str, Any] = {"model": "tiny-gemma3", "messages": [{"role": "user", "content": "from a script"}],
               "max_tokens": 24, "temperature": 0}
    alone = client.chat.completions.create(**request).choices[0].message.content
    assert alone

    # A reply in the window and one for a script at once: they take turns on the one engine and
    # each gets its own text.
    answers: list[str | None] = []
    script = threading.Thread(target=lambda: answers.append(client.chat.completions.create(**request)
                                                            .choices[0].message.content))
    send(qtbot, window, "from the window", max_tokens=24)
    script.start()
    wait_done(qtbot, window)
    qtbot.waitUntil(lambda: not script.is_alive(), timeout=120_000)
    assert answers == [alone]
    window_reply = reply_widget(window).text
    assert window_reply and window_reply != alone
    stored = window.store.messages(window.session.conversation.id)  # type: ignore[union-attr]
    assert stored[-1].text == window_reply
    # API conversations stay out of the window's list.
    assert len(window.store.list_conversations()) == 1

    with qtbot.waitSignal(switch.stopped, timeout=30_000):
        switch.action.setChecked(False)
    assert switch.url is None and not switch.label.isVisible()
    with pytest.raises(openai.APIConnectionError):
        client.models.list()


def test_a_port_in_use_is_said_and_the_switch_goes_back_off(qtbot: QtBot, window: MainWindow) -> None:
    switch = window.api_switch
    assert switch is not None
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        switch.config = ServerConfig(port=port)
        with qtbot.waitSignal(switch.failed, timeout=30_000) as failed:
            switch.action.setChecked(True)
    assert f"Port {port} is already in use" in failed.args[0]
    assert not switch.action.isChecked() and switch.url is None
    assert f"Port {port}" in window.notice.label.text()


def test_a_conversation_on_a_server_neither_waits_for_api_clients_nor_holds_them_up(
    qtbot: QtBot, models: Models
) -> None:
    engine = HeldEngine()
    window = make_serving_window(qtbot, engine)
    try:
        window.model_controller.open(ModelChoice(models.tiny))
        wait_ready(qtbot, window)
        switch = window.api_switch
        assert switch is not None
        with qtbot.waitSignal(switch.started, timeout=30_000) as started:
            switch.action.setChecked(True)
        client = openai.OpenAI(base_url=started.args[0], api_key="unused", max_retries=0, timeout=120)
        answers: list[openai.types.chat.ChatCompletion] = []
        script = threading.Thread(target=lambda: answers.append(client.chat.completions.create(
            model="tiny-gemma3", messages=[{"role": "user", "content": "from a script"}], max_tokens=8,
            temperature=0)))
        script.start()
        qtbot.waitUntil(engine.asked.is_set, timeout=REPLY_TIMEOUT_MS)  # the API reply holds the engine

        with stub_server("stall") as stub:
            # The open conversation moves to a server that streams a little, then says nothing.
            window.run_on(ConversationServer("stub", stub.url, MODEL))
            send(qtbot, window, "from the window", max_tokens=8)
            widget = reply_widget(window)
            qtbot.waitUntil(lambda: widget.text == "".join(GOOD_WORDS), timeout=REPLY_TIMEOUT_MS)
            assert script.is_alive() and not answers  # the window's reply did not wait for it

            engine.go.set()
            qtbot.waitUntil(lambda: not script.is_alive(), timeout=REPLY_TIMEOUT_MS)
            # The API reply ended while the window's reply on the server is still waiting for text.
            assert window.session.busy
            assert answers[0].choices[0].message.content and answers[0].usage is not None
            assert answers[0].usage.completion_tokens > 0

            window.session.stop()
            wait_done(qtbot, window)
        conversation = window.session.conversation
        assert conversation is not None and conversation.server is not None
        last = window.store.messages(conversation.id)[-1]
        assert (last.text, last.finish_reason) == ("".join(GOOD_WORDS), "cancelled")
        assert len(stub.requests) == 1 and len(window.store.list_conversations()) == 1
    finally:
        engine.go.set()
        window.close()
