"""Image hashing: PDQ (bit-exact with Meta's reference), its 8 dihedral variants, pHash, dHash, SHA-256, MD5.

Pure library code: no Django. Everything goes through :func:`hash_image`, which takes the file's bytes and
either returns :class:`ImageHashes` or raises :class:`ImageRejected` with a message fit to show a person.
Untrusted bytes meet a large C decoder here, so every way a file can be bad ends in that one exception: not
an image, an unsupported format, zero bytes, truncated data, more pixels than :data:`MAX_PIXELS` (checked
from the header, before any decoding), more frames than :data:`MAX_FRAMES`, a corrupt EXIF block or ICC
profile.

Decisions, also in docs/hashing.md:

- **PDQ** is computed by Meta's C++ code through the ``pdqhash`` binding, on the image as Meta's reference
  prepares it: images larger than 512 px on a side are first shrunk as the reference does
  (:mod:`detection.downscale`); every other image is hashed at its own size. The result is bit-identical
  with Meta's reference hashes (``testdata/pdq/expected.csv``).
- **EXIF orientation is ignored**: every hash is of the pixels as stored, as Meta's reference, HMA and
  StopNCII hash them. A camera's rotated photo and its rotated copy therefore get different PDQ hashes; the
  eight dihedral variants cover exactly the eight orientations EXIF can express, so a matcher that compares
  a query against all eight of a bank hash finds the copy whichever way it is turned.
- **Transparency is dropped** (colour channels kept as stored), as the reference does.
- **Colour modes**: every Pillow mode is reduced to 8-bit RGB before PDQ. 16- and 32-bit greys (``I;16``,
  ``I``) keep their top 8 bits when they use more than 8, floats (``F``) are scaled from 0..1 when that is
  their range; everything else goes through Pillow's own conversion.
- **Animations and multi-page files**: the first frame is hashed.
- **pHash / dHash** are ``imagehash.phash`` / ``imagehash.dhash`` of the whole image (8x8, 64 bits, 16 hex
  characters), as partners compute them from the file.
"""

from __future__ import annotations

import hashlib
import io
import warnings
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import imagehash
import numpy as np
import pdqhash
import pillow_heif
from numpy.typing import NDArray
from PIL import Image, UnidentifiedImageError

from detection.downscale import reference_thumbnail

pillow_heif.register_heif_opener()

#: Largest file accepted, in bytes (the web layer applies its own, smaller limit to uploads).
MAX_FILE_BYTES = 64 * 1024 * 1024
#: Largest image accepted, in pixels, read from the header before decoding (a 64-megapixel photo is fine;
#: a 50,000 x 50,000 "decompression bomb" is not).
MAX_PIXELS = 64_000_000
#: Most frames or pages a file may declare; only the first is hashed.
MAX_FRAMES = 1_000
#: Formats we decode. Others Pillow knows (PSD, EPS, ICO, ...) are refused: less attack surface.
ALLOWED_FORMATS = ("JPEG", "PNG", "WEBP", "GIF", "TIFF", "BMP", "HEIF", "AVIF")

#: Order of :attr:`ImageHashes.pdq_dihedral`, as Meta's reference returns them.
DIHEDRAL_ORDER = ("original", "rotate90", "rotate180", "rotate270", "flipx", "flipy", "flipplus1", "flipminus1")


class ImageRejected(ValueError):
    """The bytes are not an image we can hash; ``message`` says why in words fit for the person uploading."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass(frozen=True, slots=True)
class ImageHashes:
    pdq: str  # 64 hex characters, 256 bits
    pdq_quality: int  # 0..100; below 50 the reference calls a hash unreliable
    pdq_dihedral: tuple[str, ...]  # 8 PDQ hashes in DIHEDRAL_ORDER; the first equals ``pdq``
    phash: str  # 16 hex characters, 64 bits
    dhash: str  # 16 hex characters, 64 bits
    sha256: str
    md5: str

    def as_dict(self) -> dict[str, object]:
        return {
            "pdq": self.pdq,
            "pdq_quality": self.pdq_quality,
            "pdq_dihedral": list(self.pdq_dihedral),
            "phash": self.phash,
            "dhash": self.dhash,
            "sha256": self.sha256,
            "md5": self.md5,
        }


def hash_image(data: bytes, *, max_pixels: int = MAX_PIXELS) -> ImageHashes:
    """Every hash of one image file. Raises :class:`ImageRejected` for anything that is not a usable image."""
    if not data:
        raise ImageRejected("The file is empty.")
    if len(data) > MAX_FILE_BYTES:
        raise ImageRejected(f"The file is larger than {MAX_FILE_BYTES // (1024 * 1024)} MB.")
    try:
        image = _open_checked(data, max_pixels)
        if image.mode in _WIDE_MODES:
            # Narrowed before any resizing: a resampling filter's overshoot must not change the scaling.
            image = Image.fromarray(_wide_to_grey(image), "L")
        hashes, quality = pdqhash.compute_dihedral(_rgb_array(reference_thumbnail(image, data)))
        grey = _grey(image)
        phash = str(imagehash.phash(grey))
        dhash = str(imagehash.dhash(grey))
    except ImageRejected:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise ImageRejected("The image has too many pixels.") from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, EOFError) as exc:
        raise ImageRejected(_describe(exc)) from None
    except MemoryError:
        raise ImageRejected("The image is too large to process.") from None
    except Exception:  # untrusted bytes in C decoders: any failure is a bad file, never a 500
        raise ImageRejected("The file could not be read as an image.") from None
    dihedral = tuple(_pdq_hex(vector) for vector in hashes)
    return ImageHashes(
        pdq=dihedral[0],
        pdq_quality=int(quality),
        pdq_dihedral=dihedral,
        phash=phash,
        dhash=dhash,
        sha256=hashlib.sha256(data).hexdigest(),
        md5=hashlib.md5(data, usedforsecurity=False).hexdigest(),
    )


def hash_files(paths: Iterable[str | Path]) -> Iterator[tuple[str, ImageHashes | ImageRejected]]:
    """Hash many files, one at a time (bounded memory): yields (path, hashes) or (path, the rejection)."""
    for path in paths:
        name = str(path)
        try:
            with open(path, "rb") as handle:
                data = handle.read(MAX_FILE_BYTES + 1)
        except IsADirectoryError:
            yield name, ImageRejected("This is a directory, not a file.")
            continue
        except FileNotFoundError:
            yield name, ImageRejected("No such file.")
            continue
        except OSError as exc:
            yield name, ImageRejected(f"The file could not be read ({exc.strerror or 'I/O error'}).")
            continue
        try:
            yield name, hash_image(data)
        except ImageRejected as rejected:
            yield name, rejected


def _open_checked(data: bytes, max_pixels: int) -> Image.Image:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        # Pillow's own bomb check only warns below twice its limit: we want an error.
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        # Pillow parses EXIF while opening a JPEG and only warns when it is corrupt.
        image = Image.open(io.BytesIO(data), formats=ALLOWED_FORMATS)
        width, height = image.size
        if width <= 0 or height <= 0:
            raise ImageRejected("The image has no pixels.")
        if width * height > max_pixels:
            raise ImageRejected(
                f"The image is {width} x {height} pixels; at most {max_pixels // 1_000_000} megapixels are accepted."
            )
        if getattr(image, "is_animated", False) or getattr(image, "n_frames", 1) > 1:
            # Count no further than the limit: a GIF's frame count is only known by walking every frame.
            try:
                image.seek(MAX_FRAMES)
            except EOFError:
                pass
            else:
                raise ImageRejected(f"The file holds more than {MAX_FRAMES} frames.")
            image.seek(0)
        _check_metadata(image)
    if any("exif" in str(warning.message).lower() for warning in caught):
        raise ImageRejected(_CORRUPT_EXIF)
    return image


_CORRUPT_EXIF = "The image carries corrupt EXIF metadata."


def icc_profile_valid(icc: object) -> bool:
    """Whether an embedded ICC profile has a sound header: its signature "acsp" at 36 and a big-endian size at 0
    that fits what is there (ICC.1:2010, 7.2). Upload checks (victims.images) use the same rule, so a file the
    form accepts is one this module will hash."""
    if not isinstance(icc, bytes) or len(icc) < 128 or icc[36:40] != b"acsp":
        return False
    return 128 <= int.from_bytes(icc[0:4], "big") <= len(icc)


def _check_metadata(image: Image.Image) -> None:
    """A corrupt EXIF block or ICC profile rejects the file: it is malformed, whatever its pixels."""
    icc = image.info.get("icc_profile")
    if icc and not icc_profile_valid(icc):
        raise ImageRejected("The image carries a corrupt colour profile (ICC).")
    if "exif" in image.info:
        try:
            image.getexif()
        except Exception:  # any parser failure means the same thing to the person
            raise ImageRejected(_CORRUPT_EXIF) from None


def _grey(image: Image.Image) -> Image.Image:
    """The whole image in 8-bit grey for pHash and dHash, converted as imagehash itself would."""
    try:
        return image.convert("L")
    except ValueError:  # a mode Pillow cannot take straight to grey
        return image.convert("RGB").convert("L")


def _rgb_array(image: Image.Image) -> NDArray[np.uint8]:
    rgb = image if image.mode == "RGB" else image.convert("RGB")
    return np.ascontiguousarray(np.asarray(rgb, dtype=np.uint8))


_WIDE_MODES = frozenset({"I;16", "I;16L", "I;16B", "I;16N", "I", "F"})


def _wide_to_grey(image: Image.Image) -> NDArray[np.uint8]:
    if image.mode == "F":
        values = np.nan_to_num(np.asarray(image, dtype=np.float64), nan=0.0, posinf=255.0, neginf=0.0)
        if values.size and float(values.max()) <= 1.0:
            values = values * 255.0  # a 0..1 float image
        return np.clip(np.round(values), 0, 255).astype(np.uint8)
    values = np.asarray(image.convert("I"), dtype=np.int64)
    top = int(values.max()) if values.size else 0
    if top > 65535:
        values = values * 255 // top
    elif top > 255:
        values = values // 256  # 16-bit grey: keep the top 8 bits
    return np.clip(values, 0, 255).astype(np.uint8)


def _pdq_hex(vector: NDArray[np.integer]) -> str:
    # The binding returns 256 bits, most significant first: pack them as Meta's hex strings are written.
    return np.packbits(np.asarray(vector, dtype=np.uint8)).tobytes().hex()


def _describe(exc: BaseException) -> str:
    text = str(exc).lower()
    if isinstance(exc, UnidentifiedImageError) or "cannot identify" in text:
        return "The file is not an image in a supported format (JPEG, PNG, WebP, GIF, TIFF, BMP, HEIC, AVIF)."
    if "truncated" in text or "premature end" in text or isinstance(exc, EOFError):
        return "The image file is truncated."
    if "decompression bomb" in text:
        return "The image has too many pixels."
    return "The image file is damaged and could not be decoded."
