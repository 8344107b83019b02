"""detection.hashing: bit-exact PDQ against Meta's reference, every mode and format, every kind of bad input."""

from __future__ import annotations

import csv
import hashlib
import io
import struct
import zlib
from pathlib import Path

import imagehash
import numpy as np
import pytest
from PIL import Image, ImageDraw

from detection import downscale
from detection.hashing import DIHEDRAL_ORDER, MAX_FRAMES, ImageHashes, ImageRejected, hash_files, hash_image

# shared/ sits beside the checkout (one level further up from a git worktree).
PDQ_DATA = next(
    p / "shared" / "testdata" / "pdq" for p in Path(__file__).resolve().parents if (p / "shared" / "testdata").is_dir()
)
EXPECTED = list(csv.DictReader(open(PDQ_DATA / "expected.csv")))


def bits(a: str, b: str) -> int:
    return (int(a, 16) ^ int(b, 16)).bit_count()


def encode(image: Image.Image, fmt: str, **params: object) -> bytes:
    out = io.BytesIO()
    image.save(out, fmt, **params)
    return out.getvalue()


def drawn(size: tuple[int, int] = (640, 480), seed: int = 1) -> Image.Image:
    """Shapes and a gradient: enough structure for PDQ quality 100, nothing like a photograph of a person."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0 : size[1], 0 : size[0]]
    base = np.stack([(x * 255 // size[0]), (y * 255 // size[1]), ((x + y) * 127 // sum(size))], axis=-1)
    image = Image.fromarray(base.astype(np.uint8), "RGB")
    draw = ImageDraw.Draw(image)
    for _ in range(25):
        x0, y0 = int(rng.integers(0, size[0])), int(rng.integers(0, size[1]))
        box = (x0, y0, x0 + int(rng.integers(20, size[0] // 3)), y0 + int(rng.integers(20, size[1] // 3)))
        colour = tuple(int(c) for c in rng.integers(0, 256, 3))
        (draw.ellipse if rng.random() < 0.5 else draw.rectangle)(box, fill=colour)
    return image


# --- Bit-exact PDQ -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("row", EXPECTED, ids=[r["file"] for r in EXPECTED])
def test_pdq_is_bit_exact_with_the_reference(row: dict[str, str]) -> None:
    hashes = hash_image((PDQ_DATA / row["file"]).read_bytes())
    assert bits(hashes.pdq, row["pdq_hex"]) == 0
    if row["quality"]:
        assert hashes.pdq_quality == int(row["quality"])


def test_large_jpegs_need_the_reference_downscaling() -> None:
    """Guards the reason for detection.downscale: hashing the full image is measurably off the reference."""
    import pdqhash

    row = next(r for r in EXPECTED if r["file"] == "bridge-mods/sharpen-a-lot.jpg")
    rgb = np.asarray(Image.open(PDQ_DATA / row["file"]).convert("RGB"))
    vector, _ = pdqhash.compute(np.ascontiguousarray(rgb))
    naive = np.packbits(vector.astype(np.uint8)).tobytes().hex()
    assert bits(naive, row["pdq_hex"]) > 0
    # And Pillow's own reduced JPEG decoding (libjpeg-turbo) is not enough either.
    image = Image.open(PDQ_DATA / row["file"])
    target = downscale.thumbnail_size(*image.size)
    image.draft("RGB", target)
    vector, _ = pdqhash.compute(np.ascontiguousarray(np.asarray(image.resize(target, Image.Resampling.BICUBIC))))
    assert bits(np.packbits(vector.astype(np.uint8)).tobytes().hex(), row["pdq_hex"]) > 0


def test_thumbnail_size_and_scale_follow_classic_pillow() -> None:
    assert downscale.thumbnail_size(1600, 1004) == (512, 321)
    assert downscale.thumbnail_size(1004, 1600) == (321, 512)
    assert downscale.thumbnail_size(512, 300) == (512, 300)
    assert downscale.thumbnail_size(20000, 10) == (512, 1)
    assert downscale.draft_scale((1600, 1004), (512, 321)) == 2
    assert downscale.draft_scale((4000, 3000), (512, 384)) == 4
    assert downscale.draft_scale((8000, 6000), (512, 384)) == 8
    assert downscale.draft_scale((700, 500), (512, 365)) == 1


@pytest.mark.parametrize("size", [(4096, 3072), (2400, 1600), (3000, 700), (900, 5000)])
@pytest.mark.parametrize("subsampling", [0, 1, 2])
def test_reduced_jpeg_decoding_is_close_to_pillows(size: tuple[int, int], subsampling: int) -> None:
    """Every scale (1/2, 1/4, 1/8) and chroma layout decodes to the same picture as libjpeg-turbo's, give or
    take the inverse-DCT differences that the module exists for."""
    image = drawn((size[0] // 4, size[1] // 4), seed=size[0]).resize(size, Image.Resampling.BILINEAR)
    data = encode(image, "JPEG", quality=90, subsampling=subsampling)
    opened = Image.open(io.BytesIO(data))
    target = downscale.thumbnail_size(*size)
    ours = np.asarray(downscale.reference_thumbnail(opened, data).convert("RGB"), dtype=np.int16)
    theirs_image = Image.open(io.BytesIO(data))
    theirs_image.draft("RGB", target)
    theirs = np.asarray(theirs_image.resize(target, Image.Resampling.BICUBIC).convert("RGB"), dtype=np.int16)
    assert ours.shape == theirs.shape
    assert np.abs(ours - theirs).mean() < 2.0
    ours_pdq = hash_image(data).pdq
    assert bits(ours_pdq, hash_image(encode(theirs_image.convert("RGB"), "PNG")).pdq) <= 16


def test_grayscale_and_progressive_jpegs_take_the_exact_path() -> None:
    image = drawn((1400, 1000)).convert("L")
    for params in ({}, {"progressive": True}):
        data = encode(image, "JPEG", quality=85, **params)
        reduced = downscale.reference_thumbnail(Image.open(io.BytesIO(data)), data)
        assert reduced.mode == "L"
        assert reduced.size == (512, 365)


def test_dihedral_variants_follow_the_reference_order() -> None:
    data = (PDQ_DATA / "bridge-mods/square-512x512.jpg").read_bytes()
    original = hash_image(data)
    assert len(original.pdq_dihedral) == len(DIHEDRAL_ORDER) == 8
    assert original.pdq_dihedral[0] == original.pdq
    source = Image.open(io.BytesIO(data))
    transforms = {
        "rotate90": Image.Transpose.ROTATE_90,
        "rotate180": Image.Transpose.ROTATE_180,
        "rotate270": Image.Transpose.ROTATE_270,
        "flipx": Image.Transpose.FLIP_TOP_BOTTOM,
        "flipy": Image.Transpose.FLIP_LEFT_RIGHT,
        "flipplus1": Image.Transpose.TRANSPOSE,
        "flipminus1": Image.Transpose.TRANSVERSE,
    }
    for name, transform in transforms.items():
        turned = hash_image(encode(source.transpose(transform), "PNG")).pdq
        distances = [bits(turned, variant) for variant in original.pdq_dihedral]
        assert distances.index(min(distances)) == DIHEDRAL_ORDER.index(name)
        assert min(distances) <= 31 < sorted(distances)[1]


# --- Modes and formats -------------------------------------------------------------------------------------

MODE_FILES = sorted(p for p in (PDQ_DATA / "misc-images" / "modes").iterdir() if p.suffix != ".md")


@pytest.mark.parametrize("path", MODE_FILES, ids=[p.name for p in MODE_FILES])
def test_every_mode_file_hashes_close_to_the_original(path: Path) -> None:
    original = hash_image((PDQ_DATA / "misc-images/modes/original.jpg").read_bytes())
    hashes = hash_image(path.read_bytes())
    assert bits(hashes.pdq, original.pdq) <= 20
    assert bits(hashes.phash, original.phash) <= 4
    assert bits(hashes.dhash, original.dhash) <= 4


def _mode_image(mode: str) -> Image.Image:
    rgb = Image.open(PDQ_DATA / "misc-images/modes/original.jpg").convert("RGB")
    grey = np.asarray(rgb.convert("L"), dtype=np.float64)
    if mode == "I;16":
        return Image.fromarray((grey * 257).astype(np.uint16))
    if mode == "I":
        return Image.fromarray((grey * 257).astype(np.int32))
    if mode == "I-8bit":
        return Image.fromarray(grey.astype(np.int32))
    if mode == "F":
        return Image.fromarray((grey / 255.0).astype(np.float32))
    if mode == "F-255":
        return Image.fromarray(grey.astype(np.float32))
    if mode == "P-transparent":
        image = rgb.convert("P")
        image.info["transparency"] = 0
        return image
    return rgb.convert(mode)


@pytest.mark.parametrize(
    "mode",
    ["1", "L", "LA", "P", "P-transparent", "RGBA", "CMYK", "YCbCr", "LAB", "I;16", "I", "I-8bit", "F", "F-255"],
)
def test_every_pillow_mode_hashes_close_to_rgb(mode: str) -> None:
    """Every mode a file can decode to (HSV and PA exist only in memory), written losslessly."""
    image = _mode_image(mode)
    fmt = "PNG" if mode in ("1", "L", "LA", "P", "P-transparent", "RGBA") else "TIFF"
    data = encode(image, fmt)
    reopened = Image.open(io.BytesIO(data))
    assert reopened.mode == image.mode
    original = hash_image((PDQ_DATA / "misc-images/modes/original.jpg").read_bytes())
    hashes = hash_image(data)
    assert bits(hashes.pdq, original.pdq) <= 20, reopened.mode


@pytest.mark.parametrize("fmt", ["PNG", "WEBP", "GIF", "TIFF", "BMP", "HEIF", "AVIF", "JPEG"])
def test_every_format_hashes_close_to_png(fmt: str) -> None:
    image = drawn((400, 300))
    reference = hash_image(encode(image, "PNG"))
    params: dict[str, object] = {"quality": 90} if fmt in ("JPEG", "WEBP", "HEIF", "AVIF") else {}
    hashes = hash_image(encode(image, fmt, **params))
    assert bits(hashes.pdq, reference.pdq) <= 24
    assert hashes.pdq_quality >= 50


def test_animated_gif_hashes_its_first_frame() -> None:
    first, second = drawn((200, 150), seed=1), drawn((200, 150), seed=2)
    data = encode(first, "GIF", save_all=True, append_images=[second], duration=100, loop=0)
    assert Image.open(io.BytesIO(data)).n_frames == 2
    assert bits(hash_image(data).pdq, hash_image(encode(first, "GIF")).pdq) == 0


def test_exif_orientation_is_ignored() -> None:
    image = drawn((320, 240))
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 CW to display"
    plain = hash_image(encode(image, "JPEG", quality=95))
    oriented = hash_image(encode(image, "JPEG", quality=95, exif=exif.tobytes()))
    assert oriented.pdq == plain.pdq
    assert oriented.phash == plain.phash
    assert oriented.sha256 != plain.sha256


def test_phash_dhash_and_digests_match_what_partners_compute() -> None:
    data = encode(drawn((500, 400)), "JPEG", quality=90)
    hashes = hash_image(data)
    assert hashes.phash == str(imagehash.phash(Image.open(io.BytesIO(data))))
    assert hashes.dhash == str(imagehash.dhash(Image.open(io.BytesIO(data))))
    assert len(hashes.phash) == len(hashes.dhash) == 16
    assert hashes.sha256 == hashlib.sha256(data).hexdigest()
    assert hashes.md5 == hashlib.md5(data).hexdigest()
    assert set(hashes.as_dict()) == {"pdq", "pdq_quality", "pdq_dihedral", "phash", "dhash", "sha256", "md5"}


def test_tiny_image_hashes_with_quality_zero() -> None:
    hashes = hash_image(encode(Image.new("RGB", (3, 3), (9, 9, 9)), "PNG"))
    assert hashes.pdq == "0" * 64
    assert hashes.pdq_quality == 0


# --- Bad input ---------------------------------------------------------------------------------------------


def png_with_header(width: int, height: int) -> bytes:
    """A PNG whose header claims width x height, with one tiny (invalid for that size) data chunk."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(b"IEND", b"")


def bomb_png() -> bytes:
    """9,000 x 9,000 of one colour: 81 megapixels in a few hundred kilobytes."""
    width = height = 9000
    row = b"\0" + b"\0" * width
    compressor = zlib.compressobj(9)
    body = b"".join(compressor.compress(row) for _ in range(height)) + compressor.flush()

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", body) + chunk(b"IEND", b"")


def corrupt_exif_jpeg() -> bytes:
    # A TIFF header whose first IFD claims 65,535 entries that are not there.
    exif = b"Exif\x00\x00II*\x00\x08\x00\x00\x00\xff\xff"
    return encode(drawn((64, 64)), "JPEG", exif=exif)


def many_frames_gif() -> bytes:
    frames = [Image.new("RGB", (2, 2), (i % 256, i // 256, 0)) for i in range(MAX_FRAMES + 5)]
    return encode(frames[0], "GIF", save_all=True, append_images=frames[1:], duration=10)


BAD_INPUTS = {
    "zero bytes": (b"", "empty"),
    "text": (b"hello, this is not an image\n" * 10, "not an image"),
    "random bytes": (bytes(np.random.default_rng(5).integers(0, 256, 5000, dtype=np.uint8)), "not an image"),
    "truncated jpeg": (encode(drawn(), "JPEG")[:3000], "truncated"),
    "truncated png": (encode(drawn(), "PNG")[:3000], "truncated"),
    "header 50000x50000": (png_with_header(50_000, 50_000), "pixels"),
    "decompression bomb": (bomb_png(), "megapixels"),
    "corrupt icc": (encode(drawn((64, 64)), "JPEG", icc_profile=b"not a colour profile" * 10), "ICC"),
    "corrupt exif": (corrupt_exif_jpeg(), "EXIF"),
    "too many frames": (many_frames_gif(), "frames"),
    "unsupported format": (encode(drawn((64, 64)), "ICO"), "supported format"),
}


@pytest.mark.parametrize("name", list(BAD_INPUTS))
def test_bad_input_raises_one_clear_exception(name: str) -> None:
    data, words = BAD_INPUTS[name]
    with pytest.raises(ImageRejected) as caught:
        hash_image(data)
    assert words.lower() in caught.value.message.lower()
    assert caught.value.__cause__ is None  # no decoder internals chained onto the message


def test_header_is_checked_before_decoding(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_decoding(*args: object, **kwargs: object) -> None:
        raise AssertionError("decoded a 50,000 x 50,000 image")

    monkeypatch.setattr(Image.Image, "load", no_decoding)
    monkeypatch.setattr("PIL.ImageFile.ImageFile.load", no_decoding)
    with pytest.raises(ImageRejected):
        hash_image(png_with_header(50_000, 50_000))


def test_hash_files_yields_one_result_per_path(tmp_path: Path) -> None:
    good = tmp_path / "good.png"
    good.write_bytes(encode(drawn((100, 80)), "PNG"))
    bad = tmp_path / "bad.jpg"
    bad.write_bytes(b"nope")
    results = dict(hash_files([good, bad, tmp_path / "missing.png", tmp_path]))
    assert isinstance(results[str(good)], ImageHashes)
    assert isinstance(results[str(bad)], ImageRejected)
    assert "No such file" in str(results[str(tmp_path / "missing.png")])
    assert "directory" in str(results[str(tmp_path)])
