"""The evidence store: image files encrypted at rest, named by random ids, never by the original name."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import IO

from django.conf import settings

from takedown.core import crypto


def _path(name: str) -> Path:
    try:
        parsed = uuid.UUID(name)
    except ValueError as exc:
        raise ValueError("not an evidence name") from exc
    hexname = parsed.hex
    return Path(settings.STORAGE_ROOT) / "evidence" / hexname[:2] / hexname


def evidence_put(data: bytes) -> str:
    name = str(uuid.uuid4())
    path = _path(name)
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    blob = crypto.encrypt(data, associated=name.encode())
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(blob)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)
    return name


def evidence_put_stream(source: crypto.Readable) -> tuple[str, int]:
    """Store what `source` yields (read from its current position) without holding it in memory, encrypted
    chunk by chunk (crypto.encrypt_stream); returns the new name and the plain size."""
    name = str(uuid.uuid4())
    path = _path(name)
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "wb") as handle:
            size = crypto.encrypt_stream(source, handle, associated=name.encode())
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return name, size


def evidence_stream(name: str) -> Iterator[bytes]:
    """The plain bytes of a stored file, chunk by chunk (whole for a TDE1 blob); each chunk is authenticated
    before it is yielded."""
    path = _path(name)
    with path.open("rb") as handle:
        if handle.read(4) == crypto.STREAM_MAGIC:
            handle.seek(0)
            yield from crypto.decrypt_stream(handle, associated=name.encode())
            return
    yield evidence_get(name)


def evidence_copy_to(name: str, sink: IO[bytes]) -> int:
    """Decrypt a stored file into `sink` (e.g. an unnamed temporary file for FFmpeg); returns its size."""
    size = 0
    for chunk in evidence_stream(name):
        sink.write(chunk)
        size += len(chunk)
    sink.flush()
    return size


def evidence_get(name: str) -> bytes:
    return crypto.decrypt(_path(name).read_bytes(), associated=name.encode())


def evidence_exists(name: str) -> bool:
    return _path(name).exists()


def evidence_delete(name: str) -> bool:
    """Remove the file. The blob is encrypted, so what a disk or backup keeps of it is unreadable without keys."""
    path = _path(name)
    try:
        path.unlink()
    except FileNotFoundError:
        return False
    return True


def evidence_names_on_disk() -> list[str]:
    root = Path(settings.STORAGE_ROOT) / "evidence"
    if not root.exists():
        return []
    return [str(uuid.UUID(p.name)) for p in root.glob("*/*") if p.is_file() and "." not in p.name]


def evidence_reencrypt(name: str) -> bool:
    """Re-encrypt one blob under the current first key; False if it already uses it."""
    path = _path(name)
    with path.open("rb") as handle:
        head = handle.read(64)
    if not crypto.needs_reencryption(head if head.startswith(crypto.STREAM_MAGIC) else path.read_bytes()):
        return False
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as handle:
        if head.startswith(crypto.STREAM_MAGIC):
            # A streamed blob (a video) is re-encrypted chunk by chunk, never read into memory whole.
            crypto.encrypt_stream(_ChunkReader(evidence_stream(name)), handle, associated=name.encode())
        else:
            data = crypto.decrypt(path.read_bytes(), associated=name.encode())
            handle.write(crypto.encrypt(data, associated=name.encode()))
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)
    return True


class _ChunkReader:
    """A file-like `read(n)` over an iterator of byte chunks."""

    def __init__(self, chunks: Iterator[bytes]) -> None:
        self._chunks = chunks
        self._buffer = bytearray()

    def read(self, size: int = -1) -> bytes:
        while size < 0 or len(self._buffer) < size:
            chunk = next(self._chunks, None)
            if chunk is None:
                break
            self._buffer += chunk
        if size < 0:
            size = len(self._buffer)
        out = bytes(self._buffer[:size])
        del self._buffer[:size]
        return out
