"""The window's language: chosen from the system or the Language setting, Chinese throughout the
menus and the first-run page, and the domain's sentences (a refused file, an engine that cannot
load a model, a reply cut short) in the window's language with its numbers."""

from __future__ import annotations

import re
import shutil
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

import pytest
from PySide6.QtCore import QCoreApplication, QLocale
from PySide6.QtGui import QFontDatabase, QRawFont
from PySide6.QtWidgets import (
    QAbstractButton,
    QComboBox,
    QDialog,
    QGroupBox,
    QLabel,
    QLineEdit,
    QMenu,
    QPlainTextEdit,
    QTabWidget,
    QToolBar,
    QWidget,
)
from pytestqt.qtbot import QtBot

from desktop_app.engine.protocol import ChatMessage, EngineError, ServerLoadRequest
from desktop_app.engine.remote import RemoteEngine
from desktop_app.errors import Sentence, UserError
from desktop_app.models.catalog import load_catalog
from desktop_app.models.gemma_files import inspect_model, inspect_projector
from desktop_app.models.registry import ModelRegistry
from desktop_app.models.sizes import GIB, ByteSize
from desktop_app.store import ConversationStore
from desktop_app.ui import language, localized
from desktop_app.ui.background import BackgroundWork
from desktop_app.ui.main_window import MainWindow
from desktop_app.ui.model_controller import ModelChoice
from desktop_app.ui.preferences import load_preferences
from desktop_app.ui.server_dialog import ServerDialog
from tests.support.data import Models
from tests.support.remote import llama_server
from tests.support.window import LOAD_TIMEOUT_MS

pytestmark = pytest.mark.qt_log_ignore("propagateSizeHints")

ALLOWED_LATIN = re.compile(
    r"https?://\S+|Gemma Desktop|Gemma|GGUF|gguf|mmproj|Hugging Face|Google|ggml-org|\bhf_|English"
    r"|Ctrl|Shift|Esc|Enter|PDF|Word|CPU|GPU|Flash Attention|Top-[kp]|Min-p|[KMG]i?B\b|\bQAT\b|\bQ\d\w*"
    r"|\bAPI\b|\bCA\b|\bSSH\b|\bhttps?\b"
)
"""Latin words a Chinese window keeps: names (the language menu's English among them), addresses,
file types, keys, units and protocols."""


def english_in(text: str, names: tuple[str, ...] = ()) -> list[str]:
    """The English words of a text: Latin words left once names, keys and units are taken out."""
    for name in names:
        text = text.replace(name, " ")
    return re.findall(r"[A-Za-z]{2,}", ALLOWED_LATIN.sub(" ", text.replace("&", "")))


@pytest.mark.parametrize(
    ("system", "expected"),
    [
        ("zh_CN", "zh_CN"),
        ("zh_SG", "zh_CN"),
        ("zh_Hans", "zh_CN"),
        ("zh_Hans_HK", "zh_CN"),
        ("zh_TW", "en"),
        ("zh_HK", "en"),
        ("en_US", "en"),
        ("de_DE", "en"),
        ("C", "en"),
    ],
)
def test_the_system_language_decides_unless_the_user_chose(system: str, expected: str) -> None:
    assert language.resolve("system", QLocale(system)) == expected
    assert language.resolve("en", QLocale(system)) == "en"
    assert language.resolve("zh_CN", QLocale(system)) == "zh_CN"


def test_the_window_in_chinese_has_no_english_in_its_menus_and_first_run_page(
    qtbot: QtBot, open_window: Callable[..., MainWindow], chinese_ui: None
) -> None:
    window = open_window(language="zh_CN")
    panel = window.first_run
    qtbot.waitUntil(panel.download_button.isVisible, timeout=20_000)  # the recommendation arrived
    names = tuple(entry.name for entry in load_catalog())
    english: list[str] = []
    seen = 0
    for menu in window.menuBar().findChildren(QMenu):
        for action in [menu.menuAction(), *menu.actions()]:
            for text in (action.text(), action.toolTip()):
                seen += 1
                english += [f"menu {text!r}: {w}" for w in english_in(text, names)]
    for widget in panel.findChildren(QWidget):
        if not widget.isVisible():
            continue
        texts = [widget.toolTip(), widget.accessibleName()]
        if isinstance(widget, (QLabel, QAbstractButton)):
            texts.append(widget.text())
        for text in filter(None, texts):
            seen += 1
            english += [f"first-run page {text!r}: {w}" for w in english_in(text, names)]
    status = window.status_model.text()
    english += [f"status bar {status!r}: {w}" for w in english_in(status)]
    assert seen > 30
    assert not english, "\n".join(english)
    assert window.menuBar().actions()[0].text() == "文件(&F)"
    assert panel.download_button.text().startswith("下载 ")
    # Qt's own words in its standard dialogs come from PySide6's qtbase_zh_CN.qm.
    assert QCoreApplication.translate("QPlatformTheme", "Cancel") == "取消"


def _english_shown(root: QWidget, where: str, names: tuple[str, ...] = ()) -> tuple[list[str], int]:
    """The English words in what ``root`` shows now (texts, placeholders, tab and group titles,
    list items, tooltips), each line saying where; and how many texts were read."""
    english: list[str] = []
    seen = 0
    for widget in [root, *root.findChildren(QWidget)]:
        if not widget.isVisible():
            continue
        texts = [widget.toolTip(), widget.accessibleName()]
        if isinstance(widget, (QLabel, QAbstractButton, QLineEdit)):
            texts.append(widget.text())
        if isinstance(widget, (QLineEdit, QPlainTextEdit)):
            texts.append(widget.placeholderText())
        if isinstance(widget, QGroupBox):
            texts.append(widget.title())
        if isinstance(widget, QTabWidget):
            texts += [widget.tabText(i) for i in range(widget.count())]
        if isinstance(widget, QComboBox):
            texts += [widget.itemText(i) for i in range(widget.count())]
        if isinstance(widget, QDialog):
            texts.append(widget.windowTitle())
        for text in filter(None, texts):
            seen += 1
            english += [f"{where} {text!r}: {w}" for w in english_in(text, names)]
    return english, seen


def test_the_settings_the_models_page_and_the_server_dialog_read_in_chinese(
    qtbot: QtBot, open_window: Callable[..., MainWindow], chinese_ui: None, models: Models, tmp_path: Path
) -> None:
    """Beyond the first day's screens: the toolbar, the settings panel, both tabs of the Models page (with a
    model imported, so its page shows) and the dialog that adds a server."""
    folder = tmp_path / "library"
    folder.mkdir()
    shutil.copy(models.tiny, folder / "gemma-tiny.gguf")
    shutil.copy(models.mmproj, folder / "mmproj-gemma-tiny.gguf")
    imported = ModelRegistry().import_path(folder)
    names = (
        *(entry.name for entry in load_catalog()),
        *(model.name for model in imported.models),
        "gemma-tiny.gguf",
        "mmproj-gemma-tiny.gguf",
        str(folder),
        "gemma3",
    )
    window = open_window(language="zh_CN")
    window.settings_action.trigger()
    english, seen = _english_shown(window.settings_panel, "settings")
    for toolbar in window.findChildren(QToolBar):
        found, count = _english_shown(toolbar, "toolbar")
        english, seen = english + found, seen + count
    window.show_models()
    window.models_page.model_list.setCurrentRow(0)
    qtbot.waitUntil(lambda: window.models_page.details.page is not None, timeout=20_000)
    found, count = _english_shown(window.models_page, "models page", names)
    english, seen = english + found, seen + count
    window.models_page.tabs.setCurrentWidget(window.models_page.catalog)
    qtbot.waitUntil(lambda: bool(window.models_page.catalog.findChildren(QAbstractButton)), timeout=20_000)
    found, count = _english_shown(window.models_page.catalog, "catalog", names)
    english, seen = english + found, seen + count
    dialog = ServerDialog(window.work, window.servers.keys, parent=window)
    dialog.url.setText("http://192.168.1.20:8080/v1")
    dialog.show()
    qtbot.waitExposed(dialog)
    found, count = _english_shown(dialog, "server dialog", ("http://192.168.1.20:8080/v1",))
    dialog.close()
    english, seen = english + found, seen + count
    assert seen > 80
    assert not english, "\n".join(english)


def test_chinese_is_drawn_with_a_font_that_has_its_glyphs(qtbot: QtBot, chinese_ui: None) -> None:
    """Where the machine has a CJK font (Noto Sans CJK under ``make screenshot``), Qt picks it for
    the window's Chinese; without one, only this check is skipped."""
    if not QFontDatabase.families(QFontDatabase.WritingSystem.SimplifiedChinese):
        pytest.skip("no CJK font on this machine (Debian: fonts-noto-cjk)")
    label = QLabel(QCoreApplication.translate("ModelsPage", "Models"))
    qtbot.addWidget(label)
    assert label.text() == "模型"
    font = QRawFont.fromFont(label.font(), QFontDatabase.WritingSystem.SimplifiedChinese)
    assert font.isValid() and all(font.supportsCharacter(c) for c in label.text())


def test_the_language_setting_is_kept_and_applies_at_the_next_start(window: MainWindow) -> None:
    panel = window.settings_panel
    assert panel.language.currentData() == "system" and panel.language_note.isHidden()
    panel.language.setCurrentIndex(panel.language.findData("zh_CN"))
    assert load_preferences().language == "zh_CN"
    assert not panel.language_note.isHidden()
    assert panel.language_note.text() == "The window changes to 简体中文 when Gemma Desktop starts again."
    panel.language.setCurrentIndex(panel.language.findData("en"))
    assert load_preferences().language == "en" and panel.language_note.isHidden()


def test_sentences_from_the_models_and_the_engine_reach_the_window_in_chinese(
    qtbot: QtBot, chinese_ui: None, window: MainWindow, models: Models, tmp_path: Path
) -> None:
    controller = window.model_controller
    # Refused while the files are checked (models/, through BackgroundWork).
    with qtbot.waitSignal(controller.refused, timeout=LOAD_TIMEOUT_MS) as refused:
        controller.open(ModelChoice(models.tiny, models.mmproj_mismatch))
    projector, model = inspect_projector(models.mmproj_mismatch), inspect_model(models.tiny)
    assert refused.args[1] == (
        f"视觉投影器 {projector.display_name} 输出的嵌入宽度为 {projector.embedding_length}，"
        f"但模型 {model.display_name} 需要 64；请选择为该模型制作的视觉投影器。"
    )
    # Refused by llama.cpp in the engine process (engine/, through the engine's error event).
    alone = Path(shutil.copy(models.tiny, tmp_path / "alone.gguf"))
    whole = alone.read_bytes()
    controller.setupChosen.connect(lambda _setup: alone.write_bytes(whole[: len(whole) // 2]))
    with qtbot.waitSignal(controller.loadFailed, timeout=LOAD_TIMEOUT_MS) as failed:
        controller.open(ModelChoice(alone))
    assert failed.args[0] == "llama.cpp 无法加载 alone.gguf：文件已损坏、不是本应用能运行的 Gemma 模型，或内存不足。"


def test_a_server_that_cannot_be_used_is_said_in_the_window_language(chinese_ui: None) -> None:
    """The remote engine's sentences travel like the local engine's: the check of a server that
    is not there, and the reply that waited for it, each in Chinese."""
    url = f"http://127.0.0.1:{llama_server.free_port()}/v1"
    with RemoteEngine() as engine:
        engine.load(ServerLoadRequest(url, "gemma-3", name="GPU 主机"))
        engine.generate([ChatMessage.user("你好")])
        events = [engine.next_event(timeout=30), engine.next_event(timeout=30)]
    said = [localized.engine_error(event) for event in events if isinstance(event, EngineError)]
    assert said == [f"{url} 没有任何应答；请确认服务器正在运行，且地址和端口正确。"] * 2


def test_background_work_says_a_user_error_in_the_window_language(qtbot: QtBot, chinese_ui: None) -> None:
    work = BackgroundWork()
    said: list[str] = []

    def fail() -> None:
        raise UserError(
            "The image '{name}' is {size} MB, more than the {limit} MB Gemma Desktop accepts for one image.",
            name="大图.png",
            size=1024,
            limit=256,
        )

    try:
        work.run(fail, lambda _result: None, said.append)
        qtbot.waitUntil(lambda: bool(said), timeout=10_000)
    finally:
        work.shutdown()
    assert said == ["图片“大图.png”大小为 1,024 MB，超过了 Gemma Desktop 对单张图片 256 MB 的上限。"]


def test_a_reply_cut_short_keeps_its_reason_in_the_window_language(
    open_window: Callable[..., MainWindow], chinese_ui: None
) -> None:
    """A failed reply is stored with its sentence, so reopening the conversation in Chinese says
    why in Chinese (the English stays for exports and the command line)."""
    reason = Sentence("it was stopped by {signal}", signal="SIGKILL")
    stopped = Sentence(
        "The engine stopped unexpectedly ({reason}); what was written so far is kept, and the "
        "engine restarts with your next message.",
        reason=reason,
    )
    error = EngineError.saying(1, stopped, "crashed")
    with ConversationStore() as store:
        conversation = store.create_conversation("旧对话")
        store.add_user_message(conversation.id, "你好")
        reply = store.begin_assistant_message(conversation.id)
        store.finish_assistant_message(
            reply, "半截", "crashed", {"error": error.message, "error_sentence": stopped.to_json()}
        )
    window = open_window()
    window.open_conversation(conversation.id)
    shown = window.chat_view.messages[-1].error_label.text()
    assert shown == "引擎意外停止（它被 SIGKILL 信号终止）；已生成的内容已保留，引擎会在你发送下一条消息时重新启动。"
    assert "The engine stopped unexpectedly (it was stopped by SIGKILL)" in error.message


def test_numbers_sizes_and_dates_follow_the_window_language(chinese_ui: None) -> None:
    fits = Sentence(
        "{name} needs about {needed} with {n_ctx} tokens of context and {free} of memory is free, so it fits.",
        name="Gemma 3 4B",
        needed=ByteSize(5 * GIB),
        n_ctx=8192,
        free=ByteSize(24 * GIB),
    )
    assert localized.sentence(fits) == "Gemma 3 4B 在 8,192 个词元的上下文下约需 5.0 GB，可用内存有 24.0 GB，可以运行。"
    assert str(fits) == (
        "Gemma 3 4B needs about 5.0 GB with 8,192 tokens of context and 24.0 GB of memory is free, so it fits."
    )
    assert localized.size(300) == "300 字节" and localized.size(850 * 2**20) == "850 MB"
    moment = datetime(2026, 12, 7, 14, 11).astimezone()  # local time, as the list shows it
    assert localized.date_time(moment) == "2026/12/7 14:11"
    language.install("en")
    assert localized.size(300) == "300 bytes" and localized.number(131072) == "131,072"
    assert localized.date_time(moment) == "12/7/26 2:11\u202fPM" or localized.date_time(moment) == "12/7/26 2:11 PM"
    assert localized.sentence(fits) == str(fits)
