"""Encryption at rest for evidence files and the few sensitive text fields we keep.

AES-256-GCM with a keyring (settings.EVIDENCE_KEYS): the first key encrypts, every key decrypts, so keys rotate
by adding a new first key and re-encrypting (`manage.py evidence_rotate_keys`). A blob names its key by an
8-byte fingerprint, never by the key itself.

Blob layout: b"TDE1" | key fingerprint (8) | nonce (12) | ciphertext with GCM tag.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
from functools import lru_cache

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

MAGIC = b"TDE1"
_HEADER = len(MAGIC) + 8 + 12


class DecryptionError(Exception):
    pass


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
    if len(blob) < _HEADER + 16 or not blob.startswith(MAGIC):
        raise DecryptionError("not an encrypted blob")
    return blob[len(MAGIC) : len(MAGIC) + 8]


def decrypt(blob: bytes, *, associated: bytes = b"") -> bytes:
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
