"""Where browser hashing and the server can differ: bits between pdq.js in headless Chromium and
the server pipeline, per file, with the cause. Numbers for docs/browser-hashing.md.

    /tmp/v/bin/python bench/browser_pdq_differences.py

Part 1: every image under shared/testdata/pdq: browser vs server, server vs Meta's expected.csv,
browser vs expected.csv. Part 2: pictures drawn here for what Meta's set does not cover
(transparency, GIF transparency, EXIF orientation, 16-bit grey, big photos, CMYK), each hashed with
the default options and, for transparency, through a 2D canvas only, to show what WebGL is worth.
The server is detection.hashing.hash_image.
"""

from __future__ import annotations

import csv
import http.server
import shutil
import sys
import tempfile
import threading
from pathlib import Path

import numpy as np
from browser_pdq import ARGS, REPO, TESTDATA, Handler
from PIL import Image
from playwright.sync_api import sync_playwright

sys.path.insert(0, str(REPO))
from detection.hashing import hash_image


def server_pdq(data: bytes) -> tuple[str, int]:
    hashes = hash_image(data)
    return hashes.pdq, hashes.pdq_quality


def bits(a: str | None, b: str | None) -> str:
    return "-" if a is None or b is None else str((int(a, 16) ^ int(b, 16)).bit_count())


def drawn(directory: Path) -> list[Path]:
    photo = Image.open(TESTDATA / "misc-images/modes/original.jpg").convert("RGB")
    width, height = photo.size
    pixels = np.asarray(photo)
    out: dict[str, Image.Image] = {}
    gradient = np.tile(np.linspace(0, 255, width).astype(np.uint8), (height, 1))
    out["alpha-gradient.png"] = Image.fromarray(np.dstack([pixels, gradient]), "RGBA")
    half = np.full((height, width), 255, np.uint8)
    half[:, : width // 2] = 0
    out["alpha-half-invisible.png"] = Image.fromarray(np.dstack([pixels, half]), "RGBA")
    # At most 512 px: hashed without resizing, so the colour under alpha 0 reaches PDQ as stored.
    out["alpha-half-invisible-500x314.png"] = out["alpha-half-invisible.png"].crop((550, 0, 1050, 314))
    out["alpha-gradient-500x314.png"] = out["alpha-gradient.png"].crop((0, 0, 500, 314))
    translucent = np.full((height, width), 128, np.uint8)
    out["alpha-128.png"] = Image.fromarray(np.dstack([pixels, translucent]), "RGBA")
    out["palette-transparent.gif"] = photo.convert("P", palette=Image.Palette.ADAPTIVE)
    out["gray-16bit.png"] = Image.fromarray(np.asarray(photo.convert("L")).astype(np.uint16) * 257)
    out["photo-4000x2510.jpg"] = photo.resize((4000, 2510), Image.Resampling.BICUBIC)
    out["photo.avif"] = photo
    out["cmyk-1600x1004.jpg"] = photo.convert("CMYK")
    out["photo-progressive.jpg"] = photo
    paths = []
    for name, image in out.items():
        path = directory / name
        if name.endswith(".gif"):
            image.save(path, transparency=0)
        elif name.endswith(".jpg"):
            image.save(path, quality=92, progressive="progressive" in name)
        else:
            image.save(path)
        paths.append(path)
    exif = Image.Exif()
    exif[0x0112] = 6
    for fmt in ("jpg", "png", "webp"):
        path = directory / f"exif-rotate-90.{fmt}"
        photo.save(path, exif=exif.tobytes())
        paths.append(path)
    return paths


def main() -> None:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_address[1]}/index.html"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=shutil.which("chromium"), args=ARGS)

        def browser_hashes(files: list[Path], query: str = "") -> list[dict[str, object]]:
            page = browser.new_page()
            page.goto(base + query)
            page.wait_for_selector("body[data-state=ready]", state="attached")
            page.set_input_files("#files", [str(f) for f in files])
            page.wait_for_selector("body[data-state=done]", state="attached", timeout=600_000)
            results: list[dict[str, object]] = page.evaluate("() => window.pdqResults")
            page.close()
            return results

        with (TESTDATA / "expected.csv").open(newline="") as handle:
            expected = {row["file"]: row["pdq_hex"] for row in csv.DictReader(handle)}
        files = sorted(p for p in TESTDATA.rglob("*") if p.suffix in {".jpg", ".png", ".webp"})
        print("| file | browser vs server | server vs expected.csv | browser vs expected.csv |")
        print("|---|---|---|---|")
        for path, result in zip(files, browser_hashes(files), strict=True):
            name = path.relative_to(TESTDATA).as_posix()
            server_hash, _ = server_pdq(path.read_bytes())
            reference = expected.get(name)
            pdq = str(result["pdq"])
            row = [name, bits(pdq, server_hash), bits(server_hash, reference), bits(pdq, reference)]
            print("| " + " | ".join(row) + " |")

        with tempfile.TemporaryDirectory() as tmp:
            extra = drawn(Path(tmp))
            default = browser_hashes(extra)
            canvas_only = browser_hashes(extra, "?webgl=0")
            print()
            print("| drawn file | browser vs server | through a 2D canvas only | server quality | browser quality |")
            print("|---|---|---|---|---|")
            for path, ok, plain in zip(extra, default, canvas_only, strict=True):
                server_hash, server_quality = server_pdq(path.read_bytes())
                without = bits(str(plain["pdq"]), server_hash) if path.name.startswith("alpha") else "-"
                print(
                    f"| {path.name} | {bits(str(ok['pdq']), server_hash)} | {without} "
                    f"| {server_quality} | {ok['quality']} |"
                )
        browser.close()


if __name__ == "__main__":
    main()
