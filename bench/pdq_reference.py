"""Our PDQ against Meta's reference pipeline on JPEGs drawn here: how many files are bit-exact, and the worst.

Meta's reference hashes (testdata/pdq/expected.csv) come from its Python pipeline: Pillow opens the file,
`thumbnail((512, 512))` shrinks it (a JPEG through the JPEG library's reduced decoding), `convert("RGB")`, PDQ.
The JPEG library behind those hashes is IJG libjpeg 9 (docs/hashing.md): this script runs that pipeline with
the JPEG decoded by IJG libjpeg 9f (bench/ijg_reference_decoder.c, built outside this repository) and hashes
the result with the same pdqhash binding, then compares with `detection.hashing.hash_image` on the same bytes.

Run:  .venv/bin/python bench/pdq_reference.py --decoder /tmp/ijg-decode [--files 600] [--seed 1]
      (add --check-expected to first reproduce testdata/pdq/expected.csv with the reference pipeline)

The corpus covers what a victim's upload may be: sizes that need no shrinking, 1x shrinking after a full decode,
and 1/2, 1/4, 1/8 reduced decoding; chroma 4:4:4, 4:2:2, 4:2:0; baseline and progressive; grey; CMYK (Pillow
writes it with an Adobe marker); qualities 60-98; smooth and sharp drawings with noise. Never people.
"""

from __future__ import annotations

import argparse
import csv
import io
import random
import subprocess
import sys
import tempfile
from collections import Counter
from pathlib import Path

import numpy as np
import pdqhash
from PIL import Image, ImageDraw, ImageFilter

from detection.downscale import draft_scale, thumbnail_size
from detection.hashing import hash_image

TESTDATA = Path(__file__).resolve().parents[1].parent / "shared" / "testdata" / "pdq"
SIZES = [(96, 64), (200, 150), (333, 257), (511, 400), (512, 512), (640, 480), (900, 700), (1023, 800),
         (1100, 830), (1500, 1100), (2048, 1536), (2400, 1600), (4000, 3000), (4300, 2900)]


def drawn(width: int, height: int, rng: random.Random) -> Image.Image:
    image = Image.new("RGB", (width, height), tuple(rng.randrange(256) for _ in range(3)))
    draw = ImageDraw.Draw(image)
    for _ in range(rng.randrange(10, 60)):
        x0, y0 = rng.randrange(width), rng.randrange(height)
        x1 = min(width, x0 + rng.randrange(3, width // 2 + 4))
        box = [x0, y0, x1, min(height, y0 + rng.randrange(3, height // 2 + 4))]
        colour = tuple(rng.randrange(256) for _ in range(3))
        shape = rng.choice((draw.ellipse, draw.rectangle, draw.line))
        if shape is draw.line:
            draw.line(box, fill=colour, width=rng.randrange(1, 6))
        else:
            shape(box, fill=colour)
    if rng.random() < 0.4:
        image = image.filter(ImageFilter.GaussianBlur(rng.uniform(0.5, 4)))
    noise = np.random.default_rng(rng.randrange(1 << 30)).integers(-rng.randrange(1, 30), 30, (height, width, 3))
    return Image.fromarray(np.clip(np.asarray(image, np.int16) + noise, 0, 255).astype(np.uint8))


def corpus(count: int, seed: int) -> list[tuple[str, bytes]]:
    rng = random.Random(seed)
    files = []
    for index in range(count):
        width, height = rng.choice(SIZES)
        if rng.random() < 0.5:
            width, height = height, width
        image = drawn(width, height, rng)
        kind = rng.choices(("ycc", "grey", "cmyk"), weights=(8, 1, 1))[0]
        progressive = rng.random() < 0.5
        options: dict[str, object] = {"quality": rng.randrange(60, 99), "progressive": progressive}
        if kind == "grey":
            image = image.convert("L")
        elif kind == "cmyk":
            image = image.convert("CMYK")
        else:
            options["subsampling"] = rng.choice((0, 1, 2))
        out = io.BytesIO()
        image.save(out, "JPEG", **options)
        sub = f"-s{options['subsampling']}" if "subsampling" in options else ""
        files.append((f"{index:04d}-{kind}{sub}-{'prog' if progressive else 'base'}-{width}x{height}", out.getvalue()))
    return files


def reference_pdq(path: Path, decoder: str) -> str:
    image = Image.open(path)
    target = thumbnail_size(*image.size)
    if image.format == "JPEG":
        scale = draft_scale(image.size, target) if target != image.size else 1
        out = subprocess.run([decoder, str(path), str(scale)], capture_output=True, check=True).stdout
        head, raw = out.split(b"\n", 1)
        mode, width, height, _adobe = head.decode().split()
        size = (int(width), int(height))
        # Pillow reads every CMYK JPEG as Adobe-inverted ("CMYK;I": JpegImagePlugin assumes Adobe conventions).
        if mode == "CMYK":
            decoded = Image.frombytes(mode, size, raw, "raw", "CMYK;I")
        else:
            decoded = Image.frombytes(mode, size, raw)
    else:
        decoded = image
    if decoded.size != target:
        decoded = decoded.resize(target, Image.Resampling.BICUBIC)
    vector, _quality = pdqhash.compute(np.ascontiguousarray(np.asarray(decoded.convert("RGB"), dtype=np.uint8)))
    return np.packbits(np.asarray(vector, dtype=np.uint8)).tobytes().hex()


def bits(a: str, b: str) -> int:
    return bin(int(a, 16) ^ int(b, 16)).count("1")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--decoder", required=True, help="bench/ijg_reference_decoder.c built against IJG libjpeg 9f")
    parser.add_argument("--files", type=int, default=600)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--check-expected", action="store_true")
    parser.add_argument("--testdata", type=Path, default=TESTDATA, help="shared/testdata/pdq")
    args = parser.parse_args()
    if args.check_expected:
        rows = list(csv.DictReader(open(args.testdata / "expected.csv")))
        off = [r["file"] for r in rows if bits(reference_pdq(args.testdata / r["file"], args.decoder), r["pdq_hex"])]
        print(f"reference pipeline vs expected.csv: {len(rows) - len(off)}/{len(rows)} bit-exact {off or ''}")
    by_kind: dict[str, Counter[int]] = {}
    worst: list[tuple[int, str]] = []
    with tempfile.TemporaryDirectory() as folder:
        for name, data in corpus(args.files, args.seed):
            path = Path(folder) / f"{name}.jpg"
            path.write_bytes(data)
            distance = bits(reference_pdq(path, args.decoder), hash_image(data).pdq)
            kind = name.split("-", 1)[1].rsplit("-", 1)[0]
            by_kind.setdefault(kind, Counter())[distance] += 1
            if distance:
                worst.append((distance, name))
    total = sum(sum(c.values()) for c in by_kind.values())
    exact = sum(c[0] for c in by_kind.values())
    print(f"{'kind':<16} {'files':>6} {'bit-exact':>10} {'worst bits':>11}")
    for kind in sorted(by_kind):
        counts = by_kind[kind]
        print(f"{kind:<16} {sum(counts.values()):>6} {counts[0]:>10} {max(counts):>11}")
    print(f"all: {exact}/{total} files bit-exact; worst {max((d for d, _ in worst), default=0)} bits")
    for distance, name in sorted(worst, reverse=True)[:20]:
        print(f"  {distance:>3} bits  {name}")
    return 0 if exact == total else 1


if __name__ == "__main__":
    sys.exit(main())
