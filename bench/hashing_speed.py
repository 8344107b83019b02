"""Hashing speed: the full hash set of a 1-megapixel JPEG, decoding included, on one core.

Run:  taskset -c 0 .venv/bin/python bench/hashing_speed.py [--rounds 60]

Prints the median and p90 over --rounds of: `detection.hashing.hash_image` (everything: open, checks, PDQ with
its 8 dihedral variants through the reference's downscaling, pHash, dHash, SHA-256, MD5); PDQ alone on our
path (reduced JPEG decode + reference thumbnail + pdqhash.compute_dihedral); and the binding called directly
the naive way (Pillow full decode to RGB, then `pdqhash.compute`), for comparison.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import os
import statistics
import time
from collections.abc import Callable

import imagehash
import numpy as np
import pdqhash
from PIL import Image, ImageDraw, ImageFilter

from detection.downscale import reference_thumbnail
from detection.hashing import hash_image


def drawn_jpeg(width: int = 1155, height: int = 866, seed: int = 1) -> bytes:
    """A photo-like drawn picture (gradients, shapes, noise): about 1 megapixel."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width]
    base = np.stack([(x * 255 // width), (y * 255 // height), ((x + y) * 127 // (width + height))], axis=-1)
    noise = rng.normal(0, 12, size=(height, width, 3))
    image = Image.fromarray(np.clip(base + noise, 0, 255).astype(np.uint8), "RGB")
    draw = ImageDraw.Draw(image)
    for _ in range(40):
        x0, y0 = int(rng.integers(0, width)), int(rng.integers(0, height))
        draw.ellipse((x0, y0, x0 + int(rng.integers(20, 300)), y0 + int(rng.integers(20, 300))),
                     fill=tuple(int(v) for v in rng.integers(0, 255, 3)))
    image = image.filter(ImageFilter.GaussianBlur(1))
    out = io.BytesIO()
    image.save(out, "JPEG", quality=90)
    return out.getvalue()


def timed(function: Callable[[], object], rounds: int) -> tuple[float, float]:
    function()  # warm
    samples = []
    for _ in range(rounds):
        start = time.perf_counter()
        function()
        samples.append((time.perf_counter() - start) * 1000)
    samples.sort()
    return statistics.median(samples), samples[int(len(samples) * 0.9) - 1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=60)
    args = parser.parse_args()
    data = drawn_jpeg()
    with Image.open(io.BytesIO(data)) as probe:
        size = probe.size

    def pdq_ours() -> None:
        image = Image.open(io.BytesIO(data))
        pdqhash.compute_dihedral(np.asarray(reference_thumbnail(image, data).convert("RGB")))

    def pdq_binding_naive() -> None:
        pdqhash.compute(np.asarray(Image.open(io.BytesIO(data)).convert("RGB")))

    def decode_full() -> None:
        Image.open(io.BytesIO(data)).convert("RGB")

    def phash_dhash() -> None:
        grey = Image.open(io.BytesIO(data)).convert("L")
        imagehash.phash(grey)
        imagehash.dhash(grey)

    def digests() -> None:
        hashlib.sha256(data).hexdigest()
        hashlib.md5(data, usedforsecurity=False).hexdigest()

    print(f"image: drawn JPEG {size[0]}x{size[1]} ({size[0] * size[1] / 1e6:.2f} MP, {len(data) // 1024} KiB); "
          f"cpu affinity {sorted(os.sched_getaffinity(0))}; load average {os.getloadavg()[0]:.2f}")
    print(f"{'what':<62} {'median ms':>10} {'p90 ms':>8}")
    for label, function in (
        ("hash_image: full hash set (PDQ + 8 dihedral, pHash, dHash, SHA-256, MD5)", lambda: hash_image(data)),
        ("PDQ alone, our path (reduced decode + reference thumbnail + 8 variants)", pdq_ours),
        ("pdqhash.compute directly on a full Pillow decode (the naive way)", pdq_binding_naive),
        ("  of which: full JPEG decode to RGB", decode_full),
        ("pHash + dHash (imagehash, greyscale decode included)", phash_dhash),
        ("SHA-256 + MD5 of the file", digests),
    ):
        median, p90 = timed(function, args.rounds)
        print(f"{label:<62} {median:>10.2f} {p90:>8.2f}")
    print(f"load average after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
