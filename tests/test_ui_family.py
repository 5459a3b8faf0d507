"""The window with Gemma 3n and Gemma 4: the thought in a collapsed "Thinking" section above the
answer (streamed there, stored with the message, exported beside it), the thinking switch and
Pan & Scan offered only where the model has them, and images priced by the loaded projector."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from PySide6.QtGui import QGuiApplication
from pytestqt.qtbot import QtBot

from desktop_app.models.gemma_files import inspect_projector
from desktop_app.store import ConversationStore
from desktop_app.store.export import export_conversation, import_conversation
from desktop_app.thoughts import join_reply, split_reply
from desktop_app.ui.attachments import ImageSource, PreparedAttachment
from desktop_app.ui.chat_view import MessageWidget
from desktop_app.ui.main_window import MainWindow
from desktop_app.ui.model_controller import ModelChoice
from tests.support.data import FamilyModels, Models
from tests.support.window import reply_widget, send, wait_done, wait_ready

pytestmark = pytest.mark.qt_log_ignore("propagateSizeHints")

THOUGHT, ANSWER = "the picture is", "Hello yes"


def test_a_reply_shows_its_thought_collapsed_above_the_answer(qtbot: QtBot) -> None:
    widget = MessageWidget("assistant", join_reply(THOUGHT, ANSWER))
    qtbot.addWidget(widget)
    widget.show()
    assert widget.thinking_toggle.isVisible() and widget.thinking_toggle.text() == "Thinking"
    assert not widget.thought_view.isVisible()  # collapsed until asked
    assert widget.answer == ANSWER and widget.thought_view.toPlainText() == THOUGHT
    widget.thinking_toggle.click()
    assert widget.thought_view.isVisible()
    widget._copy.click()
    assert QGuiApplication.clipboard().text() == ANSWER  # Copy takes the answer


def test_a_streaming_thought_goes_to_the_section_then_the_answer_to_the_body(qtbot: QtBot) -> None:
    widget = MessageWidget("assistant", "")
    qtbot.addWidget(widget)
    widget.show()
    for piece in ("<|channel>", " the", " picture"):
        widget.append_text(piece)
    assert widget.thinking_toggle.text() == "Thinking…" and widget.answer == ""
    assert widget.thought_view.toPlainText() == "the picture"
    for piece in (" is", "<channel|>", "Hello", " yes"):
        widget.append_text(piece)
    assert widget.thinking_toggle.text() == "Thinking"
    assert widget.thought_view.toPlainText() == THOUGHT and widget.answer == ANSWER
    assert widget.text == "<|channel> the picture is<channel|>Hello yes"  # as stored


def test_a_gemma3_reply_has_no_thinking_section(qtbot: QtBot) -> None:
    widget = MessageWidget("assistant", "plain answer")
    qtbot.addWidget(widget)
    widget.show()
    assert not widget.thinking_toggle.isVisible() and widget.answer == "plain answer"


def _open(qtbot: QtBot, window: MainWindow, model: Path, mmproj: Path | None = None) -> None:
    window.model_controller.open(ModelChoice(model, mmproj))
    wait_ready(qtbot, window)


def test_gemma4_thinks_in_the_window_and_the_thought_is_kept(
    qtbot: QtBot, window: MainWindow, family: FamilyModels, tmp_path: Path
) -> None:
    _open(qtbot, window, family.gemma4_thinking, family.gemma4_mmproj)
    panel = window.settings_panel
    assert panel.think.isVisibleTo(panel) and not panel.pan_scan.isVisibleTo(panel)
    assert not panel.think.isChecked()  # off by default
    panel.think.setChecked(True)
    window.settings_panel.temperature.setValue(0.0)
    send(qtbot, window, "What is in this picture?", max_tokens=1)
    wait_done(qtbot, window)
    widget = reply_widget(window)
    # The budget of one token went to the answer; the whole thought is there, collapsed.
    assert widget.answer == "Hello" and widget.thought_view.toPlainText() == THOUGHT
    assert not widget.thought_view.isVisible() and "of them thinking" in widget.footer.text()
    assert not widget.error_label.isVisibleTo(widget)

    store = ConversationStore()
    conversation = window.session.conversation
    assert conversation is not None and conversation.settings.think
    stored = store.messages(conversation.id)[-1]
    assert stored.text == "<|channel> the picture is<channel|>Hello"  # the thought kept with it
    # Exported beside the answer, and read back as it was.
    out = export_conversation(store, conversation.id, tmp_path / "chat.json", "json")
    exported = json.loads(out.read_text())["messages"][-1]
    assert (exported["thought"], exported["text"]) == (THOUGHT, "Hello")
    markdown = export_conversation(store, conversation.id, tmp_path / "chat.md", "md").read_text()
    assert "<details><summary>Thinking</summary>" in markdown and THOUGHT in markdown
    copy = store.messages(import_conversation(store, out))[-1]
    assert split_reply(copy.text) == split_reply(stored.text)
    store.close()


def test_thinking_off_shows_no_section(qtbot: QtBot, window: MainWindow, family: FamilyModels) -> None:
    _open(qtbot, window, family.gemma4_thinking)
    window.settings_panel.temperature.setValue(0.0)
    send(qtbot, window, "hi", max_tokens=8)
    wait_done(qtbot, window)
    widget = reply_widget(window)
    assert widget.answer == ANSWER and not widget.thinking_toggle.isVisible()


def test_gemma3n_hides_thinking_and_pan_scan_and_prices_images_by_its_projector(
    qtbot: QtBot, window: MainWindow, family: FamilyModels, models: Models, image_file: Path
) -> None:
    _open(qtbot, window, family.gemma3n, family.gemma3n_mmproj)
    panel = window.settings_panel
    assert not panel.think.isVisibleTo(panel) and not panel.pan_scan.isVisibleTo(panel)
    window.composer.add_sources([ImageSource(image_file, image_file.name)])
    qtbot.waitUntil(lambda: len(window.composer.attachments) == 1, timeout=20_000)
    assert window.composer.attached_tokens == 16
    # Back to Gemma 3: Pan & Scan returns, thinking stays hidden.
    _open(qtbot, window, models.tiny, models.mmproj)
    assert panel.pan_scan.isVisibleTo(panel) and not panel.think.isVisibleTo(panel)


def test_gemma4_images_cost_what_their_size_says(
    qtbot: QtBot, window: MainWindow, family: FamilyModels, image_file: Path
) -> None:
    _open(qtbot, window, family.gemma4, family.gemma4_mmproj)
    window.composer.add_sources([ImageSource(image_file, image_file.name)])
    qtbot.waitUntil(lambda: len(window.composer.attachments) == 1, timeout=20_000)
    attachment = window.composer.attachments[0]
    assert isinstance(attachment, PreparedAttachment)

    expected = inspect_projector(family.gemma4_mmproj).image_tokens(attachment.image.width, attachment.image.height)
    assert window.composer.attached_tokens == expected > 16
