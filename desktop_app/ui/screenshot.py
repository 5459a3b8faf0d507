"""Write a PNG of the main window, so anyone can look at it: a real reply, or a labelled illustration.

    python -m desktop_app.ui.screenshot --out window.png [--dark] [--settings] [--welcome]
        [--size 1280x820] [--model GGUF [--mmproj GGUF] [--image PATH] [--prompt TEXT]...
        [--seed N] [--max-tokens N]]

With ``--model`` the picture is real: the window loads that model in its engine, each
``--prompt`` is typed into the composer and sent as its own conversation (``--image`` is attached
to the last one), and the window is captured once the last reply has finished, with the speed and
timings it measured.  Without a model the conversation is a staged illustration, written through
the real store and drawn by the real window but not generated, and the picture says so in the
status bar (no speed is shown for it).  ``--welcome`` shows the first-run page instead: the
recommended download with the speed estimated on this machine, all real.

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

REPLY_TIMEOUT_S = 600.0
"""A real reply on a slow CPU (a 4B model with an image: a minute or two) must not be cut off."""


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m desktop_app.ui.screenshot", description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, required=True, help="PNG file to write")
    parser.add_argument("--dark", action="store_true", help="use a dark palette (Fusion style)")
    parser.add_argument("--size", default="1280x820", help="window size, WIDTHxHEIGHT")
    parser.add_argument("--settings", action="store_true", help="show the settings panel too")
    parser.add_argument("--welcome", action="store_true", help="show the first-run page instead")
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
    with tempfile.TemporaryDirectory(prefix="gemma-screenshot-") as home:
        os.environ["GEMMA_DESKTOP_HOME"] = home
        return _shoot(args, (width, height))


def _shoot(args: argparse.Namespace, size: tuple[int, int]) -> int:
    from PySide6.QtWidgets import QApplication

    from desktop_app import APP_NAME
    from desktop_app.store import ConversationStore
    from desktop_app.ui.engine_bridge import EngineBridge
    from desktop_app.ui.main_window import MainWindow
    from desktop_app.ui.preferences import Preferences

    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setApplicationName(APP_NAME)
    if args.dark:
        QApplication.setStyle("Fusion")
        QApplication.setPalette(_dark_palette())
    store = ConversationStore()
    staged = None if args.welcome or args.model else _write_conversation(store)
    window = MainWindow(store, EngineBridge(), Preferences())
    window.resize(*size)
    window.settings_dock.setVisible(args.settings)
    window.show()
    try:
        if args.welcome:
            _settle(app, lambda: window.first_run.download_button.isVisible())
        elif args.model is not None:
            problem = _converse(app, window, args)
            if problem:
                print(f"error: {problem}", file=sys.stderr)
                return 1
        elif staged is not None:
            window.open_conversation(staged)
            _label_as_illustration(window)
            _settle(app, lambda: _thumbnails_shown(window))
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


def _write_conversation(store: ConversationStore) -> int:
    for title in OTHER_TITLES:
        other = store.create_conversation(title)
        store.add_user_message(other.id, title)
    conversation = store.create_conversation()
    data, mime, width, height = _sample_photo()
    sha256 = store.add_attachment(data, mime, width, height)
    store.add_user_message(conversation.id, QUESTION, [sha256])
    reply = store.begin_assistant_message(conversation.id)
    # No metrics: a staged reply was never timed, so it shows no speed.
    store.finish_assistant_message(reply, REPLY, "stop", {})
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


def _label_as_illustration(window: MainWindow) -> None:
    """The status bar says what the picture is: no model ran, the reply was written by hand."""
    window.status_model.setText(window.tr("Illustration: a staged conversation, not a generated reply"))
    for label in (window.status_backend, window.status_state, window.status_speed, window.status_context):
        label.setText("")


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
