"""Images and documents on their way into a message: where they come from (a drop, a paste, the
file picker, the store) and what the window keeps of each (the engine's pixels or a document's
text, the bytes to store, a thumbnail).

:func:`prepare_attachment` and :func:`prepare_file` are the slow part and run off the UI thread.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

from PIL import Image
from PySide6.QtCore import QBuffer, QByteArray, QCoreApplication, QIODevice, QMimeData
from PySide6.QtGui import QImage, QImageWriter

from desktop_app.engine.documents import PreparedDocument, is_image_file, prepare_document
from desktop_app.engine.images import PreparedImage, prepare_image
from desktop_app.errors import UserError, os_reason

THUMBNAIL_PX = 192
"""Longest side of a stored thumbnail: twice the largest one shown, for high-DPI screens."""

MAX_ORIGINAL_BYTES = 20 * 1024 * 1024
"""Above this, the store keeps the prepared pixels (PNG) instead of the user's original file."""

_KEEP_ORIGINAL = {"PNG": "image/png", "JPEG": "image/jpeg", "WEBP": "image/webp", "GIF": "image/gif"}
"""Formats kept as the user gave them: browsers and Markdown viewers show these, so an export
links the real photo.  Others (BMP, TIFF) are stored as PNG of the prepared pixels."""

_RAW_IMAGE_FORMATS = ("image/png", "image/jpeg", "image/webp", "image/gif", "image/bmp")


@dataclass(frozen=True)
class ImageSource:
    """Where an attachment comes from: a file (an image or a document, told apart by content),
    encoded image bytes (a paste) or a Qt image (raw clipboard pixels); ``name`` is how messages
    refer to it."""

    payload: Path | bytes | QImage
    name: str

    @property
    def is_image(self) -> bool:
        """Whether it is an image (cheap: reads a file's first bytes)."""
        return not isinstance(self.payload, Path) or is_image_file(self.payload)


@dataclass(frozen=True)
class PreparedAttachment:
    """An image ready to send and to store.

    ``image`` is what the engine sees; ``data``/``mime``/``width``/``height`` is what the store
    keeps, chosen so that preparing ``data`` again gives the same pixels (a reopened
    conversation re-prepares its images from the store).
    """

    image: PreparedImage
    data: bytes
    mime: str
    width: int
    height: int
    thumbnail: QImage
    name: str


@dataclass(frozen=True)
class DocumentAttachment:
    """A document ready to send and to store: its text for the engine, its file for the store."""

    document: PreparedDocument
    data: bytes = field(repr=False)
    name: str = ""

    @property
    def mime(self) -> str:
        return self.document.mime


Attachment = PreparedAttachment | DocumentAttachment


def prepare_file(source: ImageSource, vision: bool, cancelled: Callable[[], bool]) -> Attachment:
    """Prepare an image or a document, whichever the source holds (slow: off the UI thread).

    ``vision`` says scanned pages may become images; ``cancelled`` stops a long document between
    pages.  Raises :class:`UserError` with one sentence for anything that cannot be attached.
    """
    if source.is_image:
        return prepare_attachment(source)
    assert isinstance(source.payload, Path)
    document = prepare_document(source.payload, name=source.name, vision=vision, cancelled=cancelled)
    try:
        data = source.payload.read_bytes()
    except OSError as exc:
        raise UserError(
            "The document '{name}' could not be read again: {reason}.", name=source.name, reason=os_reason(exc)
        ) from None
    return DocumentAttachment(document, data, source.name)


def prepare_attachment(source: ImageSource) -> PreparedAttachment:
    """Decode, check and shrink an image and make its thumbnail (slow: call off the UI thread).

    Raises :class:`UserError` with one sentence for a file that is missing, broken or not an
    image.
    """
    payload = source.payload
    if isinstance(payload, QImage):
        payload = _png_bytes(payload)
    image = prepare_image(payload, name=source.name)
    original = _read_original(payload, source.name)
    data, mime, size = _stored_form(original, image)
    return PreparedAttachment(
        image=image,
        data=data,
        mime=mime,
        width=size[0],
        height=size[1],
        thumbnail=thumbnail_of(image),
        name=source.name,
    )


def prepare_stored(path: Path, name: str, pan_scan: str | None = None) -> tuple[PreparedImage, QImage]:
    """Re-prepare an image the store kept, with its own Pan & Scan choice and its thumbnail
    (slow: call off the UI thread)."""
    image = replace(prepare_image(path, name=name), pan_scan=pan_scan)
    return image, thumbnail_of(image)


def thumbnail_of(image: PreparedImage) -> QImage:
    """A small QImage of the prepared pixels (QImage, not QPixmap, is safe off the UI thread)."""
    picture = image.to_pil()
    picture.thumbnail((THUMBNAIL_PX, THUMBNAIL_PX), Image.Resampling.LANCZOS)
    return rgb_qimage(picture.width, picture.height, picture.tobytes())


def rgb_qimage(width: int, height: int, rgb: bytes) -> QImage:
    """A QImage that owns a copy of packed RGB8 pixels."""
    return QImage(rgb, width, height, 3 * width, QImage.Format.Format_RGB888).copy()


def full_image(image: PreparedImage) -> QImage:
    """The prepared pixels as a QImage, for the larger view."""
    return rgb_qimage(image.width, image.height, image.rgb)


def _png_bytes(image: QImage) -> bytes:
    buffer = QBuffer()
    buffer.open(QIODevice.OpenModeFlag.WriteOnly)
    # QImageWriter, not QImage.save: PySide6's stubs and runtime disagree on save()'s format type.
    if not QImageWriter(buffer, QByteArray(b"PNG")).write(image):
        raise UserError("The pasted image could not be read.")
    return bytes(buffer.data().data())


def _read_original(payload: Path | bytes, name: str) -> bytes:
    if isinstance(payload, bytes):
        return payload
    try:
        return payload.read_bytes()
    except OSError as exc:
        raise UserError(
            "The image file '{name}' could not be read again: {reason}.", name=name, reason=os_reason(exc)
        ) from None


def _stored_form(original: bytes, image: PreparedImage) -> tuple[bytes, str, tuple[int, int]]:
    """The bytes, MIME type and pixel size the store should keep for this image."""
    if len(original) <= MAX_ORIGINAL_BYTES:
        with Image.open(io.BytesIO(original)) as probe:
            mime = _KEEP_ORIGINAL.get(probe.format or "")
            size = probe.size
        if mime is not None:
            return original, mime, size
    out = io.BytesIO()
    image.to_pil().save(out, "PNG")
    return out.getvalue(), "image/png", (image.width, image.height)


# ------------------------------------------------------------------------------- mime data
def mime_has_images(mime: QMimeData) -> bool:
    """Whether a drop or paste carries files or something that may be an image (decided when
    prepared)."""
    return bool(local_files(mime)) or _raw_format(mime) is not None or mime.hasImage()


def sources_from_mime(mime: QMimeData) -> tuple[list[ImageSource], list[str]]:
    """The files and images a drop or paste carries, and sentences for what it carries that
    cannot be used.

    Local files come first (a file manager's drag, copied files); then encoded image bytes (a
    browser's "copy image"); then raw pixels.  A remote URL alone cannot be used offline.
    """
    files = local_files(mime)
    if files:
        return [ImageSource(path, path.name) for path in files], []
    raw = _raw_format(mime)
    if raw is not None:
        data = bytes(QByteArray(mime.data(raw)).data())
        return [ImageSource(data, _pasted_name(raw))], []
    if mime.hasImage():
        image = QImage(mime.imageData())
        if not image.isNull():
            return [ImageSource(image, QCoreApplication.translate("Attachments", "pasted image"))], []
    remote = [url.toString() for url in mime.urls() if not url.isLocalFile()]
    return [], [
        QCoreApplication.translate(
            "Attachments", "'{url}' is not a file on this computer; save it first, then attach the file."
        ).format(url=url)
        for url in remote
    ]


def local_files(mime: QMimeData) -> list[Path]:
    """The files on this computer that a drop or paste names."""
    if not mime.hasUrls():
        return []
    return [Path(url.toLocalFile()) for url in mime.urls() if url.isLocalFile()]


def _raw_format(mime: QMimeData) -> str | None:
    formats = set(mime.formats())
    return next((fmt for fmt in _RAW_IMAGE_FORMATS if fmt in formats), None)


def _pasted_name(mime_type: str) -> str:
    return QCoreApplication.translate("Attachments", "pasted image") + "." + mime_type.split("/")[1]
