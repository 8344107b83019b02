import io

import numpy as np
import pytest
import torch
from PIL import Image

from detection.detector.npr import npr_residual
from detection.detector.preprocess import (
    CROP_SIZE,
    ImageRejected,
    center_crop,
    crop_offset,
    image_load,
    image_to_rgb,
    images_to_batch,
    random_crop,
)
from tests.detection.detection_images import noise_image, upsampled_image


def test_crop_offset_is_centred_and_on_the_8_pixel_grid() -> None:
    for length in range(CROP_SIZE, 3000, 37):
        offset = crop_offset(length)
        assert offset % 8 == 0
        # Within one grid step of the exact centre.
        assert abs(offset - (length - CROP_SIZE) / 2) < 8


def test_center_crop_keeps_native_pixels() -> None:
    image = noise_image(1, (1000, 700))
    crop = center_crop(image)
    top, left = crop_offset(700), crop_offset(1000)
    assert crop.shape == (CROP_SIZE, CROP_SIZE, 3)
    assert np.array_equal(crop, image[top : top + CROP_SIZE, left : left + CROP_SIZE])


def test_small_image_is_padded_bottom_right_without_moving_its_origin() -> None:
    image = noise_image(2, (100, 60))
    crop = center_crop(image)
    assert crop.shape == (CROP_SIZE, CROP_SIZE, 3)
    assert np.array_equal(crop[:60, :100], image)
    # Reflection does not repeat the edge row, so no duplicated neighbours are created at the seam.
    assert np.array_equal(crop[60, :100], image[58])
    assert np.array_equal(crop[:60, 100], image[:, 98])


def test_one_pixel_image_is_scored_not_rejected() -> None:
    assert center_crop(np.zeros((1, 1, 3), np.uint8)).shape == (CROP_SIZE, CROP_SIZE, 3)


def test_random_crops_share_the_grid_phase() -> None:
    rng = np.random.default_rng(0)
    image = np.arange(512 * 512 * 3, dtype=np.int64).reshape(512, 512, 3).astype(np.uint8)
    for _ in range(20):
        crop = random_crop(image, 96, rng)
        assert crop.shape == (96, 96, 3)
    # Positions are multiples of 8: the crop's first pixel is a pixel whose row and column are multiples of 8.
    marker = np.zeros((512, 512, 3), np.uint8)
    marker[::8, ::8] = 255
    for _ in range(20):
        assert random_crop(marker, 96, rng)[0, 0, 0] == 255


@pytest.mark.parametrize("mode", ["L", "RGBA", "P", "CMYK", "I;16", "1", "LA"])
def test_any_pil_mode_becomes_rgb(mode: str) -> None:
    image = Image.fromarray(noise_image(3, (40, 30))).convert(mode)
    array = image_to_rgb(image)
    assert array.shape == (30, 40, 3) and array.dtype == np.uint8


def test_arrays_of_every_accepted_shape() -> None:
    grey = np.full((10, 12), 7, np.uint8)
    assert image_to_rgb(grey).shape == (10, 12, 3)
    assert image_to_rgb(grey[:, :, None]).shape == (10, 12, 3)
    rgba = np.zeros((10, 12, 4), np.uint8)
    assert image_to_rgb(rgba).shape == (10, 12, 3)


@pytest.mark.parametrize(
    "array",
    [np.zeros((10, 10, 3), np.float32), np.zeros((10, 10, 2), np.uint8), np.zeros((0, 10, 3), np.uint8)],
)
def test_bad_arrays_are_rejected_clearly(array: np.ndarray) -> None:
    with pytest.raises(ImageRejected):
        image_to_rgb(array)


def test_pil_and_array_inputs_give_the_same_crop() -> None:
    for size in ((1000, 700), (100, 60), (225, 231)):
        array = noise_image(7, size)
        from_pil = images_to_batch([Image.fromarray(array)])
        assert torch.equal(from_pil, images_to_batch([array]))
        assert torch.equal(from_pil[0].permute(1, 2, 0), torch.from_numpy(center_crop(array)))


def test_batch_is_uint8_nchw() -> None:
    batch = images_to_batch([noise_image(1), Image.fromarray(noise_image(2, (50, 50)))])
    assert batch.dtype == torch.uint8 and batch.shape == (2, 3, CROP_SIZE, CROP_SIZE)
    assert images_to_batch([]).shape == (0, 3, CROP_SIZE, CROP_SIZE)


@pytest.mark.parametrize("side", [5_000, 20_000])
def test_image_load_refuses_pixel_bombs_before_decoding(side: int) -> None:
    buffer = io.BytesIO()
    Image.new("1", (side, side)).save(buffer, "PNG")
    assert len(buffer.getvalue()) < 200_000  # small file, huge canvas
    with pytest.raises(ImageRejected, match="over the limit"):
        image_load(buffer.getvalue(), max_pixels=10_000_000)


@pytest.mark.parametrize("data", [b"", b"not an image", b"\x89PNG\r\n\x1a\n" + b"\x00" * 40])
def test_image_load_rejects_garbage(data: bytes) -> None:
    with pytest.raises(ImageRejected):
        image_load(data)


def test_image_load_rejects_truncated_jpeg() -> None:
    buffer = io.BytesIO()
    Image.fromarray(noise_image(4)).save(buffer, "JPEG")
    with pytest.raises(ImageRejected):
        image_load(buffer.getvalue()[: len(buffer.getvalue()) // 2])


def test_npr_residual_vanishes_on_nearest_upsampled_images_only() -> None:
    up = torch.from_numpy(upsampled_image(5, (64, 64))).permute(2, 0, 1)[None].float()
    real = torch.from_numpy(noise_image(5, (64, 64))).permute(2, 0, 1)[None].float()
    assert float(npr_residual(up).abs().max()) == 0.0
    assert float(npr_residual(real).abs().mean()) > 10.0
