"""Tests for image preparation (desktop_app.engine.images): every supported format, every way a
file can be wrong, and Gemma 3's Pan & Scan geometry against hand-computed reference values."""

from __future__ import annotations

import io
import struct
import warnings
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageFile

from desktop_app.engine.images import (
    MAX_SOURCE_PIXELS,
    SUPPORTED_EXTENSIONS,
    PreparedImage,
    crop_prepared,
    pan_and_scan_crops,
    pixel_identity,
    prepare_image,
)
from desktop_app.errors import UserError


def _noise(width: int, height: int, seed: int = 0) -> Image.Image:
    rng = np.random.default_rng(seed)
    return Image.fromarray(rng.integers(0, 256, (height, width, 3), dtype=np.uint8))


def _encoded(image: Image.Image, fmt: str, **params: object) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt, **params)
    return buffer.getvalue()


def _png_chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def _bilevel_png(width: int, height: int) -> bytes:
    """A valid all-black 1-bit PNG of any size, built without allocating its pixels.

    Pillow would need width*height bytes to create it; zero rows compress ~1000:1, so a
    30000x30000 "bomb" is about 100 KB on disk.
    """
    row = b"\x00" * (1 + (width + 7) // 8)  # filter byte + packed bits
    compressor = zlib.compressobj(9)
    parts = [compressor.compress(row) for _ in range(height)]
    parts.append(compressor.flush())
    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)  # 1-bit greyscale
    return (
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", header)
        + _png_chunk(b"IDAT", b"".join(parts))
        + _png_chunk(b"IEND", b"")
    )


def _write(tmp_path: Path, name: str, data: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


# --- formats --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fmt", "suffix", "lossless"),
    [
        ("PNG", ".png", True),
        ("JPEG", ".jpg", False),
        ("WEBP", ".webp", False),
        ("GIF", ".gif", False),
        ("BMP", ".bmp", True),
        ("TIFF", ".tiff", True),
    ],
)
def test_every_supported_format_opens_from_a_file(
    tmp_path: Path, fmt: str, suffix: str, lossless: bool
) -> None:
    source = _noise(64, 48)
    path = _write(tmp_path, "picture" + suffix, _encoded(source, fmt))

    prepared = prepare_image(path)

    assert (prepared.width, prepared.height) == (64, 48)
    assert len(prepared.rgb) == 64 * 48 * 3
    assert prepared.source_name == "picture" + suffix
    assert prepared.sha256 == pixel_identity(64, 48, prepared.rgb)
    assert suffix in SUPPORTED_EXTENSIONS
    if lossless:
        assert prepared.rgb == source.tobytes()


def test_webp_lossless_and_bytes_source_keep_pixels() -> None:
    source = _noise(20, 10)
    prepared = prepare_image(_encoded(source, "WEBP", lossless=True), name="clip.webp")
    assert prepared.rgb == source.tobytes()
    assert prepared.source_name == "clip.webp"


def test_bytes_without_a_name_are_called_pasted_image() -> None:
    prepared = prepare_image(_encoded(_noise(8, 8), "PNG"))
    assert prepared.source_name == "pasted image"


def test_gif_first_frame_is_used(tmp_path: Path) -> None:
    red = Image.new("RGB", (16, 16), (255, 0, 0))
    blue = Image.new("RGB", (16, 16), (0, 0, 255))
    path = tmp_path / "anim.gif"
    red.save(path, save_all=True, append_images=[blue], duration=100, loop=0)

    prepared = prepare_image(path)

    pixels = np.frombuffer(prepared.rgb, dtype=np.uint8).reshape(16, 16, 3)
    assert (pixels == (255, 0, 0)).all()


def test_same_pixels_same_identity_regardless_of_format(tmp_path: Path) -> None:
    source = _noise(33, 17, seed=5)
    from_png = prepare_image(_write(tmp_path, "a.png", _encoded(source, "PNG")))
    from_bmp = prepare_image(_write(tmp_path, "b.bmp", _encoded(source, "BMP")))
    from_tiff = prepare_image(_encoded(source, "TIFF", compression="tiff_lzw"))

    assert from_png.sha256 == from_bmp.sha256 == from_tiff.sha256
    assert from_png.source_name != from_bmp.source_name
    other = prepare_image(_encoded(_noise(33, 17, seed=6), "PNG"))
    assert other.sha256 != from_png.sha256


def test_identity_includes_the_shape() -> None:
    rgb = bytes(range(12)) * 2  # 8 pixels
    assert pixel_identity(8, 1, rgb) != pixel_identity(4, 2, rgb)
    assert pixel_identity(4, 2, rgb) == pixel_identity(4, 2, bytes(rgb))


# --- orientation and colour modes -----------------------------------------------------------


def test_exif_rotated_jpeg_comes_out_upright(tmp_path: Path) -> None:
    # Stored 40 wide x 20 high, left half red and right half blue; EXIF orientation 6 means
    # "rotate 90 degrees clockwise to display", so the viewer shows 20 wide x 40 high with red on
    # top.
    stored = Image.new("RGB", (40, 20), (0, 0, 255))
    stored.paste((255, 0, 0), (0, 0, 20, 20))
    exif = Image.Exif()
    exif[0x0112] = 6
    path = _write(tmp_path, "phone.jpg", _encoded(stored, "JPEG", exif=exif, quality=95))

    prepared = prepare_image(path)

    assert (prepared.width, prepared.height) == (20, 40)
    pixels = np.frombuffer(prepared.rgb, dtype=np.uint8).reshape(40, 20, 3).astype(int)
    top, bottom = pixels[5, 10], pixels[35, 10]
    assert top[0] > 200 and top[2] < 60, top
    assert bottom[2] > 200 and bottom[0] < 60, bottom


def test_rgba_is_laid_over_white() -> None:
    image = Image.new("RGBA", (4, 2), (0, 0, 0, 0))  # fully transparent
    image.putpixel((0, 0), (255, 0, 0, 255))  # one opaque red pixel
    image.putpixel((1, 0), (0, 0, 0, 128))  # half-transparent black

    prepared = prepare_image(_encoded(image, "PNG"))

    pixels = np.frombuffer(prepared.rgb, dtype=np.uint8).reshape(2, 4, 3)
    assert tuple(pixels[0, 0]) == (255, 0, 0)
    assert all(abs(int(v) - 127) <= 1 for v in pixels[0, 1])
    assert tuple(pixels[1, 3]) == (255, 255, 255)


def test_palette_with_transparency_is_laid_over_white() -> None:
    image = Image.new("P", (4, 4), 0)
    image.putpalette([0, 0, 0, 0, 255, 0] + [0] * 762)
    image.putpixel((1, 1), 1)
    image.info["transparency"] = 0  # palette index 0 (black) is transparent

    prepared = prepare_image(_encoded(image, "PNG", transparency=0))

    pixels = np.frombuffer(prepared.rgb, dtype=np.uint8).reshape(4, 4, 3)
    assert tuple(pixels[0, 0]) == (255, 255, 255)
    assert tuple(pixels[1, 1]) == (0, 255, 0)


@pytest.mark.parametrize("mode", ["LA", "L", "1", "P"])
def test_other_modes_become_rgb(mode: str) -> None:
    image = _noise(16, 8).convert(mode)
    prepared = prepare_image(_encoded(image, "PNG"))
    assert (prepared.width, prepared.height) == (16, 8)
    assert len(prepared.rgb) == 16 * 8 * 3


def test_cmyk_jpeg_and_tiff_become_rgb() -> None:
    cmyk = Image.new("CMYK", (8, 8), (0, 255, 255, 0))  # pure red in CMYK
    for fmt in ("JPEG", "TIFF"):
        prepared = prepare_image(_encoded(cmyk, fmt))
        r, g, b = np.frombuffer(prepared.rgb, dtype=np.uint8).reshape(8, 8, 3)[4, 4]
        assert r > 200 and g < 60 and b < 60, (fmt, r, g, b)


@pytest.mark.parametrize("fmt", ["PNG", "TIFF"])
def test_16_bit_grey_is_scaled_not_clipped(fmt: str) -> None:
    ramp = (np.arange(256, dtype=np.uint16) * 257).reshape(1, 256).repeat(2, axis=0)
    image = Image.fromarray(ramp)  # mode I;16, 0..65535
    assert image.mode.startswith("I;16")

    prepared = prepare_image(_encoded(image, fmt))

    pixels = np.frombuffer(prepared.rgb, dtype=np.uint8).reshape(2, 256, 3)
    # Clipping would make everything above 255/65535 white; scaling keeps the ramp.
    assert list(pixels[0, :, 0]) == list(range(256))
    assert (pixels[..., 0] == pixels[..., 1]).all()


def test_16_bit_rgb_png_becomes_8_bit_rgb(tmp_path: Path) -> None:
    # Pillow cannot write 48-bit PNGs, so write one by hand: 2x1, full red and half green.
    raw = b"\x00" + struct.pack(">6H", 65535, 0, 0, 0, 32896, 0)
    header = struct.pack(">IIBBBBB", 2, 1, 16, 2, 0, 0, 0)
    data = (
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", header)
        + _png_chunk(b"IDAT", zlib.compress(raw))
        + _png_chunk(b"IEND", b"")
    )
    prepared = prepare_image(_write(tmp_path, "deep.png", data))
    assert prepared.rgb == bytes([255, 0, 0, 0, 128, 0])


# --- size bounds ----------------------------------------------------------------------------


def test_large_image_is_downscaled_within_budget_keeping_aspect(tmp_path: Path) -> None:
    big = Image.new("RGB", (5000, 3000), (10, 200, 30))
    path = _write(tmp_path, "wide.png", _encoded(big, "PNG"))

    prepared = prepare_image(path)

    assert prepared.width * prepared.height <= 4_000_000
    assert prepared.width * prepared.height > 3_990_000
    assert abs(prepared.width / prepared.height - 5000 / 3000) < 0.01
    assert prepared.rgb[:3] == bytes([10, 200, 30])


@pytest.mark.parametrize(("size", "budget"), [((1000, 1), 100), ((3, 7), 20), ((997, 991), 65_537)])
def test_downscale_never_exceeds_budget(size: tuple[int, int], budget: int) -> None:
    prepared = prepare_image(_encoded(Image.new("RGB", size), "PNG"), max_pixels=budget)
    assert 1 <= prepared.width * prepared.height <= budget


def test_small_image_is_not_enlarged() -> None:
    prepared = prepare_image(_encoded(_noise(30, 20), "PNG"), max_pixels=10_000_000)
    assert (prepared.width, prepared.height) == (30, 20)


def test_decompression_bomb_is_refused_by_pillows_error(tmp_path: Path) -> None:
    # 900 MP: past twice Pillow's default limit, so Pillow itself raises while opening.
    path = _write(tmp_path, "bomb.png", _bilevel_png(30_000, 30_000))
    assert path.stat().st_size < 1_000_000
    limit_before = Image.MAX_IMAGE_PIXELS

    with pytest.raises(UserError, match=r"'bomb\.png' is too large to open safely"):
        prepare_image(path)

    assert limit_before == Image.MAX_IMAGE_PIXELS


def test_image_over_our_limit_is_refused_without_a_pillow_warning(tmp_path: Path) -> None:
    # 110 MP: over our 100 MP limit, under Pillow's error threshold (Pillow only warns here).
    path = _write(tmp_path, "big.png", _bilevel_png(11_000, 10_000))
    assert MAX_SOURCE_PIXELS < 11_000 * 10_000

    with warnings.catch_warnings():
        warnings.simplefilter("error")  # any leaked DecompressionBombWarning fails the test
        with pytest.raises(UserError, match=r"11000x10000 pixels, too large to open safely"):
            prepare_image(path)


def test_image_just_under_our_limit_but_over_pillows_warning_opens(tmp_path: Path) -> None:
    # 92 MP: Pillow's default warns (> 89.5 MP); ours accepts and downscales it.
    path = _write(tmp_path, "tall.png", _bilevel_png(4_000, 23_000))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        prepared = prepare_image(path, max_pixels=10_000)
    assert prepared.width * prepared.height <= 10_000
    assert prepared.rgb[:3] == b"\x00\x00\x00"


# --- refusals -------------------------------------------------------------------------------


def _refusal(source: str | Path | bytes, name: str | None = None) -> str:
    with pytest.raises(UserError) as caught:
        prepare_image(source, name=name)
    message = str(caught.value)
    # One sentence for a person: no traceback text, ends with a full stop, one line.
    assert message.endswith(".") and "\n" not in message and "Traceback" not in message
    return message


def test_truncated_jpeg_is_refused(tmp_path: Path) -> None:
    data = _encoded(_noise(128, 96), "JPEG", quality=90)
    for keep in (len(data) // 2, len(data) - 2):
        path = _write(tmp_path, "cut.jpg", data[:keep])
        assert "'cut.jpg' is damaged or incomplete" in _refusal(path)
    assert ImageFile.LOAD_TRUNCATED_IMAGES is False


def test_truncated_png_is_refused(tmp_path: Path) -> None:
    data = _encoded(_noise(128, 96), "PNG")
    for keep in (len(data) // 2, len(data) - 12):  # mid-IDAT; just the IEND chunk missing
        path = _write(tmp_path, "cut.png", data[:keep])
        assert "'cut.png' is damaged or incomplete" in _refusal(path)
    assert ImageFile.LOAD_TRUNCATED_IMAGES is False


def test_png_with_a_flipped_byte_is_refused() -> None:
    data = bytearray(_encoded(_noise(64, 64), "PNG"))
    data[len(data) // 2] ^= 0xFF  # inside IDAT: the chunk CRC no longer matches
    assert "damaged or incomplete" in _refusal(bytes(data), name="flipped.png")


def test_truncation_is_refused_even_from_bytes() -> None:
    data = _encoded(_noise(64, 64), "WEBP")
    message = _refusal(data[: len(data) // 2], name="drop.webp")
    assert "'drop.webp' is damaged or incomplete" in message


def test_random_bytes_are_refused(tmp_path: Path) -> None:
    data = np.random.default_rng(1).integers(0, 256, 4096, dtype=np.uint8).tobytes()
    message = _refusal(_write(tmp_path, "noise.jpg", data))
    assert message == (
        "'noise.jpg' is not an image Gemma Desktop can read; use a PNG, JPEG, WebP, GIF, BMP or "
        "TIFF file."
    )


def test_empty_file_is_refused(tmp_path: Path) -> None:
    message = _refusal(_write(tmp_path, "empty.png", b""))
    assert message == "The image 'empty.png' is empty (0 bytes)."


def test_text_file_named_png_is_refused(tmp_path: Path) -> None:
    path = _write(tmp_path, "notes.png", b"Shopping list:\n- eggs\n- milk\n")
    assert "'notes.png' is not an image Gemma Desktop can read" in _refusal(path)


def test_missing_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "gone.png"
    assert _refusal(path) == f"The image file '{path}' was not found."
    assert _refusal(str(path)) == f"The image file '{path}' was not found."


def test_folder_is_refused(tmp_path: Path) -> None:
    assert _refusal(tmp_path) == f"'{tmp_path}' is a folder, not an image file."


def test_unsupported_format_is_named(tmp_path: Path) -> None:
    path = _write(tmp_path, "icon.ico", _encoded(Image.new("RGB", (16, 16)), "ICO"))
    assert _refusal(path) == (
        "'icon.ico' is an image in ICO format, which Gemma Desktop cannot use; use a PNG, JPEG, "
        "WebP, GIF, BMP or TIFF file."
    )


def test_heic_gets_an_export_hint(tmp_path: Path) -> None:
    path = _write(tmp_path, "IMG_0001.HEIC", b"\x00\x00\x00\x18ftypheic" + b"\x00" * 100)
    assert "export it as JPEG or PNG" in _refusal(path)


def test_pillow_globals_are_left_alone(tmp_path: Path) -> None:
    limit = Image.MAX_IMAGE_PIXELS
    prepare_image(_encoded(_noise(8, 8), "PNG"))
    with pytest.raises(UserError):
        prepare_image(b"junk")
    assert limit == Image.MAX_IMAGE_PIXELS
    assert ImageFile.LOAD_TRUNCATED_IMAGES is False


def test_truncated_images_setting_elsewhere_is_treated_as_a_bug(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(ImageFile, "LOAD_TRUNCATED_IMAGES", True)
    with pytest.raises(RuntimeError):
        prepare_image(_encoded(_noise(8, 8), "PNG"))


def test_bad_budget_is_a_programming_error() -> None:
    with pytest.raises(ValueError):
        prepare_image(b"whatever", max_pixels=0)


# --- the dataclass --------------------------------------------------------------------------


def test_prepared_image_checks_its_buffer_and_hides_pixels_from_repr() -> None:
    with pytest.raises(ValueError):
        PreparedImage(2, 2, b"\x00" * 11, "x", "y")
    image = PreparedImage.from_rgb(2, 1, b"\x01\x02\x03\x04\x05\x06", "dot.png")
    assert "rgb" not in repr(image)
    assert image.metadata() == {
        "width": 2,
        "height": 1,
        "sha256": pixel_identity(2, 1, b"\x01\x02\x03\x04\x05\x06"),
        "source_name": "dot.png",
    }
    assert image.to_pil().tobytes() == image.rgb


# --- Pan & Scan -----------------------------------------------------------------------------
# Expected values worked by hand through transformers' Gemma3ImageProcessor.pan_and_scan with
# its defaults (min ratio 1.2, at most 4 crops, min crop size 256).


@pytest.mark.parametrize(
    ("size", "expected"),
    [
        # square: ratio 1 < 1.2
        ((896, 896), []),
        # slightly wide: 1100/1000 = 1.1 < 1.2
        ((1100, 1000), []),
        # wide 2:1: round(2.0 + .5) = 2 crops of 1000
        ((2000, 1000), [(0, 0, 1000, 1000), (1000, 0, 2000, 1000)]),
        # just over the ratio: floor(1.3 + .5) = 1, raised to the minimum of 2 crops of 650
        ((1300, 1000), [(0, 0, 650, 1000), (650, 0, 1300, 1000)]),
        # very wide 10:1: 10 crops wanted, capped at 4 of 1250
        (
            (5000, 500),
            [(0, 0, 1250, 500), (1250, 0, 2500, 500), (2500, 0, 3750, 500), (3750, 0, 5000, 500)],
        ),
        # tall 1:2.5: floor(2.5 + .5) = 3 rows of 500
        ((600, 1500), [(0, 0, 600, 500), (0, 500, 600, 1000), (0, 1000, 600, 1500)]),
        # tiny: 2 crops of 200x200 would be under 256, so none
        ((400, 200), []),
        # 1000x300: 3 crops of ceil(1000/3) = 334; the last is clipped at 1000 as numpy clips
        ((1000, 300), [(0, 0, 334, 300), (334, 0, 668, 300), (668, 0, 1000, 300)]),
        # huge 8000x3000: floor(2.67 + .5) = 3 crops of 2667, the last clipped
        ((8000, 3000), [(0, 0, 2667, 3000), (2667, 0, 5334, 3000), (5334, 0, 8000, 3000)]),
        # crop count limited by width / min crop size: 700 // 256 = 2 although the ratio says 3
        ((700, 270), [(0, 0, 350, 270), (350, 0, 700, 270)]),
        # portrait whose crops would be 255 wide: none
        ((255, 600), []),
    ],
)
def test_pan_and_scan_matches_reference(
    size: tuple[int, int], expected: list[tuple[int, int, int, int]]
) -> None:
    assert pan_and_scan_crops(*size) == expected


def test_pan_and_scan_parameters_are_honoured() -> None:
    assert pan_and_scan_crops(1100, 1000, min_ratio=1.05) == [
        (0, 0, 550, 1000),
        (550, 0, 1100, 1000),
    ]
    assert len(pan_and_scan_crops(5000, 500, max_crops=8)) == 8
    assert pan_and_scan_crops(400, 200, min_crop_size=100) == [(0, 0, 200, 200), (200, 0, 400, 200)]


@pytest.mark.parametrize(
    "size", [(w, h) for w in (300, 517, 1024, 4000) for h in (256, 333, 999, 3001)]
)
def test_pan_and_scan_crops_tile_the_image(size: tuple[int, int]) -> None:
    width, height = size
    boxes = pan_and_scan_crops(width, height)
    if not boxes:
        return
    covered = np.zeros((height, width), dtype=np.int32)
    for left, top, right, bottom in boxes:
        assert 0 <= left < right <= width and 0 <= top < bottom <= height
        assert min(right - left, bottom - top) > 0
        covered[top:bottom, left:right] += 1
    assert (covered == 1).all()
    assert 2 <= len(boxes) <= 4


def test_pan_and_scan_rejects_nonsense_sizes() -> None:
    with pytest.raises(ValueError):
        pan_and_scan_crops(0, 10)


def test_crop_prepared_takes_the_right_pixels() -> None:
    source = _noise(50, 30, seed=9)
    prepared = prepare_image(_encoded(source, "PNG"), name="scene.png")

    for box in [(0, 0, 50, 30), (10, 5, 20, 25), (49, 29, 50, 30)]:
        crop = crop_prepared(prepared, box)
        expected = source.crop(box)
        assert (crop.width, crop.height) == expected.size
        assert crop.rgb == expected.tobytes()
        assert crop.sha256 == pixel_identity(crop.width, crop.height, crop.rgb)
        assert crop.source_name == "scene.png"

    assert crop_prepared(prepared, (0, 0, 50, 30)).sha256 == prepared.sha256
    for bad in [(0, 0, 51, 30), (10, 10, 10, 20), (-1, 0, 5, 5)]:
        with pytest.raises(ValueError):
            crop_prepared(prepared, bad)


def test_crops_of_a_pan_and_scan_image() -> None:
    prepared = prepare_image(_encoded(_noise(1300, 1000, seed=3), "PNG"), max_pixels=2_000_000)
    boxes = pan_and_scan_crops(prepared.width, prepared.height)
    crops = [crop_prepared(prepared, box) for box in boxes]
    assert [(c.width, c.height) for c in crops] == [(650, 1000), (650, 1000)]
    assert crops[0].sha256 != crops[1].sha256
