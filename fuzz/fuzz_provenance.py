"""Fuzz detection.provenance.reader.provenance_read: it promises never to raise, whatever the bytes.

    python fuzz/fuzz_provenance.py -max_total_time=600 -rss_limit_mb=4096
"""

from __future__ import annotations

import sys
from collections.abc import Iterable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import atheris

from fuzz.harness import fuzz

with atheris.instrument_imports(include=["detection"]):
    from detection.provenance.reader import ProvenanceLimits, provenance_read
    from detection.provenance.signals import ProvenanceReport

# Small limits keep each execution fast; the checks themselves are the same.
LIMITS = ProvenanceLimits(max_bytes=1024 * 1024, max_pixels=4_000_000, watermark_max_pixels=1_000_000)


def test_one_input(data: bytes) -> None:
    report = provenance_read(data, limits=LIMITS)
    assert isinstance(report, ProvenanceReport)


def seeds() -> Iterable[bytes]:
    from tests.hostile import corpus

    for fmt in corpus.FORMATS:
        yield corpus.valid(fmt)
    xmp = b"<x:xmpmeta xmlns:x='adobe:ns:meta/'><rdf:Description xmp:CreatorTool='Midjourney'/></x:xmpmeta>"
    yield corpus.valid("JPEG")[:2] + b"\xff\xe1" + (len(xmp) + 31).to_bytes(2, "big") \
        + b"http://ns.adobe.com/xap/1.0/\x00" + xmp + corpus.valid("JPEG")[2:]
    for item in corpus.images():
        if len(item.data) < 64 * 1024:
            yield item.data


if __name__ == "__main__":
    fuzz(test_one_input, seeds)
