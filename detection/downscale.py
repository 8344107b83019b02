"""The reference's downscaling of large images before PDQ, reproduced so that our PDQ is bit-exact.

Meta's reference hashes (``pdq/data`` in ThreatExchange, our ``testdata/pdq/expected.csv``) come from its
Python reference, which shrinks any image larger than 512 px on a side with Pillow's classic ``thumbnail``
before hashing: a JPEG is first decoded at 1/2, 1/4 or 1/8 scale by the JPEG library itself (``draft``), then
resized with a bicubic filter to fit 512 x 512. Hashing the full-size image instead is 2 to 8 bits off.

The JPEG library matters too. The reference hashes were made with the IJG library (version 7 or later), whose
reduced-size decoding keeps only the low-frequency DCT coefficients of each block (a 4x4 inverse DCT at 1/2
scale) and decodes subsampled chroma straight at the output size with a larger inverse DCT. Pillow's wheels
ship libjpeg-turbo, whose reduced decoding uses a different inverse DCT; on sharp images that moves the
64x64 PDQ input enough to flip bits (2 bits on one reference image). So for a JPEG we read the quantised
DCT coefficients with the system libjpeg and run the IJG-style reduced inverse DCT and colour conversion in
C (``detection/_jpegdct.c``). That gives 0 bits on every reference image.

Without the compiled reader (libjpeg headers missing at install time), and for CMYK/YCCK JPEGs, Pillow's own
reduced decoding is used: within a few bits of the reference, not bit-exact.
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

    ``image`` is ``data`` opened by Pillow; it is left as it is (its full-size pixels are still needed).
    """
    target = thumbnail_size(*image.size)
    if target == image.size:
        return image
    scaled: Image.Image = image
    if isinstance(image, JpegImagePlugin.JpegImageFile):
        scale = draft_scale(image.size, target)
        exact = _ijg_reduced_decode(data, scale) if scale > 1 else None
        if exact is not None:
            scaled = exact
        else:
            # A second handle on the same bytes: draft() changes the image it is called on, and the caller
            # still needs the full-size one.
            scaled = Image.open(io.BytesIO(data))
            scaled.draft(None, target)
    # Pillow resizes "1" and "P" images with nearest neighbour whatever is asked, as the reference's did.
    return scaled.resize(target, Image.Resampling.BICUBIC)


def _ijg_reduced_decode(data: bytes, scale: int) -> Image.Image | None:
    """The JPEG decoded at 1/scale as IJG libjpeg 7+ does, or None where we cannot (see module docstring)."""
    global _warned_fallback
    if _jpegdct is None:
        if not _warned_fallback:
            logger.warning("detection._jpegdct is not built: PDQ of large JPEGs may differ from the reference")
            _warned_fallback = True
        return None
    decoded = _jpegdct.reduced_decode(data, scale)
    if decoded is None:
        return None  # CMYK / YCCK: Pillow's reduced decoding is close enough
    mode, width, height, pixels = decoded
    return Image.frombytes(mode, (width, height), pixels)
