"""Fuzz takedown.cases.locations.url_normalise, the check every reported address passes.

Properties: it answers NormalisedURL or URLRejected (nothing else); what it accepts is an ASCII http(s) address
of at most MAX_URL_LENGTH characters with no control characters and a host under a public suffix; and it is
idempotent (normalising the result gives the result), so two copies of one address always compare equal.

    python fuzz/fuzz_urls.py -max_total_time=600
"""

from __future__ import annotations

import sys
from collections.abc import Iterable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import atheris

from fuzz.harness import django_setup, fuzz

# Django's app loading imports the module under test, so it is set up inside the instrumenting block.
with atheris.instrument_imports(include=["takedown.cases.locations"]):
    django_setup()
    from takedown.cases.locations import MAX_URL_LENGTH, URLRejected, url_normalise


def test_one_input(data: bytes) -> None:
    text = atheris.FuzzedDataProvider(data).ConsumeUnicodeNoSurrogates(4096)
    try:
        normalised = url_normalise(text)
    except URLRejected as rejected:
        assert rejected.code and str(rejected.message)
        return
    url = normalised.url
    assert url.isascii() and url.startswith(("http://", "https://")), url
    assert len(url) <= MAX_URL_LENGTH
    assert not any(ord(char) < 0x21 or ord(char) == 0x7F for char in url), url
    assert normalised.host and normalised.registrable_domain
    again = url_normalise(url)
    assert again.url == url, (url, again.url)


def seeds() -> Iterable[bytes]:
    from tests.hostile import corpus

    yield b"https://images.example.com/p/1?utm_source=x#/post/1"
    yield b"example.org/t/2"
    yield "https://\u0430pple.com/photo".encode()
    for _, url, _ in corpus.HOSTILE_URLS:
        yield url.encode("utf-8", "surrogatepass")


if __name__ == "__main__":
    fuzz(test_one_input, seeds)
