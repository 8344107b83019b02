"""Checking uploaded images in the request, and removing what they say about where and how they were taken.

`image_inspect` decides quickly, before anything is stored, whether a file is an image we can work with, so a
person sees a clear message on the form instead of a failed case later: empty, too big, not an image, an
unsupported format, damaged or cut short, or a decompression bomb (a small file that would unpack to an
enormous picture) are each refused with their own message.

`image_provenance_findings` reads, from the original bytes in memory and before anything is removed, what the
file says about its own origin (a C2PA manifest, an IPTC DigitalSourceType claim in XMP, generator metadata such as
Software, CreatorTool or PNG generation parameters) and keeps only those findings: the generator or tool named, the
claim, the C2PA signer and whether it is trusted. Camera make and model, GPS, dates and every other tag are never
read into a finding, and prompts are never copied (detection.provenance.signals).

`image_strip_metadata` returns the bytes that are kept. JPEG and PNG are rewritten segment by segment, without
re-encoding, so the pixels (and the PDQ hash) stay exactly those of the original: every EXIF block (GPS,
camera, dates, thumbnails that may show the uncropped picture), XMP, IPTC, comments, maker notes, multi-picture
extras and anything after the end of the image are dropped. If the EXIF orientation was not "upright", a
minimal EXIF block holding only the orientation is written back so the image still displays the right way up.
WebP and GIF are decoded and saved as PNG: their first frame's pixels are kept exactly, metadata and further
animation frames are not. An animated PNG likewise keeps only its default image.
"""

from __future__ import annotations

import io
import struct
import warnings
from dataclasses import dataclass
from typing import Any

from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _
from PIL import Image, UnidentifiedImageError

ACCEPTED_FORMATS = {"JPEG": "image/jpeg", "PNG": "image/png", "WEBP": "image/webp", "GIF": "image/gif"}
# 64 megapixels (e.g. 8000 x 8000) decodes in about 200 MB; more is refused before any pixel is decoded.
MAX_PIXELS = 64_000_000
ORIENTATION_TAG = 0x0112


class ImageRefused(ValueError):
    def __init__(self, message: str | Promise, *, code: str) -> None:
        super().__init__(str(message))
        self.message = message
        self.code = code


def _icc_profile_valid(icc: object) -> bool:
    """detection.hashing.icc_profile_valid's rule (hashing refuses a file that breaks it), kept here so the web
    process does not import the hashing stack: signature "acsp" at 36, a declared size that fits (ICC.1:2010)."""
    if not isinstance(icc, bytes) or len(icc) < 128 or icc[36:40] != b"acsp":
        return False
    return 128 <= int.from_bytes(icc[0:4], "big") <= len(icc)


@dataclass(frozen=True)
class InspectedImage:
    format: str
    media_type: str
    width: int
    height: int


def image_inspect(data: bytes, *, max_bytes: int) -> InspectedImage:
    """Check that `data` is a whole, decodable image of an accepted format and size, or raise ImageRefused."""
    if not data:
        raise ImageRefused(_("This file is empty."), code="empty")
    if len(data) > max_bytes:
        raise ImageRefused(_("This file is larger than %(mb)d MB.") % {"mb": max_bytes // (1024 * 1024)},
                           code="too-large")
    try:
        with warnings.catch_warnings():
            # Pillow only warns between its two limits; anything it warns about is refused here.
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as image:
                fmt = image.format or ""
                width, height = image.size
                if fmt not in ACCEPTED_FORMATS:
                    raise ImageRefused(_("This kind of image is not accepted. Use JPEG, PNG, WebP or GIF."),
                                       code="format")
                if width * height > MAX_PIXELS:
                    raise ImageRefused(_("This image is too large in width and height to process."), code="bomb")
                if fmt == "JPEG":
                    # Decoding at an eighth of the size still reads every scan, so a cut-off file is caught.
                    image.draft("RGB", (max(1, width // 8), max(1, height // 8)))
                image.load()
            icc = image.info.get("icc_profile")
            if icc and not _icc_profile_valid(icc):
                # Stripping keeps the colour profile, and hashing refuses a broken one: say so now, not later.
                raise ImageRefused(_("This image's colour profile is damaged. Try saving it again."),
                                   code="damaged")
            if fmt in ("JPEG", "PNG"):
                # Stripping walks the file's segments itself and is stricter than Pillow, which forgives a
                # segment running past the end or a missing IEND: such a file is refused here, on the form,
                # instead of failing (a 500) when the report is stored.
                image_strip_metadata(data, fmt=fmt)
    except ImageRefused:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise ImageRefused(_("This image is too large in width and height to process."), code="bomb") from None
    except UnidentifiedImageError:
        raise ImageRefused(_("This file is not an image we can read. Use JPEG, PNG, WebP or GIF."),
                           code="not-image") from None
    except (OSError, SyntaxError, ValueError, EOFError, struct.error, IndexError, MemoryError):
        raise ImageRefused(_("This image is damaged or incomplete. Try saving it again."), code="damaged") from None
    return InspectedImage(format=fmt, media_type=ACCEPTED_FORMATS[fmt], width=width, height=height)


def image_provenance_findings(data: bytes) -> dict[str, Any]:
    """What the original file says about its origin (ProvenanceReport.as_dict(): signals, unreadable parts), read
    before its metadata is stripped. No pixel checks: the stored copy keeps the same pixels and they run there."""
    from detection.provenance import provenance_read
    from detection.services import provenance_limits

    report = provenance_read(data, limits=provenance_limits(), pixels=False).as_dict()
    return {"format": report["format"], "signals": report["signals"], "unreadable": report["unreadable"],
            "skipped": [line for line in report["skipped"] if not line.startswith("watermark")]}


@dataclass(frozen=True)
class StrippedImage:
    data: bytes
    media_type: str


def image_strip_metadata(data: bytes, *, fmt: str) -> StrippedImage:
    if fmt == "JPEG":
        return StrippedImage(_jpeg_strip(data), "image/jpeg")
    if fmt == "PNG":
        return StrippedImage(_png_strip(data), "image/png")
    return StrippedImage(_reencode_png(data), "image/png")


# --- JPEG ---------------------------------------------------------------------------------------------------

_SOI, _EOI, _SOS = 0xD8, 0xD9, 0xDA
# Markers without a length field: TEM and the restart markers.
_STANDALONE = {0x01, *range(0xD0, 0xD8)}


def _jpeg_keeps(marker: int, payload: bytes) -> bool:
    if marker == 0xE0:
        return payload.startswith(b"JFIF\x00")  # not JFXX, which may carry a thumbnail
    if marker == 0xE2:
        return payload.startswith(b"ICC_PROFILE\x00")  # colour; not MPF, which points at extra pictures
    if marker == 0xEE:
        return payload.startswith(b"Adobe")  # tells the decoder the colour transform
    # Every other APPn (EXIF, XMP, IPTC, maker data) and COM goes; all non-APP segments are the image.
    return not (0xE0 <= marker <= 0xEF or marker == 0xFE)


def _jpeg_orientation(data: bytes) -> int:
    try:
        with Image.open(io.BytesIO(data)) as image:
            value = image.getexif().get(ORIENTATION_TAG, 1)
    except Exception:  # unreadable EXIF is metadata we drop anyway
        return 1
    return value if isinstance(value, int) and 1 <= value <= 8 else 1


def _orientation_segment(orientation: int) -> bytes:
    exif = Image.Exif()
    exif[ORIENTATION_TAG] = orientation
    payload = exif.tobytes()
    if not payload.startswith(b"Exif\x00\x00"):
        payload = b"Exif\x00\x00" + payload
    return b"\xff\xe1" + struct.pack(">H", len(payload) + 2) + payload


def _jpeg_entropy_end(data: bytes, start: int) -> int:
    """Index of the first marker after entropy-coded data (skipping stuffed bytes and restart markers)."""
    index = start
    length = len(data)
    while index < length - 1:
        if data[index] == 0xFF:
            following = data[index + 1]
            if following == 0x00 or 0xD0 <= following <= 0xD7 or following == 0xFF:
                index += 1 if following == 0xFF else 2
                continue
            return index
        index += 1
    raise ValueError("JPEG ends inside its image data")


def _jpeg_strip(data: bytes) -> bytes:
    if data[:2] != b"\xff\xd8":
        raise ValueError("not a JPEG")
    orientation = _jpeg_orientation(data)
    out = bytearray(b"\xff\xd8")
    inserted_orientation = orientation == 1
    index = 2
    length = len(data)
    while index < length:
        if data[index] != 0xFF:
            raise ValueError("JPEG segment expected")
        marker = data[index + 1]
        if marker == 0xFF:  # fill byte
            index += 1
            continue
        if marker == _EOI:
            out += b"\xff\xd9"
            return bytes(out)  # whatever follows the image (appended pictures, archives) is not kept
        if marker in _STANDALONE:
            out += data[index: index + 2]
            index += 2
            continue
        (size,) = struct.unpack(">H", data[index + 2: index + 4])
        segment_end = index + 2 + size
        if size < 2 or segment_end > length:
            raise ValueError("JPEG segment runs past the end")
        payload = data[index + 4: segment_end]
        if not inserted_orientation and not (marker == 0xE0 and payload.startswith(b"JFIF\x00")):
            out += _orientation_segment(orientation)
            inserted_orientation = True
        if _jpeg_keeps(marker, payload):
            out += data[index:segment_end]
        index = segment_end
        if marker == _SOS:
            scan_end = _jpeg_entropy_end(data, index)
            out += data[index:scan_end]
            index = scan_end
    raise ValueError("JPEG has no end marker")


# --- PNG ----------------------------------------------------------------------------------------------------

_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
# Chunks that describe the default image's pixels; text, time and eXIf chunks are dropped, and so are APNG's
# animation chunks (acTL, fcTL, fdAT): as for GIF and WebP only the first picture is kept, and an acTL may
# declare billions of frames, which hashing then refuses.
_PNG_KEEP = {b"IHDR", b"PLTE", b"IDAT", b"IEND", b"tRNS", b"gAMA", b"cHRM", b"sRGB", b"iCCP", b"sBIT",
             b"bKGD", b"pHYs", b"cICP"}


def _png_strip(data: bytes) -> bytes:
    if not data.startswith(_PNG_SIGNATURE):
        raise ValueError("not a PNG")
    out = bytearray(_PNG_SIGNATURE)
    index = len(_PNG_SIGNATURE)
    while index + 8 <= len(data):
        (size,) = struct.unpack(">I", data[index: index + 4])
        kind = data[index + 4: index + 8]
        chunk_end = index + 12 + size
        if chunk_end > len(data):
            raise ValueError("PNG chunk runs past the end")
        if kind in _PNG_KEEP:
            out += data[index:chunk_end]
        index = chunk_end
        if kind == b"IEND":
            return bytes(out)
    raise ValueError("PNG has no end chunk")


def _reencode_png(data: bytes) -> bytes:
    with Image.open(io.BytesIO(data)) as image:
        image.seek(0)
        frame = image.copy()
    if frame.mode not in {"1", "L", "LA", "P", "RGB", "RGBA", "I", "I;16"}:
        frame = frame.convert("RGBA" if "A" in frame.getbands() else "RGB")
    out = io.BytesIO()
    # No pnginfo, no exif, no icc_profile arguments: nothing but pixels (and the palette) is written.
    frame.save(out, "PNG", optimize=False)
    return out.getvalue()
