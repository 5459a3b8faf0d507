"""Render resources/gemma-desktop.svg into the raster icons the installers need.

    python packaging/render_icon.py      # writes resources/gemma-desktop.{png,ico,icns}

The SVG is the source; Qt's SVG renderer (in PySide6-Essentials) draws it, Pillow writes the
Windows .ico and the macOS .icns. The outputs are checked in, so builds do not need this step.
"""

from __future__ import annotations

import io
import os
import sys
from pathlib import Path

RESOURCES = Path(__file__).resolve().parent.parent / "resources"


def render(size: int) -> bytes:
    from PySide6.QtCore import QBuffer, QByteArray, QIODevice
    from PySide6.QtGui import QGuiApplication, QImage, QPainter
    from PySide6.QtSvg import QSvgRenderer

    QGuiApplication.instance() or QGuiApplication([sys.argv[0]])
    renderer = QSvgRenderer(str(RESOURCES / "gemma-desktop.svg"))
    if not renderer.isValid():
        raise SystemExit("gemma-desktop.svg is not valid SVG")
    image = QImage(size, size, QImage.Format.Format_ARGB32)
    image.fill(0)
    painter = QPainter(image)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    renderer.render(painter)
    painter.end()
    data = QByteArray()
    buffer = QBuffer(data)
    buffer.open(QIODevice.OpenModeFlag.WriteOnly)
    image.save(buffer, "PNG")
    return bytes(data.data())


def main() -> None:
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PIL import Image

    png = render(1024)
    big = Image.open(io.BytesIO(png)).convert("RGBA")
    big.resize((512, 512), Image.LANCZOS).save(RESOURCES / "gemma-desktop.png", optimize=True)
    big.save(
        RESOURCES / "gemma-desktop.ico",
        sizes=[(16, 16), (24, 24), (32, 32), (48, 48), (64, 64), (128, 128), (256, 256)],
    )
    big.save(RESOURCES / "gemma-desktop.icns")
    for name in ("gemma-desktop.png", "gemma-desktop.ico", "gemma-desktop.icns"):
        print(RESOURCES / name, (RESOURCES / name).stat().st_size, "bytes")


if __name__ == "__main__":
    main()
