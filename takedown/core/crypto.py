"""Encryption at rest for evidence files and the few sensitive text fields we keep.

AES-256-GCM with a keyring (settings.EVIDENCE_KEYS): the first key encrypts, every key decrypts, so keys rotate
by adding a new first key and re-encrypting (`manage.py evidence_rotate_keys`). A blob names its key by an
8-byte fingerprint, never by the key itself.

Blob layout: b"TDE1" | key fingerprint (8) | nonce (12) | ciphertext with GCM tag.

Streamed blobs (videos: hundreds of megabytes, never held in memory whole) use a chunked layout:
b"TDE2" | key fingerprint (8) | nonce prefix (8) | chunk size (4, big-endian) | chunks. Each chunk is
`chunk size` bytes of plain text (the last one fewer, possibly none) sealed with AES-256-GCM under the nonce
prefix + the chunk's number (4 bytes), and its associated data is the blob's associated data + the chunk's
number + whether it is the last one. So chunks cannot be reordered, dropped, or moved between blobs, and a blob
cut short is refused because its last chunk is missing. `decrypt` reads both layouts: TDE1 blobs stay readable.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
import struct
from collections.abc import Iterator
from functools import lru_cache
from typing import IO, Protocol

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

MAGIC = b"TDE1"
_HEADER = len(MAGIC) + 8 + 12
STREAM_MAGIC = b"TDE2"
_STREAM_HEADER = len(STREAM_MAGIC) + 8 + 8 + 4
STREAM_CHUNK = 1024 * 1024
_TAG = 16


class DecryptionError(Exception):
    pass


class Readable(Protocol):
    def read(self, size: int = -1, /) -> bytes: ...


def key_fingerprint(key: bytes) -> bytes:
    return hashlib.sha256(b"takedown-evidence-key" + key).digest()[:8]


def _decode_key(text: str) -> bytes:
    try:
        key = base64.b64decode(text, validate=True)
    except binascii.Error as exc:
        raise ImproperlyConfigured("EVIDENCE_KEYS entries must be base64") from exc
    if len(key) != 32:
        raise ImproperlyConfigured("EVIDENCE_KEYS entries must be 32 bytes (base64 of 32 random bytes)")
    return key


def _development_key() -> bytes:
    """DEBUG and tests only: a key kept beside the database so restarts can still read old evidence."""
    path = settings.VAR_DIR / "dev-evidence.key"
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists():
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(base64.b64encode(os.urandom(32)).decode())
    return _decode_key(path.read_text().strip())


@lru_cache(maxsize=4)
def _keyring(configured: tuple[str, ...]) -> tuple[tuple[bytes, bytes], ...]:
    if not configured and not (settings.DEBUG or settings.TESTING):
        raise ImproperlyConfigured("EVIDENCE_KEYS (or EVIDENCE_KEYS_FILE) is required unless DEBUG=true")
    keys = [_decode_key(k) for k in configured] if configured else [_development_key()]
    return tuple((key_fingerprint(k), k) for k in keys)


def keyring() -> tuple[tuple[bytes, bytes], ...]:
    return _keyring(tuple(settings.EVIDENCE_KEYS))


def generate_key() -> str:
    return base64.b64encode(os.urandom(32)).decode()


def encrypt(data: bytes, *, associated: bytes = b"") -> bytes:
    fingerprint, key = keyring()[0]
    nonce = os.urandom(12)
    return MAGIC + fingerprint + nonce + AESGCM(key).encrypt(nonce, data, associated or None)


def blob_key_fingerprint(blob: bytes) -> bytes:
    if blob.startswith(STREAM_MAGIC) and len(blob) >= _STREAM_HEADER:
        return blob[len(STREAM_MAGIC) : len(STREAM_MAGIC) + 8]
    if len(blob) < _HEADER + 16 or not blob.startswith(MAGIC):
        raise DecryptionError("not an encrypted blob")
    return blob[len(MAGIC) : len(MAGIC) + 8]


def _key_for(fingerprint: bytes) -> bytes:
    for candidate, key in keyring():
        if candidate == fingerprint:
            return key
    raise DecryptionError("no configured key can open this blob (was a key removed too early?)")


def _chunk_associated(associated: bytes, index: int, last: bool) -> bytes:
    return associated + struct.pack(">IB", index, 1 if last else 0)


def encrypt_stream(source: Readable, sink: IO[bytes], *, associated: bytes = b"",
                   chunk_size: int = STREAM_CHUNK) -> int:
    """Encrypt everything `source` yields into `sink` in the chunked (TDE2) layout; returns the plain size.

    Reads one chunk ahead so the last chunk is known to be the last when it is sealed.
    """
    fingerprint, key = keyring()[0]
    prefix = os.urandom(8)
    aead = AESGCM(key)
    sink.write(STREAM_MAGIC + fingerprint + prefix + struct.pack(">I", chunk_size))
    total = 0
    index = 0
    current = source.read(chunk_size)
    while True:
        following = source.read(chunk_size) if len(current) == chunk_size else b""
        last = not following
        nonce = prefix + struct.pack(">I", index)
        sink.write(aead.encrypt(nonce, current, _chunk_associated(associated, index, last)))
        total += len(current)
        if last:
            return total
        index += 1
        if index >= 2**32 - 1:
            raise ValueError("too large to encrypt as one blob")
        current = following


def decrypt_stream(source: Readable, *, associated: bytes = b"") -> Iterator[bytes]:
    """The plain text of a TDE2 blob read from `source`, chunk by chunk; raises DecryptionError when it was
    altered, cut short, or belongs elsewhere (only chunks already checked are ever yielded)."""
    header = source.read(_STREAM_HEADER)
    if len(header) != _STREAM_HEADER or not header.startswith(STREAM_MAGIC):
        raise DecryptionError("not a streamed encrypted blob")
    fingerprint = header[4:12]
    prefix = header[12:20]
    (chunk_size,) = struct.unpack(">I", header[20:24])
    if not 0 < chunk_size <= 64 * STREAM_CHUNK:
        raise DecryptionError("damaged blob header")
    aead = AESGCM(_key_for(fingerprint))
    index = 0
    sealed = source.read(chunk_size + _TAG)
    while True:
        if len(sealed) < _TAG:
            raise DecryptionError("the blob was cut short")
        following = source.read(chunk_size + _TAG) if len(sealed) == chunk_size + _TAG else b""
        last = not following
        nonce = prefix + struct.pack(">I", index)
        try:
            plain = aead.decrypt(nonce, sealed, _chunk_associated(associated, index, last))
        except InvalidTag as exc:
            raise DecryptionError("the blob was altered, cut short or belongs elsewhere") from exc
        yield plain
        if last:
            return
        index += 1
        sealed = following


def decrypt(blob: bytes, *, associated: bytes = b"") -> bytes:
    if blob.startswith(STREAM_MAGIC):
        import io

        return b"".join(decrypt_stream(io.BytesIO(blob), associated=associated))
    fingerprint = blob_key_fingerprint(blob)
    for candidate, key in keyring():
        if candidate == fingerprint:
            nonce = blob[len(MAGIC) + 8 : _HEADER]
            try:
                return AESGCM(key).decrypt(nonce, blob[_HEADER:], associated or None)
            except InvalidTag as exc:
                raise DecryptionError("the blob was altered or belongs elsewhere") from exc
    raise DecryptionError("no configured key can open this blob (was a key removed too early?)")


def needs_reencryption(blob: bytes) -> bool:
    return blob_key_fingerprint(blob) != keyring()[0][0]


def encrypt_text(text: str, *, associated: str = "") -> str:
    return base64.b64encode(encrypt(text.encode(), associated=associated.encode())).decode()


def decrypt_text(token: str, *, associated: str = "") -> str:
    try:
        blob = base64.b64decode(token, validate=True)
    except binascii.Error as exc:
        raise DecryptionError("not an encrypted token") from exc
    return decrypt(blob, associated=associated.encode()).decode()
