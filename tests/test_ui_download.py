"""First run in the window: no model yet, so it offers the recommended download, shows its
progress, pauses and resumes it, then pairs the projector and loads the model.

The real huggingface_hub client talks to the fake hub on 127.0.0.1 (``tests/support/hub_server.py``);
the recommendation is pointed at a repository there holding the tiny generated Gemma 3 files.
The hub trickles the model (so the window reports progress while it arrives) and holds its
transfer part-way until the test has paused it, so the pause cannot come too late on a slow
machine; the client waits for held bytes longer than any step of the test takes.
"""

from __future__ import annotations

import re
from collections.abc import Callable

import huggingface_hub.constants
import pytest
from pytestqt.qtbot import QtBot

from desktop_app import paths
from desktop_app.models.fit import machine_memory
from desktop_app.models.speed import measure_machine_speed
from desktop_app.settings import RuntimeSettings
from desktop_app.ui import model_controller as model_controller_module
from desktop_app.ui.download_queue import PROGRESS_INTERVAL_S
from desktop_app.ui.main_window import MainWindow
from desktop_app.ui.model_controller import ModelState
from desktop_app.ui.model_download import Recommendation
from desktop_app.ui.preferences import load_preferences
from tests.support.data import Models
from tests.support.hub_server import CHUNK, FakeHub
from tests.support.tiny_repo import MODEL_FILE, REPO, make_entry

pytestmark = pytest.mark.qt_log_ignore("propagateSizeHints")


@pytest.fixture
def tiny_recommended(monkeypatch: pytest.MonkeyPatch, hub: FakeHub) -> FakeHub:
    """The fake hub's tiny repository as this machine's recommendation; the client waits for held
    bytes longer than any step of a test takes."""
    entry = make_entry()
    machine = machine_memory()
    speed = entry.expected_speed(machine, measure_machine_speed(machine))
    recommendation = Recommendation(entry, entry.check_fit(machine, 8192), speed)
    monkeypatch.setattr(model_controller_module, "recommend_for_this_machine", lambda: recommendation)
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_DOWNLOAD_TIMEOUT", 300)
    return hub


@pytest.fixture
def recommended(tiny_recommended: FakeHub, models: Models) -> FakeHub:
    """The recommendation with its model's transfer held after eight chunks (spread over twice
    the window's progress interval, so progress shows) until the test releases it."""
    hub = tiny_recommended
    hub.add(REPO, MODEL_FILE, models.tiny.read_bytes(), chunk_delay_s=PROGRESS_INTERVAL_S / 4, hold_after=8 * CHUNK)
    return hub


def test_first_run_downloads_the_recommended_model_pauses_resumes_and_loads_it(
    qtbot: QtBot, open_window: Callable[..., MainWindow], recommended: FakeHub, models: Models
) -> None:
    hub = recommended
    window = open_window(runtime=RuntimeSettings(n_ctx=1024, n_threads=2))
    window.model_controller.download.endpoint = hub.hub_url
    panel = window.first_run
    assert window.pages.currentWidget() is panel
    qtbot.waitUntil(panel.download_button.isVisible, timeout=20_000)
    assert "Tiny test Gemma" in panel.recommendation.text() and "Tiny test Gemma" in panel.download_button.text()
    assert re.search(
        r"expected to write about [\d.]+ tokens a second here \(on the (CPU|GPU)\)", panel.recommendation.text()
    )

    panel.download_button.click()
    qtbot.waitUntil(lambda: panel.progress.value() > 0, timeout=20_000)
    assert panel.cancel_button.isVisible() and "Downloading" in panel.progress_label.text()
    panel.cancel_button.click()
    hub.repos[REPO][MODEL_FILE].release.set()  # the transfer goes on, and finds itself cancelled
    qtbot.waitUntil(lambda: panel.download_button.text() == "Resume download", timeout=20_000)
    assert "paused" in panel.progress_label.text()
    assert window.model_controller.state is ModelState.NONE
    fetched = len(hub.cdn_gets())

    panel.download_button.click()
    qtbot.waitUntil(lambda: window.model_controller.state is ModelState.READY, timeout=120_000)
    assert any("range" in request.headers for request in hub.cdn_gets()[fetched:])  # resumed
    files = window.model_controller.setup
    assert files is not None and files.projector is not None
    folder = paths.models_dir()
    assert files.model.path.is_relative_to(folder) and files.model.path.read_bytes() == models.tiny.read_bytes()
    assert files.projector.path.read_bytes() == models.mmproj.read_bytes()  # paired by fit
    assert window.composer.attach_button.isEnabled()
    assert window.pages.currentWidget() is window.chat_view


def test_a_mirror_named_on_the_models_page_serves_the_download_in_a_chinese_window(
    qtbot: QtBot, open_window: Callable[..., MainWindow], tiny_recommended: FakeHub, models: Models, chinese_ui: None
) -> None:
    """The Download source setting: an address that is no mirror is refused in one sentence; a
    mirror (the stand-in hub, with Hugging Face itself out of reach) is kept for the next start
    and serves the first-run download, whose progress and end say where it came from, in the
    window's language."""
    hub = tiny_recommended
    hub.add(REPO, MODEL_FILE, models.tiny.read_bytes(), hold_after=8 * CHUNK)  # until the progress is read
    window = open_window(runtime=RuntimeSettings(n_ctx=1024, n_threads=2))
    host = hub.hub_url.split("://", 1)[1]
    source = window.models_page.catalog.source
    assert source.status.text() == "当前从 Hugging Face 下载。" and source.hub_button.isHidden()
    source.address.setText("ftp://hf-mirror.com")
    source.mirror_button.click()
    assert source.status.text() == "“ftp://hf-mirror.com”不是镜像站的网址；请按 https://hf-mirror.com 的格式填写。"
    assert load_preferences().download_mirror is None

    source.address.setText(hub.hub_url + "/")
    source.mirror_button.click()
    assert source.status.text() == f"当前从镜像站 {hub.hub_url} 下载。" and not source.hub_button.isHidden()
    assert load_preferences().download_mirror == hub.hub_url
    assert window.model_controller.download.mirror == hub.hub_url

    panel = window.first_run
    qtbot.waitUntil(panel.download_button.isVisible, timeout=20_000)
    panel.download_button.click()
    qtbot.waitUntil(lambda: f"正在从 {host} 下载 {MODEL_FILE}" in panel.progress_label.text(), timeout=20_000)
    hub.repos[REPO][MODEL_FILE].release.set()
    qtbot.waitUntil(lambda: window.model_controller.state is ModelState.READY, timeout=120_000)
    assert panel.progress_label.text().startswith(f"已从 {host} 下载完成，正在加载 ")
    assert len(hub.cdn_gets()) >= 2  # the model and its projector, from the mirror (the hub is unreachable)
    downloaded = window.model_controller.setup
    assert downloaded is not None and downloaded.model.path.read_bytes() == models.tiny.read_bytes()

    window.show_models()
    details = window.models_page.details
    qtbot.waitUntil(lambda: details.model is not None, timeout=20_000)
    assert details.where.text().startswith(f"由 Gemma Desktop 从 {host} 下载到 ")

    source.hub_button.click()
    assert load_preferences().download_mirror is None and source.status.text() == "当前从 Hugging Face 下载。"
