"""Decoder for the invisible watermark Stable Diffusion's reference scripts embed (`invisible-watermark`'s
"dwtDct" method), in numpy only.

The PyPI package `invisible-watermark` depends on `opencv-python` (the GUI build) and an unpinned torch,
so instead of importing it this module re-implements its decoder: YUV conversion as OpenCV does it for
8-bit images, a one-level Haar DWT, and per 4x4 block of the LL band the largest non-DC coefficient's
magnitude modulo `scale` (36), above half the scale reading as 1. Bit k of an L-bit message is voted on
by every block whose row-major index is k mod L. tests/detection/test_watermark.py checks this decoder
against a file marked by the reference implementation.

Only the U channel carries the mark (the package's default scales are [0, 36, 36] but its loop stops at
channel 1). Stability's scripts hand OpenCV a BGR image; diffusers' SDXL watermarker hands it RGB as if
it were BGR, which swaps which colour difference is "U": both orders are tried.

A decode counts only at >= 90% bit agreement with a known payload. For a 48-bit payload, an unmarked
image (bits agreeing by chance, p = 0.5 each) reaches 44 of 48 with probability about 1e-9.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

SCALE = 36.0
BLOCK = 4
MIN_AGREEMENT = 0.90
# Smaller images are refused by the reference encoder, so they never carry the mark.
MIN_PIXELS = 256 * 256


def _bytes_to_bits(payload: bytes) -> tuple[int, ...]:
    return tuple(int(bit) for byte in payload for bit in f"{byte:08b}")


# Stability-AI/generative-models and diffusers (SDXL): a 48-bit integer message.
_SDXL_MESSAGE = 0b101100111110110010010000011110111011000110011110
KNOWN_PAYLOADS: dict[str, tuple[int, ...]] = {
    "Stable Diffusion XL (Stability AI / diffusers)": tuple(int(b) for b in bin(_SDXL_MESSAGE)[2:]),
    "Stable Diffusion 1.x (CompVis scripts)": _bytes_to_bits(b"StableDiffusionV1"),
    "Stable Diffusion 1.x inpainting (RunwayML scripts)": _bytes_to_bits(b"StableDiffusionV1-Inpainting"),
    "Stable Diffusion 2.x (Stability AI scripts)": _bytes_to_bits(b"SDV2"),
}


@dataclass(frozen=True)
class WatermarkMatch:
    payload: str
    agreement: float
    bits: int
    channel_order: str


def _u_channel(rgb: npt.NDArray[np.uint8], order: str) -> npt.NDArray[np.float64]:
    """OpenCV's COLOR_BGR2YUV U plane for uint8 input: round(0.492 * (B - Y) + 128), saturated."""
    r = rgb[:, :, 0].astype(np.float64)
    g = rgb[:, :, 1].astype(np.float64)
    b = rgb[:, :, 2].astype(np.float64)
    if order == "rgb-as-bgr":
        # The caller passed RGB to an API expecting BGR: OpenCV read R as "B" and B as "R".
        r, b = b, r
    y = 0.299 * r + 0.587 * g + 0.114 * b
    return np.clip(np.rint(0.492 * (b - y) + 128.0), 0, 255)


def _haar_ll(plane: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    """LL band of a one-level 2-D Haar DWT (pywt.dwt2(x, 'haar')[0]): each 2x2 block's sum / 2."""
    return (plane[0::2, 0::2] + plane[0::2, 1::2] + plane[1::2, 0::2] + plane[1::2, 1::2]) / 2.0


def _block_bits(ll: npt.NDArray[np.float64]) -> npt.NDArray[np.int8]:
    """One bit per 4x4 block of the LL band, in row-major block order."""
    rows, cols = ll.shape[0] // BLOCK, ll.shape[1] // BLOCK
    blocks = ll[: rows * BLOCK, : cols * BLOCK].reshape(rows, BLOCK, cols, BLOCK).swapaxes(1, 2)
    flat = blocks.reshape(rows * cols, BLOCK * BLOCK)
    position = np.argmax(np.abs(flat[:, 1:]), axis=1) + 1
    value = np.abs(flat[np.arange(flat.shape[0]), position])
    return (np.mod(value, SCALE) > 0.5 * SCALE).astype(np.int8)


def _vote(block_bits: npt.NDArray[np.int8], length: int) -> npt.NDArray[np.int8]:
    index = np.arange(block_bits.size) % length
    ones = np.bincount(index, weights=block_bits, minlength=length)
    counts = np.bincount(index, minlength=length)
    # The reference decoder thresholds the mean at 127/255, i.e. a strict majority of ones.
    return (ones / np.maximum(counts, 1) * 255 > 127).astype(np.int8)


def watermark_decode(rgb: npt.NDArray[np.uint8]) -> WatermarkMatch | None:
    """The known payload this HxWx3 uint8 RGB image carries at >= 90% bit agreement, or None."""
    height, width = rgb.shape[:2]
    if height * width < MIN_PIXELS:
        return None
    rgb = rgb[: height // 4 * 4, : width // 4 * 4]
    best: WatermarkMatch | None = None
    for order in ("bgr", "rgb-as-bgr"):
        bits = _block_bits(_haar_ll(_u_channel(rgb, order)))
        for name, payload in KNOWN_PAYLOADS.items():
            if bits.size < len(payload):
                continue
            decoded = _vote(bits, len(payload))
            agreement = float(np.mean(decoded == np.asarray(payload, dtype=np.int8)))
            if agreement >= MIN_AGREEMENT and (best is None or agreement > best.agreement):
                best = WatermarkMatch(name, agreement, len(payload), order)
    return best
