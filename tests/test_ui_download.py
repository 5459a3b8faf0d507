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
from tests.support.data import Models
from tests.support.hub_server import CHUNK, FakeHub
from tests.support.tiny_repo import MODEL_FILE, REPO, make_entry

pytestmark = pytest.mark.qt_log_ignore("propagateSizeHints")


@pytest.fixture
def recommended(monkeypatch: pytest.MonkeyPatch, hub: FakeHub, models: Models) -> FakeHub:
    """The fake hub's tiny repository as this machine's recommendation, its model's transfer
    held after eight chunks (spread over twice the window's progress interval, so progress shows)
    until the test releases it."""
    entry = make_entry()
    machine = machine_memory()
    speed = entry.expected_speed(machine, measure_machine_speed(machine))
    recommendation = Recommendation(entry, entry.check_fit(machine, 8192), speed)
    monkeypatch.setattr(model_controller_module, "recommend_for_this_machine", lambda: recommendation)
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_DOWNLOAD_TIMEOUT", 300)
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
