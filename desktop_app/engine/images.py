"""Image preparation: turn a user's file or pasted bytes into checked, upright, bounded RGB pixels.

Everything an image goes through before llama.cpp sees it happens here, with Pillow: llama.cpp's
own decoder (stb_image) silently accepts truncated JPEGs and PNGs and has no size limit, so the
engine only ever hands it the raw RGB of a :class:`PreparedImage`.  Also here: Gemma 3's
Pan & Scan crop geometry, which llama.cpp does not implement.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import math
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageFile, ImageOps, UnidentifiedImageError

from desktop_app.errors import UserError, os_reason, user_file_size

# File-picker filter.  ".jpe"/".jfif" are JPEG too.
SUPPORTED_EXTENSIONS: tuple[str, ...] = (
    ".png",
    ".jpg",
    ".jpeg",
    ".jpe",
    ".jfif",
    ".webp",
    ".gif",
    ".bmp",
    ".tif",
    ".tiff",
)

# Pillow plugins we let parse user files.  Restricting Image.open keeps rarely exercised parsers
# (and EPS, which shells out to Ghostscript) away from whatever a user drops on the window.
# Camera JPEGs holding several pictures come back as format "MPO" through the JPEG plugin.
_ALLOWED_FORMATS: tuple[str, ...] = ("PNG", "JPEG", "WEBP", "GIF", "BMP", "TIFF")

# Our own decompression-bomb limit, checked on the header before any pixel is decoded.  Pillow's
# global MAX_IMAGE_PIXELS (about 89 MP, error at twice that) belongs to the whole process; we
# neither rely on it nor change it.  100 MP of RGBA is 400 MB while decoding: the most we accept.
MAX_SOURCE_PIXELS = 100_000_000

# Reading the whole file first lets us verify and then decode from memory without holding a
# handle open (Windows could not delete or move the file meanwhile).  No sane photo is bigger.
MAX_FILE_BYTES = 256 * 1024 * 1024

DEFAULT_MAX_PIXELS = 4_000_000

_PASTED_NAME = "pasted image"


@dataclass(frozen=True)
class PreparedImage:
    """Upright RGB8 pixels, bounded in size, with a content identity for caches and storage.

    ``sha256`` depends only on the pixels and their size, never on the source format or file
    name, so the same picture pasted as PNG or dropped as BMP shares one cache entry.
    """

    width: int
    height: int
    rgb: bytes = field(repr=False)  # packed RGB8, row-major; megabytes, so kept out of repr()
    sha256: str
    source_name: str
    pan_scan: str | None = None
    """This picture's own Pan & Scan mode ("off": one view, "auto"/"on": views for small text),
    chosen in the composer; None follows the conversation's setting.  Not part of ``sha256``."""

    def __post_init__(self) -> None:
        if self.width < 1 or self.height < 1:
            raise ValueError(f"image size must be positive, got {self.width}x{self.height}")
        if len(self.rgb) != self.width * self.height * 3:
            raise ValueError(
                f"rgb holds {len(self.rgb)} bytes, expected {self.width * self.height * 3} "
                f"for {self.width}x{self.height}"
            )

    @classmethod
    def from_rgb(cls, width: int, height: int, rgb: bytes, source_name: str) -> PreparedImage:
        """Build one from packed RGB8, computing its identity."""
        return cls(width, height, rgb, pixel_identity(width, height, rgb), source_name)

    @property
    def pixel_count(self) -> int:
        return self.width * self.height

    def metadata(self) -> dict[str, Any]:
        """What to log or store about the image: no pixels, and nothing that costs tokens."""
        return {
            "width": self.width,
            "height": self.height,
            "sha256": self.sha256,
            "source_name": self.source_name,
        }

    def to_pil(self) -> Image.Image:
        """A Pillow image of the pixels (for thumbnails, saving as an attachment, crops)."""
        return Image.frombytes("RGB", (self.width, self.height), self.rgb)


def pixel_identity(width: int, height: int, rgb: bytes) -> str:
    """The stable identity of RGB8 pixels: sha256 over ``b"WxH:"`` followed by the bytes.

    The size is part of it because the same bytes can be laid out as different shapes.
    """
    digest = hashlib.sha256(b"%dx%d:" % (width, height))
    digest.update(rgb)
    return digest.hexdigest()


def prepare_image(
    source: str | Path | bytes,
    *,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    name: str | None = None,
) -> PreparedImage:
    """Open, check and normalise an image for the model.

    ``source`` is a file path or the encoded file's bytes (a paste, a drop, an attachment from
    the store).  The image is verified and fully decoded (a truncated or corrupt file is
    refused), turned upright from its EXIF orientation, converted to RGB (transparency is laid
    over white) and shrunk with Lanczos, keeping its aspect, until ``width * height <=
    max_pixels``.  ``name`` is what messages and ``source_name`` call it (default: the file name).

    Raises :class:`UserError` with one sentence naming the image for anything the user can fix.
    """
    if max_pixels < 1:
        raise ValueError(f"max_pixels must be at least 1, got {max_pixels}")
    # Someone in this process turning this on would let truncated files through silently,
    # exactly what we are here to stop; that is a bug, not the user's problem.
    if ImageFile.LOAD_TRUNCATED_IMAGES:
        raise RuntimeError("PIL.ImageFile.LOAD_TRUNCATED_IMAGES is on; prepare_image needs it off")

    data, label, suffix = _read_source(source, name)
    if not data:
        raise UserError("The image '{name}' is empty (0 bytes).", name=label)

    image = _decode_checked(data, label, suffix)
    with _pillow_quiet():
        image = _upright(image)
    image = _to_rgb(image, label)
    image = _bounded(image, max_pixels)
    width, height = image.size
    return PreparedImage.from_rgb(width, height, image.tobytes(), label)


def _read_source(source: str | Path | bytes, name: str | None) -> tuple[bytes, str, str]:
    """The encoded bytes, the name to show, and the file suffix (to explain refusals)."""
    if isinstance(source, (bytes, bytearray, memoryview)):
        data = bytes(source)
        label = name or _PASTED_NAME
        if len(data) > MAX_FILE_BYTES:
            raise _too_big_file(label, len(data))
        return data, label, Path(label).suffix.lower()

    path = Path(source)
    label = name or path.name or str(path)
    size = user_file_size(path, "image")
    if size > MAX_FILE_BYTES:
        raise _too_big_file(label, size)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise UserError(
            "The image file '{path}' could not be read: {reason}.", path=path, reason=os_reason(exc)
        ) from None
    return data, label, path.suffix.lower()


def _decode_checked(data: bytes, label: str, suffix: str) -> Image.Image:
    """Identify, bound, verify and fully decode the first frame; refuse anything doubtful."""
    try:
        with _pillow_quiet():
            probe = Image.open(io.BytesIO(data), formats=_open_formats())
    except UnidentifiedImageError:
        raise _not_readable(data, label, suffix) from None
    except Image.DecompressionBombError:
        raise _bomb(label, None) from None
    except Exception:
        # A header that names a format but breaks off or contradicts itself.
        raise _damaged(label) from None

    fmt = probe.format or "image"
    try:
        # Refuse a bomb from its header, before a single pixel is decoded.
        _check_pixel_budget(probe.size, label)
        # verify() is the one check that reads every PNG chunk's CRC; it leaves the object
        # unusable, hence the second open below for the real decode.
        with _pillow_quiet():
            probe.verify()
    except UserError:
        raise
    except Image.DecompressionBombError:
        raise _bomb(label, None) from None
    except Exception:
        raise _damaged(label, fmt) from None
    finally:
        probe.close()

    try:
        with _pillow_quiet():
            image = Image.open(io.BytesIO(data), formats=_open_formats())
            _check_pixel_budget(image.size, label)
            # load() decodes the first frame completely: with LOAD_TRUNCATED_IMAGES off, a file
            # that ends early raises here instead of coming back half grey.
            image.load()
    except UserError:
        raise
    except Image.DecompressionBombError:
        raise _bomb(label, None) from None
    except Exception:
        raise _damaged(label, fmt) from None
    return image


@contextlib.contextmanager
def _pillow_quiet() -> Iterator[None]:
    """Silence Pillow's warnings while it parses a user's file; our checks decide instead.

    Its bomb *warning* (about 89 MP) gives way to our explicit MAX_SOURCE_PIXELS check, while its
    bomb *error* (about 179 MP, or lower if someone lowered the global) still raises and becomes
    a UserError.  Its "corrupt EXIF" / "tag data larger than file" warnings on damaged files say
    nothing the outcome (refused or decoded) does not.  Only the warning filters change, only
    inside the block; warnings.catch_warnings is process-wide, so a warning another thread
    raises in these milliseconds might be hidden, which is harmless.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        warnings.filterwarnings("ignore", module=r"PIL(\.|$)")
        yield


def _open_formats() -> list[str]:
    """The allowed formats this Pillow build can open (one built without WebP lacks it)."""
    Image.init()
    return [fmt for fmt in _ALLOWED_FORMATS if fmt in Image.OPEN]


def _check_pixel_budget(size: tuple[int, int], label: str) -> None:
    width, height = size
    if width < 1 or height < 1:
        raise _damaged(label)
    if width * height > MAX_SOURCE_PIXELS:
        raise _bomb(label, size)


def _upright(image: Image.Image) -> Image.Image:
    """Apply the EXIF orientation so the model sees what the user sees in their viewer."""
    try:
        upright = ImageOps.exif_transpose(image)
    except Exception:
        # A mangled EXIF block is common in edited photos and says nothing about the pixels:
        # use the image as stored rather than refuse it.
        return image
    return upright if upright is not None else image


def _to_rgb(image: Image.Image, label: str) -> Image.Image:
    """Convert any Pillow mode to RGB8, laying transparency over white."""
    mode = image.mode
    if mode == "RGB":
        return image
    if mode.startswith("I;16") or mode in ("I", "F"):
        return _high_depth_gray_to_rgb(image)
    has_alpha = mode in ("RGBA", "LA", "PA", "RGBa", "La") or (
        "transparency" in image.info and mode in ("P", "L", "RGB", "1")
    )
    try:
        if has_alpha:
            rgba = image.convert("RGBA")
            # White, not black: transparent areas of screenshots and logos are usually meant as
            # "page background", and black would make dark text on them unreadable.
            background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
            return Image.alpha_composite(background, rgba).convert("RGB")
        return image.convert("RGB")
    except (ValueError, OSError):
        raise UserError(
            "The image '{name}' uses a colour format ({mode}) that Gemma Desktop cannot convert to RGB.",
            name=label,
            mode=mode,
        ) from None


def _high_depth_gray_to_rgb(image: Image.Image) -> Image.Image:
    """16-bit and float grey to 8-bit RGB by scaling, not clipping.

    Pillow's own convert() clips 16-bit values to 255, turning most of a 16-bit scan white.
    """
    values = np.asarray(image)
    if image.mode.startswith("I;16"):
        gray = (values.astype(np.uint32) >> 8).astype(np.uint8)
    else:
        as_float = values.astype(np.float64)
        low, high = float(as_float.min()), float(as_float.max())
        if image.mode == "F" and low >= 0.0 and high <= 1.0:
            scaled = as_float * 255.0
        elif image.mode == "I" and low >= 0 and high <= 255:
            scaled = as_float
        elif image.mode == "I" and low >= 0 and high <= 65535:
            # Older Pillow versions open 16-bit PNGs as "I": treat them as 16-bit.
            scaled = as_float / 257.0
        elif high > low:
            scaled = (as_float - low) * (255.0 / (high - low))
        else:
            scaled = np.zeros_like(as_float)
        gray = np.clip(np.rint(scaled), 0, 255).astype(np.uint8)
    return Image.fromarray(np.ascontiguousarray(gray)).convert("RGB")  # uint8 2-D: mode L


def _bounded(image: Image.Image, max_pixels: int) -> Image.Image:
    """Shrink (never enlarge) so width * height <= max_pixels, keeping the aspect ratio."""
    width, height = image.size
    if width * height <= max_pixels:
        return image
    scale = math.sqrt(max_pixels / (width * height))
    new_width = max(1, math.floor(width * scale))
    new_height = max(1, math.floor(height * scale))
    # Floating point can leave the product one row over the budget; trim the longer side.
    while new_width * new_height > max_pixels:
        if new_width >= new_height:
            new_width -= 1
        else:
            new_height -= 1
    # reducing_gap lets Pillow box-reduce a huge photo first: much faster, visually the same.
    return image.resize((new_width, new_height), Image.Resampling.LANCZOS, reducing_gap=3.0)


def _not_readable(data: bytes, label: str, suffix: str) -> UserError:
    """Say whether this is a real image in a format we do not take, or no image at all."""
    if suffix in (".heic", ".heif", ".avif"):
        return UserError(
            "'{name}' is a {format} photo, which Gemma Desktop cannot read; export it as JPEG or PNG first.",
            name=label,
            format=suffix[1:].upper(),
        )
    other_format = _identify_any_format(data)
    if other_format:
        return UserError(
            "'{name}' is an image in {format} format, which Gemma Desktop cannot use; use a PNG, "
            "JPEG, WebP, GIF, BMP or TIFF file.",
            name=label,
            format=other_format,
        )
    return UserError(
        "'{name}' is not an image Gemma Desktop can read; use a PNG, JPEG, WebP, GIF, BMP or TIFF file.",
        name=label,
    )


def _identify_any_format(data: bytes) -> str | None:
    """Name the format with every Pillow plugin, header only, purely to word the refusal."""
    try:
        with _pillow_quiet(), Image.open(io.BytesIO(data)) as other:
            name: str | None = other.format
            return name
    except Exception:
        return None


def _damaged(label: str, fmt: str | None = None) -> UserError:
    if fmt and fmt != "image":
        return UserError(
            "The {format} image '{name}' is damaged or incomplete, so it cannot be used.", format=fmt, name=label
        )
    return UserError("The image '{name}' is damaged or incomplete, so it cannot be used.", name=label)


def _bomb(label: str, size: tuple[int, int] | None) -> UserError:
    limit = MAX_SOURCE_PIXELS // 1_000_000
    if size is None:
        return UserError(
            "The image '{name}' is too large to open safely (the limit is {limit} megapixels).",
            name=label,
            limit=limit,
        )
    return UserError(
        "The image '{name}' is {width}x{height} pixels, too large to open safely (the limit is {limit} "
        "megapixels).",
        name=label,
        width=str(size[0]),
        height=str(size[1]),
        limit=limit,
    )


def _too_big_file(label: str, size: int) -> UserError:
    return UserError(
        "The image '{name}' is {size} MB, more than the {limit} MB Gemma Desktop accepts for one image.",
        name=label,
        size=round(size / 1_048_576),
        limit=MAX_FILE_BYTES // 1_048_576,
    )


# --- Pan & Scan -------------------------------------------------------------------------------


def pan_and_scan_crops(
    width: int,
    height: int,
    *,
    min_ratio: float = 1.2,
    max_crops: int = 4,
    min_crop_size: int = 256,
) -> list[tuple[int, int, int, int]]:
    """Gemma 3's Pan & Scan crop boxes ``(left, top, right, bottom)`` for an image of this size.

    An exact transcription of the geometry in Hugging Face transformers'
    ``Gemma3ImageProcessor.pan_and_scan``
    (``src/transformers/models/gemma3/image_processing_gemma3.py``), whose parameters are
    ``pan_and_scan_min_ratio_to_activate`` (``min_ratio``), ``pan_and_scan_max_num_crops``
    (``max_crops``) and ``pan_and_scan_min_crop_size`` (``min_crop_size``):

    - Only an image whose long side is at least ``min_ratio`` times its short side is cut, and
      only along the long side (1 x N or N x 1 crops).
    - N is the aspect ratio rounded half up, at most ``long_side // min_crop_size``, then held
      to ``[2, max_crops]``.
    - Crops are ``ceil(side / N)`` long; if the shorter crop side is under ``min_crop_size``,
      nothing is cut.
    - Boxes go row by row, left to right.  The last one is clipped to the image, as numpy
      slicing clips it in the reference.

    Returns an empty list when no crop applies.  llama.cpp itself never does this: the engine
    uses these boxes (with :func:`crop_prepared`) to send the crops as extra images.
    """
    if width < 1 or height < 1:
        raise ValueError(f"image size must be positive, got {width}x{height}")
    if max_crops < 2:
        raise ValueError(f"max_crops must be at least 2, got {max_crops}")
    if min_crop_size < 1:
        raise ValueError(f"min_crop_size must be at least 1, got {min_crop_size}")

    if width >= height:
        if width / height < min_ratio:
            return []
        crops_w = math.floor(width / height + 0.5)
        crops_w = min(math.floor(width / min_crop_size), crops_w)
        crops_w = min(max_crops, max(2, crops_w))
        crops_h = 1
    else:
        if height / width < min_ratio:
            return []
        crops_h = math.floor(height / width + 0.5)
        crops_h = min(math.floor(height / min_crop_size), crops_h)
        crops_h = min(max_crops, max(2, crops_h))
        crops_w = 1

    crop_w = math.ceil(width / crops_w)
    crop_h = math.ceil(height / crops_h)
    if min(crop_w, crop_h) < min_crop_size:
        return []

    return [
        (left, top, min(left + crop_w, width), min(top + crop_h, height))
        for top in (crop_h * i for i in range(crops_h))
        for left in (crop_w * j for j in range(crops_w))
    ]


def crop_prepared(image: PreparedImage, box: tuple[int, int, int, int]) -> PreparedImage:
    """The pixels inside ``box`` (left, top, right, bottom; right/bottom exclusive) as a new
    prepared image with its own identity; the source name is kept.
    """
    left, top, right, bottom = box
    if not (0 <= left < right <= image.width and 0 <= top < bottom <= image.height):
        raise ValueError(f"crop box {box} is empty or outside a {image.width}x{image.height} image")
    # Slicing rows out of the packed buffer avoids a round trip through Pillow.
    stride = image.width * 3
    view = memoryview(image.rgb)
    rows = [view[y * stride + left * 3 : y * stride + right * 3] for y in range(top, bottom)]
    return PreparedImage.from_rgb(right - left, bottom - top, b"".join(rows), image.source_name)


PAN_SCAN_MIN_RATIO = {"auto": 1.2, "on": 1.0}
"""Aspect ratio from which an image is cropped: the reference's 1.2 for "auto"; "on" drops the
threshold so even a square screenshot is read in two halves (if each is at least 256 px)."""


def pan_scan_boxes(width: int, height: int, mode: str) -> list[tuple[int, int, int, int]]:
    """The crops Pan & Scan adds for an image of this size in this mode (none for "off")."""
    if mode not in PAN_SCAN_MIN_RATIO:
        return []
    return pan_and_scan_crops(width, height, min_ratio=PAN_SCAN_MIN_RATIO[mode])


def pan_scan_for_backend(mode: str, backend: str) -> str:
    """What a Pan & Scan mode means where the engine runs: "default" is "off" on a CPU and
    "auto" on a GPU.  Each view is another encode: with the real-shaped encoder on a 2-core CPU
    a 4:3 photo's three views took ~72 s instead of ~24 s, and Gemma 3's reference processor
    leaves Pan & Scan off by default; on a GPU an encode takes well under a second."""
    if mode != "default":
        return mode
    return "off" if backend == "CPU" else "auto"


def view_count(width: int, height: int, mode: str) -> int:
    """How many images the model sees for one picture: the whole one plus its crops.

    Each view costs the projector's tokens per image (256 for Gemma 3), so this is what the
    window shows as an attachment's cost before sending.
    """
    return 1 + len(pan_scan_boxes(width, height, mode))
