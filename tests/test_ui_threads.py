"""Every thread stays warm, seen from the window: each conversation is its own engine thread,
kept in memory while another is answered and on disk when the window closes or sits idle; the
settings that govern it; the divider where what Gemma sees begins; attached images read while
the message is written, each with its own Pan & Scan switch.

The real engine with the tiny generated model and projector throughout: what is checked is the
plumbing (which memory a reply started from, what was stored), not the words.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import pytest
from PIL import Image
from pytestqt.qtbot import QtBot

from desktop_app.engine.images import prepare_image
from desktop_app.engine.protocol import ChatMessage
from desktop_app.engine.remote import RemoteEngine
from desktop_app.engine.snapshots import snapshot_folder
from desktop_app.settings import GenerationSettings
from desktop_app.store import ConversationStore
from desktop_app.ui import chat_session
from desktop_app.ui.attachments import ImageSource, PreparedAttachment
from desktop_app.ui.composer import AttachmentChip
from desktop_app.ui.main_window import MainWindow
from desktop_app.ui.model_controller import ModelChoice
from tests.support.data import LONG_SEED, PHOTO, STORY, Models
from tests.support.window import send as send_message
from tests.support.window import stored, wait_attached, wait_done, wait_ready

pytestmark = pytest.mark.qt_log_ignore("propagateSizeHints")

SHORT = 6
"""Reply tokens: the tests look at which memory a reply started from, not at what it says."""


def _send(qtbot: QtBot, window: MainWindow, text: str, images: tuple[Path, ...] = ()) -> Mapping[str, Any]:
    """Send and wait for the reply; its stored metrics."""
    send_message(qtbot, window, text, images, seed=1, max_tokens=SHORT)
    wait_done(qtbot, window)
    reply = stored(window)[-1]
    assert reply.role == "assistant" and reply.finish_reason in ("stop", "length"), reply
    return reply.metrics


def _snapshot_files() -> list[Path]:
    folder = snapshot_folder()
    return sorted(folder.glob("*.kv")) if folder.exists() else []


def _chip(window: MainWindow, name: str) -> AttachmentChip:
    return next(chip for chip in window.composer._chips if chip.name == name)


def _wide_image(folder: Path) -> Path:
    """A 2:1 picture: Pan & Scan ("auto") reads it as the whole and two halves."""
    path = folder / "banner.png"
    Image.linear_gradient("L").resize((1200, 600)).convert("RGB").save(path)
    return path


# ------------------------------------------------------------------------------ threads
def test_returning_to_a_conversation_restores_its_memory_instead_of_reading_it_again(
    qtbot: QtBot, ready: MainWindow
) -> None:
    first = _send(qtbot, ready, "Tell me about rivers and the sea.")
    assert ready.session.conversation is not None
    rivers = ready.session.conversation.id
    ready.session.new_conversation()
    _send(qtbot, ready, "Something else entirely: mountains.")
    ready.session.open_conversation(rivers)
    again = _send(qtbot, ready, "And lakes?")
    # The engine kept the first conversation's memory when the second was answered.
    assert again["restored"] == "ram"
    assert isinstance(first["prompt_tokens"], int) and isinstance(again["cached_tokens"], int)
    assert again["cached_tokens"] >= first["prompt_tokens"]


def test_a_conversation_continues_from_disk_after_the_window_is_closed_and_opened_again(
    qtbot: QtBot, open_window: Callable[..., MainWindow], models: Models
) -> None:
    before = open_window()
    before.model_controller.open(ModelChoice(models.tiny))
    wait_ready(qtbot, before)
    first = _send(qtbot, before, "Remember the word lantern.")
    assert before.session.conversation is not None
    conversation = before.session.conversation.id
    before.close()  # the engine keeps the conversation's memory on disk as it stops
    assert _snapshot_files()

    after = open_window()
    after.model_controller.open(ModelChoice(models.tiny))
    wait_ready(qtbot, after)
    after.session.open_conversation(conversation)
    again = _send(qtbot, after, "Which word was it?")
    assert again["restored"] == "disk"
    assert isinstance(first["prompt_tokens"], int) and isinstance(again["cached_tokens"], int)
    assert again["cached_tokens"] >= first["prompt_tokens"]


def test_a_conversation_left_idle_is_kept_on_disk(
    qtbot: QtBot, monkeypatch: pytest.MonkeyPatch, open_window: Callable[..., MainWindow], models: Models
) -> None:
    monkeypatch.setattr(chat_session, "IDLE_SAVE_MS", 50)
    window = open_window()
    window.model_controller.open(ModelChoice(models.tiny))
    wait_ready(qtbot, window)
    assert not _snapshot_files()
    _send(qtbot, window, "Write one word.")
    # Written in the background while the window (and its engine) stay open.
    qtbot.waitUntil(lambda: bool(_snapshot_files()), timeout=20_000)


# ------------------------------------------------------------------------------ settings
def test_clear_forgets_the_conversation_memory_and_shows_the_space_it_took(
    qtbot: QtBot, open_window: Callable[..., MainWindow], models: Models
) -> None:
    window = open_window()
    window.model_controller.open(ModelChoice(models.tiny))
    wait_ready(qtbot, window)
    _send(qtbot, window, "Write one word.")
    window.bridge.save_snapshot()
    qtbot.waitUntil(lambda: bool(_snapshot_files()), timeout=20_000)
    window._show_snapshot_usage()
    panel = window.settings_panel
    qtbot.waitUntil(lambda: panel.snapshot_usage.text() not in ("", "0 bytes in use"), timeout=10_000)
    panel.clear_snapshots_button.click()
    qtbot.waitUntil(lambda: not _snapshot_files(), timeout=20_000)
    assert panel.snapshot_usage.text() == "0 bytes in use"


def test_the_disk_cap_and_stop_when_full_are_settings(qtbot: QtBot, ready: MainWindow) -> None:
    panel = ready.settings_panel
    panel.snapshot_cache.setValue(256)
    assert panel.runtime().snapshot_disk_mib == 256
    assert not ready.session.settings.stop_when_full
    panel.stop_when_full.setChecked(True)
    assert ready.session.settings.stop_when_full
    _send(qtbot, ready, "Hello.")
    assert ready.session.conversation is not None
    assert ready.store.get_conversation(ready.session.conversation.id).settings.stop_when_full


# ------------------------------------------------------------------------------ the divider
def test_the_chat_marks_where_what_gemma_sees_begins(
    qtbot: QtBot, window: MainWindow, store: ConversationStore
) -> None:
    conversation = store.create_conversation(settings=GenerationSettings())
    for turn in range(4):
        store.add_user_message(conversation.id, f"question {turn}")
        reply = store.begin_assistant_message(conversation.id)
        # The last reply left out the two messages after the first exchange.
        metrics = {"dropped_turns": 2 if turn == 3 else 0}
        store.finish_assistant_message(reply, f"answer {turn}", "stop", metrics)
    window.session.open_conversation(conversation.id)
    divider = window.chat_view.context_start
    assert divider.isVisible()
    assert "2 messages" in divider.text()
    column = window.chat_view._column
    # Before "question 2": the first exchange, then the two left out, then the divider.
    assert column.indexOf(divider) == column.indexOf(window.chat_view.messages[4]) - 1
    window.session.new_conversation()
    assert not divider.isVisible()


# ------------------------------------------------------------------------------ images
def test_an_attached_image_is_read_while_the_message_is_written(qtbot: QtBot, ready: MainWindow) -> None:
    ready.composer.add_sources([ImageSource(PHOTO, PHOTO.name)])
    wait_attached(qtbot, ready, 1)
    chip = _chip(ready, PHOTO.name)
    qtbot.waitUntil(lambda: chip.state.text() == "ready", timeout=60_000)
    metrics = _send(qtbot, ready, "What is in the picture?")
    # Send did not encode it again: its embedding was in the cache, its tokens in the memory.
    assert metrics["image_encode_s"] == 0.0


def test_an_image_removed_before_send_is_dropped_from_the_engines_queue(
    qtbot: QtBot, ready: MainWindow, tmp_path: Path
) -> None:
    heard: list[tuple[str, str]] = []
    ready.bridge.imageStatus.connect(lambda sha256, state: heard.append((sha256, state)))
    banner = _wide_image(tmp_path)
    # A reply of ~2,500 tokens keeps the engine busy: both images wait in its queue.
    send_message(qtbot, ready, STORY, seed=LONG_SEED)
    ready.composer.add_sources([ImageSource(PHOTO, PHOTO.name), ImageSource(banner, banner.name)])
    wait_attached(qtbot, ready, 2)
    photo = _chip(ready, PHOTO.name)
    assert isinstance(photo.attachment, PreparedAttachment)
    removed = photo.attachment.image.sha256
    assert ready.session.busy  # still writing: the photo is still only queued
    photo.remove_button.click()
    wait_done(qtbot, ready)
    qtbot.waitUntil(lambda: _chip(ready, banner.name).state.text() == "ready", timeout=60_000)
    assert (removed, "ready") not in heard


def test_one_image_can_be_read_as_several_views_for_small_text(
    qtbot: QtBot, ready: MainWindow, models: Models, tmp_path: Path
) -> None:
    assert ready.model_controller.loaded is not None
    if ready.model_controller.loaded.backend != "CPU":
        pytest.skip("Pan & Scan is on by default on a GPU; this checks the switch from one view")
    banner = _wide_image(tmp_path)
    ready.composer.add_sources([ImageSource(banner, banner.name)])
    wait_attached(qtbot, ready, 1)
    chip = _chip(ready, banner.name)
    per_view = models.tokens_per_image
    assert chip.views.isVisible() and chip.views.text() == "One view"
    assert chip.cost.text() == f"{per_view} tokens"
    assert f"{3 * per_view} tokens" in chip.views.toolTip()
    chip.views.click()
    assert chip.views.text() == "3 views, for small text"
    assert chip.cost.text() == f"3 views · {3 * per_view} tokens"
    assert ready.composer.attached_tokens == 3 * per_view
    qtbot.waitUntil(lambda: chip.state.text() == "ready", timeout=60_000)
    metrics = _send(qtbot, ready, "Read the banner.")
    assert metrics["image_tokens"] == 3 * per_view
    # The choice is kept with the message: reopened, the image is read the same way.
    [attachment] = stored(ready)[-2].attachments
    assert attachment.pan_scan == "auto"
    assert ready.session.conversation is not None
    conversation = ready.session.conversation.id
    ready.session.new_conversation()
    ready.session.open_conversation(conversation)
    qtbot.waitUntil(lambda: attachment.sha256 in ready.session._images, timeout=20_000)
    assert ready.session._images[attachment.sha256].pan_scan == "auto"


def test_a_server_engine_has_nothing_to_read_ahead_or_keep() -> None:
    """What the local engine prepares before Send or keeps after a reply is the server's own
    business: the remote engine asks nothing and answers nothing."""
    engine = RemoteEngine()
    photo = prepare_image(PHOTO)
    engine.prefetch_image(photo, "auto")
    engine.drop_prefetch(photo.sha256)
    engine.read_ahead([ChatMessage.user(photo, "hello")], "", GenerationSettings(), thread="conversation-1")
    engine.save_snapshot()
    engine.clear_snapshots()
    assert engine.next_event(0) is None
    engine.close()
