"""The reference's downscaling of large images before PDQ, reproduced so that our PDQ is bit-exact.

Meta's reference hashes (``pdq/data`` in ThreatExchange, our ``testdata/pdq/expected.csv``) come from its
Python reference, which shrinks any image larger than 512 px on a side with Pillow's classic ``thumbnail``
before hashing: a JPEG is first decoded at 1/2, 1/4 or 1/8 scale by the JPEG library itself (``draft``), then
resized with a bicubic filter to fit 512 x 512. Hashing the full-size image instead is 2 to 8 bits off.

The JPEG library matters too. The reference hashes were made with Pillow linked against IJG libjpeg 9, whose
decoding differs from the libjpeg-turbo in Pillow's wheels: integer inverse DCTs of every size from 1x1 to 16x16
(a 4x4 one at 1/2 scale, keeping only the low-frequency coefficients), subsampled chroma decoded straight at
the output size with a larger inverse DCT (16x16 for 4:2:0 at full size) where libjpeg-turbo upsamples, and its
own colour-space guess. On sharp images that moves the 64x64 PDQ input enough to flip bits. So every JPEG,
at full size or reduced, is decoded as IJG 9f decodes it: the quantised DCT coefficients are read with the
system libjpeg and IJG 9f's own inverse DCTs (fetched at build time, see scripts/fetch-ijg-idct.sh), upsampling
and colour conversion run in C (``detection/_jpegdct.c``). The pixels are then IJG 9f's, byte for byte.

Pillow still decodes the JPEGs we cannot decode as IJG 9f does (big-gamut RGB, which IJG 9f does not output as
RGB either), and every JPEG where the compiled decoder is missing (libjpeg headers or the fetched IJG file absent
at install time): within a few bits of the reference there.
"""

from __future__ import annotations

import io
import logging
from types import ModuleType

from PIL import Image, JpegImagePlugin

_jpegdct: ModuleType | None
try:
    from detection import _jpegdct
except ImportError:  # pragma: no cover - exercised only where the extension could not be built
    _jpegdct = None

logger = logging.getLogger(__name__)

#: The reference shrinks images whose width or height exceeds this, to fit within this square.
REFERENCE_MAX_SIDE = 512

_warned_fallback = False


def thumbnail_size(width: int, height: int) -> tuple[int, int]:
    """The size Pillow's classic ``thumbnail((512, 512))`` picks (truncating, aspect kept)."""
    x, y = width, height
    if x > REFERENCE_MAX_SIDE:
        y = int(max(y * REFERENCE_MAX_SIDE / x, 1))
        x = REFERENCE_MAX_SIDE
    if y > REFERENCE_MAX_SIDE:
        x = int(max(x * REFERENCE_MAX_SIDE / y, 1))
        y = REFERENCE_MAX_SIDE
    return x, y


def draft_scale(size: tuple[int, int], target: tuple[int, int]) -> int:
    """The reduced-decoding denominator (1, 2, 4 or 8) that classic ``draft`` picks for ``target``."""
    scale = min(size[0] // target[0], size[1] // target[1])
    for s in (8, 4, 2):
        if scale >= s:
            return s
    return 1


def reference_thumbnail(image: Image.Image, data: bytes) -> Image.Image:
    """The image as the reference hashes it: itself if it fits 512 x 512, else shrunk as described above.

    ``image`` is ``data`` opened by Pillow; it is left as it is (its full-size pixels are still needed). A JPEG is
    decoded again here, as IJG libjpeg 9f decodes it.
    """
    target = thumbnail_size(*image.size)
    scaled: Image.Image = image
    if isinstance(image, JpegImagePlugin.JpegImageFile):
        scale = draft_scale(image.size, target) if target != image.size else 1
        exact = _ijg_decode(data, scale)
        if exact is not None:
            scaled = exact
        elif target != image.size:
            # A second handle on the same bytes: draft() changes the image it is called on, and the caller
            # still needs the full-size one.
            scaled = Image.open(io.BytesIO(data))
            scaled.draft(None, target)
    if scaled.size == target:
        return scaled
    # Pillow resizes "1" and "P" images with nearest neighbour whatever is asked, as the reference's did.
    return scaled.resize(target, Image.Resampling.BICUBIC)


def _ijg_decode(data: bytes, scale: int) -> Image.Image | None:
    """The JPEG decoded at 1/scale as IJG libjpeg 9f does, or None where we cannot (see module docstring)."""
    global _warned_fallback
    if _jpegdct is None:
        if not _warned_fallback:
            logger.warning("detection._jpegdct is not built: PDQ of JPEGs may differ from the reference")
            _warned_fallback = True
        return None
    decoded = _jpegdct.decode(data, scale)
    if decoded is None:
        return None
    mode, width, height, pixels = decoded
    # Pillow reads every 4-component JPEG as Adobe-inverted CMYK (JpegImagePlugin: "assume adobe conventions").
    rawmode = "CMYK;I" if mode == "CMYK" else mode
    return Image.frombytes(mode, (width, height), pixels, "raw", rawmode)
