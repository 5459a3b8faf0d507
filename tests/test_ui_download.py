"""First run in the window: no model yet, so it offers the recommended download, shows its
progress, pauses and resumes it, then pairs the projector and loads the model.

The real huggingface_hub client talks to the fake hub on 127.0.0.1 (``tests/hub_server.py``);
the recommendation is pointed at a repository there holding the tiny generated Gemma 3 files.
"""

from __future__ import annotations

from collections.abc import Iterator

import huggingface_hub.constants
import pytest
from pytestqt.qtbot import QtBot

from desktop_app import paths
from desktop_app.models.fit import machine_memory
from desktop_app.settings import RuntimeSettings
from desktop_app.store import ConversationStore
from desktop_app.ui import model_controller as model_controller_module
from desktop_app.ui.engine_bridge import EngineBridge
from desktop_app.ui.main_window import MainWindow
from desktop_app.ui.model_controller import ModelState
from desktop_app.ui.model_download import Recommendation
from desktop_app.ui.preferences import Preferences
from tests.conftest import Models
from tests.hub_server import FakeHub, fake_hub
from tests.test_models_download import CHUNK, MMPROJ_FILE, MODEL_FILE, REPO, make_entry

pytestmark = pytest.mark.qt_log_ignore("propagateSizeHints")


@pytest.fixture
def hub(monkeypatch: pytest.MonkeyPatch, models: Models) -> Iterator[FakeHub]:
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setattr(huggingface_hub.constants, "DOWNLOAD_CHUNK_SIZE", CHUNK)
    entry = make_entry()
    recommendation = Recommendation(entry, entry.check_fit(machine_memory(), 8192))
    monkeypatch.setattr(model_controller_module, "recommend_for_this_machine", lambda: recommendation)
    with fake_hub() as server:
        # Slow enough (about 2.5 s in all) to pause it half-way.
        server.add(REPO, MODEL_FILE, models.tiny.read_bytes(), chunk_delay_s=0.05)
        server.add(REPO, MMPROJ_FILE, models.mmproj.read_bytes(), chunk_delay_s=0.05)
        yield server


def test_first_run_downloads_the_recommended_model_pauses_resumes_and_loads_it(
    qtbot: QtBot, hub: FakeHub, models: Models
) -> None:
    window = MainWindow(
        ConversationStore(), EngineBridge(), Preferences(runtime=RuntimeSettings(n_ctx=1024, n_threads=2))
    )
    window.model_controller.download.endpoint = hub.hub_url
    window.show()
    try:
        panel = window.first_run
        assert window.pages.currentWidget() is panel
        qtbot.waitUntil(panel.download_button.isVisible, timeout=20_000)
        assert "Tiny test Gemma" in panel.recommendation.text() and "Tiny test Gemma" in panel.download_button.text()

        panel.download_button.click()
        qtbot.waitUntil(lambda: panel.progress.value() > 0, timeout=20_000)
        assert panel.cancel_button.isVisible() and "Downloading" in panel.progress_label.text()
        panel.cancel_button.click()
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
    finally:
        window.close()
