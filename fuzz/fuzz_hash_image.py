"""Fuzz detection.hashing.hash_image: any bytes give ImageHashes or ImageRejected, nothing else.

    python fuzz/fuzz_hash_image.py -max_total_time=600 -rss_limit_mb=4096
"""

from __future__ import annotations

import sys
from collections.abc import Iterable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import atheris

from fuzz.harness import fuzz

with atheris.instrument_imports(include=["detection"]):
    from detection.hashing import ImageHashes, ImageRejected, hash_image


def test_one_input(data: bytes) -> None:
    try:
        result = hash_image(data)
    except ImageRejected as rejected:
        assert rejected.message, "a rejection must say why"
        return
    assert isinstance(result, ImageHashes)
    assert len(result.pdq) == 64 and len(result.pdq_dihedral) == 8
    assert len(result.phash) == 16 and len(result.dhash) == 16


def seeds() -> Iterable[bytes]:
    from tests.hostile import corpus

    for fmt in corpus.FORMATS:
        yield corpus.valid(fmt)
    for item in corpus.images():
        if len(item.data) < 64 * 1024:
            yield item.data


if __name__ == "__main__":
    fuzz(test_one_input, seeds)
