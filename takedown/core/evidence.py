"""The evidence store: image files encrypted at rest, named by random ids, never by the original name."""

from __future__ import annotations

import os
import uuid
from pathlib import Path

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
    blob = path.read_bytes()
    if not crypto.needs_reencryption(blob):
        return False
    data = crypto.decrypt(blob, associated=name.encode())
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(crypto.encrypt(data, associated=name.encode()))
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)
    return True
