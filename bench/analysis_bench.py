"""What the `gpu` worker spends per image: provenance reading and the detector, as `images_analyse` runs them.

    python bench/analysis_bench.py                      # detector off, then on (NPR width 16, random weights), CPU
    python bench/analysis_bench.py --width 64 --device cuda

Images are drawn in code (shapes and noise, never people), saved as JPEG (quality 90) and PNG at the given sizes,
as intake stores them (no metadata). Per configuration it prints images/s over all files and the share of the
time spent in provenance (C2PA, XMP, PNG text, EXIF, the watermark decode), which runs on the CPU even when the
detector runs on a GPU. Decryption of the stored file is not included (AES-GCM runs at GB/s).
"""

from __future__ import annotations

import argparse
import io
import os
import sys
import time
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from detection.detector.interface import Detector, DisabledDetector
from detection.detector.npr import NPRNet
from detection.detector.runtime import TorchDetector, device_resolve, precision_resolve
from detection.provenance.c2pa_read import c2pa_read
from detection.provenance.metadata import xmp_signals
from detection.provenance.reader import ProvenanceLimits, provenance_read
from detection.provenance.watermark import watermark_decode
from detection.verdict import images_analyse


def drawn(seed: int, size: tuple[int, int], fmt: str) -> bytes:
    rng = np.random.default_rng(seed)
    image = Image.fromarray(rng.integers(0, 256, (size[1] // 8, size[0] // 8, 3), dtype=np.uint8)).resize(size)
    draw = ImageDraw.Draw(image)
    for _ in range(20):
        x0, y0 = int(rng.integers(0, size[0])), int(rng.integers(0, size[1]))
        draw.ellipse((x0, y0, x0 + 200, y0 + 150), fill=tuple(int(v) for v in rng.integers(0, 256, 3)))
    out = io.BytesIO()
    image.save(out, fmt, **({"quality": 90} if fmt == "JPEG" else {}))
    return out.getvalue()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--width", type=int, default=16)
    parser.add_argument("--sizes", default="1024x768,2048x1536", help="comma-separated WxH")
    parser.add_argument("--files", type=int, default=8, help="files per size and format")
    parser.add_argument("--batch", type=int, default=32, help="images per images_analyse call (a task's batch)")
    args = parser.parse_args()

    files: list[bytes] = []
    for spec in args.sizes.split(","):
        width, height = (int(v) for v in spec.split("x"))
        for index in range(args.files):
            files += [drawn(index, (width, height), "JPEG"), drawn(index, (width, height), "PNG")]
    limits = ProvenanceLimits()
    device = device_resolve(args.device)
    precision = precision_resolve("auto", device)
    detectors: dict[str, Detector] = {
        "detector off": DisabledDetector("benchmark"),
        f"detector on (NPR width {args.width}, {device.type}, {precision})": TorchDetector(
            NPRNet(width=args.width), device=device, precision=precision, batch_size=args.batch, threshold=0.5,
            architecture="npr", weights_sha256="random"),
    }
    print(f"{len(files)} files ({args.sizes}; JPEG q90 and PNG), {sum(map(len, files)) / 1e6:.1f} MB; "
          f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f}")
    began = time.perf_counter()
    for data in files:
        provenance_read(data, limits=limits)
    provenance_seconds = time.perf_counter() - began
    print(f"provenance alone: {len(files) / provenance_seconds:.1f} images/s "
          f"({1000 * provenance_seconds / len(files):.0f} ms per image)")
    parts = {
        "C2PA": lambda data: c2pa_read(data, mime=Image.MIME[Image.open(io.BytesIO(data)).format or ""]),
        "XMP": xmp_signals,
        "decode to RGB": lambda data: np.asarray(Image.open(io.BytesIO(data)).convert("RGB")),
        "decode + watermark": lambda data: watermark_decode(np.asarray(Image.open(io.BytesIO(data)).convert("RGB"))),
    }
    for part, run in parts.items():
        began = time.perf_counter()
        for data in files:
            run(data)
        print(f"  {part}: {1000 * (time.perf_counter() - began) / len(files):.1f} ms per image")
    for name, detector in detectors.items():
        images_analyse(files[:2], detector=detector, limits=limits)  # warm-up
        began = time.perf_counter()
        for start in range(0, len(files), args.batch):
            images_analyse(files[start : start + args.batch], detector=detector, limits=limits)
        seconds = time.perf_counter() - began
        print(f"{name}: {len(files) / seconds:.1f} images/s ({1000 * seconds / len(files):.0f} ms per image; "
              f"provenance about {min(100.0, 100 * provenance_seconds / seconds):.0f}% of it)")
    print(f"load average after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
