"""Write a PNG of the window, so anyone can look at it: a real reply, or a labelled illustration.

    python -m desktop_app.ui.screenshot --out window.png [--dark] [--settings] [--language zh_CN]
        [--welcome | --models | --catalog] [--size 1280x820]
        [--model GGUF [--mmproj GGUF] [--image PATH] [--prompt TEXT]... [--seed N] [--max-tokens N]]

With ``--model`` the picture is real: the window loads that model in its engine, each
``--prompt`` is typed into the composer and sent as its own conversation (``--image`` is attached
to the last one), and the window is captured once the last reply has finished, with the speed and
timings it measured.  Without a model the conversation is a staged illustration, written through
the real store and drawn by the real window but not generated, and the picture says so in the
status bar (no speed is shown for it).  ``--welcome`` shows the first-run page instead: the
recommended download with the speed estimated on this machine, all real.  ``--models`` shows the
Models page with a Gemma 3 4B's page (its numbers are those of the real 4B QAT build; memory and
speed are this machine's estimates for it), ``--catalog`` the catalog with a download under way;
both are illustrations too, and say so.

``--language zh_CN`` draws the window in Simplified Chinese, the staged conversation written in
Chinese (it needs a CJK font: ``make screenshot`` runs it under Xvfb with Noto Sans CJK).

It needs no display (Qt's offscreen platform unless ``QT_QPA_PLATFORM`` says otherwise); the data
folder is a throwaway one, so the user's own conversations are neither shown nor touched.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from PySide6.QtCore import QCoreApplication
    from PySide6.QtGui import QPalette

    from desktop_app.store import ConversationStore
    from desktop_app.ui.main_window import MainWindow

SAMPLE_PHOTO = Path(__file__).resolve().parents[2] / "tests" / "data" / "grace_hopper.jpg"

QUESTION = "Who is this, and how would I make a smaller copy of the photo in Python?"

REPLY = """This looks like a formal portrait of **Rear Admiral Grace Hopper**, the computer \
scientist who led work on COBOL, in her U.S. Navy dress uniform.

- **Uniform:** dark service jacket with rows of ribbons and a white-topped cap.
- **Background:** the U.S. flag, typical of official Navy portraits.

To make a smaller copy that keeps the proportions, use Pillow:

```python
from PIL import Image

with Image.open("grace_hopper.jpg") as photo:
    photo.thumbnail((512, 512))  # fits inside 512×512
    photo.save("hopper-small.jpg", quality=90)
```

`thumbnail` only ever shrinks, so a small photo stays as it is."""

OTHER_TITLES = (
    "Sliding-window attention in Gemma 3",
    "Translate the menu photo",
    "Regex for ISO dates",
)

QUESTION_ZH = "这是谁？怎样用 Python 把这张照片缩小一份？"

REPLY_ZH = """这看起来是**格蕾丝·霍珀海军少将**的正式肖像。她是计算机科学家，曾主导 COBOL 的相关工作，\
照片中她身着美国海军礼服。

- **制服**：深色军装外套，佩戴多排勋表，头戴白顶军帽。
- **背景**：美国国旗，这是海军官方肖像的常见布置。

要按原比例缩小一份，可以用 Pillow：

```python
from PIL import Image

with Image.open("grace_hopper.jpg") as photo:
    photo.thumbnail((512, 512))  # 缩放到 512×512 以内
    photo.save("hopper-small.jpg", quality=90)
```

`thumbnail` 只会缩小，所以原本就小的照片会保持不变。"""

OTHER_TITLES_ZH = (
    "Gemma 3 的滑动窗口注意力",
    "翻译菜单照片",
    "匹配 ISO 日期的正则表达式",
)

REPLY_TIMEOUT_S = 600.0
"""A real reply on a slow CPU (a 4B model with an image: a minute or two) must not be cut off."""


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m desktop_app.ui.screenshot", description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, required=True, help="PNG file to write")
    parser.add_argument("--dark", action="store_true", help="use a dark palette (Fusion style)")
    parser.add_argument("--size", default="1280x820", help="window size, WIDTHxHEIGHT")
    parser.add_argument("--settings", action="store_true", help="show the settings panel too")
    parser.add_argument("--language", choices=("en", "zh_CN"), default="en", help="the window's language")
    pages = parser.add_mutually_exclusive_group()
    pages.add_argument("--welcome", action="store_true", help="show the first-run page instead")
    pages.add_argument("--models", action="store_true", help="show the Models page with a model's page")
    pages.add_argument("--catalog", action="store_true", help="show the Models page's catalog")
    real = parser.add_argument_group("a real reply (otherwise the chat is a labelled illustration)")
    real.add_argument("--model", type=Path, help="Gemma 3 GGUF to load and ask")
    real.add_argument("--mmproj", type=Path, help="its vision projector")
    real.add_argument("--image", type=Path, help="attach this image to the last prompt (needs --mmproj)")
    real.add_argument("--prompt", action="append", default=[], help="a message to send (repeatable)")
    real.add_argument("--seed", type=int, default=1)
    real.add_argument("--max-tokens", type=int, default=200)
    args = parser.parse_args(argv)
    if args.model is not None and not args.prompt:
        parser.error("--model needs at least one --prompt")
    width, height = (int(n) for n in args.size.lower().split("x"))
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    page = "welcome" if args.welcome else "models" if args.models else "catalog" if args.catalog else "chat"
    with tempfile.TemporaryDirectory(prefix="gemma-screenshot-") as home:
        os.environ["GEMMA_DESKTOP_HOME"] = home
        return _shoot(args, (width, height), page)


def _shoot(args: argparse.Namespace, size: tuple[int, int], page: str) -> int:
    from PySide6.QtWidgets import QApplication

    from desktop_app import APP_NAME
    from desktop_app.store import ConversationStore
    from desktop_app.ui import language
    from desktop_app.ui.engine_bridge import EngineBridge
    from desktop_app.ui.main_window import MainWindow
    from desktop_app.ui.preferences import Preferences

    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setApplicationName(APP_NAME)
    language.install(args.language)
    if args.dark:
        QApplication.setStyle("Fusion")
        QApplication.setPalette(_dark_palette())
    store = ConversationStore()
    chinese = args.language == "zh_CN"
    staged = None if page == "welcome" or args.model else _write_conversation(store, chinese=chinese)
    window = MainWindow(store, EngineBridge(), Preferences(language=args.language))
    window.resize(*size)
    window.settings_dock.setVisible(args.settings)
    window.show()
    try:
        if page == "welcome":
            _settle(app, lambda: window.first_run.download_button.isVisible())
        elif args.model is not None:
            problem = _converse(app, window, args)
            if problem:
                print(f"error: {problem}", file=sys.stderr)
                return 1
        elif staged is not None:
            window.open_conversation(staged)
            _label_as_illustration(window, page)
            if page == "chat":
                _settle(app, lambda: _thumbnails_shown(window))
            else:
                window.show_models()
                # The page reads the (empty) list of this throwaway home first; the samples follow.
                _settle(app, lambda: window.models_page.listed_once)
                _show_sample_models(window, catalog=page == "catalog")
                _settle(app, lambda: page == "models" or window.models_page.catalog.judged)
        window.composer.edit.setFocus()
        _settle(app, lambda: True)
        return _save(window, args.out)
    finally:
        window.close()


def _converse(app: QCoreApplication, window: MainWindow, args: argparse.Namespace) -> str | None:
    """Load the model, send each prompt as a new conversation and wait for its reply; the
    problem in one sentence if something went wrong, else None."""
    from desktop_app.ui.attachments import ImageSource
    from desktop_app.ui.model_controller import ModelChoice, ModelState

    models = window.model_controller
    models.open(ModelChoice(args.model.resolve(), args.mmproj.resolve() if args.mmproj else None))
    _settle(app, lambda: models.state is not ModelState.LOADING, REPLY_TIMEOUT_S)
    if models.state is not ModelState.READY:
        return f"{args.model.name} did not load: {window.notice.label.text()}"
    window.settings_panel.seed.setValue(args.seed)
    window.settings_panel.max_tokens.setValue(args.max_tokens)
    for number, text in enumerate(args.prompt, 1):
        if number > 1:
            window.new_chat()
        if args.image is not None and number == len(args.prompt):
            window.composer.add_sources([ImageSource(args.image, args.image.name)])
            _settle(app, lambda: window.composer.pending == 0 and bool(window.composer.attachments))
        window.composer.edit.setPlainText(text)
        window.composer.submit()
        if not window.session.busy:
            return f"the prompt {text!r} was not sent: {window.composer.notice_label.text()}"
        _settle(app, lambda: not window.session.busy, REPLY_TIMEOUT_S)
        if window.session.busy:
            return f"no reply to {text!r} within {REPLY_TIMEOUT_S:.0f} s"
    _settle(app, lambda: _thumbnails_shown(window))
    return None


def _save(window: MainWindow, out: Path) -> int:
    out.parent.mkdir(parents=True, exist_ok=True)
    saved = window.grab().save(str(out), "PNG")
    if not saved:
        print(f"error: could not write {out}", file=sys.stderr)
        return 1
    print(out)
    return 0


def _write_conversation(store: ConversationStore, *, chinese: bool) -> int:
    for title in OTHER_TITLES_ZH if chinese else OTHER_TITLES:
        other = store.create_conversation(title)
        store.add_user_message(other.id, title)
    conversation = store.create_conversation()
    data, mime, width, height = _sample_photo()
    sha256 = store.add_attachment(data, mime, width, height)
    store.add_user_message(conversation.id, QUESTION_ZH if chinese else QUESTION, [sha256])
    reply = store.begin_assistant_message(conversation.id)
    # No metrics: a staged reply was never timed, so it shows no speed.
    store.finish_assistant_message(reply, REPLY_ZH if chinese else REPLY, "stop", {})
    return conversation.id


def _sample_photo() -> tuple[bytes, str, int, int]:
    """The test suite's public-domain photo when this is a source checkout; else a drawing."""
    import io

    from PIL import Image, ImageDraw

    if SAMPLE_PHOTO.is_file():
        with Image.open(SAMPLE_PHOTO) as photo:
            return SAMPLE_PHOTO.read_bytes(), "image/jpeg", photo.width, photo.height
    picture = Image.linear_gradient("L").resize((480, 360)).convert("RGB")
    draw = ImageDraw.Draw(picture)
    draw.ellipse((150, 80, 330, 260), fill=(220, 120, 40))
    out = io.BytesIO()
    picture.save(out, "PNG")
    return out.getvalue(), "image/png", picture.width, picture.height


def _label_as_illustration(window: MainWindow, page: str = "chat") -> None:
    """The status bar says what the picture is: no model ran, the reply (or the models' list) was
    written by hand."""
    from PySide6.QtCore import QCoreApplication

    window.status_model.setText(
        QCoreApplication.translate("Screenshot", "Illustration: a staged conversation, not a generated reply")
        if page == "chat"
        else QCoreApplication.translate("Screenshot", "Illustration: sample models, not files on this computer")
    )
    for label in (window.status_backend, window.status_state, window.status_speed, window.status_context):
        label.setText("")


def _show_sample_models(window: MainWindow, *, catalog: bool) -> None:
    """The Models page with two sample models and the page of a Gemma 3 4B QAT (the real build's
    metadata; memory and speed are this machine's estimates), or the catalog with a download
    half-way."""
    from desktop_app.models import fit
    from desktop_app.models.catalog import load_catalog
    from desktop_app.models.download import DownloadProgress
    from desktop_app.models.fit import machine_memory
    from desktop_app.models.gemma_files import ModelFile, ProjectorFile
    from desktop_app.models.model_page import ModelPage
    from desktop_app.models.registry import LocalModel
    from desktop_app.models.speed import estimate_decode_speed, measure_machine_speed
    from desktop_app.settings import DEFAULT_CONTEXT
    from desktop_app.ui.download_queue import DownloadItem, DownloadStatus
    from desktop_app.ui.models_page import Listed

    folder = Path("~/.local/share/gemma-desktop/models/ggml-org/gemma-3-4b-it-qat-GGUF")
    model = ModelFile(
        path=folder / "gemma-3-4b-it-qat-Q4_0.gguf",
        file_size=2_526_080_992,
        architecture="gemma3",
        name="Gemma 3 4b It Qat",
        embedding_length=2560,
        context_length=131_072,
        block_count=34,
        sliding_window=1024,
        head_count=8,
        head_count_kv=4,
        key_length=256,
        value_length=256,
        vocab_size=262_144,
        quantization="Q4_0",
        parameter_count=3_880_263_168,
        tensor_count=444,
        license="gemma",
        chat_template="{{ bos_token }}...",
    )
    projector = ProjectorFile(
        path=folder / "mmproj-model-f16-4B.gguf",
        file_size=851_000_000,
        name="Gemma 3 4b It Qat",
        projector_type="gemma3",
        has_vision=True,
        embedding_length=2560,
        vision_embedding_length=1152,
        block_count=27,
        head_count=16,
        image_size=896,
        patch_size=14,
        tokens_per_image=256,
        quantization="F16",
        parameter_count=419_821_808,
        tensor_count=439,
    )
    entry = load_catalog().get("gemma-3-4b-it-qat-q4_0")
    downloaded = LocalModel(
        id=entry.id,
        name=entry.name,
        model_path=model.path,
        mmproj_path=projector.path,
        source="downloaded",
        embedding_length=2560,
        catalog_id=entry.id,
    )
    imported = LocalModel(
        id="gemma-3-1b-it-q8_0",
        name="Gemma 3 1b It (Q8_0)",
        model_path=Path("~/Models/gemma-3-1b-it-Q8_0.gguf"),
        mmproj_path=None,
        source="imported",
        embedding_length=1152,
    )
    machine = machine_memory()
    verdict = fit.check_files_fit(model, projector, DEFAULT_CONTEXT, machine)
    speed = estimate_decode_speed(model.file_size, measure_machine_speed(machine), on_gpu=verdict.on_gpu)
    page = ModelPage(entry.name, model, projector, "downloaded", entry.id, DEFAULT_CONTEXT, verdict, speed)
    window.models_page.present(
        [Listed(downloaded, model.file_size + projector.file_size), Listed(imported, 1_069_306_368)], page
    )
    if catalog:
        window.models_page.tabs.setCurrentWidget(window.models_page.catalog)
        twelve = load_catalog().get("gemma-3-12b-it-qat-q4_0")
        done, total = 3_240_000_000, twelve.download_size
        progress = DownloadProgress(twelve.id, twelve.model_file, "downloading", done, total, 11.8 * 2**20, 380.0)
        item = DownloadItem(twelve, DownloadStatus.DOWNLOADING, done, total, progress)
        window.models_page.catalog.cards[twelve.id].show_item(item)
        queued = load_catalog().get("gemma-3-27b-it-qat-q4_0")
        waiting = DownloadItem(queued, DownloadStatus.QUEUED, 0, queued.download_size)
        window.models_page.catalog.cards[queued.id].show_item(waiting)


def _thumbnails_shown(window: MainWindow) -> bool:
    buttons = [b for w in window.chat_view.messages for bs in w._thumbnails.values() for b in bs]
    return all(not b.icon().isNull() for b in buttons)


def _settle(app: QCoreApplication, ready: Callable[[], bool], timeout_s: float = 15.0) -> None:
    """Images, replies and the recommendation arrive from other threads; wait for them, then for
    layout."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and not ready():
        app.processEvents()
        time.sleep(0.02)
    for _ in range(5):
        app.processEvents()
        time.sleep(0.02)


def _dark_palette() -> QPalette:
    """A dark palette like the system ones (the window itself only ever uses palette roles)."""
    from PySide6.QtGui import QColor, QPalette

    palette = QPalette()
    roles = {
        QPalette.ColorRole.Window: "#2b2b2b",
        QPalette.ColorRole.WindowText: "#e6e6e6",
        QPalette.ColorRole.Base: "#1f1f1f",
        QPalette.ColorRole.AlternateBase: "#2f2f2f",
        QPalette.ColorRole.Text: "#e6e6e6",
        QPalette.ColorRole.Button: "#353535",
        QPalette.ColorRole.ButtonText: "#e6e6e6",
        QPalette.ColorRole.Highlight: "#3d7dd8",
        QPalette.ColorRole.HighlightedText: "#ffffff",
        QPalette.ColorRole.PlaceholderText: "#9a9a9a",
        QPalette.ColorRole.ToolTipBase: "#353535",
        QPalette.ColorRole.ToolTipText: "#e6e6e6",
        QPalette.ColorRole.Link: "#79a6ff",
        QPalette.ColorRole.Light: "#4a4a4a",
        QPalette.ColorRole.Midlight: "#3e3e3e",
        QPalette.ColorRole.Mid: "#2a2a2a",
        QPalette.ColorRole.Dark: "#1a1a1a",
        QPalette.ColorRole.Shadow: "#101010",
    }
    for role, colour in roles.items():
        palette.setColor(role, QColor(colour))
    for role in (QPalette.ColorRole.WindowText, QPalette.ColorRole.Text, QPalette.ColorRole.ButtonText):
        palette.setColor(QPalette.ColorGroup.Disabled, role, QColor("#7a7a7a"))
    return palette


if __name__ == "__main__":
    raise SystemExit(main())
