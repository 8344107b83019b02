"""Hashing on the victim's device (victims/static/victims/pdq.js) gives the server's hashes.

Drives Debian's headless Chromium through Playwright. A static harness page (tests/victims/browser_pdq/)
is served by a small threaded HTTP server under the project's own Content-Security-Policy; each test puts
files into its file input, as a person would, and compares what the page computed with Meta's reference
hashes (testdata/pdq/expected.csv) and with the server's detection.hashing on the same bytes.
"""

from __future__ import annotations

import base64
import csv
import hashlib
import http.server
import io
import os
import shutil
import subprocess
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pdqhash
import pytest
from PIL import Image

from takedown.core.security import CONTENT_SECURITY_POLICY

pytestmark = pytest.mark.browser

REPO = Path(__file__).resolve().parents[2]
STATIC = REPO / "victims" / "static"
HARNESS = Path(__file__).resolve().parent / "browser_pdq"
TESTDATA = next(
    (p for p in (REPO.parent / "shared/testdata/pdq", REPO.parents[1] / "shared/testdata/pdq") if p.is_dir()),
    REPO.parent / "shared/testdata/pdq",
)

CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
NO_WORKER_CSP = CONTENT_SECURITY_POLICY.replace("worker-src 'self' blob:", "worker-src 'none'")
assert NO_WORKER_CSP != CONTENT_SECURITY_POLICY

ServerHash = Callable[[bytes], tuple[str, int]]


# --------------------------------------------------------------------------------------------------------
# Reference answers
# --------------------------------------------------------------------------------------------------------


def hamming(a: str, b: str) -> int:
    return (int(a, 16) ^ int(b, 16)).bit_count()


def expected_csv() -> dict[str, str]:
    with (TESTDATA / "expected.csv").open(newline="") as handle:
        return {row["file"]: row["pdq_hex"] for row in csv.DictReader(handle)}


def reference_images() -> list[Path]:
    return sorted(p for p in TESTDATA.rglob("*") if p.suffix.lower() in {".jpg", ".png", ".webp"})


def bits_to_hex(vector: np.ndarray) -> str:
    return np.packbits(np.asarray(vector, dtype=np.uint8)).tobytes().hex()


@pytest.fixture(scope="session")
def server_pdq() -> ServerHash:
    """The server's PDQ of a file's bytes (detection.hashing)."""
    from detection import hashing

    def compute(data: bytes) -> tuple[str, int]:
        hashes = hashing.hash_image(data)
        return hashes.pdq, hashes.pdq_quality

    return compute


# --------------------------------------------------------------------------------------------------------
# Chromium, the harness server, and one helper that hashes files through the page
# --------------------------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    sync_api = pytest.importorskip("playwright.sync_api", reason="Python Playwright is not installed")
    if shutil.which("chromium") is None and not os.environ.get("PDQ_BROWSER_NO_INSTALL"):
        subprocess.run([str(REPO / "scripts" / "ensure-chromium.sh")], check=False, timeout=900)
    executable = shutil.which("chromium")
    if executable is None:
        pytest.skip("Debian chromium is absent and could not be installed (scripts/ensure-chromium.sh)")
    with sync_api.sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        yield launched
        launched.close()


class _HarnessHandler(http.server.SimpleHTTPRequestHandler):
    """/static/... from victims/static; /strict/... and /no-workers/... the harness under the project's CSP
    or under one that forbids workers; /pixels/... raw pixel files the arithmetic tests write."""

    policies = {"strict": CONTENT_SECURITY_POLICY, "no-workers": NO_WORKER_CSP}
    pixels_dir: Path | None = None

    def translate_path(self, path: str) -> str:
        path = path.split("?", 1)[0]
        if path.startswith("/static/"):
            return str(STATIC / path.removeprefix("/static/"))
        if path.startswith("/pixels/") and self.pixels_dir is not None:
            return str(self.pixels_dir / Path(path).name)
        _policy, _slash, rest = path.lstrip("/").partition("/")
        return str(HARNESS / rest)

    def end_headers(self) -> None:
        prefix = self.path.lstrip("/").split("/", 1)[0]
        self.send_header("Content-Security-Policy", self.policies.get(prefix, CONTENT_SECURITY_POLICY))
        self.send_header("Cache-Control", "no-store")
        super().end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture(scope="session")
def harness_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    _HarnessHandler.pixels_dir = tmp_path_factory.mktemp("pixels")
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _HarnessHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def hash_in_browser(
    browser: Any, url: str, files: list[Path], *, timeout_ms: int = 300_000
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    page = browser.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    try:
        page.goto(url)
        page.wait_for_selector("body[data-state=ready]", state="attached")
        page.set_input_files("#files", [str(f) for f in files])
        page.wait_for_selector("body[data-state=done]", state="attached", timeout=timeout_ms)
        results = page.evaluate("() => window.pdqResults")
        progress = page.evaluate("() => window.pdqProgress")
    finally:
        page.close()
    assert errors == []
    return results, progress


# --------------------------------------------------------------------------------------------------------
# Meta's reference data
# --------------------------------------------------------------------------------------------------------


def test_meta_reference_images_hash_bit_for_bit(browser: Any, harness_url: str) -> None:
    # The server is bit-identical with Meta's reference hashes on these 15 files (detection.hashing's own
    # tests), so 0 bits here is 0 bits from the server. Nine of them are large JPEGs: pdq-jpeg.js decodes
    # them at reduced size as the server does.
    expected = expected_csv()
    files = [TESTDATA / name for name in sorted(expected)]
    assert len(files) == 15, f"PDQ test data missing under {TESTDATA}"
    results, _ = hash_in_browser(browser, f"{harness_url}/strict/index.html", files)
    for path, result in zip(files, results, strict=True):
        relative = path.relative_to(TESTDATA).as_posix()
        data = path.read_bytes()
        assert result["error"] is None, relative
        assert result["pdq"] == expected[relative], f"{relative}: {hamming(result['pdq'], expected[relative])} bits"
        assert result["sha256"] == hashlib.sha256(data).hexdigest(), relative
        with Image.open(path) as image:
            assert (result["width"], result["height"]) == image.size, relative


def test_every_reference_file_hashes_as_on_the_server(browser: Any, harness_url: str, server_pdq: ServerHash) -> None:
    files = reference_images()
    results, _ = hash_in_browser(browser, f"{harness_url}/strict/index.html", files)
    distances = {}
    for path, result in zip(files, results, strict=True):
        relative = path.relative_to(TESTDATA).as_posix()
        server_hash, server_quality = server_pdq(path.read_bytes())
        distances[relative] = hamming(result["pdq"], server_hash)
        limit = 0 if relative.startswith("bridge-mods/") else 4
        assert distances[relative] <= limit, f"{relative}: {distances[relative]} bits from the server"
        assert result["quality"] == server_quality or distances[relative] > 0, relative
    print("browser-vs-server bits:", distances)


def test_progress_is_reported_per_file_and_stage_from_a_worker(browser: Any, harness_url: str) -> None:
    files = [TESTDATA / "bridge-mods/aaa-orig.jpg", TESTDATA / "misc-images/c.png", TESTDATA / "misc-images/wee.jpg"]
    _, progress = hash_in_browser(browser, f"{harness_url}/strict/index.html", files)

    assert {p["thread"] for p in progress} == {"worker"}
    order = ["read", "sha256", "decode", "resize", "pdq", "done"]
    for index in range(len(files)):
        stages = [p["stage"] for p in progress if p["fileIndex"] == index]
        assert stages[0] == "read" and stages[-1] == "done"
        assert [order.index(s) for s in stages] == sorted(order.index(s) for s in stages)
    assert "resize" in [p["stage"] for p in progress if p["fileIndex"] == 0]
    overall = [p["overall"] for p in progress]
    assert overall == sorted(overall)
    assert overall[-1] == 1
    assert all(p["fileCount"] == len(files) for p in progress)


def test_falls_back_to_the_page_when_workers_are_forbidden(browser: Any, harness_url: str) -> None:
    expected = expected_csv()
    names = ["bridge-mods/aaa-orig.jpg", "misc-images/c.png"]
    results, progress = hash_in_browser(browser, f"{harness_url}/no-workers/index.html", [TESTDATA / n for n in names])
    assert {p["thread"] for p in progress} == {"page"}
    assert [r["pdq"] for r in results] == [expected[n] for n in names]


# --------------------------------------------------------------------------------------------------------
# Images drawn here, for the cases Meta's set does not cover
# --------------------------------------------------------------------------------------------------------


def _pattern(width: int, height: int, seed: int = 0) -> np.ndarray:
    """An asymmetric, detailed RGB picture (nothing real): turning it changes its PDQ."""
    y, x = np.mgrid[0:height, 0:width].astype(np.float64)
    rng = np.random.default_rng(seed)
    red = 128 + 100 * np.sin(x / (width / 7.0)) * np.cos(y / (height / 3.0))
    green = 255 * (x / width) ** 2
    blue = 128 + 120 * np.sin((x + 2 * y) / (width / 11.0))
    image = np.stack([red, green, blue], axis=-1) + rng.normal(0, 6, (height, width, 3))
    image[: height // 3, : width // 4] = (250, 40, 40)  # a block in one corner only
    return np.clip(image, 0, 255).astype(np.uint8)


def _drawn_files(directory: Path) -> list[Path]:
    rgb = Image.fromarray(_pattern(1500, 1000))
    ramp = np.tile(np.linspace(0, 255, 1500).astype(np.uint8), (1000, 1))
    cases: list[tuple[str, Image.Image, dict[str, Any]]] = [
        # JPEGs the server decodes at 1/2, 1/4 and 1/8 scale: progressive with successive approximation,
        # restart markers, 4:2:2 and 4:4:4 chroma, grey, sizes that are not a multiple of the block size.
        ("progressive.jpg", rgb, {"quality": 85, "progressive": True}),
        ("restarts-422.jpg", rgb, {"quality": 90, "subsampling": 1, "restart_marker_blocks": 5}),
        ("444.jpg", rgb.resize((2301, 1533)), {"quality": 95, "subsampling": 0}),
        ("grey.jpg", rgb.convert("L").resize((4500, 1003)), {"quality": 80}),
        ("tall.jpg", Image.fromarray(_pattern(700, 3001, seed=3)), {"quality": 90}),
        # Not JPEG: Pillow's bicubic (vertical pass first on a tall image), nearest neighbour for palette
        # and 1-bit images, premultiplied resizing for images with an alpha band.
        ("tall.png", Image.fromarray(_pattern(700, 3001, seed=3)), {}),
        ("palette.png", rgb.convert("P", palette=Image.Palette.ADAPTIVE), {}),
        ("bilevel.png", rgb.convert("1"), {}),
        ("grey-alpha.png", Image.fromarray(np.dstack([np.asarray(rgb.convert("L")), ramp]), "LA"), {}),
        ("alpha.webp", Image.fromarray(np.dstack([np.asarray(rgb), ramp]), "RGBA"), {"lossless": True}),
        ("palette.gif", rgb.convert("P", palette=Image.Palette.ADAPTIVE), {}),
        ("small.png", rgb.resize((500, 333)), {}),
    ]
    paths = []
    for name, image, options in cases:
        path = directory / name
        image.save(path, **options)
        paths.append(path)
    return paths


def test_drawn_images_hash_as_on_the_server(
    browser: Any, harness_url: str, server_pdq: ServerHash, tmp_path: Path
) -> None:
    files = _drawn_files(tmp_path)
    results, _ = hash_in_browser(browser, f"{harness_url}/strict/index.html", files)
    distances = {}
    for path, result in zip(files, results, strict=True):
        server_hash, server_quality = server_pdq(path.read_bytes())
        if path.suffix == ".jpg":
            # The server decodes JPEGs with IJG 9f's integer inverse DCTs, the browser in float64: a few bits.
            distances[path.name] = hamming(result["pdq"], server_hash)
            assert distances[path.name] <= 4, f"{path.name}: {distances[path.name]} bits from the server"
        else:
            assert (result["pdq"], result["quality"]) == (server_hash, server_quality), path.name
    print("browser-vs-server bits on drawn JPEGs:", distances)


def test_exif_orientation_is_ignored_as_on_the_server(
    browser: Any, harness_url: str, server_pdq: ServerHash, tmp_path: Path
) -> None:
    # 900x600 JPEGs are decoded by the browser, which would turn them by EXIF (as it does PNGs, and not
    # WebPs); the server hashes pixels as stored.
    from PIL import ImageOps

    files = []
    for fmt, value in [("JPEG", 6), ("WEBP", 6)] + [("PNG", value) for value in range(2, 9)]:
        exif = Image.Exif()
        exif[0x0112] = value
        path = tmp_path / f"orientation-{value}.{fmt.lower()}"
        Image.fromarray(_pattern(900, 600, seed=1)).save(path, fmt, exif=exif.tobytes())
        files.append(path)
    results, _ = hash_in_browser(browser, f"{harness_url}/strict/index.html", files)
    for path, result in zip(files, results, strict=True):
        data = path.read_bytes()
        as_stored, _ = server_pdq(data)
        with Image.open(path) as image:
            turned = ImageOps.exif_transpose(image)
            buffer = io.BytesIO()
            turned.save(buffer, "PNG")
        assert hamming(as_stored, server_pdq(buffer.getvalue())[0]) > 31, "turning must change the hash"
        # A 900x600 JPEG: the browser's own decoder (libjpeg-turbo, fancy upsampling) against the server's IJG 9f
        # decoding (16-point chroma inverse DCT) is a few bits (6 measured); a turn would be more than 31.
        limit = 8 if path.suffix == ".jpeg" else 0
        assert hamming(result["pdq"], as_stored) <= limit, path.name
        assert (result["width"], result["height"]) == (900, 600)


def _webgl2_available(browser: Any, url: str) -> bool:
    page = browser.new_page()
    try:
        page.goto(url)
        return bool(page.evaluate("() => !!new OffscreenCanvas(1, 1).getContext('webgl2')"))
    finally:
        page.close()


@pytest.mark.filterwarnings("ignore:Palette images with Transparency expressed in bytes")
def test_colour_under_transparency_is_kept_as_on_the_server(
    browser: Any, harness_url: str, server_pdq: ServerHash, tmp_path: Path
) -> None:
    if not _webgl2_available(browser, f"{harness_url}/strict/index.html"):
        pytest.skip("no WebGL2 here: transparent images fall back to a 2D canvas (docs/browser-hashing.md)")
    rgb = _pattern(1200, 800, seed=2)
    alpha = np.full((800, 1200), 255, np.uint8)
    alpha[:, :600] = 0  # colour stays in the file but is invisible
    alpha[:400, 600:] = np.linspace(1, 254, 600).astype(np.uint8)
    files = []
    for name, pixels in [("big.png", rgb), ("small.png", rgb[:400, :500])]:
        path = tmp_path / name
        Image.fromarray(np.dstack([pixels, alpha[: pixels.shape[0], : pixels.shape[1]]]), "RGBA").save(path)
        files.append(path)
    # A palette PNG whose transparent entries keep their colour.
    palette = Image.fromarray(rgb).convert("P", palette=Image.Palette.ADAPTIVE)
    files.append(tmp_path / "palette-transparent.png")
    palette.save(files[-1], transparency=bytes([0] * 40 + [128] * 40))
    results, _ = hash_in_browser(browser, f"{harness_url}/strict/index.html", files)
    canvas_only, _ = hash_in_browser(browser, f"{harness_url}/strict/index.html?webgl=0", files)
    for path, result, plain in zip(files, results, canvas_only, strict=True):
        server_hash = server_pdq(path.read_bytes())[0]
        assert result["pdq"] == server_hash, path.name
        if path.name == "small.png":
            # What the WebGL re-read is for: through a 2D canvas the hidden colour comes back black.
            assert hamming(plain["pdq"], server_hash) > 0


def test_files_that_are_not_images_still_get_a_sha256(browser: Any, harness_url: str, tmp_path: Path) -> None:
    empty = tmp_path / "empty.jpg"
    empty.write_bytes(b"")
    text = tmp_path / "notes.png"
    text.write_bytes(b"this is not an image\n" * 10)
    truncated = tmp_path / "truncated.jpg"
    buffer = io.BytesIO()
    Image.fromarray(_pattern(300, 200)).save(buffer, "JPEG")
    truncated.write_bytes(buffer.getvalue()[:40])
    files = [empty, text, truncated]
    results, progress = hash_in_browser(browser, f"{harness_url}/strict/index.html", files)
    for path, result in zip(files, results, strict=True):
        assert result["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
        assert result["pdq"] is None
        assert result["error"] == "decode-failed"
    assert progress[-1]["overall"] == 1


# --------------------------------------------------------------------------------------------------------
# The arithmetic on its own: pixels in, pixels or hash out, against Pillow, pdqhash and the server's decoder
# --------------------------------------------------------------------------------------------------------


def _classic_thumbnail_size(width: int, height: int) -> tuple[int, int]:
    x, y = width, height
    if x > 512:
        y, x = int(max(y * 512 / x, 1)), 512
    if y > 512:
        x, y = int(max(x * 512 / y, 1)), 512
    return x, y


def _run_in_page(browser: Any, harness_url: str, script: str, argument: dict[str, Any]) -> Any:
    page = browser.new_page()
    try:
        page.goto(f"{harness_url}/strict/index.html")
        return page.evaluate(script, argument)
    finally:
        page.close()


_RESIZE_JS = """async ({ url, width, height, outW, outH, options }) => {
  const { referenceResize, pdqFromRgba } = await import("/static/victims/pdq.js");
  const rgba = new Uint8Array(await (await fetch(url)).arrayBuffer());
  const rows = async (y0, n) => rgba.subarray(y0 * width * 4, (y0 + n) * width * 4);
  const small = await referenceResize(rows, width, height, outW, outH, options);
  let binary = "";
  for (let i = 0; i < small.rgba.length; i += 32768) {
    binary += String.fromCharCode(...small.rgba.subarray(i, i + 32768));
  }
  return { width: small.width, height: small.height, rgba: btoa(binary),
           pdq: pdqFromRgba(small.rgba, small.width, small.height) };
}"""


@pytest.mark.parametrize(
    ("width", "height", "mode"),
    [
        (1600, 1004, "RGB"),  # horizontal pass first
        (700, 3000, "RGB"),  # vertical pass first (height shrinks more than twice the width)
        (513, 100, "RGB"),  # one pass only
        (3001, 2003, "RGBA"),  # premultiplied, as Pillow resizes RGBA
        (2000, 1999, "P"),  # nearest neighbour, as Pillow resizes palette images
    ],
)
def test_resizing_matches_pillow_byte_for_byte(
    browser: Any, harness_url: str, width: int, height: int, mode: str
) -> None:
    rgb = _pattern(width, height, seed=width)
    alpha = np.random.default_rng(height).integers(0, 256, (height, width)).astype(np.uint8)
    alpha[:, : width // 3] = 0
    if mode == "RGBA":
        image = Image.fromarray(np.dstack([rgb, alpha]), "RGBA")
    elif mode == "P":
        image = Image.fromarray(rgb).convert("P", palette=Image.Palette.ADAPTIVE)
    else:
        image = Image.fromarray(rgb)
    out_w, out_h = _classic_thumbnail_size(width, height)
    expected = np.asarray(image.resize((out_w, out_h), Image.Resampling.BICUBIC).convert("RGB"))
    source = np.asarray(image.convert("RGBA")) if mode != "RGB" else np.dstack([rgb, np.full_like(alpha, 255)])
    assert _HarnessHandler.pixels_dir is not None
    (_HarnessHandler.pixels_dir / f"resize-{mode}.rgba").write_bytes(np.ascontiguousarray(source).tobytes())
    options = {"filter": "nearest"} if mode == "P" else {"premultiplied": mode == "RGBA"}
    out = _run_in_page(
        browser,
        harness_url,
        _RESIZE_JS,
        {
            "url": f"/pixels/resize-{mode}.rgba",
            "width": width,
            "height": height,
            "outW": out_w,
            "outH": out_h,
            "options": options,
        },
    )
    got = np.frombuffer(base64.b64decode(out["rgba"]), np.uint8).reshape(out["height"], out["width"], 4)
    assert np.array_equal(got[..., :3], expected)
    vector, quality = pdqhash.compute(np.ascontiguousarray(expected))
    assert out["pdq"] == {"pdq": bits_to_hex(vector), "quality": int(quality)}


_SIZES_JS = """async (sizes) => {
  const { referenceSize, jpegDraftScale } = await import("/static/victims/pdq.js");
  return sizes.map(([w, h]) => { const t = referenceSize(w, h); return [t, jpegDraftScale([w, h], t)]; });
}"""


def test_target_size_and_jpeg_scale_match_the_server(browser: Any, harness_url: str) -> None:
    from detection import downscale

    rng = np.random.default_rng(7)
    sizes = [(int(w), int(h)) for w, h in rng.integers(1, 9000, (400, 2))]
    sizes += [(512, 512), (513, 512), (512, 513), (1, 9000), (9000, 1), (1024, 1024), (4096, 4096), (8192, 8193)]
    got = _run_in_page(browser, harness_url, _SIZES_JS, sizes)
    for (width, height), (target, scale) in zip(sizes, got, strict=True):
        expected = downscale.thumbnail_size(width, height)
        assert tuple(target) == expected, (width, height)
        assert scale == downscale.draft_scale((width, height), expected), (width, height)


_JPEG_JS = """async ({ url, scale }) => {
  const { reducedDecode } = await import("/static/victims/pdq-jpeg.js");
  const bytes = new Uint8Array(await (await fetch(url)).arrayBuffer());
  const out = reducedDecode(bytes, scale);
  if (out === null) return null;
  let binary = "";
  for (let i = 0; i < out.rgba.length; i += 32768) binary += String.fromCharCode(...out.rgba.subarray(i, i + 32768));
  return { width: out.width, height: out.height, rgba: btoa(binary) };
}"""


def test_reduced_jpeg_decoding_is_close_to_the_servers(browser: Any, harness_url: str, tmp_path: Path) -> None:
    """pdq-jpeg.js decodes at reduced size with a float64 inverse DCT; the server decodes as IJG libjpeg 9f does,
    with IJG's integer inverse DCTs (docs/hashing.md), which the browser does not carry. The two pictures agree
    within a few levels on a few pixels (PDQ: 0 to 2 bits on the drawn JPEGs, docs/browser-hashing.md)."""
    from detection import _jpegdct as jpegdct

    assert _HarnessHandler.pixels_dir is not None
    files = [p for p in _drawn_files(tmp_path) if p.suffix == ".jpg"] + sorted(
        (TESTDATA / "bridge-mods").glob("s*.jpg")
    )
    files.append(TESTDATA / "misc-images/modes/CMYK.jpg")
    for index, path in enumerate(files):
        data = path.read_bytes()
        (_HarnessHandler.pixels_dir / f"jpeg-{index}.jpg").write_bytes(data)
        for scale in (2, 4, 8):
            out = _run_in_page(browser, harness_url, _JPEG_JS, {"url": f"/pixels/jpeg-{index}.jpg", "scale": scale})
            mode, width, height, pixels = jpegdct.decode(data, scale)
            if mode == "CMYK":  # the browser leaves CMYK to its own decoder
                assert out is None, path.name
                continue
            reference = np.frombuffer(pixels, np.uint8).reshape(height, width, -1).astype(np.int16)
            got = np.frombuffer(base64.b64decode(out["rgba"]), np.uint8).reshape(out["height"], out["width"], 4)
            difference = np.abs(got[..., : reference.shape[2]].astype(np.int16) - reference)
            assert difference.max() <= _JPEG_LEVELS, (path.name, scale)
            assert (difference > 0).mean() <= _JPEG_PIXELS_OFF, (path.name, scale)


# Measured on these files (2026-12-04): at most 3 levels apart, on at most 2.7 % of the pixels (at 1/2 scale).
_JPEG_LEVELS = 3
_JPEG_PIXELS_OFF = 0.03


def _degenerate(kind: str) -> np.ndarray:
    """Pictures whose PDQ bits are decided by rounding noise: most DCT terms are zero in exact arithmetic,
    so only bit-exact float32 arithmetic gives the reference's bits."""
    if kind == "flat":
        return np.full((200, 300, 3), 128, np.uint8)
    if kind == "gradient":
        return np.broadcast_to(np.linspace(0, 255, 300).astype(np.uint8)[None, :, None], (200, 300, 3)).copy()
    if kind == "stripes":
        row = ((np.arange(256) // 8) % 2 * 200 + 20).astype(np.uint8)
        return np.broadcast_to(row[None, :, None], (256, 256, 3)).copy()
    checker = ((np.indices((240, 320)).sum(axis=0) // 16) % 2 * 180 + 30).astype(np.uint8)
    return np.repeat(checker[..., None], 3, axis=-1)


@pytest.mark.parametrize("kind", ["flat", "gradient", "stripes", "checker", "tiny"])
def test_float32_rounding_is_reproduced_where_it_decides_the_bits(browser: Any, harness_url: str, kind: str) -> None:
    rgb = np.zeros((9, 4, 3), np.uint8) if kind == "tiny" else _degenerate(kind)
    height, width, _ = rgb.shape
    assert _HarnessHandler.pixels_dir is not None
    rgba = np.dstack([rgb, np.full((height, width), 255, np.uint8)])
    (_HarnessHandler.pixels_dir / f"{kind}.rgba").write_bytes(rgba.tobytes())
    out = _run_in_page(
        browser,
        harness_url,
        _RESIZE_JS,
        {"url": f"/pixels/{kind}.rgba", "width": width, "height": height, "outW": width, "outH": height, "options": {}},
    )
    if kind == "tiny":  # under 5 pixels on a side: the reference gives an all-zero hash of quality 0
        assert out["pdq"] == {"pdq": "0" * 64, "quality": 0}
        return
    vector, quality = pdqhash.compute(np.ascontiguousarray(rgb))
    assert out["pdq"] == {"pdq": bits_to_hex(vector), "quality": int(quality)}


_BASIS_JS = """async () => {
  const { IDCT_BASIS } = await import("/static/victims/pdq-jpeg.js");
  return Object.fromEntries(Object.entries(IDCT_BASIS).map(([n, values]) => [n, Array.from(values)]));
}"""


def test_inverse_dct_basis_is_the_c_librarys(browser: Any, harness_url: str) -> None:
    # The server's C code takes its cosines from the C library; JavaScript engines' Math.cos differs from
    # it in the last bit for some of these, which is why pdq-jpeg.js carries them written out.
    import math

    got = _run_in_page(browser, harness_url, _BASIS_JS, {})
    for n in (1, 2, 4, 8, 16):
        expected = [
            (1.0 / math.sqrt(2.0) if u == 0 else 1.0) * math.cos((2.0 * x + 1.0) * u * math.pi / (2.0 * n))
            for x in range(n)
            for u in range(8)
        ]
        assert got[str(n)] == expected, n


def test_a_file_over_the_size_limit_is_not_read(browser: Any, harness_url: str, tmp_path: Path) -> None:
    big = tmp_path / "big.png"
    with big.open("wb") as handle:  # sparse: 65 MiB that take no disk
        handle.seek(65 * 1024 * 1024 - 1)
        handle.write(b"\0")
    results, progress = hash_in_browser(browser, f"{harness_url}/strict/index.html", [big])
    assert results == [
        {"sha256": None, "pdq": None, "quality": None, "width": None, "height": None, "error": "too-large"}
    ]
    assert [p["stage"] for p in progress] == ["error"]
