"""Time pdq.js in headless Chromium: per file, per stage, and how responsive the page stays.

    /tmp/v/bin/python bench/browser_pdq.py [--rounds N] [--page]

Hashes Meta's PDQ reference images plus photo-sized pictures drawn here (12, 24 and 48 MP JPEGs
and a 12 MP PNG with transparency) through the static test harness, in a Web Worker (default) or
on the page (--page), and prints milliseconds per file and per stage (median of N rounds) and the
share of 20 ms timer ticks the page still ran while hashing (100% = never blocked).
"""

from __future__ import annotations

import argparse
import http.server
import itertools
import shutil
import statistics
import tempfile
import threading
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image
from playwright.sync_api import sync_playwright

REPO = Path(__file__).resolve().parents[1]
TESTDATA = next(p for p in (REPO.parent / "shared/testdata/pdq", REPO.parents[1] / "shared/testdata/pdq") if p.is_dir())
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
STAGES = ["read", "sha256", "decode", "resize", "pdq", "done"]


class Handler(http.server.SimpleHTTPRequestHandler):
    def translate_path(self, path: str) -> str:
        path = path.split("?", 1)[0]
        if path.startswith("/static/"):
            return str(REPO / "victims/static" / path.removeprefix("/static/"))
        return str(REPO / "tests/victims/browser_pdq" / path.lstrip("/"))

    def end_headers(self) -> None:
        policy = "default-src 'none'; script-src 'self'; worker-src 'self'"
        self.send_header("Content-Security-Policy", policy)
        super().end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        pass


def drawn_photos(directory: Path) -> list[Path]:
    rng = np.random.default_rng(0)
    out = []
    sizes = [(4000, 3000, "JPEG"), (6000, 4000, "JPEG"), (8000, 6000, "JPEG"), (4000, 3000, "PNG")]
    for width, height, fmt in sizes:
        y = np.linspace(0, 1, height, dtype=np.float32)[:, None]
        x = np.linspace(0, 1, width, dtype=np.float32)[None, :]
        red = 128 + 100 * np.sin(9 * x + 4 * y)
        green = 255 * x * y
        blue = 128 + 90 * np.cos(13 * y - 5 * x)
        base = np.stack(np.broadcast_arrays(red, green, blue), -1)
        noise = rng.integers(0, 24, (height, width, 3), dtype=np.uint8)
        pixels = np.clip(base + noise, 0, 255).astype(np.uint8)
        path = directory / f"drawn-{width}x{height}.{fmt.lower()}"
        if fmt == "PNG":
            alpha = np.where((np.arange(width) // 400) % 2 == 0, 255, 90).astype(np.uint8)
            Image.fromarray(np.dstack([pixels, np.broadcast_to(alpha, (height, width))]), "RGBA").save(path)
        else:
            Image.fromarray(pixels).save(path, quality=90)
        out.append(path)
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--page", action="store_true", help="hash on the page instead of in a worker")
    options = parser.parse_args()
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}/index.html" + ("?worker=0" if options.page else "")
    with tempfile.TemporaryDirectory() as tmp:
        reference = [TESTDATA / "bridge-mods/aaa-orig.jpg", TESTDATA / "misc-images/c.png"]
        files = [*reference, *drawn_photos(Path(tmp))]
        per_file: dict[str, list[float]] = {f.name: [] for f in files}
        per_stage: dict[str, dict[str, list[float]]] = {f.name: {s: [] for s in STAGES[:-1]} for f in files}
        ticks: list[float] = []
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=shutil.which("chromium"), args=ARGS)
            for _ in range(options.rounds):
                page = browser.new_page()
                page.goto(url)
                page.wait_for_selector("body[data-state=ready]", state="attached")
                page.set_input_files("#files", [str(f) for f in files])
                page.wait_for_selector("body[data-state=done]", state="attached", timeout=600_000)
                progress = page.evaluate("() => window.pdqProgress")
                elapsed = page.evaluate("() => window.pdqElapsedMs")
                ticks.append(page.evaluate("() => window.pdqMainThreadBusy") / (elapsed / 20))
                page.close()
                for index, path in enumerate(files):
                    events = [p for p in progress if p["fileIndex"] == index]
                    per_file[path.name].append(events[-1]["t"] - events[0]["t"])
                    starts = {}
                    for event in events:
                        starts.setdefault(event["stage"], event["t"])
                    for stage, following in itertools.pairwise(STAGES):
                        if stage in starts and following in starts:
                            per_stage[path.name][stage].append(starts[following] - starts[stage])
            browser.close()
    where = "on the page" if options.page else "in a worker"
    print(f"pdq.js in headless Chromium, {where}, median of {options.rounds} rounds")
    print(f"{'file':32} {'total ms':>9} " + " ".join(f"{s:>7}" for s in STAGES[:-1]))
    for path in files:
        stages = " ".join(
            f"{statistics.median(per_stage[path.name][s]):7.0f}" if per_stage[path.name][s] else f"{'-':>7}"
            for s in STAGES[:-1]
        )
        print(f"{path.name:32} {statistics.median(per_file[path.name]):9.0f} {stages}")
    print(f"page timer ticks kept while hashing: {100 * statistics.median(ticks):.0f}%")


if __name__ == "__main__":
    main()
