"""The chunked (TDE2) layout for files too large to hold in memory (videos), beside TDE1."""

import base64
import io
import os

import pytest

from takedown.core import crypto
from takedown.core.evidence import (
    evidence_copy_to,
    evidence_get,
    evidence_put,
    evidence_put_stream,
    evidence_reencrypt,
    evidence_stream,
)


def _key() -> str:
    return base64.b64encode(os.urandom(32)).decode()


@pytest.mark.parametrize("size", [0, 1, 999, 1000, 1001, 5000])
def test_round_trip_at_chunk_edges(settings, size: int) -> None:
    settings.EVIDENCE_KEYS = [_key()]
    plain = os.urandom(size)
    sink = io.BytesIO()
    assert crypto.encrypt_stream(io.BytesIO(plain), sink, associated=b"name", chunk_size=1000) == size
    blob = sink.getvalue()
    assert blob.startswith(b"TDE2")
    assert b"".join(crypto.decrypt_stream(io.BytesIO(blob), associated=b"name")) == plain
    assert crypto.decrypt(blob, associated=b"name") == plain  # the one-shot reader knows both layouts


def test_cut_reordered_altered_or_moved_blobs_are_refused(settings) -> None:
    settings.EVIDENCE_KEYS = [_key()]
    sink = io.BytesIO()
    crypto.encrypt_stream(io.BytesIO(os.urandom(3000)), sink, associated=b"name", chunk_size=1000)
    blob = sink.getvalue()
    header, sealed = blob[:24], blob[24:]
    chunks = [sealed[i:i + 1016] for i in range(0, len(sealed), 1016)]
    assert len(chunks) == 3  # the third is sealed as the last
    variants = {
        "cut at a chunk boundary": header + b"".join(chunks[:2]),
        "cut inside a chunk": blob[:-5],
        "reordered": header + chunks[1] + chunks[0] + b"".join(chunks[2:]),
        "altered": blob[:100] + bytes([blob[100] ^ 1]) + blob[101:],
    }
    for label, variant in variants.items():
        with pytest.raises(crypto.DecryptionError):
            b"".join(crypto.decrypt_stream(io.BytesIO(variant), associated=b"name"))
        assert label
    with pytest.raises(crypto.DecryptionError):
        crypto.decrypt(blob, associated=b"another name")


def test_evidence_streams_in_and_out_and_rotates_keys(settings, tmp_path) -> None:
    settings.STORAGE_ROOT = tmp_path
    old, new = _key(), _key()
    settings.EVIDENCE_KEYS = [old]
    plain = os.urandom(3 * crypto.STREAM_CHUNK + 17)
    name, size = evidence_put_stream(io.BytesIO(plain))
    assert size == len(plain)
    assert len(list(evidence_stream(name))) == 4
    sink = io.BytesIO()
    assert evidence_copy_to(name, sink) == len(plain) and sink.getvalue() == plain
    older = evidence_put(b"an image stored before streaming existed")
    settings.EVIDENCE_KEYS = [new, old]
    assert evidence_reencrypt(name) is True and evidence_reencrypt(older) is True
    settings.EVIDENCE_KEYS = [new]
    assert evidence_get(name) == plain
    assert evidence_get(older) == b"an image stored before streaming existed"
    assert evidence_reencrypt(name) is False
