"""`provenance_read(data)`: every provenance check on one file, each independent and bounded.

A broken or hostile file never raises: each part that cannot be read adds a line to `unreadable` and the
other checks still run. Bounds: the file size is checked first, pixel counts are checked from the header
before any decode, XMP is matched with length-limited patterns, Pillow caps text chunks, and the
watermark check runs only on images up to `watermark_max_pixels`.
"""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass

import numpy as np
from PIL import Image

from detection.provenance.c2pa_read import C2paUnavailable, c2pa_read
from detection.provenance.metadata import exif_signals, png_text_signals, xmp_signals
from detection.provenance.signals import ProvenanceReport, ProvenanceSignal
from detection.provenance.watermark import MIN_PIXELS, watermark_decode


@dataclass(frozen=True)
class ProvenanceLimits:
    max_bytes: int = 50 * 1024 * 1024
    max_pixels: int = 80_000_000
    watermark_max_pixels: int = 16_000_000
    # PEM bundle of C2PA trust anchors chosen by the operator; empty means no signer is "trusted".
    c2pa_trust_anchors_pem: str = ""


def provenance_read(data: bytes, *, limits: ProvenanceLimits | None = None, pixels: bool = True) -> ProvenanceReport:
    """Every check on one file. `pixels=False` reads only what the file says (C2PA, XMP/IPTC, generator metadata),
    not the watermark: what intake does on the original bytes before it removes the metadata."""
    limits = limits or ProvenanceLimits()
    report = ProvenanceReport()
    if len(data) > limits.max_bytes:
        report.unreadable.append(f"file: {len(data)} bytes, over the {limits.max_bytes}-byte limit")
        return report
    image = _open(data, report)
    mime = Image.MIME.get(image.format or "", "") if image is not None else ""
    report.format = image.format or "" if image is not None else ""

    try:
        signals, problem = c2pa_read(data, mime=mime, trust_anchors_pem=limits.c2pa_trust_anchors_pem)
        report.signals.extend(signals)
        if problem:
            report.unreadable.append(problem)
    except C2paUnavailable as exc:
        report.skipped.append(f"c2pa: {exc}")

    report.signals.extend(xmp_signals(data))
    if image is not None:
        _metadata(image, report)
        if pixels:
            _watermark(image, limits, report)
    return report


def _open(data: bytes, report: ProvenanceReport) -> Image.Image | None:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            return Image.open(io.BytesIO(data))
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        report.unreadable.append("image: pixel dimensions over Pillow's decompression-bomb limit")
        return None
    except (OSError, ValueError, SyntaxError) as exc:
        report.unreadable.append(f"image: not a decodable image ({type(exc).__name__})")
        return None


def _metadata(image: Image.Image, report: ProvenanceReport) -> None:
    signals: list[ProvenanceSignal] = []
    try:
        # PNG: `.text` also reads chunks after the image data; Pillow bounds their total size.
        text = getattr(image, "text", None) if image.format == "PNG" else None
        if isinstance(text, dict):
            signals.extend(png_text_signals(text))
        signals.extend(exif_signals(image))
    except (OSError, ValueError, SyntaxError, KeyError, TypeError, UnicodeDecodeError, OverflowError) as exc:
        report.unreadable.append(f"metadata: text chunks or EXIF are malformed ({type(exc).__name__})")
    report.signals.extend(signals)


def _watermark(image: Image.Image, limits: ProvenanceLimits, report: ProvenanceReport) -> None:
    width, height = image.size
    if width * height > min(limits.watermark_max_pixels, limits.max_pixels):
        report.skipped.append(f"watermark: {width}x{height} is over the {limits.watermark_max_pixels}-pixel budget")
        return
    if width * height < MIN_PIXELS:
        report.skipped.append("watermark: image smaller than 256x256 carries no Stable Diffusion mark")
        return
    try:
        rgb = np.asarray(image.convert("RGB"), dtype=np.uint8)
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as exc:
        report.unreadable.append(f"pixels: image data is truncated or corrupt ({type(exc).__name__})")
        return
    match = watermark_decode(rgb)
    if match is not None:
        report.signals.append(
            ProvenanceSignal(
                kind="watermark",
                strength="statistical",
                says_generated=True,
                summary=(
                    f"invisible watermark of {match.payload} decoded at "
                    f"{match.agreement:.0%} bit agreement ({match.bits} bits)"
                ),
                detail={
                    "payload": match.payload,
                    "agreement": round(match.agreement, 4),
                    "bits": match.bits,
                    "channel_order": match.channel_order,
                },
            )
        )
