"""The model controller alone (no window): choosing files, loading them in the real engine,
refusing, reloading, retrying and restoring, with the generated Gemma 3 GGUFs."""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from pytestqt.qtbot import QtBot

from desktop_app.engine.client import EngineClient
from desktop_app.engine.protocol import LoadRequest, ModelLoaded
from desktop_app.engine.shared import SharedEngine
from desktop_app.models.registry import LocalModel, ModelRegistry
from desktop_app.settings import RuntimeSettings
from desktop_app.ui.background import BackgroundWork
from desktop_app.ui.engine_bridge import EngineBridge
from desktop_app.ui.model_controller import ModelChoice, ModelController, ModelState
from desktop_app.ui.model_download import Recommendation
from desktop_app.ui.preferences import Preferences, load_preferences
from tests.support.data import Models

RUNTIME = RuntimeSettings(n_ctx=4096, n_threads=2)
LOAD_TIMEOUT_MS = 120_000
SIGNALS = (
    "stateChanged",
    "checking",
    "refused",
    "setupChosen",
    "runtimeChanged",
    "loadStarted",
    "modelLoaded",
    "loadFailed",
    "projectorNotFound",
    "notice",
    "modelMissing",
    "downloadOffered",
    "loadCancelled",
)

Controllers = Callable[[Preferences], ModelController]


@pytest.fixture(params=["own engine", "shared engine"])
def make_controller(qtbot: QtBot, request: pytest.FixtureRequest) -> Iterator[Controllers]:
    """Controllers with their own engine bridge and thread pool, shut down after the test; the
    bridge holds an engine of its own, or a lane of one shared with the API server (as the app
    does)."""
    parts: list[tuple[ModelController, BackgroundWork, EngineBridge]] = []

    def make(preferences: Preferences) -> ModelController:
        shared = request.param == "shared engine"
        bridge = EngineBridge(shared=SharedEngine(EngineClient())) if shared else EngineBridge()
        work = BackgroundWork()
        controller = ModelController(bridge, work, preferences)
        parts.append((controller, work, bridge))
        return controller

    yield make
    for controller, work, bridge in parts:
        controller.shutdown()
        work.shutdown()
        bridge.shutdown()


def record(controller: ModelController) -> list[tuple[str, tuple[object, ...]]]:
    """Every signal the controller emits from now on: (name, arguments), in order."""
    events: list[tuple[str, tuple[object, ...]]] = []
    for name in SIGNALS:
        getattr(controller, name).connect(lambda *args, name=name: events.append((name, args)))
    return events


def names(events: list[tuple[str, tuple[object, ...]]]) -> list[str]:
    return [name for name, _args in events]


def load(qtbot: QtBot, controller: ModelController, choice: ModelChoice) -> ModelLoaded:
    with qtbot.waitSignal(controller.modelLoaded, timeout=LOAD_TIMEOUT_MS) as loaded:
        controller.open(choice)
    assert isinstance(loaded.args[0], ModelLoaded)
    return loaded.args[0]


def test_a_model_loads_with_the_projector_beside_it_step_by_step(
    qtbot: QtBot, make_controller: Controllers, models: Models
) -> None:
    # Asked for more context than the tiny model handles (8,192): it loads with what it handles.
    controller = make_controller(Preferences(runtime=RuntimeSettings(n_ctx=32768, n_threads=2)))
    assert controller.send_refusal(with_images=False) == "Open a model first (Ctrl+O); your message is kept."
    events = record(controller)
    loaded = load(qtbot, controller, ModelChoice(models.tiny))

    assert names(events) == [
        "stateChanged",
        "checking",
        "setupChosen",
        "runtimeChanged",
        "loadStarted",
        "stateChanged",
        "modelLoaded",
    ]
    args = dict(events)
    assert args["checking"] == (ModelChoice(models.tiny),)
    assert [a for name, a in events if name == "stateChanged"] == [(ModelState.LOADING,), (ModelState.READY,)]
    setup = controller.setup
    assert setup is not None and args["setupChosen"] == (setup,)
    assert setup.projector is not None and setup.projector.path == models.mmproj  # the one of 3 that fits
    handled = RuntimeSettings(n_ctx=8192, n_threads=2)
    assert args["runtimeChanged"] == (handled,)
    assert args["loadStarted"] == (LoadRequest.of(models.tiny, models.mmproj, handled),)
    assert loaded.has_vision and loaded.n_ctx == 8192 and controller.loaded == loaded
    assert controller.state is ModelState.READY
    assert controller.send_refusal(with_images=True) is None and controller.images_refusal() is None
    saved = load_preferences()  # remembered for the next start
    assert (saved.last_model, saved.last_mmproj) == (str(models.tiny), str(models.mmproj))


def test_files_that_do_not_fit_are_refused_and_the_model_in_use_stays(
    qtbot: QtBot, make_controller: Controllers, models: Models
) -> None:
    controller = make_controller(Preferences(runtime=RUNTIME))
    mismatched = ModelChoice(models.tiny, models.mmproj_mismatch)
    with qtbot.waitSignal(controller.refused, timeout=LOAD_TIMEOUT_MS) as refused:
        controller.open(mismatched)
    assert refused.args[0] == mismatched and "expects 64" in refused.args[1]
    assert controller.state is ModelState.NONE and controller.setup is None and controller.loaded is None

    loaded = load(qtbot, controller, ModelChoice(models.tiny))
    events = record(controller)
    with qtbot.waitSignal(controller.refused, timeout=LOAD_TIMEOUT_MS) as refused:
        controller.open(ModelChoice(models.not_gguf))
    assert "not-a-model.gguf" in refused.args[1]
    # It was LOADING while the file was read, and is READY with the same model again.
    assert names(events) == ["stateChanged", "checking", "stateChanged", "refused"]
    assert controller.state is ModelState.READY and controller.loaded == loaded
    assert controller.setup is not None and controller.setup.model.path == models.tiny


def test_applied_runtime_settings_reload_the_model_unless_a_reply_runs(
    qtbot: QtBot, make_controller: Controllers, models: Models
) -> None:
    controller = make_controller(Preferences(runtime=RUNTIME))
    load(qtbot, controller, ModelChoice(models.tiny))
    smaller = RuntimeSettings(n_ctx=2048, n_threads=2)
    with qtbot.waitSignal(controller.modelLoaded, timeout=LOAD_TIMEOUT_MS) as reloaded:
        controller.apply_runtime(smaller)
        assert controller.state is ModelState.LOADING and controller.loaded is None
    assert reloaded.args[0].n_ctx == 2048 and controller.state is ModelState.READY
    assert load_preferences().runtime == smaller

    # While a reply is written nothing is loaded: the settings are kept for the next load.
    controller.set_busy(True)
    events = record(controller)
    controller.apply_runtime(RUNTIME)
    controller.open(ModelChoice(models.tiny_no_template))
    assert events == [
        ("runtimeChanged", (RUNTIME,)),
        ("notice", ("Stop the reply before loading another model.",)),
    ]
    assert controller.state is ModelState.READY and load_preferences().runtime == RUNTIME


def test_a_model_the_engine_cannot_load_is_an_error_until_a_retry_loads_it(
    qtbot: QtBot, make_controller: Controllers, models: Models, tmp_path: Path
) -> None:
    # A model alone in its folder, damaged after its header was checked (the engine reads the
    # rest): the engine refuses it; mended, it loads on a retry, text only.
    model = tmp_path / "alone.gguf"
    shutil.copy(models.tiny, model)
    whole = model.read_bytes()
    controller = make_controller(Preferences(runtime=RUNTIME))
    controller.setupChosen.connect(lambda _setup: model.write_bytes(whole[: len(whole) // 2]))
    with qtbot.waitSignal(controller.loadFailed, timeout=LOAD_TIMEOUT_MS) as failed:
        controller.open(ModelChoice(model))
    assert "alone.gguf" in failed.args[0]
    assert controller.state is ModelState.ERROR and controller.loaded is None
    assert controller.send_refusal(with_images=False) == (
        "The model is not loaded (see the notice above); your message is kept."
    )

    model.write_bytes(whole)
    events = record(controller)
    with qtbot.waitSignal(controller.projectorNotFound, timeout=LOAD_TIMEOUT_MS) as not_found:
        controller.retry()
    assert names(events) == [
        "stateChanged",
        "runtimeChanged",
        "loadStarted",
        "stateChanged",
        "modelLoaded",
        "projectorNotFound",
    ]
    assert not_found.args[0] == controller.setup
    assert controller.loaded is not None and not controller.loaded.has_vision
    assert "cannot see images" in (controller.images_refusal() or "")
    assert "cannot see images" in (controller.send_refusal(with_images=True) or "")


def test_restore_loads_the_last_model_with_its_projector(
    qtbot: QtBot, make_controller: Controllers, models: Models
) -> None:
    controller = make_controller(
        Preferences(last_model=str(models.tiny), last_mmproj=str(models.mmproj), runtime=RUNTIME)
    )
    with qtbot.waitSignal(controller.modelLoaded, timeout=LOAD_TIMEOUT_MS):
        controller.restore()
    setup = controller.setup
    assert setup is not None and setup.projector is not None
    assert setup.projector.path == models.mmproj and not setup.projector_searched


def test_restore_without_a_last_model_loads_one_imported_before(
    qtbot: QtBot, make_controller: Controllers, models: Models
) -> None:
    ModelRegistry().import_path(models.tiny_no_template)
    gone = str(models.tiny.parent / "deleted-since.gguf")
    controller = make_controller(Preferences(last_model=gone, runtime=RUNTIME))
    with qtbot.waitSignal(controller.modelLoaded, timeout=LOAD_TIMEOUT_MS):
        controller.restore()
    assert controller.setup is not None and controller.setup.model.path == models.tiny_no_template


def test_restore_with_no_model_at_all_offers_a_download(qtbot: QtBot, make_controller: Controllers) -> None:
    controller = make_controller(Preferences(runtime=RUNTIME))
    with qtbot.waitSignal(controller.downloadOffered, timeout=20_000) as offered:
        controller.restore()
    assert isinstance(offered.args[0], Recommendation)
    assert controller.state is ModelState.NONE and controller.setup is None


def test_a_conversation_brings_back_its_own_model_when_it_is_still_there(
    qtbot: QtBot, make_controller: Controllers, models: Models
) -> None:
    controller = make_controller(Preferences(runtime=RUNTIME))
    load(qtbot, controller, ModelChoice(models.tiny))
    events = record(controller)
    controller.follow(str(models.tiny), str(models.mmproj))  # the model in use: nothing to do
    controller.follow(None, None)  # a conversation that never had a reply
    assert events == []
    ModelRegistry().import_path(models.tiny_no_template)  # a model on this computer to offer instead
    missing = models.tiny.parent / "moved" / "gemma.gguf"
    with qtbot.waitSignal(controller.modelMissing, timeout=20_000):
        controller.follow(str(missing), None)
    assert names(events) == ["modelMissing"]
    sentence, present = events[0][1]
    assert isinstance(sentence, str) and "gemma.gguf" in sentence and "no longer at" in sentence
    assert "the current model answers instead" in sentence
    assert isinstance(present, list) and all(isinstance(m, LocalModel) for m in present)
    assert [m.model_path for m in present] == [models.tiny_no_template]
    assert controller.state is ModelState.READY
    events.clear()

    with qtbot.waitSignal(controller.modelLoaded, timeout=LOAD_TIMEOUT_MS):
        controller.follow(str(models.tiny_no_template), str(models.mmproj))
    setup = controller.setup
    assert setup is not None and setup.model.path == models.tiny_no_template
    assert setup.projector is not None and not setup.projector_searched


def test_loading_reports_progress_from_llama_cpp(
    qtbot: QtBot, make_controller: Controllers, models: Models
) -> None:
    controller = make_controller(Preferences(runtime=RUNTIME))
    fractions: list[float] = []
    controller.loadProgress.connect(fractions.append)
    load(qtbot, controller, ModelChoice(models.tiny))
    assert fractions, "llama.cpp's progress callback reported nothing"
    assert fractions == sorted(fractions) and fractions[-1] == 1.0 and all(0 <= f <= 1 for f in fractions)


def test_a_cancelled_first_load_leaves_no_model_and_the_engine_forgets_it(
    qtbot: QtBot, make_controller: Controllers, models: Models
) -> None:
    controller = make_controller(Preferences(runtime=RUNTIME))
    events = record(controller)
    # Cancelled the moment the engine is asked: the engine process is still starting, so the
    # stop flag is set before llama.cpp reads a tensor.
    controller.loadStarted.connect(lambda _request: controller.cancel_load())
    with qtbot.waitSignal(controller.loadCancelled, timeout=LOAD_TIMEOUT_MS) as cancelled:
        controller.open(ModelChoice(models.tiny))
    assert cancelled.args == [f"Loading {models.tiny.name} was cancelled."]
    assert controller.state is ModelState.NONE and controller.setup is None and controller.loaded is None
    assert "modelLoaded" not in names(events)
    assert controller.send_refusal(with_images=False) == "Open a model first (Ctrl+O); your message is kept."
    assert load_preferences().last_model is None  # nothing remembered for the next start

    controller.loadStarted.disconnect()
    load(qtbot, controller, ModelChoice(models.tiny))  # the engine loads the next choice as usual
    assert controller.state is ModelState.READY


@pytest.mark.slow
def test_cancelling_a_load_brings_back_the_model_loaded_before(
    qtbot: QtBot, make_controller: Controllers, models: Models, gemma270m: Path
) -> None:
    controller = make_controller(Preferences(runtime=RUNTIME))
    load(qtbot, controller, ModelChoice(models.tiny))
    events = record(controller)

    def cancel_the_270m(request: LoadRequest) -> None:
        if request.model_path == str(gemma270m):
            controller.cancel_load()

    controller.loadStarted.connect(cancel_the_270m)
    with qtbot.waitSignal(controller.modelLoaded, timeout=LOAD_TIMEOUT_MS) as reloaded:
        controller.open(ModelChoice(gemma270m))
    assert "loadCancelled" in names(events)
    assert dict(events)["loadCancelled"] == (f"Loading {gemma270m.name} was cancelled.",)
    assert reloaded.args[0].model_path == str(models.tiny)  # the model before, loaded again
    setup = controller.setup
    assert setup is not None and setup.model.path == models.tiny and setup.projector is not None
    assert controller.state is ModelState.READY
