"""The hostile corpus: every input here is built in code, once per test session, and never read from disk.

Four families, each a list of `Hostile` items with a stable name (the test id):

- IMAGES: truncated and corrupt JPEG/PNG/WebP/GIF/TIFF, decompression bombs, 50,000 x 50,000 headers, GIFs of
  1,001 and 10,000 frames, polyglots, HTML/SVG/PDF posing as images, oversized or corrupt EXIF/ICC/XMP.
- URLS: schemes that run code or read files, look-alike (IDN) hosts, internal hosts in every spelling, 10,000
  character addresses, CRLF and NUL injection.
- JSON: bodies for the partner API: deep nesting, huge numbers, wrong types, 10 MB, invalid UTF-8.
- TEXT: what people type into other fields: NUL bytes, lone surrogates, megabytes, markup.

`web` says what the upload form must do with an image: "refuse" (400 with a message) or "accept" (it is a
real image and what is stored must have lost the hostile part, named by `marker`). "either" is for a file
whose metadata is hostile but whose pixels are fine: refusing and accepting-with-stripping are both correct.
`hash` says the same for `detection.hashing.hash_image`: "refuse" means it must raise ImageRejected.
"""

from __future__ import annotations

import io
import json
import random
import struct
import zlib
from dataclasses import dataclass
from functools import cache
from typing import Literal

from PIL import Image, ImageDraw, PngImagePlugin

Expect = Literal["refuse", "accept", "either"]


@dataclass(frozen=True)
class Hostile:
    name: str
    data: bytes
    web: Expect = "refuse"
    hash: Expect = "refuse"
    # Bytes that must not survive into anything stored when the item is accepted.
    marker: bytes = b""


# --- Building blocks ----------------------------------------------------------------------------------------


def _drawn(size: tuple[int, int] = (96, 64), seed: int = 7) -> Image.Image:
    """Shapes plus noise, so compressed data is not trivially short and a cut lands inside the pixels."""
    rnd = random.Random(seed)
    image = Image.new("RGB", size, (rnd.randrange(256), rnd.randrange(256), rnd.randrange(256)))
    draw = ImageDraw.Draw(image)
    for _ in range(8):
        x0, y0 = rnd.randrange(size[0]), rnd.randrange(size[1])
        draw.rectangle((x0, y0, x0 + rnd.randrange(5, 40), y0 + rnd.randrange(5, 30)),
                       fill=(rnd.randrange(256), rnd.randrange(256), rnd.randrange(256)))
    noise = Image.frombytes("RGB", size, rnd.randbytes(size[0] * size[1] * 3))
    return Image.blend(image, noise, 0.25)


def _save(image: Image.Image, fmt: str, **kwargs: object) -> bytes:
    out = io.BytesIO()
    image.save(out, fmt, **kwargs)
    return out.getvalue()


@cache
def valid(fmt: str) -> bytes:
    image = _drawn()
    if fmt == "GIF":
        image = image.convert("P")
    if fmt == "TIFF":
        return _save(image, "TIFF", compression="tiff_deflate")
    if fmt == "WEBP":
        return _save(image, "WEBP", quality=80)
    return _save(image, fmt)


def _chunk(kind: bytes, payload: bytes) -> bytes:
    return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload))


def _png(width: int, height: int, idat: bytes, *, depth: int = 8, colour: int = 0, extra: bytes = b"",
         crc_ok: bool = True) -> bytes:
    ihdr = struct.pack(">IIBBBBB", width, height, depth, colour, 0, 0, 0)
    header = _chunk(b"IHDR", ihdr)
    if not crc_ok:
        header = header[:-4] + b"\x00\x00\x00\x00"
    return b"\x89PNG\r\n\x1a\n" + header + extra + _chunk(b"IDAT", idat) + _chunk(b"IEND", b"")


@cache
def png_bomb() -> bytes:
    """A real decompression bomb: 20,000 x 20,000 grey, 400 MB of zero pixels in about 400 KB of file."""
    compressor = zlib.compressobj(9)
    row = b"\x00" * (20_000 + 1)  # filter byte + pixels
    block = row * 50
    parts = [compressor.compress(block) for _ in range(20_000 // 50)]
    parts.append(compressor.flush())
    return _png(20_000, 20_000, b"".join(parts))


def _jpeg_segments(data: bytes) -> list[tuple[int, int]]:
    """(offset, marker) of each segment header before the first scan."""
    found = []
    index = 2
    while index + 4 <= len(data) and data[index] == 0xFF:
        marker = data[index + 1]
        found.append((index, marker))
        if marker == 0xDA:
            break
        (size,) = struct.unpack(">H", data[index + 2: index + 4])
        index += 2 + size
    return found


def _jpeg_patch_sof(data: bytes, *, width: int, height: int, components: int | None = None) -> bytes:
    out = bytearray(data)
    for offset, marker in _jpeg_segments(data):
        if marker in (0xC0, 0xC1, 0xC2):
            struct.pack_into(">HH", out, offset + 5, height, width)
            if components is not None:
                out[offset + 9] = components
            return bytes(out)
    raise AssertionError("no SOF in the base JPEG")


def _jpeg_replace_segment(data: bytes, marker: int, payload: bytes) -> bytes:
    for offset, found in _jpeg_segments(data):
        if found == marker:
            (size,) = struct.unpack(">H", data[offset + 2: offset + 4])
            return data[:offset + 4] + payload[:size - 2].ljust(size - 2, b"\x00") + data[offset + 2 + size:]
    raise AssertionError(f"no marker {marker:#x}")


def _jpeg_insert(data: bytes, segments: list[bytes]) -> bytes:
    return data[:2] + b"".join(segments) + data[2:]


def _app(marker: int, payload: bytes) -> bytes:
    return bytes([0xFF, marker]) + struct.pack(">H", len(payload) + 2) + payload


def _gif(frames: int, *, width: int = 1, height: int = 1, frame_w: int | None = None,
         frame_h: int | None = None, lzw_size: int = 2, body: bytes = b"\x02\x44\x01\x00") -> bytes:
    """A GIF built by hand: a 2-colour palette and `frames` image blocks (fast for 10,000 frames)."""
    head = b"GIF89a" + struct.pack("<HHBBB", width, height, 0x80, 0, 0) + b"\x00\x00\x00\xff\xff\xff"
    loop = b"\x21\xff\x0bNETSCAPE2.0\x03\x01\x00\x00\x00"
    frame = (b"\x21\xf9\x04\x04\x01\x00\x00\x00"  # graphic control: 10 ms
             + b"\x2c" + struct.pack("<HHHHB", 0, 0, frame_w or width, frame_h or height, 0)
             + bytes([lzw_size]) + body)
    return head + loop + frame * frames + b"\x3b"


def _tiff(width: int, height: int, *, strip_offset: int | None = None, strip_count: int = 1,
          compression: int = 1, next_ifd: int = 0, extra_entries: int = 0, ifd_count: int | None = None) -> bytes:
    """A little-endian, 8-bit grey TIFF with one strip, its header fields set by hand."""
    entries = [
        (256, 4, 1, width), (257, 4, 1, height), (258, 3, 1, 8), (259, 3, 1, compression),
        (262, 3, 1, 1), (273, 4, 1, strip_offset if strip_offset is not None else 8), (277, 3, 1, 1),
        (278, 4, 1, height), (279, 4, 1, strip_count),
    ]
    entries += [(40000 + i, 3, 1, i) for i in range(extra_entries)]
    pixels = b"\x80" * min(strip_count, 4096)
    ifd_at = 8 + len(pixels)
    ifd = struct.pack("<H", ifd_count if ifd_count is not None else len(entries))
    for tag, kind, count, value in entries:
        ifd += struct.pack("<HHII", tag, kind, count, value)
    ifd += struct.pack("<I", next_ifd if next_ifd >= 0 else ifd_at)
    return b"II*\x00" + struct.pack("<I", ifd_at) + pixels + ifd


def _webp_vp8_dims(data: bytes, width: int, height: int) -> bytes:
    """Rewrite the VP8 key frame's 14-bit dimensions (RIFF....WEBPVP8 ....frame tag, start code, w, h)."""
    out = bytearray(data)
    start = out.find(b"\x9d\x01\x2a")
    if start < 0:
        raise AssertionError("no VP8 key frame")
    struct.pack_into("<HH", out, start + 3, width & 0x3FFF, height & 0x3FFF)
    return bytes(out)


# --- Images -------------------------------------------------------------------------------------------------

FORMATS = ("JPEG", "PNG", "WEBP", "GIF", "TIFF")
# The web form takes these four; TIFF is refused there (unsupported) but hashed by hash_image.
WEB_FORMATS = ("JPEG", "PNG", "WEBP", "GIF")


def _truncations() -> list[Hostile]:
    items = []
    for fmt in FORMATS:
        data = valid(fmt)
        size = len(data)
        cuts = {"1-byte": 1, "8-bytes": 8, "16-bytes": 16, "40-bytes": 40, "quarter": size // 4,
                "half": size // 2, "three-quarters": size * 3 // 4, "minus-64": size - 64}
        for label, cut in cuts.items():
            items.append(Hostile(f"truncated-{fmt.lower()}-{label}", data[:cut]))
    return items


def _garbage() -> list[Hostile]:
    magics = {"jpeg": b"\xff\xd8\xff\xe0", "png": b"\x89PNG\r\n\x1a\n", "gif": b"GIF89a",
              "webp": b"RIFF\x00\x10\x00\x00WEBPVP8 ", "tiff": b"II*\x00", "tiff-be": b"MM\x00*"}
    items = []
    for label, magic in magics.items():
        for seed in range(3):
            rnd = random.Random(f"{label}-{seed}")
            items.append(Hostile(f"garbage-after-{label}-magic-{seed}", magic + rnd.randbytes(512 * (seed + 1))))
    items.append(Hostile("zero-bytes", b""))
    items.append(Hostile("one-nul-byte", b"\x00"))
    items.append(Hostile("random-64k", random.Random(1).randbytes(65536)))
    return items


def _structural() -> list[Hostile]:
    jpeg, png, gif, webp = valid("JPEG"), valid("PNG"), valid("GIF"), valid("WEBP")
    pixels = zlib.compress(b"\x00\x80" * 4)
    items = [
        # JPEG
        Hostile("jpeg-sof-zero-width", _jpeg_patch_sof(jpeg, width=0, height=64)),
        Hostile("jpeg-sof-zero-height", _jpeg_patch_sof(jpeg, width=96, height=0)),
        Hostile("jpeg-sof-zero-components", _jpeg_patch_sof(jpeg, width=96, height=64, components=0)),
        Hostile("jpeg-sof-seven-components", _jpeg_patch_sof(jpeg, width=96, height=64, components=7)),
        Hostile("jpeg-huffman-tables-zeroed", _jpeg_replace_segment(jpeg, 0xC4, b"")),
        Hostile("jpeg-quant-tables-garbage", _jpeg_replace_segment(jpeg, 0xDB, b"\xff" * 200)),
        Hostile("jpeg-segment-length-past-end", jpeg[:2] + b"\xff\xe1\xff\xff" + b"Exif\x00\x00"),
        Hostile("jpeg-segment-length-one", jpeg[:2] + b"\xff\xe1\x00\x01" + jpeg[2:], hash="either"),
        Hostile("jpeg-soi-only", b"\xff\xd8"),
        Hostile("jpeg-soi-eoi", b"\xff\xd8\xff\xd9"),
        Hostile("jpeg-scan-all-ff", jpeg[: jpeg.find(b"\xff\xda") + 14] + b"\xff" * 4000 + b"\xff\xd9",
                web="either", hash="either"),
        Hostile("jpeg-no-sof", b"\xff\xd8" + _app(0xE0, b"JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00")
                + b"\xff\xda\x00\x08\x01\x01\x00\x00\x3f\x00" + b"\x00" * 100 + b"\xff\xd9"),
        # libjpeg fills a cut scan with grey and only warns: a damaged but well-formed file.
        Hostile("jpeg-cut-inside-scan-with-eoi", jpeg[: len(jpeg) // 2] + b"\xff\xd9", web="either", hash="either"),
        # PNG
        Hostile("png-ihdr-bad-crc", _png(2, 2, pixels, crc_ok=False)),
        Hostile("png-zero-width", _png(0, 2, pixels)),
        Hostile("png-zero-height", _png(2, 0, pixels)),
        Hostile("png-bit-depth-3", _png(2, 2, pixels, depth=3)),
        Hostile("png-colour-type-9", _png(2, 2, pixels, colour=9)),
        Hostile("png-idat-not-zlib", _png(2, 2, b"this is not zlib data")),
        Hostile("png-idat-empty", _png(2, 2, b"")),
        Hostile("png-no-ihdr", b"\x89PNG\r\n\x1a\n" + _chunk(b"IDAT", pixels) + _chunk(b"IEND", b"")),
        Hostile("png-chunk-length-2gb", b"\x89PNG\r\n\x1a\n" + b"\x7f\xff\xff\xffIHDR" + b"\x00" * 20),
        Hostile("png-plte-missing-for-palette", _png(2, 2, pixels, colour=3)),
        Hostile("png-idat-short", _png(64, 64, pixels)),
        Hostile("png-cut-before-iend", png[: png.rfind(b"IEND") - 4], hash="either"),
        # GIF
        Hostile("gif-lzw-code-size-12", _gif(1, lzw_size=12), web="either", hash="either"),
        Hostile("gif-lzw-code-size-0", _gif(1, lzw_size=0), web="either", hash="either"),
        Hostile("gif-screen-0x0", _gif(1, width=0, height=0, frame_w=0, frame_h=0)),
        Hostile("gif-no-image-block", b"GIF89a\x01\x00\x01\x00\x80\x00\x00\x00\x00\x00\xff\xff\xff\x3b"),
        Hostile("gif-lzw-garbage", _gif(1, width=32, height=32, body=b"\xff" + b"\xa5" * 255 + b"\x00")),
        Hostile("gif-no-trailer", gif[:-1], web="either", hash="either"),
        # WebP
        Hostile("webp-riff-size-huge", webp[:4] + b"\xff\xff\xff\x7f" + webp[8:]),
        Hostile("webp-vp8-payload-zeroed", webp[:30] + b"\x00" * (len(webp) - 30), web="either", hash="either"),
        Hostile("webp-vp8l-bad-signature", b"RIFF\x20\x00\x00\x00WEBPVP8L\x14\x00\x00\x00\x00" + b"\x00" * 19),
        Hostile("webp-vp8x-no-image", b"RIFF\x16\x00\x00\x00WEBPVP8X\x0a\x00\x00\x00" + b"\x00" * 4
                + b"\x00\x00\x00\x00\x00\x00"),
        Hostile("webp-unknown-chunk-only", b"RIFF\x0c\x00\x00\x00WEBPJUNK\x00\x00\x00\x00"),
        # TIFF
        Hostile("tiff-ifd-offset-past-end", b"II*\x00\xff\xff\xff\x7f"),
        Hostile("tiff-strip-offset-past-end", _tiff(16, 16, strip_offset=0x7FFFFFF0, strip_count=256)),
        Hostile("tiff-strip-count-huge", _tiff(16, 16, strip_count=0x7FFFFFFF), hash="either"),
        Hostile("tiff-unknown-compression", _tiff(16, 16, compression=60000, strip_count=256)),
        Hostile("tiff-ifd-loop", _tiff(4, 4, strip_count=16, next_ifd=-1), hash="either"),
        Hostile("tiff-ifd-count-65535", _tiff(4, 4, strip_count=16, ifd_count=65535)),
        Hostile("tiff-zero-dimensions", _tiff(0, 0, strip_count=1)),
    ]
    return items


def _huge() -> list[Hostile]:
    jpeg, webp = valid("JPEG"), valid("WEBP")
    return [
        Hostile("bomb-png-20000x20000-zlib", png_bomb()),
        Hostile("huge-png-50000x50000-header", _png(50_000, 50_000, zlib.compress(b"\x00" * 50_001))),
        Hostile("huge-png-1x200000000", _png(1, 200_000_000, zlib.compress(b"\x00\x00" * 100))),
        Hostile("huge-png-2147483647-square", _png(2**31 - 1, 2**31 - 1, b"")),
        Hostile("huge-png-rgba16-10000x10000", _png(10_000, 10_000, zlib.compress(b"\x00" * 1000), depth=16,
                                                      colour=6)),
        Hostile("huge-jpeg-50000x50000-header", _jpeg_patch_sof(jpeg, width=50_000, height=50_000)),
        Hostile("huge-jpeg-65535x65535-header", _jpeg_patch_sof(jpeg, width=65_535, height=65_535)),
        Hostile("huge-jpeg-65535x1024-header", _jpeg_patch_sof(jpeg, width=65_535, height=1024)),
        Hostile("huge-gif-65535x65535-screen", _gif(1, width=65_535, height=65_535)),
        Hostile("huge-gif-frame-larger-than-screen", _gif(1, width=1, height=1, frame_w=65_535, frame_h=65_535)),
        Hostile("huge-webp-16383x16383-header", _webp_vp8_dims(webp, 16_383, 16_383)),
        Hostile("huge-tiff-50000x50000-header", _tiff(50_000, 50_000, strip_count=16)),
        Hostile("huge-tiff-1x4000000000", _tiff(1, 4_000_000_000, strip_count=16)),
        # The form keeps only the first frame (stored as a one-frame PNG); hashing refuses over 1,000 frames.
        Hostile("bomb-gif-10000-frames", _gif(10_000), web="either"),
        Hostile("bomb-gif-1001-frames", _gif(1_001), web="either"),
        Hostile("bomb-apng-2g-frames-declared", _png(2, 2, zlib.compress(b"\x00\x80\x80\x00\x80\x80"),
                                                     extra=_chunk(b"acTL", struct.pack(">II", 2**31 - 1, 0))),
                web="either"),
        Hostile("bomb-png-ztxt-64mb", _png(2, 2, zlib.compress(b"\x00\x80\x80\x00\x80\x80"),
                                           extra=_chunk(b"zTXt", b"Comment\x00\x00"
                                                        + zlib.compress(b"A" * 64 * 1024 * 1024, 9)))),
        Hostile("bomb-png-iccp-64mb", _png(2, 2, zlib.compress(b"\x00\x80\x80\x00\x80\x80"),
                                           extra=_chunk(b"iCCP", b"icc\x00\x00"
                                                        + zlib.compress(b"\x00" * 64 * 1024 * 1024, 9)))),
    ]


def _posing() -> list[Hostile]:
    svg = (b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg" width="100" height="100">'
           b'<script>alert(document.cookie)</script><rect width="100" height="100"/></svg>')
    laughs = (b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
              + b"".join(b'<!ENTITY lol%d "%s">' % (i, (b"&lol%d;" % (i - 1) if i else b"&lol;") * 10)
                         for i in range(1, 10))
              + b']><svg xmlns="http://www.w3.org/2000/svg">&lol9;</svg>')
    return [
        Hostile("svg-with-script", svg),
        Hostile("svg-billion-laughs", laughs),
        Hostile("svg-gzipped", zlib.compress(svg)),
        Hostile("html-page", b"<!DOCTYPE html><html><body><script>alert(1)</script></body></html>"),
        Hostile("html-with-jpeg-magic", b"\xff\xd8\xff\xe0<html><script>alert(1)</script></html>"),
        Hostile("html-with-gif-magic", b"GIF89a<html><script>alert(1)</script></html>"),
        Hostile("pdf-document", b"%PDF-1.7\n1 0 obj<</Type/Catalog>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF"),
        Hostile("pdf-then-jpeg", b"%PDF-1.7\n" + valid("JPEG")),
        Hostile("zip-archive", b"PK\x03\x04" + b"\x00" * 26 + b"PK\x05\x06" + b"\x00" * 18),
        Hostile("elf-binary", b"\x7fELF\x02\x01\x01" + b"\x00" * 57),
        Hostile("php-script", b"<?php system($_GET['c']); ?>"),
        Hostile("json-document", b'{"image": "not really"}'),
        Hostile("eps-postscript", b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 10 10\n(x) print\n"),
        Hostile("bmp-image", _save(_drawn((16, 16)), "BMP"), web="refuse", hash="accept"),
        Hostile("ico-image", _save(_drawn((16, 16)), "ICO")),
        Hostile("psd-header", b"8BPS\x00\x01" + b"\x00" * 6 + b"\x00\x03\x00\x00\x00\x10\x00\x00\x00\x10\x00\x08"
                + b"\x00\x03" + b"\x00" * 64),
        Hostile("tiff-valid-not-accepted-on-web", valid("TIFF"), web="refuse", hash="accept"),
        Hostile("utf16-text", "not an image at all".encode("utf-16")),
    ]


def _polyglots() -> list[Hostile]:
    jpeg, png, gif = valid("JPEG"), valid("PNG"), valid("GIF")
    archive = b"PK\x03\x04\x14\x00\x00\x00\x00\x00" + b"POLYGLOT-ZIP-PAYLOAD" + b"PK\x05\x06" + b"\x00" * 18
    html = b"<html><script>POLYGLOT-HTML-PAYLOAD</script></html>"
    return [
        Hostile("polyglot-jpeg-then-zip", jpeg + archive, web="accept", hash="accept", marker=b"POLYGLOT-ZIP"),
        Hostile("polyglot-png-then-html", png + html, web="accept", hash="accept", marker=b"POLYGLOT-HTML"),
        Hostile("polyglot-jpeg-html-in-comment", _jpeg_insert(jpeg, [_app(0xFE, html)]), web="accept",
                hash="accept", marker=b"POLYGLOT-HTML"),
        Hostile("polyglot-png-html-in-text-chunk", _png_with_text(b"Comment", html), web="accept", hash="accept",
                marker=b"POLYGLOT-HTML"),
        Hostile("polyglot-gif-then-script", gif + b"*/=1;alert('POLYGLOT-GIF-PAYLOAD')//", web="either",
                hash="either", marker=b"POLYGLOT-GIF"),
        Hostile("polyglot-jpeg-with-second-jpeg", jpeg + valid("JPEG"), web="accept", hash="accept"),
    ]


def _png_with_text(key: bytes, value: bytes) -> bytes:
    png = valid("PNG")
    at = png.find(b"IDAT") - 4
    return png[:at] + _chunk(b"tEXt", key + b"\x00" + value) + png[at:]


def _metadata() -> list[Hostile]:
    jpeg = valid("JPEG")
    image = _drawn()
    big_exif = Image.Exif()
    big_exif[0x010E] = "METADATA-PAYLOAD " * 3800  # ImageDescription near the 64 KB segment limit
    ifd_loop = (b"Exif\x00\x00II*\x00\x08\x00\x00\x00\x01\x00\x69\x87\x04\x00\x01\x00\x00\x00\x08\x00\x00\x00"
                + b"\x00\x00\x00\x00")
    exif_huge_count = b"Exif\x00\x00II*\x00\x08\x00\x00\x00\x01\x00\x0e\x01\x02\x00\xff\xff\xff\x7f\x1a\x00\x00\x00"
    icc_header = bytearray(128)
    struct.pack_into(">I", icc_header, 0, 10 * 1024 * 1024)
    icc_header[36:40] = b"acsp"
    icc_chunks = [_app(0xE2, b"ICC_PROFILE\x00" + bytes([i + 1, 160]) + (bytes(icc_header) if i == 0 else b"")
                       + b"\x00" * 65000) for i in range(160)]
    xmp_laughs = (b"http://ns.adobe.com/xap/1.0/\x00<?xml version='1.0'?><!DOCTYPE x [<!ENTITY a "
                  b"'METADATA-PAYLOAD'>" + b"".join(b"<!ENTITY a%d '%s'>" % (i, b"&a;" * 10) for i in range(9))
                  + b"]><x:xmpmeta xmlns:x='adobe:ns:meta/'>&a8;</x:xmpmeta>")
    return [
        Hostile("exif-64kb-description", _save(image, "JPEG", exif=big_exif.tobytes()), web="accept",
                hash="either", marker=b"METADATA-PAYLOAD"),
        Hostile("exif-ifd-loop", _jpeg_insert(jpeg, [_app(0xE1, ifd_loop)]), web="either", hash="either",
                marker=b"\x69\x87\x04\x00"),
        Hostile("exif-count-2g", _jpeg_insert(jpeg, [_app(0xE1, exif_huge_count)]), web="either", hash="either",
                marker=b"\xff\xff\xff\x7f\x1a"),
        Hostile("exif-not-tiff", _jpeg_insert(jpeg, [_app(0xE1, b"Exif\x00\x00METADATA-PAYLOAD")]), web="either",
                hash="either", marker=b"METADATA-PAYLOAD"),
        Hostile("exif-80-segments-5mb", _jpeg_insert(jpeg, [_app(0xE1, b"Exif\x00\x00METADATA-PAYLOAD"
                                                                 + b"\x00" * 65000)] * 80),
                web="either", hash="either", marker=b"METADATA-PAYLOAD"),
        Hostile("icc-10mb-in-160-chunks", _jpeg_insert(jpeg, icc_chunks), web="either", hash="either"),
        Hostile("icc-corrupt-header", _jpeg_insert(jpeg, [_app(0xE2, b"ICC_PROFILE\x00\x01\x01" + b"\xff" * 300)]),
                web="either", hash="either"),
        Hostile("xmp-billion-laughs", _jpeg_insert(jpeg, [_app(0xE1, xmp_laughs)]), web="accept",
                hash="either", marker=b"METADATA-PAYLOAD"),
        Hostile("xmp-60kb", _jpeg_insert(jpeg, [_app(0xE1, b"http://ns.adobe.com/xap/1.0/\x00<x:xmpmeta>"
                                                     + b"<rdf:li>METADATA-PAYLOAD</rdf:li>" * 1800 + b"</x:xmpmeta>")]),
                web="accept", hash="either", marker=b"METADATA-PAYLOAD"),
        Hostile("png-1000-text-chunks", _png_many_text(1000), web="either", hash="either", marker=b"METADATA-PAY"),
        Hostile("png-exif-chunk-garbage", _png_extra(_chunk(b"eXIf", b"METADATA-PAYLOAD" * 10)), web="either",
                hash="either", marker=b"METADATA-PAYLOAD"),
        Hostile("png-itxt-compressed-2mb", _png_with_info(zip_text=True), web="either", hash="either",
                marker=b"METADATA-PAY"),
        Hostile("webp-with-exif-and-xmp", _save(image, "WEBP", exif=big_exif.tobytes(), xmp=b"METADATA-PAYLOAD"),
                web="accept", hash="either", marker=b"METADATA-PAYLOAD"),
        Hostile("gif-comment-extension-payload", _save(image.convert("P"), "GIF", comment=b"METADATA-PAYLOAD" * 100),
                web="accept", hash="accept", marker=b"METADATA-PAYLOAD"),
    ]


def _png_extra(chunk: bytes) -> bytes:
    png = valid("PNG")
    at = png.find(b"IDAT") - 4
    return png[:at] + chunk + png[at:]


def _png_many_text(count: int) -> bytes:
    return _png_extra(b"".join(_chunk(b"tEXt", b"k%d\x00METADATA-PAYLOAD" % i) for i in range(count)))


def _png_with_info(*, zip_text: bool) -> bytes:
    info = PngImagePlugin.PngInfo()
    info.add_itxt("Comment", "METADATA-PAYLOAD " * 120_000, zip=zip_text)
    return _save(_drawn(), "PNG", pnginfo=info)


@cache
def images() -> tuple[Hostile, ...]:
    items = [*_truncations(), *_garbage(), *_structural(), *_huge(), *_posing(), *_polyglots(), *_metadata()]
    names = [item.name for item in items]
    assert len(names) == len(set(names)), "corpus names must be unique"
    return tuple(items)


# --- URLs ---------------------------------------------------------------------------------------------------

# "refuse": never stored. "ascii": an international (look-alike) host is a real, distinct website where an image
# may well be: it is accepted, but only in its ASCII (punycode) form, never as the name it imitates.
HOSTILE_URLS: tuple[tuple[str, str, str], ...] = (
    ("javascript", "javascript:alert(document.cookie)", "refuse"),
    ("javascript-mixed-case", "JaVaScRiPt:alert(1)", "refuse"),
    ("javascript-leading-space", "  javascript:alert(1)", "refuse"),
    ("javascript-tab-inside", "java\tscript:alert(1)", "refuse"),
    ("javascript-entity", "javascript&colon;alert(1)", "refuse"),
    ("javascript-slashes", "javascript://example.com/%0Aalert(1)", "refuse"),
    ("vbscript", "vbscript:msgbox(1)", "refuse"),
    ("data-html", "data:text/html,<script>alert(1)</script>", "refuse"),
    ("data-image", "data:image/png;base64,iVBORw0KGgo=", "refuse"),
    ("file", "file:///etc/passwd", "refuse"),
    ("file-windows", "file://C:/Windows/win.ini", "refuse"),
    ("ftp", "ftp://example.com/file", "refuse"),
    ("gopher", "gopher://example.com:70/_GET", "refuse"),
    ("mailto", "mailto:someone@example.com", "refuse"),
    ("blob", "blob:https://example.com/uuid", "refuse"),
    ("about", "about:blank", "refuse"),
    ("chrome", "chrome://settings", "refuse"),
    ("ws", "ws://example.com/socket", "refuse"),
    ("localhost", "http://localhost/admin", "refuse"),
    ("loopback", "http://127.0.0.1/", "refuse"),
    ("loopback-short", "http://127.1/", "refuse"),
    ("loopback-hex", "http://0x7f000001/", "refuse"),
    ("loopback-decimal", "http://2130706433/", "refuse"),
    ("loopback-octal", "http://0177.0.0.1/", "refuse"),
    ("loopback-v6", "http://[::1]/", "refuse"),
    ("v4-mapped-v6", "http://[::ffff:127.0.0.1]/", "refuse"),
    ("metadata-service", "http://169.254.169.254/latest/meta-data/", "refuse"),
    ("private-10", "http://10.0.0.1/", "refuse"),
    ("private-192", "https://192.168.1.1/router", "refuse"),
    ("zero-address", "http://0.0.0.0/", "refuse"),
    ("internal-suffix", "https://intranet.corp/", "refuse"),
    ("dot-local", "https://printer.local/", "refuse"),
    ("userinfo", "https://user:pass@example.com/", "refuse"),
    ("userinfo-disguise", "https://example.com@evil.example/", "refuse"),
    ("idn-cyrillic-apple", "https://\u0430pple.com/photo", "ascii"),
    ("idn-cyrillic-paypal", "https://p\u0430yp\u0430l.com/", "ascii"),
    ("idn-greek-omicron", "https://g\u03bf\u03bfgle.com/", "ascii"),
    ("idn-punycode-lookalike", "https://xn--pple-43d.com/", "ascii"),
    ("zero-width-in-host", "https://exa\u200bmple.com/", "ascii"),
    ("rtl-override-in-host", "https://example\u202ecom/", "refuse"),
    ("crlf-header-injection", "https://example.com/\r\nSet-Cookie: x=1", "refuse"),
    ("lf-in-path", "https://example.com/a\nb", "refuse"),
    ("nul-byte", "https://example.com/\x00evil", "refuse"),
    ("nul-in-host", "https://exam\x00ple.com/", "refuse"),
    ("url-10000-chars", "https://example.com/" + "a" * 10_000, "refuse"),
    ("host-300-chars", "https://" + "a" * 300 + ".com/", "refuse"),
    ("label-64-chars", "https://" + "a" * 64 + ".example.com/", "refuse"),
    ("port-99999", "https://example.com:99999/", "refuse"),
    ("port-negative", "https://example.com:-1/", "refuse"),
    ("no-host", "https:///path", "refuse"),
    ("only-scheme", "https://", "refuse"),
    ("space-in-host", "https://exa mple.com/", "refuse"),
    ("backslashes", "\\\\evil.example\\share", "refuse"),
    ("no-public-suffix", "https://example.invalid-tld-xyz/", "refuse"),
    ("bare-word", "notaurl", "refuse"),
    ("percent-encoded-host", "https://%65%78%61%6d%70%6c%65.com/", "refuse"),
    ("bracket-garbage", "https://[not-an-ip]/", "refuse"),
    # Found by fuzz/fuzz_urls.py: int() read "-8" as a number, and a negative IPv4 address was a 500.
    ("negative-number-host", "https://-8/", "refuse"),
    ("signed-dotted-host", "https://1.2.3.+4/", "refuse"),
    ("arabic-digit-host", "https://\u0661\u0662\u0667.0.0.1/", "refuse"),
)


# --- JSON for the partner API -------------------------------------------------------------------------------


def deep(depth: int, opener: str = "[", closer: str = "]") -> bytes:
    return (opener * depth + closer * depth).encode()


@cache
def json_bodies() -> tuple[Hostile, ...]:
    """Request bodies, sent as application/json to every POST endpoint of the partner API."""
    pdq = "f" * 64
    items = [
        Hostile("json-deep-array-100000", deep(100_000)),
        Hostile("json-deep-object-50000", ('{"a":' * 50_000 + "1" + "}" * 50_000).encode()),
        Hostile("json-deep-array-in-field", b'{"signal_type":"pdq","hashes":' + deep(5000) + b"}"),
        Hostile("json-huge-integer-5000-digits", b'{"signal_type":"pdq","hashes":["' + pdq.encode() + b'"],'
                b'"max_distance":' + b"9" * 5000 + b"}"),
        Hostile("json-huge-integer-4000-digits", b'{"max_distance":' + b"9" * 4000 + b',"signal_type":"pdq",'
                b'"hashes":["' + pdq.encode() + b'"]}'),
        Hostile("json-float-overflow", b'{"signal_type":"pdq","hashes":["' + pdq.encode() + b'"],'
                b'"max_distance":1e999999}'),
        Hostile("json-nan", b'{"signal_type":"pdq","hashes":["' + pdq.encode() + b'"],"max_distance":NaN}'),
        Hostile("json-infinity", b'{"signal_type":"pdq","max_distance":-Infinity,"hashes":[]}'),
        Hostile("json-10mb-string", b'{"note":"' + b"A" * (10 * 1024 * 1024) + b'"}'),
        Hostile("json-10mb-array", b'{"hashes":[' + b",".join([b'"' + pdq.encode() + b'"'] * 150_000) + b"]}"),
        Hostile("json-invalid-utf8", b'{"signal_type":"\xff\xfe\xfd","hashes":["\xc3\x28"]}'),
        Hostile("json-overlong-utf8", b'{"signal_type":"\xc0\xafpdq"}'),
        Hostile("json-utf16", '{"signal_type":"pdq"}'.encode("utf-16")),
        Hostile("json-bom", b'\xef\xbb\xbf{"signal_type":"pdq","hashes":[]}'),
        Hostile("json-lone-surrogate", b'{"feedback":"Blocked","signal_type":"pdq","hash":"' + pdq.encode()
                + b'","note":"\\ud800\\udfff\\ud800"}'),
        Hostile("json-nul-in-strings", b'{"feedback":"Blocked\\u0000","signal_type":"pdq\\u0000","hash":"'
                + pdq.encode() + b'","note":"a\\u0000b"}'),
        Hostile("json-empty", b""),
        Hostile("json-whitespace", b"   \n\t "),
        Hostile("json-truncated", b'{"signal_type":"pdq","hashes":["ff'),
        Hostile("json-trailing-garbage", b'{"signal_type":"pdq"} trailing'),
        Hostile("json-top-level-null", b"null"),
        Hostile("json-top-level-string", b'"pdq"'),
        Hostile("json-top-level-number", b"12345678901234567890"),
        Hostile("json-top-level-array", b'[{"signal_type":"pdq"}]'),
        Hostile("json-top-level-true", b"true"),
        Hostile("json-duplicate-keys", b'{"signal_type":"pdq","signal_type":["md5"],"hashes":[]}'),
        Hostile("json-wrong-types-all-objects", b'{"signal_type":{},"hashes":{},"max_distance":{},"feedback":{},'
                b'"hash":{},"note":{},"removal_request_id":{}}'),
        Hostile("json-wrong-types-all-lists", b'{"signal_type":[],"hashes":"' + pdq.encode() + b'",'
                b'"max_distance":[1],"feedback":[],"hash":[],"note":[],"removal_request_id":[]}'),
        Hostile("json-wrong-types-numbers", b'{"signal_type":1,"hashes":[1,2,3],"max_distance":"abc",'
                b'"feedback":1,"hash":1e308,"note":1,"removal_request_id":1}'),
        Hostile("json-wrong-types-booleans", b'{"signal_type":true,"hashes":[true],"max_distance":true,'
                b'"feedback":false,"hash":true,"removal_request_id":true}'),
        Hostile("json-nulls", b'{"signal_type":null,"hashes":null,"max_distance":null,"feedback":null,'
                b'"hash":null,"note":null,"removal_request_id":null}'),
        Hostile("json-hashes-nested-lists", b'{"signal_type":"pdq","hashes":[["' + pdq.encode() + b'"]]}'),
        Hostile("json-hashes-10001", json.dumps({"signal_type": "pdq", "hashes": [pdq] * 10_001}).encode()),
        Hostile("json-hash-10000-chars", json.dumps({"signal_type": "pdq", "hashes": ["f" * 10_000],
                                                     "feedback": "Blocked", "hash": "f" * 10_000}).encode()),
        Hostile("json-signal-type-10000-chars", json.dumps({"signal_type": "p" * 10_000, "hashes": [pdq],
                                                            "feedback": "Blocked", "hash": pdq}).encode()),
        Hostile("json-unknown-feedback", json.dumps({"feedback": "<script>", "signal_type": "pdq",
                                                     "hash": pdq}).encode()),
        Hostile("json-uuid-garbage", json.dumps({"feedback": "Removed",
                                                 "removal_request_id": "../../etc/passwd"}).encode()),
        Hostile("json-note-too-long", json.dumps({"feedback": "Blocked", "signal_type": "pdq", "hash": pdq,
                                                  "note": "x" * 100_000}).encode()),
        Hostile("json-negative-distance", json.dumps({"signal_type": "pdq", "hashes": [pdq],
                                                      "max_distance": -(2**63)}).encode()),
        Hostile("json-huge-distance", json.dumps({"signal_type": "pdq", "hashes": [pdq],
                                                  "max_distance": 2**200}).encode()),
        # StopNCII-shaped bodies with the wrong insides.
        Hostile("stopncii-hashes-not-list", b'{"hashRecords":"nope","HashRecords":"nope"}'),
        Hostile("stopncii-records-wrong", json.dumps({"hashRecords": [{"signalType": 99, "hashValue": None}] * 3,
                                                      "HashRecords": [1, "a", None]}).encode()),
        Hostile("stopncii-feedback-wrong", json.dumps({"feedbacks": [{"signalType": [], "hashValue": {},
                                                                      "feedback": 1e308, "tags": "x" * 5000}],
                                                       "Feedbacks": {"a": 1}}).encode()),
        Hostile("stopncii-feedback-deep", b'{"feedbacks":' + deep(20_000) + b"}"),
    ]
    return tuple(items)


# Query strings for the partner API's GET endpoints (lookup, sync, StopNCII fetch, HMA lookup).
HOSTILE_QUERIES: tuple[tuple[str, dict[str, str]], ...] = (
    ("hash-10000-chars", {"signal_type": "pdq", "hash": "f" * 10_000, "signal": "f" * 10_000}),
    ("hash-non-hex", {"signal_type": "pdq", "hash": "z" * 64, "signal": "z" * 64}),
    ("hash-unicode-digits", {"signal_type": "pdq", "hash": "\u0661" * 64, "signal": "\u0661" * 64}),
    ("signal-type-nul", {"signal_type": "pdq\x00", "hash": "f" * 64, "signal": "f" * 64}),
    ("signal-type-crlf", {"signal_type": "pdq\r\nX-Evil: 1", "hash": "f" * 64, "signal": "f" * 64}),
    ("signal-type-unknown", {"signal_type": "<script>", "hash": "f" * 64, "signal": "f" * 64}),
    ("distance-huge", {"signal_type": "pdq", "hash": "f" * 64, "max_distance": "9" * 5000}),
    ("distance-float", {"signal_type": "pdq", "hash": "f" * 64, "max_distance": "1e308"}),
    ("distance-negative", {"signal_type": "pdq", "hash": "f" * 64, "max_distance": "-1"}),
    ("cursor-garbage", {"cursor": "v1.99999999999999999.9999999999999999999", "next": "' OR 1=1 --",
                        "start": "x"}),
    ("cursor-overflow", {"cursor": "v1.99999999999999999.1", "next": "v1.99999999999999999.1"}),
    ("since-far-future", {"since": "9999-12-31T23:59:59+14:00", "startTimestamp": "99999999999999"}),
    ("since-huge-number", {"since": "1" + "0" * 400, "startTimestamp": "1" + "0" * 400,
                           "endTimestamp": "-1" + "0" * 40}),
    ("since-naive", {"since": "2026-01-01T00:00:00", "startTimestamp": "NaN"}),
    ("limit-huge", {"limit": "9" * 5000, "page_size": "9" * 5000, "pageSize": "9" * 5000}),
    ("limit-negative", {"limit": "-1", "page_size": "-5", "pageSize": "-5"}),
    ("limit-text", {"limit": "all", "page_size": "null", "pageSize": "[]"}),
    ("repeated-params", {"signal_type": "pdq", "hash": "f" * 64}),  # sent twice below by the test
    ("everything-empty", {"signal_type": "", "hash": "", "cursor": "", "since": "", "limit": ""}),
    ("sql-injection", {"signal_type": "pdq' OR '1'='1", "hash": "'; DROP TABLE partners_partner; --",
                       "cursor": "1; DROP TABLE x"}),
)


# --- Typed text in other fields -----------------------------------------------------------------------------

HOSTILE_TEXT: tuple[tuple[str, str], ...] = (
    ("nul-bytes", "before\x00after"),
    ("lone-surrogate", "a\ud800b"),
    ("one-megabyte", "A" * 1024 * 1024),
    ("markup", "<script>alert(1)</script><img src=x onerror=alert(1)>"),
    ("template-syntax", "{{ request.session }}{% debug %}"),
    ("crlf", "line\r\nSet-Cookie: x=1\r\n\r\n"),
    ("rtl-override", "\u202egnp.exe"),
    ("sql", "' OR '1'='1'; DROP TABLE cases_case; --"),
    ("format-string", "%s%s%s%n%(secret)s{0.__class__}"),
    ("only-whitespace", " \t\u00a0\u2003 "),
    ("emoji-and-combining", "\U0001f600" * 500 + "e\u0301" * 500),
)


def everything_count() -> int:
    return len(images()) + len(HOSTILE_URLS) + len(json_bodies()) + len(HOSTILE_QUERIES) + len(HOSTILE_TEXT)
