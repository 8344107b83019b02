"""Deterministic preprocessing that keeps the traces an NPR detector looks for.

Up-sampling in a generator leaves correlations between neighbouring pixels on a fixed 2x2 (4x4, 8x8) grid
anchored at the image's top-left pixel; JPEG leaves its own 8x8 block grid anchored at the same place.
Resizing an image to 224x224 would interpolate every pixel and wipe both out (and a bilinear resize adds
up-sampling correlations of its own to *real* photos). So the model sees a crop at native resolution:

* the 224x224 window is centred, with its offset rounded down to a multiple of 8 so the crop starts on
  the source's 2x2/4x4/8x8 up-sampling phase and on its JPEG block grid, whatever the image size;
* an image smaller than 224 on a side is padded on the bottom/right only (origin kept) by mirroring
  without repeating the edge pixel ("reflect"), which adds no duplicated neighbours;
* EXIF orientation is deliberately not applied: rotating moves the grid's origin to another corner.
  The pixel grid as stored is the one the generator or camera wrote.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import numpy.typing as npt
import torch
from PIL import Image

from detection.detector.interface import ImageInput

CROP_SIZE = 224
GRID_ALIGN = 8
# Decoding more than this is refused before pixels are decoded (a 20 MB JPEG can claim 60k x 60k pixels).
DEFAULT_MAX_PIXELS = 80_000_000


class ImageRejected(ValueError):
    """The input is not an image we can score (undecodable, too large, wrong array shape or dtype)."""


def image_load(source: str | Path | bytes, *, max_pixels: int = DEFAULT_MAX_PIXELS) -> Image.Image:
    """Open and decode an image file with a pixel budget checked before decoding."""
    try:
        image = Image.open(io.BytesIO(source) if isinstance(source, bytes) else source)
        width, height = image.size
        if width * height > max_pixels:
            raise ImageRejected(f"image is {width}x{height} pixels, over the limit of {max_pixels}")
        image.load()
    except ImageRejected:
        raise
    except Image.DecompressionBombError as exc:
        # Pillow's own guard fires first on canvases far beyond any sane budget.
        raise ImageRejected(f"image is over the limit of {max_pixels} pixels") from exc
    except (OSError, ValueError, SyntaxError) as exc:
        raise ImageRejected(f"cannot decode image: {type(exc).__name__}") from exc
    return image


def image_to_rgb(image: ImageInput) -> npt.NDArray[np.uint8]:
    """Return an HxWx3 uint8 RGB array (alpha is dropped, grey is repeated on three channels)."""
    if isinstance(image, Image.Image):
        if image.mode != "RGB":
            image = image.convert("RGB")
        array = np.asarray(image, dtype=np.uint8)
    elif isinstance(image, np.ndarray):
        if image.dtype != np.uint8:
            raise ImageRejected(f"image arrays must be uint8, got {image.dtype}")
        array = image
        if array.ndim == 2:
            array = np.repeat(array[:, :, None], 3, axis=2)
        elif array.ndim == 3 and array.shape[2] == 1:
            array = np.repeat(array, 3, axis=2)
        elif array.ndim == 3 and array.shape[2] == 4:
            array = array[:, :, :3]
        elif not (array.ndim == 3 and array.shape[2] == 3):
            raise ImageRejected(f"image arrays must be HxW, HxWx1, HxWx3 or HxWx4, got {array.shape}")
    else:
        raise ImageRejected(f"unsupported image type {type(image).__name__}")
    if array.shape[0] == 0 or array.shape[1] == 0:
        raise ImageRejected("image has no pixels")
    return array


def crop_offset(length: int, size: int = CROP_SIZE, align: int = GRID_ALIGN) -> int:
    """Top (or left) offset of the centred window, rounded down onto the 8-pixel grid."""
    if length <= size:
        return 0
    return ((length - size) // 2) // align * align


def _pad_to(array: npt.NDArray[np.uint8], size: int) -> npt.NDArray[np.uint8]:
    pad_h = max(0, size - array.shape[0])
    pad_w = max(0, size - array.shape[1])
    if pad_h == 0 and pad_w == 0:
        return array
    # A one-pixel side cannot be mirrored; repeating it is the only option.
    if min(array.shape[0], array.shape[1]) > 1:
        return np.pad(array, ((0, pad_h), (0, pad_w), (0, 0)), mode="reflect")
    return np.pad(array, ((0, pad_h), (0, pad_w), (0, 0)), mode="edge")


def center_crop(array: npt.NDArray[np.uint8], size: int = CROP_SIZE) -> npt.NDArray[np.uint8]:
    """Grid-aligned centre crop at native resolution, padded if the image is smaller than `size`."""
    top = crop_offset(array.shape[0], size)
    left = crop_offset(array.shape[1], size)
    window = array[top : top + size, left : left + size]
    return np.ascontiguousarray(_pad_to(window, size))


def center_window(image: ImageInput, size: int = CROP_SIZE) -> npt.NDArray[np.uint8]:
    """The SxSx3 uint8 window the model scores. Scoring it again gives the same window (it is already SxS)."""
    if isinstance(image, Image.Image):
        # Cut the window before converting, so a 50-megapixel photo never becomes a full RGB array.
        width, height = image.size
        top, left = crop_offset(height, size), crop_offset(width, size)
        image = image.crop((left, top, min(width, left + size), min(height, top + size)))
    return center_crop(image_to_rgb(image), size)


def random_crop(
    array: npt.NDArray[np.uint8], size: int, rng: np.random.Generator, align: int = GRID_ALIGN
) -> npt.NDArray[np.uint8]:
    """Training crop: random position, same grid alignment as `center_crop` so train and test agree."""
    array = _pad_to(array, size)
    top = int(rng.integers(0, (array.shape[0] - size) // align + 1)) * align
    left = int(rng.integers(0, (array.shape[1] - size) // align + 1)) * align
    return np.ascontiguousarray(array[top : top + size, left : left + size])


def images_to_batch(images: Sequence[ImageInput], size: int = CROP_SIZE) -> torch.Tensor:
    """Stack images into an Nx3xSxS uint8 tensor (uint8 keeps host-to-device copies four times smaller)."""
    if len(images) == 0:
        return torch.empty((0, 3, size, size), dtype=torch.uint8)
    crops = np.stack([center_window(image, size) for image in images])
    return torch.from_numpy(crops).permute(0, 3, 1, 2)
