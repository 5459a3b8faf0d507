"""``make screenshot``'s module: a real reply captured from the real window, or a labelled
illustration; either way a PNG of the requested size."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtGui import QImage

from desktop_app.ui import screenshot
from desktop_app.ui.main_window import MainWindow
from tests.support.data import Models

pytestmark = pytest.mark.qt_log_ignore("propagateSizeHints")


def _shot(tmp_path: Path, *argv: str) -> QImage:
    out = tmp_path / "window.png"
    assert screenshot.main(["--out", str(out), "--size", "900x600", *argv]) == 0
    image = QImage(str(out))
    assert (image.width(), image.height()) == (900, 600)
    return image


def test_a_real_reply_is_captured_from_the_window(qapp: object, tmp_path: Path, models: Models) -> None:
    image = _shot(
        tmp_path, "--model", str(models.tiny), "--mmproj", str(models.mmproj), "--image",
        str(Path(__file__).parent / "data" / "grace_hopper.jpg"), "--prompt", "Hi", "--prompt", "What is this?",
        "--max-tokens", "8",
    )
    assert not image.isNull()


def test_a_model_that_does_not_load_is_one_line_and_no_picture(
    qapp: object, tmp_path: Path, models: Models, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "window.png"
    assert screenshot.main(["--out", str(out), "--model", str(models.truncated), "--prompt", "Hi"]) == 1
    assert capsys.readouterr().err.startswith("error: truncated.gguf did not load")
    assert not out.exists()


def test_without_a_model_the_picture_is_a_labelled_illustration(qapp: object, tmp_path: Path) -> None:
    labels: list[str] = []
    original = screenshot._label_as_illustration

    def record(window: MainWindow, page: str = "chat") -> None:
        original(window, page)
        labels.append(window.status_model.text())

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(screenshot, "_label_as_illustration", record)
        _shot(tmp_path)
    assert labels == ["Illustration: a staged conversation, not a generated reply"]
