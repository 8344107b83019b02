"""Images drawn in code for the detection tests (a plain module: test files import it by name)."""

from __future__ import annotations

import io

import numpy as np
from PIL import Image


def noise_image(seed: int, size: tuple[int, int] = (300, 260)) -> np.ndarray:
    """Camera-like stand-in: every pixel independent, so no 2x2 block repeats a value."""
    return np.random.default_rng(seed).integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)


def upsampled_image(seed: int, size: tuple[int, int] = (300, 260)) -> np.ndarray:
    """Generator-like stand-in: noise at half size, nearest-neighbour up-sampled by 2."""
    half = noise_image(seed, (size[0] // 2, size[1] // 2))
    return half.repeat(2, axis=0).repeat(2, axis=1)


def png_bytes(array: np.ndarray, **save_args: object) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, "PNG", **save_args)
    return buffer.getvalue()


def jpeg_bytes(array: np.ndarray, **save_args: object) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, "JPEG", quality=92, **save_args)
    return buffer.getvalue()
