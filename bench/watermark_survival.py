"""Does the Stable Diffusion watermark still decode after what happens to a deepfake on its way to a feed?

    python bench/watermark_survival.py

Takes the files marked by the reference encoder (`invisible-watermark` 0.2.0, tests/detection/fixtures/wm_*.png,
made by tests/detection/fixtures/make_watermark_fixtures.py) and the unmarked control, applies each degradation,
and reports whether `watermark_decode` still finds the mark (and its bit agreement). Pure numpy + Pillow.
Only three marked files exist here, 256x256 each (no encoder is a dependency), so each cell is a count out of three,
not a rate; and any resize down or crop of these files falls under the decoder's 256x256 floor, so for those rows
the raw bit agreement (printed beside) is what shows whether the mark itself survived.
"""

from __future__ import annotations

import io
import os
from collections.abc import Callable
from pathlib import Path

import numpy as np
from PIL import Image

from detection.provenance.watermark import KNOWN_PAYLOADS, _block_bits, _haar_ll, _u_channel, _vote, watermark_decode

FIXTURES = Path(__file__).resolve().parents[1] / "tests" / "detection" / "fixtures"
MARKED = ("wm_sdxl_bgr.png", "wm_sdxl_rgb.png", "wm_sd1_bgr.png")
CONTROL = "wm_none.png"


def _jpeg(quality: int) -> Callable[[Image.Image], Image.Image]:
    def apply(image: Image.Image) -> Image.Image:
        buffer = io.BytesIO()
        image.save(buffer, "JPEG", quality=quality)
        return Image.open(io.BytesIO(buffer.getvalue())).convert("RGB")

    return apply


def _resize(factor: float) -> Callable[[Image.Image], Image.Image]:
    def apply(image: Image.Image) -> Image.Image:
        width, height = image.size
        return image.resize((round(width * factor), round(height * factor)), Image.Resampling.BICUBIC)

    return apply


def _crop(left: int, top: int, keep: float) -> Callable[[Image.Image], Image.Image]:
    def apply(image: Image.Image) -> Image.Image:
        width, height = image.size
        return image.crop((left, top, left + round(width * keep), top + round(height * keep)))

    return apply


CONDITIONS: dict[str, Callable[[Image.Image], Image.Image]] = {
    "as made (PNG)": lambda image: image,
    "JPEG q95": _jpeg(95),
    "JPEG q90": _jpeg(90),
    "JPEG q75": _jpeg(75),
    "resize x0.9 (bicubic)": _resize(0.9),
    "resize x0.75": _resize(0.75),
    "resize x0.5": _resize(0.5),
    "crop 90% from the top-left corner": _crop(0, 0, 0.9),
    "crop 90%, offset 8 px (block-aligned)": _crop(8, 8, 0.9),
    "crop 90%, offset 5 px": _crop(5, 5, 0.9),
    "crop 50%, offset 8 px": _crop(8, 8, 0.5),
}


def _raw_agreement(rgb: np.ndarray) -> float:
    """Best bit agreement with any known payload, without the decoder's size floor or 90% bar (for reading how
    far a degradation moved the bits: 50% is chance)."""
    rgb = rgb[: rgb.shape[0] // 4 * 4, : rgb.shape[1] // 4 * 4]
    best = 0.0
    for order in ("bgr", "rgb-as-bgr"):
        bits = _block_bits(_haar_ll(_u_channel(rgb, order)))
        for payload in KNOWN_PAYLOADS.values():
            if bits.size >= len(payload):
                decoded = _vote(bits, len(payload))
                best = max(best, float(np.mean(decoded == np.asarray(payload, dtype=np.int8))))
    return best


def _decode(image: Image.Image) -> str:
    """"D" when the production decoder finds the mark, then the raw best agreement."""
    rgb = np.asarray(image.convert("RGB"), dtype=np.uint8)
    found = watermark_decode(rgb) is not None
    return f"{'D' if found else '-'}{_raw_agreement(rgb):.0%}"


def main() -> None:
    marked = [Image.open(FIXTURES / name).convert("RGB") for name in MARKED]
    control = Image.open(FIXTURES / CONTROL).convert("RGB")
    print(f"marked files: {', '.join(MARKED)} ({marked[0].size[0]}x{marked[0].size[1]}); control: {CONTROL}")
    print(f"load average {os.getloadavg()[0]:.2f}; D = decoded by watermark_decode, - = not; then the best raw bit "
          "agreement with any known payload (50% = chance; the decoder needs 90% and at least 256x256 pixels)")
    print(f"{'condition':<40} {'decoded':>8}  {'per file (raw agreement)':<28} {'control':>8}")
    for name, transform in CONDITIONS.items():
        cells = [_decode(transform(image)) for image in marked]
        found = sum(cell.startswith("D") for cell in cells)
        print(f"{name:<40} {found:>6}/{len(marked)}  {' '.join(f'{c:>5}' for c in cells):<28} "
              f"{_decode(transform(control)):>8}")


if __name__ == "__main__":
    main()
