"""Upload checks and metadata stripping: pixels kept exactly, EXIF/GPS/XMP/comments gone."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image, PngImagePlugin

from tests.conftest import draw_image
from tests.victims.conftest import jpeg_with_gps
from victims.images import ImageRefused, image_inspect, image_strip_metadata

LIMIT = 10 * 1024 * 1024


def _exif() -> bytes:
    exif = Image.Exif()
    exif[0x010F] = "CameraMakerXYZ"
    exif[0x8825] = {1: "N", 2: (51.0, 30.0, 12.0)}
    return exif.tobytes()


def _pixels(data: bytes) -> np.ndarray:
    with Image.open(io.BytesIO(data)) as image:
        return np.asarray(image.convert("RGBA"))


@pytest.mark.parametrize("progressive", [False, True])
def test_jpeg_is_stripped_losslessly_and_keeps_orientation(progressive: bool) -> None:
    image = Image.open(io.BytesIO(draw_image(4, (300, 200), "PNG"))).convert("RGB")
    exif = Image.Exif()
    exif.load(_exif())
    exif[0x0112] = 6
    out = io.BytesIO()
    xmp = b'<x:xmpmeta xmlns:x="adobe:ns:meta/">LocationXYZ</x:xmpmeta>'
    image.save(out, "JPEG", exif=exif.tobytes(), progressive=progressive, comment=b"taken at home", xmp=xmp)
    original = out.getvalue() + b"TRAILING-DATA-AFTER-EOI"
    stripped = image_strip_metadata(original, fmt="JPEG")
    assert stripped.media_type == "image/jpeg"
    for marker in (b"CameraMakerXYZ", b"taken at home", b"LocationXYZ", b"TRAILING-DATA"):
        assert marker not in stripped.data
    with Image.open(io.BytesIO(stripped.data)) as kept:
        assert dict(kept.getexif()) == {0x0112: 6}
    assert (_pixels(original) == _pixels(stripped.data)).all()


def test_upright_jpeg_keeps_no_exif_at_all() -> None:
    original = draw_image(4, (300, 200), "JPEG")
    stripped = image_strip_metadata(original, fmt="JPEG")
    assert b"Exif" not in stripped.data
    assert (_pixels(original) == _pixels(stripped.data)).all()


def test_png_text_and_exif_chunks_go() -> None:
    image = Image.open(io.BytesIO(draw_image(5, (120, 90), "PNG")))
    info = PngImagePlugin.PngInfo()
    info.add_text("Author", "SomeoneXYZ")
    info.add_itxt("Comment", "LocationXYZ", zip=True)
    out = io.BytesIO()
    image.save(out, "PNG", pnginfo=info, exif=_exif())
    stripped = image_strip_metadata(out.getvalue(), fmt="PNG")
    assert b"SomeoneXYZ" not in stripped.data and b"eXIf" not in stripped.data and b"iTXt" not in stripped.data
    assert (_pixels(out.getvalue()) == _pixels(stripped.data)).all()


@pytest.mark.parametrize("fmt", ["WEBP", "GIF"])
def test_other_formats_become_png_with_the_same_first_frame(fmt: str) -> None:
    image = Image.open(io.BytesIO(draw_image(6, (120, 90), "PNG"))).convert("RGB")
    out = io.BytesIO()
    if fmt == "WEBP":
        image.save(out, "WEBP", exif=_exif(), lossless=True)
    else:
        image.convert("P").save(out, "GIF", comment=b"CameraMakerXYZ")
    stripped = image_strip_metadata(out.getvalue(), fmt=fmt)
    assert stripped.media_type == "image/png"
    assert b"CameraMakerXYZ" not in stripped.data
    assert (_pixels(out.getvalue()) == _pixels(stripped.data)).all()


def test_gps_jpeg_fixture_is_cleaned() -> None:
    stripped = image_strip_metadata(jpeg_with_gps(), fmt="JPEG")
    with Image.open(io.BytesIO(stripped.data)) as kept:
        assert 0x8825 not in kept.getexif()


@pytest.mark.parametrize(
    ("data", "code"),
    [
        (b"", "empty"),
        (b"hello world", "not-image"),
        (draw_image(1, (300, 200), "JPEG")[:900], "damaged"),
        (draw_image(1, (300, 200), "PNG")[:900], "damaged"),
        (b"\x00" * (LIMIT + 1), "too-large"),
    ],
    ids=["empty", "text", "truncated-jpeg", "truncated-png", "oversize"],
)
def test_refusals(data: bytes, code: str) -> None:
    with pytest.raises(ImageRefused) as caught:
        image_inspect(data, max_bytes=LIMIT)
    assert caught.value.code == code


def test_decompression_bomb_is_refused_before_decoding() -> None:
    out = io.BytesIO()
    Image.new("1", (12000, 12000)).save(out, "PNG")
    assert len(out.getvalue()) < 100_000
    with pytest.raises(ImageRefused) as caught:
        image_inspect(out.getvalue(), max_bytes=LIMIT)
    assert caught.value.code == "bomb"


def test_unsupported_format() -> None:
    out = io.BytesIO()
    Image.new("RGB", (10, 10)).save(out, "BMP")
    with pytest.raises(ImageRefused) as caught:
        image_inspect(out.getvalue(), max_bytes=LIMIT)
    assert caught.value.code == "format"
