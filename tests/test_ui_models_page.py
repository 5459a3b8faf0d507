"""The Models page in the window, with the real engine and the real huggingface_hub client:

* each model's page read from its GGUF (a generated model with its projector, the real 270M);
* using a model for this chat or for new chats, and loading that can be cancelled;
* removing a download (its files deleted) and an imported file (left where it is);
* the catalog's downloads against the stand-in hub (``tests/support/hub_server.py``): two queued,
  one paused and resumed after a restart of the window, one cancelled, one refused for lack of
  space (the hub holds each first transfer part-way until the test has paused or cancelled it);
* the Hugging Face sign-in: a token the hub refuses, one without the licence, no keyring;
* a conversation whose model file was deleted behind the app's back.
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Callable
from pathlib import Path

import huggingface_hub.constants
import pytest
from PySide6.QtWidgets import QMessageBox
from pytestqt.qtbot import QtBot

from desktop_app import paths
from desktop_app.models.catalog import Catalog
from desktop_app.models.download import DownloadedFiles, destination_for
from desktop_app.models.hub_token import KEYRING_SERVICE, KEYRING_USER
from desktop_app.models.registry import ModelRegistry
from desktop_app.settings import RuntimeSettings
from desktop_app.store import ConversationStore
from desktop_app.ui import catalog_view, download_queue
from desktop_app.ui.catalog_view import CatalogCard
from desktop_app.ui.download_queue import PROGRESS_INTERVAL_S, DownloadStatus
from desktop_app.ui.main_window import MainWindow
from desktop_app.ui.model_controller import ModelChoice, ModelState
from desktop_app.ui.preferences import load_preferences
from tests.support.data import Models
from tests.support.hub_server import CHUNK, GOOD_TOKEN, NO_ACCESS_TOKEN, USER, FakeHub
from tests.support.memory_keyring import MemoryKeyring
from tests.support.tiny_repo import MMPROJ_FILE, MODEL_FILE, REPO, make_entry

pytestmark = pytest.mark.qt_log_ignore("propagateSizeHints")

RUNTIME = RuntimeSettings(n_ctx=4096, n_threads=2)
LOAD_TIMEOUT_MS = 120_000
OTHER_REPO = "test-org/tiny-gemma-3-other-GGUF"
GATED_REPO = "google/tiny-gemma-3-qat-gguf"


def open_page(qtbot: QtBot, window: MainWindow, count: int) -> None:
    window.models_action.trigger()
    assert window.views.currentWidget() is window.models_page
    qtbot.waitUntil(lambda: window.models_page.model_list.count() == count, timeout=20_000)


def select(qtbot: QtBot, window: MainWindow, words: str) -> None:
    """Choose the model whose entry in the list (name, then file, size, abilities) has these words."""
    page = window.models_page
    rows = [page.model_list.item(i).text() for i in range(page.model_list.count())]
    page.model_list.setCurrentRow(next(i for i, row in enumerate(rows) if words in row))
    qtbot.waitUntil(lambda: page.details.page is not None or page.details.problem.isVisible(), timeout=20_000)


def value(window: MainWindow, key: str) -> str:
    return window.models_page.details.values[key].text()


def library(tmp_path: Path, models: Models) -> Path:
    """A user's folder with the tiny model and its projector, imported in place."""
    folder = tmp_path / "library"
    folder.mkdir()
    shutil.copy(models.tiny, folder / "gemma-tiny.gguf")
    shutil.copy(models.mmproj, folder / "mmproj-gemma-tiny.gguf")
    ModelRegistry().import_path(folder)
    return folder


# --- each model's page ---------------------------------------------------------------------------


@pytest.mark.slow
def test_the_page_of_a_generated_model_and_of_the_real_270m(
    qtbot: QtBot, open_window: Callable[..., MainWindow], models: Models, gemma270m: Path, tmp_path: Path
) -> None:
    library(tmp_path, models)
    ModelRegistry().import_path(gemma270m)
    window = open_window(runtime=RUNTIME)
    # At start the first model of the list loads.
    qtbot.waitUntil(lambda: window.model_controller.state is ModelState.READY, timeout=LOAD_TIMEOUT_MS)
    open_page(qtbot, window, 2)
    assert window.models_page.tabs.tabText(0) == "On this computer (2)"

    select(qtbot, window, "gemma-tiny.gguf")
    details = window.models_page.details
    assert details.title.text() == "Tiny Gemma 3 (random test weights) (F16)"
    assert "Imported; the file stays at" in details.where.text()
    assert value(window, "architecture") == "gemma3"
    assert value(window, "context") == "8,192 tokens"
    assert value(window, "template") == "its own"
    assert value(window, "abilities") == "text and images"
    assert value(window, "projector").startswith(
        f"mmproj-gemma-tiny.gguf: 64 px images, {models.tokens_per_image} tokens each; encoder of"
    )
    assert "with 4,096 tokens of context" in value(window, "memory")  # the runtime's context
    # On the CPU, or on this machine's GPU where it has one the model fits in.
    assert re.search(r"tokens a second on the (CPU|GPU \(.+\))", value(window, "speed")), value(window, "speed")
    assert details.state.text() == "In use now" and not details.use_button.isEnabled()

    select(qtbot, window, "Gemma 3 270m")
    assert details.state.text() == "Not loaded" and details.use_button.isEnabled()
    assert value(window, "quantization") == "Q4_K_M" and value(window, "license") == "gemma"
    assert value(window, "context") == "32,768 tokens"
    assert value(window, "layers") == "18, with a sliding window of 512 tokens"
    assert value(window, "template") == "none; the built-in Gemma 3 template is used"
    assert value(window, "abilities") == "text only"
    assert value(window, "projector") == "none, so it cannot see images"
    assert value(window, "parameters").startswith("268M (")


def test_use_for_this_chat_then_for_new_chats(
    qtbot: QtBot, open_window: Callable[..., MainWindow], models: Models, tmp_path: Path
) -> None:
    library(tmp_path, models)
    other = tmp_path / "other"
    other.mkdir()
    shutil.copy(models.tiny_no_template, other / "plain.gguf")
    ModelRegistry().import_path(other)
    window = open_window(runtime=RUNTIME)
    # At start the first model of the list loads; wait for it so the page's state is settled.
    qtbot.waitUntil(lambda: window.model_controller.state is ModelState.READY, timeout=LOAD_TIMEOUT_MS)
    open_page(qtbot, window, 2)
    details = window.models_page.details

    select(qtbot, window, "plain.gguf")
    assert details.state.text() == "Not loaded"
    details.use_button.click()
    qtbot.waitUntil(
        lambda: window.model_controller.state is ModelState.READY
        and window.model_controller.setup is not None
        and window.model_controller.setup.model.path.name == "plain.gguf",
        timeout=LOAD_TIMEOUT_MS,
    )
    qtbot.waitUntil(lambda: details.state.text() == "In use now", timeout=20_000)
    assert not details.use_button.isEnabled()
    assert window.status_model.text() == "plain.gguf (text only)"
    qtbot.waitUntil(lambda: "(in use)" in window.models_page.model_list.currentItem().text(), timeout=20_000)

    select(qtbot, window, "gemma-tiny.gguf")
    details.default_button.click()
    assert "New chats start with Tiny Gemma 3" in window.models_page.notice.label.text()
    saved = load_preferences()
    assert saved.default_model == str(tmp_path / "library" / "gemma-tiny.gguf")
    assert saved.default_mmproj == str(tmp_path / "library" / "mmproj-gemma-tiny.gguf")
    assert details.state.text() == "Not loaded · new chats start with it"
    assert window.model_controller.setup is not None
    assert window.model_controller.setup.model.path.name == "plain.gguf"  # this chat keeps its model

    window.new_action.trigger()  # a new chat starts with the model chosen for new chats
    assert window.views.currentWidget() is window.chat_splitter
    qtbot.waitUntil(
        lambda: window.model_controller.state is ModelState.READY
        and window.model_controller.setup is not None
        and window.model_controller.setup.model.path.name == "gemma-tiny.gguf",
        timeout=LOAD_TIMEOUT_MS,
    )
    assert window.composer.attach_button.isEnabled()  # with its projector


@pytest.mark.slow
def test_loading_shows_progress_and_the_status_bar_cancels_it(
    qtbot: QtBot, open_window: Callable[..., MainWindow], models: Models, gemma270m: Path
) -> None:
    window = open_window(runtime=RUNTIME)
    controller = window.model_controller
    with qtbot.waitSignal(controller.modelLoaded, timeout=LOAD_TIMEOUT_MS):
        window.composer.modelFileDropped.emit(models.tiny)
    assert window.status_progress.maximum() == 100  # llama.cpp's progress replaced the busy bar
    assert not window.status_cancel_load.isVisible()

    def cancel_now(_request: object) -> None:
        controller.loadStarted.disconnect(cancel_now)  # once: the model before then loads again
        assert window.status_cancel_load.isVisible() and window.status_progress.isVisible()
        window.status_cancel_load.click()

    # The stop is queued right behind the load request, so it is set before llama.cpp has read
    # the 270M's header (its 262,144-token vocabulary alone takes longer than that).
    controller.loadStarted.connect(cancel_now)
    with qtbot.waitSignal(controller.loadCancelled, timeout=LOAD_TIMEOUT_MS):
        window.composer.modelFileDropped.emit(gemma270m)
    assert window.notice.label.text() == f"Loading {gemma270m.name} was cancelled."
    # The model before comes back.
    qtbot.waitUntil(lambda: controller.state is ModelState.READY, timeout=LOAD_TIMEOUT_MS)
    assert controller.setup is not None and controller.setup.model.path == models.tiny


# --- remove --------------------------------------------------------------------------------------


def test_remove_deletes_a_download_and_leaves_an_imported_file(
    qtbot: QtBot,
    open_window: Callable[..., MainWindow],
    models: Models,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    entry = make_entry()
    model_path, mmproj_path = destination_for(REPO, MODEL_FILE), destination_for(REPO, MMPROJ_FILE)
    model_path.parent.mkdir(parents=True)
    shutil.copy(models.tiny, model_path)
    shutil.copy(models.mmproj, mmproj_path)
    registry = ModelRegistry()
    registry.add_download(entry, DownloadedFiles(model_path, "0" * 64, mmproj_path, "1" * 64))
    folder = library(tmp_path, models)
    questions: list[str] = []

    def answer_yes(_parent: object, _title: str, text: str, *_args: object) -> QMessageBox.StandardButton:
        questions.append(text)
        return QMessageBox.StandardButton.Yes

    monkeypatch.setattr(QMessageBox, "question", answer_yes)
    window = open_window(runtime=RUNTIME)
    qtbot.waitUntil(lambda: window.model_controller.state is ModelState.READY, timeout=LOAD_TIMEOUT_MS)
    open_page(qtbot, window, 2)
    page = window.models_page

    # The model in use is not removed from under the chat.
    in_use = window.model_controller.setup
    assert in_use is not None and in_use.model.path == model_path
    select(qtbot, window, "Tiny test Gemma")
    page.details.remove_button.click()
    assert questions == [] and "is the model in use" in page.notice.label.text()

    window.model_controller.open(ModelChoice(folder / "gemma-tiny.gguf"))
    qtbot.waitUntil(
        lambda: window.model_controller.state is ModelState.READY
        and window.model_controller.setup is not None
        and window.model_controller.setup.model.path.parent == folder,
        timeout=LOAD_TIMEOUT_MS,
    )
    select(qtbot, window, "Tiny test Gemma")
    page.details.remove_button.click()
    qtbot.waitUntil(lambda: page.model_list.count() == 1, timeout=20_000)
    assert questions[-1].startswith("Delete Tiny test Gemma? Its files (")
    assert page.notice.label.text() == (
        f"Removed Tiny test Gemma and deleted its files: {MODEL_FILE}, {MMPROJ_FILE}."
    )
    assert not model_path.exists() and not mmproj_path.exists()

    window.model_controller.open(ModelChoice(models.tiny))  # a model that is not on the list
    qtbot.waitUntil(
        lambda: window.model_controller.setup is not None and window.model_controller.setup.model.path == models.tiny,
        timeout=LOAD_TIMEOUT_MS,
    )
    select(qtbot, window, "gemma-tiny.gguf")
    page.details.remove_button.click()
    qtbot.waitUntil(lambda: page.model_list.count() == 0, timeout=20_000)
    assert "The file is not deleted" in questions[-1]
    assert page.notice.label.text().startswith("Removed Tiny Gemma 3 (random test weights) (F16) from the list")
    assert "its file was left at" in page.notice.label.text()
    assert (folder / "gemma-tiny.gguf").exists() and (folder / "mmproj-gemma-tiny.gguf").exists()
    assert ModelRegistry().models() == []


# --- downloads -----------------------------------------------------------------------------------


@pytest.fixture
def hub(hub: FakeHub, monkeypatch: pytest.MonkeyPatch, models: Models) -> FakeHub:
    """The stand-in hub with two trickling repositories, each model's first transfer held after
    eight chunks (spread over twice the page's progress interval, so progress shows) until the
    test releases it, and a gated one; the window's catalog is theirs."""
    catalog = Catalog(
        (
            make_entry(),
            make_entry(repo=OTHER_REPO, entry_id="tiny-other"),
            make_entry(repo=GATED_REPO, entry_id="tiny-gated", gated=True),
        )
    )
    monkeypatch.setattr(catalog_view, "load_catalog", lambda: catalog)
    monkeypatch.setattr(download_queue, "load_catalog", lambda: catalog)
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_DOWNLOAD_TIMEOUT", 300)  # held bytes are waited for
    for repo in (REPO, OTHER_REPO):
        hub.add(repo, MODEL_FILE, models.tiny.read_bytes(), chunk_delay_s=PROGRESS_INTERVAL_S / 4, hold_after=8 * CHUNK)
        hub.add(repo, MMPROJ_FILE, models.mmproj.read_bytes())
    hub.add(GATED_REPO, MODEL_FILE, models.tiny.read_bytes())
    hub.add(GATED_REPO, MMPROJ_FILE, models.mmproj.read_bytes())
    hub.gated.add(GATED_REPO)
    return hub


def catalog_window(open_window: Callable[..., MainWindow], hub: FakeHub) -> MainWindow:
    window = open_window(runtime=RUNTIME)
    window.model_controller.download.endpoint = hub.hub_url
    window.models_action.trigger()
    window.models_page.tabs.setCurrentWidget(window.models_page.catalog)
    return window


def card(window: MainWindow, entry_id: str) -> CatalogCard:
    return window.models_page.catalog.cards[entry_id]


def status(window: MainWindow, entry_id: str) -> DownloadStatus | None:
    item = window.model_controller.download.item(entry_id)
    return item.status if item else None


def partials(repo: str) -> list[Path]:
    return list((paths.models_dir() / repo).glob("*.incomplete"))


def test_downloads_queue_pause_cancel_and_resume_after_a_restart(
    qtbot: QtBot, open_window: Callable[..., MainWindow], hub: FakeHub, models: Models
) -> None:
    window = catalog_window(open_window, hub)
    first, second = card(window, "tiny-test"), card(window, "tiny-other")
    assert first.download_button.isVisible() and not first.pause_button.isVisible()

    first.download_button.click()
    qtbot.waitUntil(lambda: first.progress.value() > 0, timeout=20_000)
    assert "Downloading tiny-gemma-3-Q4_0.gguf" in first.status.text() and first.pause_button.isVisible()
    second.download_button.click()
    qtbot.waitUntil(lambda: status(window, "tiny-other") is DownloadStatus.QUEUED, timeout=20_000)
    assert second.status.text().startswith("Queued behind the download in progress")
    assert not any(OTHER_REPO in r.path for r in hub.requests)  # one download at a time

    first.pause_button.click()  # the next in the queue starts
    hub.repos[REPO][MODEL_FILE].release.set()  # the transfer goes on, and finds itself paused
    qtbot.waitUntil(lambda: status(window, "tiny-test") is DownloadStatus.PAUSED, timeout=20_000)
    assert first.download_button.text() == "Resume" and "Download paused" in first.status.text()
    kept = partials(REPO)
    assert len(kept) == 1 and kept[0].stat().st_size > 0
    qtbot.waitUntil(lambda: second.progress.value() > 0, timeout=20_000)

    second.cancel_button.click()  # stopped, and what arrived is deleted
    hub.repos[OTHER_REPO][MODEL_FILE].release.set()
    qtbot.waitUntil(lambda: window.model_controller.download.item("tiny-other") is None, timeout=20_000)
    qtbot.waitUntil(lambda: not (paths.models_dir() / OTHER_REPO).exists(), timeout=20_000)
    # The card hears of it when the deletion's result reaches the UI thread, just after the files go.
    qtbot.waitUntil(lambda: not second.progress.isVisible(), timeout=20_000)
    assert second.download_button.text() == "Download"
    assert partials(REPO) == kept  # the paused one keeps its bytes
    kept_bytes = kept[0].stat().st_size
    window.close()

    # A restart: the paused download is found on disk and resumes where it stopped.
    again = catalog_window(open_window, hub)
    first = card(again, "tiny-test")
    qtbot.waitUntil(lambda: status(again, "tiny-test") is DownloadStatus.PAUSED, timeout=20_000)
    assert first.download_button.text() == "Resume" and first.progress.value() > 0
    fetched = len(hub.cdn_gets())
    first.download_button.click()
    qtbot.waitUntil(lambda: first.show_button.isVisible(), timeout=60_000)
    assert hub.cdn_gets()[fetched].headers["range"] == f"bytes={kept_bytes}-"  # resumed, not restarted
    assert first.here_badge.isVisible() and not first.progress.isVisible()
    downloaded = ModelRegistry().get("tiny-test")
    assert downloaded.model_path.read_bytes() == models.tiny.read_bytes()
    assert downloaded.mmproj_path is not None and downloaded.mmproj_path.read_bytes() == models.mmproj.read_bytes()
    assert partials(REPO) == []
    qtbot.waitUntil(lambda: again.models_page.model_list.count() == 1, timeout=20_000)
    first.show_button.click()
    assert again.models_page.tabs.currentWidget() is again.models_page.local_tab
    assert again.models_page.selected_id() == "tiny-test"


def test_a_download_the_disk_cannot_hold_is_refused_before_it_starts(
    qtbot: QtBot, open_window: Callable[..., MainWindow], hub: FakeHub, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = shutil.disk_usage

    def nearly_full(path: os.PathLike[str] | str) -> shutil._ntuple_diskusage:
        usage = real(path)
        return type(usage)(usage.total, usage.total - 1000, 1000)

    monkeypatch.setattr(shutil, "disk_usage", nearly_full)
    window = catalog_window(open_window, hub)
    card(window, "tiny-test").download_button.click()
    refused = window.models_page.catalog.refused
    qtbot.waitUntil(refused.isVisible, timeout=20_000)
    assert refused.text().startswith("Downloading Tiny test Gemma needs about")
    assert "but only 1.0 KB is free" in refused.text()
    assert status(window, "tiny-test") is None and hub.requests == []


# --- Hugging Face sign-in ------------------------------------------------------------------------


def sign_in(qtbot: QtBot, window: MainWindow, token: str) -> str:
    box = window.models_page.catalog.sign_in
    box.token_edit.setText(token)
    box.sign_in_button.click()
    qtbot.waitUntil(box.sign_in_button.isEnabled, timeout=20_000)
    return box.status.text()


def test_a_token_the_hub_refuses_then_one_without_the_licence(
    qtbot: QtBot, open_window: Callable[..., MainWindow], hub: FakeHub, test_keyring: MemoryKeyring, no_hub_login: None
) -> None:
    window = catalog_window(open_window, hub)
    box = window.models_page.catalog.sign_in
    qtbot.waitUntil(lambda: box.status.text().startswith("Not signed in."), timeout=20_000)

    text = sign_in(qtbot, window, "hf_wrong_token")
    assert text.startswith("Hugging Face does not accept this token; copy it again from")
    assert box.token_edit.text() == "hf_wrong_token"  # what was typed is kept to correct it
    assert test_keyring.secrets == {}

    text = sign_in(qtbot, window, NO_ACCESS_TOKEN)
    assert f"Signed in as {USER}; the token is kept in the system keyring." in text
    assert f'<a href="https://huggingface.co/{GATED_REPO}">{GATED_REPO}</a>' in text
    assert "not accepted Google's Gemma licence yet" in text
    assert test_keyring.secrets == {(KEYRING_SERVICE, KEYRING_USER): NO_ACCESS_TOKEN}
    assert box.token_edit.text() == ""

    # The gated download with that token: one sentence with the licence page.
    card(window, "tiny-gated").download_button.click()
    qtbot.waitUntil(lambda: status(window, "tiny-gated") is DownloadStatus.FAILED, timeout=20_000)
    failed = card(window, "tiny-gated").status.text()
    assert "has no access to" in failed and f"https://huggingface.co/{GATED_REPO}" in failed

    text = sign_in(qtbot, window, GOOD_TOKEN)
    assert "Every gated build in the catalog is open to this account." in text
    card(window, "tiny-gated").download_button.click()  # Resume, now with the right token
    qtbot.waitUntil(lambda: card(window, "tiny-gated").show_button.isVisible(), timeout=60_000)
    assert any(r.headers.get("authorization") == f"Bearer {GOOD_TOKEN}" for r in hub.requests if GATED_REPO in r.path)
    for file in paths.config_dir().rglob("*"):
        assert not file.is_file() or GOOD_TOKEN not in file.read_text(errors="replace")


def test_without_a_keyring_the_page_says_so_and_keeps_the_token_for_the_session(
    qtbot: QtBot, open_window: Callable[..., MainWindow], hub: FakeHub, no_keyring: None, no_hub_login: None
) -> None:
    window = catalog_window(open_window, hub)
    box = window.models_page.catalog.sign_in
    qtbot.waitUntil(box.keyring_note.isVisible, timeout=20_000)
    assert box.keyring_note.text().startswith("No system keyring is available")
    text = sign_in(qtbot, window, GOOD_TOKEN)
    assert "the token is kept only until Gemma Desktop closes, as there is no system keyring" in text
    current = window.model_controller.tokens.current()
    assert current is not None and current.source == "this session"


# --- a conversation whose model is gone ----------------------------------------------------------


def test_a_conversation_whose_model_file_was_deleted_says_so_and_offers_the_models_here(
    qtbot: QtBot, open_window: Callable[..., MainWindow], models: Models, tmp_path: Path
) -> None:
    gone = tmp_path / "gone"
    gone.mkdir()
    shutil.copy(models.tiny, gone / "old-gemma.gguf")
    with ConversationStore() as store:
        conversation = store.create_conversation("About birds", model_path=gone / "old-gemma.gguf")
        store.add_user_message(conversation.id, "What bird is this?")
    (gone / "old-gemma.gguf").unlink()  # behind the app's back
    library(tmp_path, models)
    window = open_window(runtime=RUNTIME)
    qtbot.waitUntil(lambda: window.model_controller.state is ModelState.READY, timeout=LOAD_TIMEOUT_MS)

    window.open_conversation(conversation.id)
    qtbot.waitUntil(lambda: "no longer at" in window.notice.label.text(), timeout=20_000)
    text = window.notice.label.text()
    assert text.startswith(f"This conversation was held with old-gemma.gguf, which is no longer at {gone}")
    assert "the current model answers instead" in text
    assert text.endswith("Models on this computer: Tiny Gemma 3 (random test weights) (F16).")
    assert window.notice.action_button.text() == "Choose a model…"
    window.notice.action_button.click()
    assert window.views.currentWidget() is window.models_page
